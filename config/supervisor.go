package config

import "fmt"

// Supervisor is a login that may act on every agent (change any agent's state, watch
// the dashboard); it takes no calls and has no SIP seat.
type Supervisor struct {
	// ID is the login name; it must differ from every agent's id.
	ID string `yaml:"id"`
	// Name is shown on the dashboard.
	Name string `yaml:"name"`
	// PasswordHash is the hashed password (as for agents); empty means the lab
	// password, and counts in the rule that keeps such accounts on loopback.
	PasswordHash string `yaml:"password_hash"`
}

// defaultSupervisors is the demo's one supervisor, used when the file has no
// supervisors key.
func defaultSupervisors() []Supervisor {
	return []Supervisor{{ID: "9001", Name: "Demo supervisor"}, {ID: "admin", Name: "Administrator"}}
}

// validateSupervisors checks the supervisors' ids: present, unique, and not an
// agent's id (a login must name one account).
func (c *Config) validateSupervisors(add func(path, msg string)) {
	agents := map[string]bool{}
	for _, a := range c.Agents.Agents {
		agents[a.ID] = true
	}
	seen := map[string]bool{}
	for i, s := range c.Supervisors {
		p := fmt.Sprintf("supervisors.%d.id", i)
		switch {
		case s.ID == "":
			add(p, "missing")
		case seen[s.ID]:
			add(p, fmt.Sprintf("duplicate supervisor %q", s.ID))
		case agents[s.ID]:
			add(p, fmt.Sprintf("%q is already an agent's id", s.ID))
		}
		seen[s.ID] = true
	}
}
