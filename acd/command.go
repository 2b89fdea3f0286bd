package acd

import (
	"fmt"
	"time"

	"github.com/hotline12345/hotline/queue"
)

// CommandKind says what a Command does.
type CommandKind uint8

// The commands. Each lists the Command fields it reads.
const (
	// CmdEnqueue puts a call in a queue (Call, Queue, Priority, Caller). With
	// Callback set it joins as a callback request (a call abandoned earlier that is
	// to be called back). With Reason ReasonRestored it takes up again a wait the
	// log shows as not ended (a callback request, or a caller cut off while
	// waiting, after a restart or a takeover): it is not counted as a new offer.
	//
	// With Agent set (a transfer to a named agent) the call is offered at once to
	// that agent only, whatever their skills or pool: the agent must be ready, or
	// the command fails (ErrNotLoggedIn, ErrBadState) and changes nothing; the
	// queue's maximum length does not apply. The offer follows the queue's ring
	// timeout; if the agent rejects it or lets it time out (becoming not-ready as
	// for any offer), the call waits in Queue like any other call, under that
	// queue's rules, from the time it joined.
	CmdEnqueue CommandKind = iota + 1
	// CmdHangup says the call is over for the ACD (Call): waiting or ringing it is
	// abandoned (ringing agents are withdrawn and become ready again); answered, its
	// agent goes to wrap-up. Ignored for a callback request waiting its turn.
	CmdHangup
	// CmdCallback turns a waiting call into a callback request that keeps its place
	// (Call, Caller: the number to dial, empty keeps the caller id). The caller may
	// then hang up.
	CmdCallback
	// CmdLogin logs an agent in (Agent, State: Ready, or NotReady with Reason;
	// default not-ready "login").
	CmdLogin
	// CmdLogout logs an agent out (Agent). A ringing offer is withdrawn and the call
	// goes back to its place; an agent on a call must hang up first.
	CmdLogout
	// CmdSetState sets an agent ready or not-ready (Agent, State, Reason). From
	// wrap-up it ends wrap-up early. Not-ready asked for during a call applies when
	// the wrap-up ends.
	CmdSetState
	// CmdAccept: the agent answered the offer (Call, Agent).
	CmdAccept
	// CmdReject: the agent declined the offer, or its phone was busy (Call, Agent).
	// The agent becomes not-ready "rejected" (so the call does not bounce straight
	// back to them) and the call returns to its place.
	CmdReject
	// CmdConnected: ring-all only; the winner's media is connected, so the others stop
	// ringing (Call).
	CmdConnected
	// CmdEndpointGone: the agent's browser or phone disappeared (Agent). The agent is
	// logged out whatever it was doing; a ringing offer is withdrawn, and a call in
	// progress is detached from the ACD (the call package ends it).
	CmdEndpointGone
	// CmdResetCounters starts the counters again (a new day); nobody's state changes.
	CmdResetCounters
	// CmdMove moves a call waiting in line (Call) to another queue (Queue: it
	// leaves its queue as "moved", counted with the calls that left by rule, and
	// joins Queue) and/or gives it another priority (Priority; 0 keeps it). A call
	// that rings at an agent, is being answered or waits as a callback request
	// cannot be moved (ErrBadState). Reason says who moved it (queue.moved event).
	CmdMove
	// CmdConfigureAgent changes an agent's name, pool and skills at run time
	// (AgentConfig; its ID is Agent). The agent must be logged out (ErrBadState)
	// and every skill one the engine knows (a queue's or another agent's; else
	// ErrBadCommand). Reason says who changed it.
	CmdConfigureAgent
	// CmdConfigureQueue changes a queue's settings at run time (QueueConfig; its
	// name is Queue): strategy, ring timeout, wrap-up, maximum wait and length,
	// exit, service level, announcements, hold audio, overflow, widening, record.
	// Its name and skill cannot change (ErrBadCommand). Calls waiting keep the
	// deadlines they joined with; new calls and offers follow the new settings.
	CmdConfigureQueue
	// CmdEndWait ends a wait the log shows open that will not go on here (Call,
	// Queue, Caller): a caller cut off while waiting, by a restart or the loss of
	// a site, who cannot be called back (no number). The Router takes the wait up
	// (queue.joined restored, not a new offer) and lets it leave at once as
	// "lost", so the day's figures close it.
	CmdEndWait
)

var commandNames = []string{"", "enqueue", "hangup", "callback", "login", "logout", "set-state",
	"accept", "reject", "connected", "endpoint-gone", "reset-counters", "move", "configure-agent", "configure-queue", "end-wait"}

// String returns the command's name.
func (k CommandKind) String() string {
	if int(k) < len(commandNames) && k != 0 {
		return commandNames[k]
	}
	return fmt.Sprintf("CommandKind(%d)", uint8(k))
}

// Command is one input to the Router: a call or agent event from the call package or
// the web layer.
type Command struct {
	Kind CommandKind
	Call string
	// Agent is the agent a command concerns; for CmdEnqueue, the only agent the
	// call is first offered to (empty: the queue's strategy chooses).
	Agent    string
	Queue    string
	Caller   string // the citizen's number (to call back)
	Priority int    // higher is more urgent
	State    AgentState
	Reason   string
	Callback bool // Enqueue: join as a callback request
	// Since (Enqueue with ReasonRestored): when the wait began, so that its
	// length (the answer's wait, the longest wait) counts from there.
	Since time.Time
	// Consult (Enqueue): a consult call (an agent consulting someone while the
	// caller holds): it is routed like any call but counted in no queue figure
	// (offered, waiting, answered, overflowed ...) and in no agent's calls, since
	// the caller's call is counted already; its queue.joined event says "consult".
	Consult bool
	// AgentConfig and QueueConfig are the new settings of CmdConfigureAgent and
	// CmdConfigureQueue.
	AgentConfig *AgentConfig
	QueueConfig *queue.Config
	// Head (Enqueue): the call joins at the head of its priority, before calls that
	// came earlier: it had its turn, and its agent was lost (the agent's media
	// connection failed and could not be restored). Reason says why.
	Head bool
}

// ActionKind says what an Action asks for.
type ActionKind uint8

// The actions.
const (
	// ActOffer: ring the call at Agents (several for ring-all). With Callback set the
	// caller is gone: once an agent accepts, dial Number and bridge them.
	ActOffer ActionKind = iota + 1
	// ActWithdraw: stop ringing the call at Agents (Reason says why). Whoever answers
	// after this gets ErrNoOffer from Accept and must drop the leg.
	ActWithdraw
	// ActMoved: the call left its queue by rule and now waits in Queue (play that
	// queue's hold audio).
	ActMoved
	// ActExit: the call left the ACD by rule (Reason: message, the caller may leave a
	// voice message; callback, tell the caller they will be called back and hang up).
	ActExit
)

// Action is one output of the Router, for the call package and the agents'
// endpoints.
type Action struct {
	Kind     ActionKind
	Call     string
	Agents   []string
	Queue    string
	Number   string // ActOffer with Callback: the number to dial
	Callback bool
	Reason   string
}

// Sink receives the Router's actions. Act is called on the matcher's goroutine and
// must not block: the implementation buffers (for example a channel per call and a
// send queue per agent connection, dropping to a log when full) and must not call
// back into the Matcher synchronously. Router tests use a slice.
type Sink interface {
	Act(Action)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Action)

// Act calls f(a).
func (f SinkFunc) Act(a Action) { f(a) }
