package acd

import (
	"fmt"
	"time"
)

// AgentState is where an agent is in its working cycle.
type AgentState uint8

// The agent states. The zero value is LoggedOut.
const (
	LoggedOut AgentState = iota // not at work; gets no calls
	Ready                       // free: may be offered a call
	NotReady                    // logged in but taking no calls, with a reason code
	Reserved                    // a call is ringing at the agent
	OnCall                      // talking to a caller
	WrapUp                      // after-call work; ends by timer or by the agent
	numStates
)

var stateNames = [numStates]string{"logged-out", "ready", "not-ready", "reserved", "on-call", "wrap-up"}

// String returns the state's stable name (used in events and the API).
func (s AgentState) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("AgentState(%d)", uint8(s))
}

// ParseAgentState returns the state with the given name.
func ParseAgentState(name string) (AgentState, error) {
	for i, n := range stateNames {
		if n == name {
			return AgentState(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown agent state %q", ErrBadCommand, name)
}

// MarshalText returns the state's name.
func (s AgentState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state's name.
func (s *AgentState) UnmarshalText(b []byte) error {
	v, err := ParseAgentState(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Reasons recorded with NotReady states and withdrawn offers.
const (
	ReasonLogin        = "login"              // logged in without asking to be ready
	ReasonMissed       = "missed"             // an offer rang out (ring timeout)
	ReasonRejected     = "rejected"           // the agent declined an offer
	ReasonAbandoned    = "abandoned"          // the caller hung up while it rang
	ReasonLogout       = "logout"             // the agent logged out while it rang
	ReasonEndpointGone = "endpoint-gone"      // the agent's phone or browser went away
	ReasonElsewhere    = "answered-elsewhere" // ring-all: another agent answered
)

// AgentStats are the live numbers of one agent. Time in each state is exact: the sum
// of the intervals between the agent's state events since the counters were last
// reset, up to Since (the current state's own time is TimeIn(state, now)).
type AgentStats struct {
	State  AgentState
	Reason string    // the not-ready reason code
	Since  time.Time // when the current state began
	Calls  int       // offers accepted
	Missed int       // offers that rang out
	// Rejected counts offers the agent declined.
	Rejected int
	// Time is the finished time in each state, indexed by AgentState.
	Time [numStates]time.Duration
	mark time.Time // where the current state's uncounted time starts
}

// TimeIn returns the time spent in state s up to now, including the current stretch.
func (a AgentStats) TimeIn(s AgentState, now time.Time) time.Duration {
	d := a.Time[s]
	if s == a.State && !a.mark.IsZero() && now.After(a.mark) {
		d += now.Sub(a.mark)
	}
	return d
}

// Talk returns the finished talk time (time on call).
func (a AgentStats) Talk() time.Duration { return a.Time[OnCall] }

// enter moves the stats to state s at t; the Router and Recount share it.
func (a *AgentStats) enter(s AgentState, reason string, t time.Time) {
	if !a.mark.IsZero() && t.After(a.mark) {
		a.Time[a.State] += t.Sub(a.mark)
	}
	a.State, a.Reason, a.Since, a.mark = s, reason, t, t
}

// reset zeroes the counters at t, keeping the current state.
func (a *AgentStats) reset(t time.Time) {
	a.Calls, a.Missed, a.Rejected = 0, 0, 0
	a.Time = [numStates]time.Duration{}
	if !a.mark.IsZero() {
		a.mark = t
	}
}
