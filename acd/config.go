package acd

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/hotline12345/hotline/queue"
)

// Agent pools.
const (
	Primary = "primary" // the 200 seats of the main centre
	Backup  = "backup"  // overflow seats: take a call only once it has overflowed
)

// Endpoint kinds: how an offer reaches the agent.
const (
	EndpointWebRTC = "webrtc"  // the browser softphone
	EndpointSIP    = "sip"     // a SIP phone that registers as sip:<id>@<engine>
	EndpointSIPURI = "sip-uri" // a fixed SIP URI reached through a trunk
)

// SeatTypes are the hotline's seat types, used as skills.
var SeatTypes = []string{
	"call-taking", "dispatch", "follow-up", "expert", "online-channel", "foreign-language",
	"business-environment", "talent-policy", "household-registration",
}

// Config is the ACD's own configuration: the agents. Queues are configured in the
// queue package and passed beside it.
type Config struct {
	// Agents are the seats, primary and backup.
	Agents []AgentConfig `yaml:"agents"`
}

// AgentConfig describes one agent.
type AgentConfig struct {
	// ID is the login name and the SIP user of the agent (for example "1001").
	ID string `yaml:"id"`
	// Name is shown to supervisors.
	Name string `yaml:"name"`
	// PasswordHash is the hashed password, written and checked by the web layer; the
	// ACD never reads it.
	PasswordHash string `yaml:"password_hash"`
	// Pool is primary (default) or backup.
	Pool string `yaml:"pool"`
	// Skills maps a skill (a seat type) to the agent's level in it, 1 to 10.
	Skills map[string]int `yaml:"skills"`
	// Endpoint is how the agent is reached.
	Endpoint Endpoint `yaml:"endpoint"`
	// SIPHA1 holds, for a SIP seat with its own password, the digest HA1 per
	// algorithm ("MD5", "SHA-256"): the hash of "id:realm:password" that SIP digest
	// needs (sip.HA1 computes it). Seats with the lab password need none.
	SIPHA1 map[string]string `yaml:"sip_ha1"`
}

// Endpoint is how an offer reaches an agent.
type Endpoint struct {
	// Kind is webrtc (default), sip (a registering phone) or sip-uri.
	Kind string `yaml:"kind"`
	// URI is the SIP URI to call when Kind is sip-uri.
	URI string `yaml:"uri"`
}

// Default returns the demo agents (DefaultAgents).
func Default() Config { return Config{Agents: DefaultAgents()} }

// DefaultAgents returns the demo agents of the embedded configuration: 1001-1200
// primary WebRTC seats and 2001-2050 backup SIP seats with every seat type at level 5.
// Every primary agent takes calls (call-taking, level 3 to 10); groups of them also
// staff the desks: 1001-1030 business-environment, 1031-1060 talent-policy,
// 1061-1090 household-registration, 1091-1120 follow-up, 1121-1140
// foreign-language, 1141-1160 dispatch, 1161-1180 online-channel, 1181-1200 expert.
// Password hashes are left empty for the web layer to fill.
func DefaultAgents() []AgentConfig {
	desks := []struct {
		first, last int
		skill       string
	}{
		{1001, 1030, "business-environment"}, {1031, 1060, "talent-policy"},
		{1061, 1090, "household-registration"}, {1091, 1120, "follow-up"},
		{1121, 1140, "foreign-language"}, {1141, 1160, "dispatch"},
		{1161, 1180, "online-channel"}, {1181, 1200, "expert"},
	}
	var as []AgentConfig
	for id := 1001; id <= 1200; id++ {
		skills := map[string]int{"call-taking": 3 + (id*7)%8}
		for _, d := range desks {
			if id >= d.first && id <= d.last {
				skills[d.skill] = 4 + (id*3)%7
			}
		}
		as = append(as, AgentConfig{
			ID: strconv.Itoa(id), Name: "Agent " + strconv.Itoa(id), Pool: Primary,
			Skills: skills, Endpoint: Endpoint{Kind: EndpointWebRTC},
		})
	}
	for id := 2001; id <= 2050; id++ {
		skills := map[string]int{}
		for _, s := range SeatTypes {
			skills[s] = 5
		}
		as = append(as, AgentConfig{
			ID: strconv.Itoa(id), Name: "Backup " + strconv.Itoa(id), Pool: Backup,
			Skills: skills, Endpoint: Endpoint{Kind: EndpointSIP},
		})
	}
	return as
}

// Validate checks the agents and the ACD's view of the queues: every queue has a
// skill and a known strategy; every agent has a unique id, a known pool and endpoint,
// and skills with levels from 1 to 10. Paths are those of the engine's configuration
// file (queues.N.strategy, agents.N.skills.call-taking ...).
func (c Config) Validate(queues []queue.Config) []queue.FieldError {
	var errs []queue.FieldError
	add := func(path, format string, a ...any) {
		errs = append(errs, queue.FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	for i, q := range queues {
		p := fmt.Sprintf("queues.%d", i)
		if q.Skill == "" {
			add(p+".skill", "missing: name the skill an agent needs")
		}
		if _, err := NewStrategy(q.WithDefaults().Strategy, 0); err != nil {
			add(p+".strategy", "unknown strategy %q (known: %v)", q.Strategy, StrategyNames())
		}
	}
	ids := map[string]bool{}
	for i, a := range c.Agents {
		p := fmt.Sprintf("agents.%d", i)
		switch {
		case a.ID == "":
			add(p+".id", "missing")
		case ids[a.ID]:
			add(p+".id", "duplicate agent %q", a.ID)
		}
		ids[a.ID] = true
		switch a.Pool {
		case "", Primary, Backup:
		default:
			add(p+".pool", "unknown pool %q (want %s or %s)", a.Pool, Primary, Backup)
		}
		switch a.Endpoint.Kind {
		case "", EndpointWebRTC, EndpointSIP:
		case EndpointSIPURI:
			if a.Endpoint.URI == "" {
				add(p+".endpoint.uri", "missing for kind %s", EndpointSIPURI)
			}
		default:
			add(p+".endpoint.kind", "unknown kind %q (want %s, %s or %s)", a.Endpoint.Kind, EndpointWebRTC, EndpointSIP, EndpointSIPURI)
		}
		if len(a.Skills) == 0 {
			add(p+".skills", "none: an agent without skills takes no calls")
		}
		names := make([]string, 0, len(a.Skills))
		for s := range a.Skills {
			names = append(names, s)
		}
		slices.Sort(names)
		for _, s := range names {
			if l := a.Skills[s]; l < 1 || l > 10 {
				add(p+".skills."+s, "level %d is not from 1 to 10", l)
			}
		}
	}
	return errs
}
