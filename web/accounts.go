package web

import (
	"crypto/subtle"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/internal/password"
	"github.com/hotline12345/hotline/sip"
)

// Supervisor is a supervisor's login: it may change any agent's state. It has no SIP
// seat and takes no calls.
type Supervisor struct {
	// ID is the login name; it must not be an agent's id (an agent's wins).
	ID string
	// PasswordHash is the PBKDF2 hash (password.Hash); empty means the lab password.
	PasswordHash string
}

// AgentAccounts are the logins of the configured agents and supervisors: a PBKDF2
// hash each, or the lab password for those that have none (the demo). It also
// answers the SIP registrar's question for SIP seats (sip.Credentials).
type AgentAccounts struct {
	byID  map[string]acd.AgentConfig
	sups  map[string]Supervisor
	lab   string
	realm string
}

var _ Accounts = (*AgentAccounts)(nil)

// NewAccounts indexes agents (role agent) and supervisors (role supervisor); realm
// is the SIP digest realm of the registrar.
func NewAccounts(agents []acd.AgentConfig, supervisors []Supervisor, labPassword, realm string) *AgentAccounts {
	a := &AgentAccounts{byID: map[string]acd.AgentConfig{}, sups: map[string]Supervisor{}, lab: labPassword, realm: realm}
	for _, ag := range agents {
		a.byID[ag.ID] = ag
	}
	for _, s := range supervisors {
		if _, clash := a.byID[s.ID]; !clash {
			a.sups[s.ID] = s
		}
	}
	return a
}

// dummy is checked for unknown ids, so that a login for one takes as long as for a
// real account with a hash.
var dummy, _ = password.Hash("no such agent")

// Authenticate implements Accounts: configured agents have the agent role,
// configured supervisors the supervisor role.
func (a *AgentAccounts) Authenticate(id, pw string) (string, bool) {
	hash, role := "", RoleAgent
	if ag, ok := a.byID[id]; ok {
		hash = ag.PasswordHash
	} else if s, ok := a.sups[id]; ok {
		hash, role = s.PasswordHash, RoleSupervisor
	} else {
		_, _ = password.Check(dummy, pw)
		return "", false
	}
	if hash == "" {
		if subtle.ConstantTimeCompare([]byte(pw), []byte(a.lab)) == 1 {
			return role, true
		}
		return "", false
	}
	if good, err := password.Check(hash, pw); err != nil || !good {
		return "", false
	}
	return role, true
}

// HA1 implements sip.Credentials for SIP seats: the stored HA1, or the lab password's.
// Supervisors have no seat.
func (a *AgentAccounts) HA1(user, algorithm string) (string, bool) {
	ag, ok := a.byID[user]
	if !ok || ag.Endpoint.Kind != acd.EndpointSIP {
		return "", false
	}
	if ag.PasswordHash == "" {
		h, err := sip.HA1(algorithm, user, a.realm, a.lab)
		return h, err == nil
	}
	h, ok := ag.SIPHA1[algorithm]
	return h, ok && h != ""
}
