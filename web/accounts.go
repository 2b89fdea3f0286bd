package web

import (
	"crypto/subtle"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/internal/password"
	"github.com/hotline12345/hotline/sip"
)

// AgentAccounts are the logins of the configured agents: a PBKDF2 hash each, or the
// lab password for those that have none (the demo). It also answers the SIP
// registrar's question for SIP seats (sip.Credentials).
type AgentAccounts struct {
	byID  map[string]acd.AgentConfig
	lab   string
	realm string
}

var _ Accounts = (*AgentAccounts)(nil)

// NewAccounts indexes agents; realm is the SIP digest realm of the registrar.
func NewAccounts(agents []acd.AgentConfig, labPassword, realm string) *AgentAccounts {
	a := &AgentAccounts{byID: map[string]acd.AgentConfig{}, lab: labPassword, realm: realm}
	for _, ag := range agents {
		a.byID[ag.ID] = ag
	}
	return a
}

// dummy is checked for unknown ids, so that a login for one takes as long as for a
// real account with a hash.
var dummy, _ = password.Hash("no such agent")

// Authenticate implements Accounts. Every configured agent has the agent role.
func (a *AgentAccounts) Authenticate(id, pw string) (string, bool) {
	ag, ok := a.byID[id]
	if !ok {
		_, _ = password.Check(dummy, pw)
		return "", false
	}
	if ag.PasswordHash == "" {
		if subtle.ConstantTimeCompare([]byte(pw), []byte(a.lab)) == 1 {
			return RoleAgent, true
		}
		return "", false
	}
	if good, err := password.Check(ag.PasswordHash, pw); err != nil || !good {
		return "", false
	}
	return RoleAgent, true
}

// HA1 implements sip.Credentials for SIP seats: the stored HA1, or the lab password's.
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
