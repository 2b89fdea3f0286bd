package acd

import (
	"errors"
	"strings"

	"github.com/hotline12345/hotline/queue"
)

// Errors returned by Router.Apply (wrapped with the call or agent concerned).
var (
	// ErrUnknownQueue: the command names a queue that is not configured.
	ErrUnknownQueue = errors.New("acd: unknown queue")
	// ErrUnknownAgent: the command names an agent that is not configured.
	ErrUnknownAgent = errors.New("acd: unknown agent")
	// ErrUnknownCall: the call is not (or no longer) in the ACD. A hang-up that arrives
	// after the call left (it was answered and ended, or moved out by rule) gets it
	// and can be ignored.
	ErrUnknownCall = errors.New("acd: unknown call")
	// ErrDuplicateCall: Enqueue of a call that is already queued.
	ErrDuplicateCall = errors.New("acd: call already queued")
	// ErrNotLoggedIn: the agent is logged out.
	ErrNotLoggedIn = errors.New("acd: agent not logged in")
	// ErrLoggedIn: Login of an agent who is logged in already.
	ErrLoggedIn = errors.New("acd: agent already logged in")
	// ErrNoOffer: Accept, Reject or Connected for an offer that is not ringing at the
	// agent (withdrawn because the caller hung up, timed out, or never made).
	ErrNoOffer = errors.New("acd: no such offer")
	// ErrBadState: the change is not allowed in the agent's or call's present state.
	ErrBadState = errors.New("acd: not allowed in this state")
	// ErrBadCommand: the command is malformed (unknown kind, missing id, bad state).
	ErrBadCommand = errors.New("acd: bad command")
	// ErrUnknownStrategy: a queue names a routing strategy that does not exist.
	ErrUnknownStrategy = errors.New("acd: unknown strategy")
)

// ConfigError lists what is wrong with the queues and agents given to NewRouter.
type ConfigError struct {
	Errors []queue.FieldError
}

// Error lists every problem.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("acd: invalid configuration:")
	for _, fe := range e.Errors {
		b.WriteString(" ")
		b.WriteString(fe.Error())
		b.WriteString(";")
	}
	return strings.TrimSuffix(b.String(), ";")
}
