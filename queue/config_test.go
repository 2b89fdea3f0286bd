package queue

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := func(name string) bool { return name != "nosuch" }
	base := func() Config { return Config{Name: "q", Skill: "s", Hold: []string{"music"}} }
	tests := []struct {
		name   string
		mod    func(*Config)
		others []Config
		want   string // substring of the one problem expected; "" for none
	}{
		{"defaults are valid", func(*Config) {}, nil, ""},
		{"missing name", func(c *Config) { c.Name = "" }, nil, "queues.0.name: missing"},
		{"no hold", func(c *Config) { c.Hold = nil }, nil, "queues.0.hold: no hold audio"},
		{"unknown prompt", func(c *Config) { c.Hold = []string{"nosuch"} }, nil, "queues.0.hold.0: unknown prompt"},
		{"level too high", func(c *Config) { c.MinLevel = 11 }, nil, "queues.0.min_level"},
		{"negative ring", func(c *Config) { c.RingTimeout = -time.Second }, nil, "queues.0.ring_timeout"},
		{"negative wrap-up means none", func(c *Config) { c.WrapUp = -1 }, nil, ""},
		{"negative length", func(c *Config) { c.MaxLength = -1 }, nil, "queues.0.max_length"},
		{"bad percent", func(c *Config) { c.ServiceLevel.Percent = 120 }, nil, "queues.0.service_level.percent"},
		{"negative overflow", func(c *Config) { c.Overflow.Estimate = -1 }, nil, "queues.0.overflow.estimate"},
		{"unknown exit", func(c *Config) { c.Exit.Action = "voicemail" }, nil, "queues.0.exit.action"},
		{"exit queue missing", func(c *Config) { c.Exit.Action = ExitQueue }, nil, "queues.0.exit.queue: missing"},
		{"exit to itself", func(c *Config) { c.Exit = Exit{ExitQueue, "q"} }, nil, "cannot exit to itself"},
		{"exit to unknown", func(c *Config) { c.Exit = Exit{ExitQueue, "z"} }, nil, `unknown queue "z"`},
		{"queue without queue action", func(c *Config) { c.Exit = Exit{ExitMessage, "z"} }, nil, "queues.0.exit.queue: given"},
		{"exit to another", func(c *Config) { c.Exit = Exit{ExitQueue, "r"} }, []Config{{Name: "r", Hold: []string{"music"}}}, ""},
		{"exit cycle", func(c *Config) { c.Exit = Exit{ExitQueue, "r"} },
			[]Config{{Name: "r", Hold: []string{"music"}, Exit: Exit{ExitQueue, "q"}}}, "exits form a cycle"},
		{"widen ok", func(c *Config) {
			c.MinLevel = 7
			c.Widen = []Step{{60 * time.Second, 5}, {120 * time.Second, 3}}
		}, nil, ""},
		{"widen must lower", func(c *Config) {
			c.MinLevel = 7
			c.Widen = []Step{{60 * time.Second, 8}}
		}, nil, "queues.0.widen.0.min_level"},
		{"widen in order", func(c *Config) {
			c.MinLevel = 7
			c.Widen = []Step{{60 * time.Second, 5}, {30 * time.Second, 3}}
		}, nil, "queues.0.widen.1.after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mod(&c)
			errs := Validate(append([]Config{c}, tt.others...), ok)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected problems %v", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("no problem found, want %q", tt.want)
			}
			found := false
			for _, e := range errs {
				found = found || strings.Contains(e.Error(), tt.want)
			}
			if !found {
				t.Fatalf("problems %v, want one with %q", errs, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	d := Default()
	if d.Strategy != "longest-idle" || d.RingTimeout != 15*time.Second || d.WrapUp != 30*time.Second ||
		d.ServiceLevel != (ServiceLevel{80, 20 * time.Second}) || d.MinLevel != 1 || d.Exit.Action != ExitMessage {
		t.Fatalf("Default() = %+v", d)
	}
	if got := (Config{WrapUp: -1, RingTimeout: time.Second}).WithDefaults(); got.WrapUp != -1 || got.RingTimeout != time.Second {
		t.Fatalf("WithDefaults overwrote given values: %+v", got)
	}
	qs := DefaultQueues()
	if len(qs) != 6 {
		t.Fatalf("%d default queues", len(qs))
	}
	if errs := Validate(qs, func(string) bool { return true }); len(errs) > 0 {
		t.Fatalf("default queues invalid: %v", errs)
	}
	if qs[0].Name != "general" || qs[0].Skill != "call-taking" || qs[5].Skill != "foreign-language" {
		t.Fatalf("default queues %+v", qs)
	}
}
