package event

import "time"

// Type names what happened. Values are stable strings: they are written to the journal
// and read back by reports and by the standby site.
type Type string

// The catalogue. Keep it in one place; DESIGN.md lists the same.
const (
	// Calls.
	CallCreated   Type = "call.created"   // Caller, Dialled, Trunk, Direction, Transport
	CallAnswered  Type = "call.answered"  // Codec
	CallHeld      Type = "call.held"      // Reason (sendonly, inactive ...)
	CallResumed   Type = "call.resumed"   //
	CallConnected Type = "call.connected" // Agent
	CallEnded     Type = "call.ended"     // Side, Cause, Code

	// The voice menu.
	MenuEntered Type = "menu.entered" // Node, Language
	MenuInput   Type = "menu.input"   // Node, Digits, Via
	MenuRouted  Type = "menu.routed"  // Queue, Skill, Priority, Language
	MenuMessage Type = "menu.message" // File, Duration (a message left in the menu)

	// Queues, offers and agents (the ACD issue fills these in).
	QueueJoined   Type = "queue.joined"
	QueueLeft     Type = "queue.left"
	OfferMade     Type = "offer.made"
	OfferAccepted Type = "offer.accepted"
	OfferRejected Type = "offer.rejected"
	OfferTimedOut Type = "offer.timed_out"
	AgentState    Type = "agent.state"
	AgentLogin    Type = "agent.login"
	AgentLogout   Type = "agent.logout"

	// Site roles (the failover issue).
	SiteRole Type = "site.role"
)

// Hang-up sides recorded in CallEnded.Side.
const (
	SideCaller = "caller" // the citizen (or the carrier) hung up
	SideEngine = "engine" // we ended the call (menu goodbye, timeout, shutdown)
)

// DTMF sources recorded in MenuInput.Via and used as a metric label.
const (
	ViaRFC4733 = "rfc4733"
	ViaINFO    = "info"
	ViaInband  = "inband"
)

// Event is the envelope of every state change. Only the fields of its Type are set; the
// comments in the catalogue above say which. The zero value of a field means "not set".
type Event struct {
	Seq   uint64    `json:"seq"`             // per-site sequence number, assigned by the log
	Epoch uint64    `json:"epoch,omitempty"` // fencing epoch of the writer (failover)
	Time  time.Time `json:"time"`            // when it happened, from the writer's clock
	Site  string    `json:"site,omitempty"`  // the site that wrote it
	Type  Type      `json:"type"`
	Call  string    `json:"call,omitempty"`  // the call it concerns
	Agent string    `json:"agent,omitempty"` // the agent it concerns

	Caller    string `json:"caller,omitempty"`
	Dialled   string `json:"dialled,omitempty"`
	Trunk     string `json:"trunk,omitempty"`
	Direction string `json:"direction,omitempty"` // inbound, outbound
	Transport string `json:"transport,omitempty"` // udp, tcp
	Codec     string `json:"codec,omitempty"`

	Node     string `json:"node,omitempty"`
	Digits   string `json:"digits,omitempty"`
	Via      string `json:"via,omitempty"`
	Queue    string `json:"queue,omitempty"`
	Skill    string `json:"skill,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Language string `json:"language,omitempty"`

	File     string        `json:"file,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`

	Side   string `json:"side,omitempty"`
	Cause  string `json:"cause,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Role   string `json:"role,omitempty"`
	State  string `json:"state,omitempty"`
}
