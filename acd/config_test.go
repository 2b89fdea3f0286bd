package acd

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotline12345/hotline/queue"
	"go.yaml.in/yaml/v3"
)

func TestValidate(t *testing.T) {
	good := func() ([]queue.Config, Config) {
		return []queue.Config{q("general", "call-taking")}, Config{Agents: []AgentConfig{ag("1001", Primary, "call-taking", 5)}}
	}
	tests := []struct {
		name string
		mod  func([]queue.Config, *Config)
		want string
	}{
		{"valid", func([]queue.Config, *Config) {}, ""},
		{"strategy typo", func(qs []queue.Config, _ *Config) { qs[0].Strategy = "longest-idel" }, `queues.0.strategy: unknown strategy "longest-idel"`},
		{"queue without skill", func(qs []queue.Config, _ *Config) { qs[0].Skill = "" }, "queues.0.skill: missing"},
		{"agent without id", func(_ []queue.Config, c *Config) { c.Agents[0].ID = "" }, "agents.0.id: missing"},
		{"duplicate agent", func(_ []queue.Config, c *Config) { c.Agents = append(c.Agents, c.Agents[0]) }, `agents.1.id: duplicate agent "1001"`},
		{"bad pool", func(_ []queue.Config, c *Config) { c.Agents[0].Pool = "reserve" }, "agents.0.pool"},
		{"bad level", func(_ []queue.Config, c *Config) { c.Agents[0].Skills["call-taking"] = 11 }, "agents.0.skills.call-taking: level 11"},
		{"no skills", func(_ []queue.Config, c *Config) { c.Agents[0].Skills = nil }, "agents.0.skills: none"},
		{"bad endpoint", func(_ []queue.Config, c *Config) { c.Agents[0].Endpoint.Kind = "pstn" }, "agents.0.endpoint.kind"},
		{"sip-uri without uri", func(_ []queue.Config, c *Config) { c.Agents[0].Endpoint.Kind = EndpointSIPURI }, "agents.0.endpoint.uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs, c := good()
			tt.mod(qs, &c)
			errs := c.Validate(qs)
			_, err := NewRouter(qs, c, Deps{})
			if tt.want == "" {
				if len(errs) > 0 || err != nil {
					t.Fatalf("problems %v / %v", errs, err)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("problems %v, want one with %q", errs, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewRouter error %v, want a ConfigError with %q", err, tt.want)
			}
		})
	}
}

func TestDefaultAgents(t *testing.T) {
	c := Default()
	if errs := c.Validate(queue.DefaultQueues()); len(errs) > 0 {
		t.Fatalf("default agents invalid: %v", errs)
	}
	primary, backup := 0, 0
	serving := map[string]int{}
	for _, a := range c.Agents {
		switch a.Pool {
		case Primary:
			primary++
			if a.Endpoint.Kind != EndpointWebRTC || a.ID < "1001" || a.ID > "1200" {
				t.Fatalf("primary %+v", a)
			}
		case Backup:
			backup++
			if len(a.Skills) != len(SeatTypes) || a.Endpoint.Kind != EndpointSIP || a.ID < "2001" || a.ID > "2050" {
				t.Fatalf("backup %+v", a)
			}
		}
		if a.PasswordHash != "" {
			t.Fatal("default agents carry a password hash")
		}
		for s := range a.Skills {
			if a.Pool == Primary {
				serving[s]++
			}
		}
	}
	if primary != 200 || backup != 50 {
		t.Fatalf("%d primary, %d backup", primary, backup)
	}
	for _, q := range queue.DefaultQueues() {
		if serving[q.Skill] < 20 {
			t.Fatalf("queue %s: only %d primary agents", q.Name, serving[q.Skill])
		}
	}
	if _, err := NewRouter(queue.DefaultQueues(), c, Deps{}); err != nil {
		t.Fatal(err)
	}
}

// The agents section reads from YAML the way the engine's file will hold it.
func TestAgentsYAML(t *testing.T) {
	src := `
agents:
  - id: "2001"
    name: Backup seat
    pool: backup
    password_hash: "$argon2id$..."
    skills: {call-taking: 5, foreign-language: 8}
    endpoint: {kind: sip}
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	a := c.Agents[0]
	if a.ID != "2001" || a.Pool != Backup || a.Skills["foreign-language"] != 8 || a.Endpoint.Kind != EndpointSIP || a.PasswordHash == "" {
		t.Fatalf("decoded %+v", a)
	}
	if errs := c.Validate(nil); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestAgentStateNames(t *testing.T) {
	for s := LoggedOut; s < numStates; s++ {
		b, _ := s.MarshalText()
		var back AgentState
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%v round trip: %v %v", s, back, err)
		}
	}
	if _, err := ParseAgentState("busy"); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("unknown state: %v", err)
	}
}
