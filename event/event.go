package event

import (
	"encoding/json"
	"time"
)

// Type names what happened. Values are stable strings: they are written to the journal
// and read back by reports and by the standby site.
type Type string

// The catalogue. Keep it in one place; DESIGN.md lists the same.
const (
	// Calls.
	CallCreated     Type = "call.created"     // Caller, Dialled, Trunk, Direction, Transport
	CallAnswered    Type = "call.answered"    // Codec
	CallHeld        Type = "call.held"        // Reason (sendonly, inactive ...)
	CallResumed     Type = "call.resumed"     //
	CallConnected   Type = "call.connected"   // Agent
	CallTransferred Type = "call.transferred" // Agent, Queue (to)
	CallEnded       Type = "call.ended"       // Side, Cause, Code
	// CallAgentLeft: the agent hung up and the caller stays for the post-call
	// survey (Agent); the call ends after it.
	CallAgentLeft Type = "call.agent_left"
	// CallConsult: the agent consults someone while the caller holds (Agent: the
	// consulting agent; Dialled: the target agent or number, Queue for a queue;
	// Reason: started, connected, completed, cancelled, failed; Cause: why).
	CallConsult Type = "call.consult"

	// The voice menu.
	MenuEntered Type = "menu.entered" // Node, Language
	MenuInput   Type = "menu.input"   // Node, Digits, Via
	MenuRouted  Type = "menu.routed"  // Queue, Skill, Priority, Language
	MenuMessage Type = "menu.message" // File, Duration (a message left in the menu)

	// Queues, offers and agents (written by the acd matcher). Duration in QueueLeft is
	// the call's wait in that queue; Estimate in QueueJoined is the wait predicted at
	// joining, so the estimate's error is a fold over the log.
	QueueJoined       Type = "queue.joined"       // Queue, Skill, Priority, Caller, Estimate, Reason (why it came back; JoinRestored: not a new offer)
	QueueLeft         Type = "queue.left"         // Queue, Reason (answered, abandoned, timed_out, full), Duration, Caller, Agent (answered)
	QueueOverflowed   Type = "queue.overflowed"   // Queue, Reason (wait, estimate, no-primary): the backup pool may take the call
	QueueMoved        Type = "queue.moved"        // Queue (where it is now), Priority, Reason (who moved it): a supervisor moved a waiting call
	QueueWidened      Type = "queue.widened"      // Queue, Level (the minimum skill level the call now accepts)
	CallbackScheduled Type = "callback.scheduled" // Queue, Caller, Reason (requested, timed_out, full): the entry keeps its place
	OfferMade         Type = "offer.made"         // Agent, Queue, Pool, Reason (ring-all: one of several; callback: dial the caller)
	OfferAccepted     Type = "offer.accepted"     // Agent, Queue
	OfferRejected     Type = "offer.rejected"     // Agent, Queue
	OfferTimedOut     Type = "offer.timed_out"    // Agent, Queue
	OfferWithdrawn    Type = "offer.withdrawn"    // Agent, Queue, Reason (abandoned, logout, endpoint-gone, answered-elsewhere)
	AgentState        Type = "agent.state"        // Agent, State, Reason (not-ready reason code)
	AgentLogin        Type = "agent.login"        // Agent, Pool
	AgentLogout       Type = "agent.logout"       // Agent, Reason (logout, endpoint-gone)
	CountersReset     Type = "acd.counters_reset" // (no fields): queue and agent counters start again (a new day)
	// Run-time configuration: Data is the new settings (the agent's or queue's
	// configuration as JSON, written by the call package); Reason who changed it.
	AgentConfigured Type = "config.agent" // Agent, Pool
	QueueConfigured Type = "config.queue" // Queue

	// Recordings (one per call, following the caller across transfers; messages
	// left in the menu are MenuMessage). The recording's id is the call's.
	RecordingStarted   Type = "recording.started"   // File, Caller, Queue, Reason (from: answer, agent)
	RecordingPaused    Type = "recording.paused"    // Agent (who paused)
	RecordingResumed   Type = "recording.resumed"   // Agent, Duration (of the pause)
	RecordingCompleted Type = "recording.completed" // File, Duration, Size, Hash (SHA-256), State (complete, repaired)
	RecordingFailed    Type = "recording.failed"    // File, Cause
	RecordingListened  Type = "recording.listened"  // Agent (the account that listened), Role, File: the audit log
	RecordingDeleted   Type = "recording.deleted"   // File, Reason (retention)

	// Satisfaction: Agent (who served), Reason (post-call, follow-up), Digits (the
	// rating: 1 satisfied, 2 basically satisfied, 3 dissatisfied; empty: none given),
	// File (the work order, for a follow-up), Cause (why none).
	SurveyResult Type = "survey.result"

	// Work orders: Data is the work order (ticket.WorkOrder JSON) after the change;
	// Agent who made it.
	TicketCreated Type = "ticket.created"
	TicketUpdated Type = "ticket.updated" // Reason (the new status)

	// Hook deliveries, in the log only when it is shared by two sites: File is the
	// delivery's idempotency key; Data the ticket.Event handed to the sinks
	// (published); Reason the sink that took it (delivered). A site taking over
	// hands on what was published and not delivered.
	HookPublished Type = "hook.published"
	HookDelivered Type = "hook.delivered"

	// Supervision: the audit log of what supervisors do.
	SupervisorAction Type = "supervisor.action" // Agent (the supervisor), Reason (listen, whisper, barge, leave, state, move), Call, Dialled (the agent acted on), State, Queue

	// Site roles (the failover issue).
	SiteRole Type = "site.role"
)

// JoinRestored is the Reason of a QueueJoined that takes up a wait the log shows
// as not ended (a callback request, or a caller cut off while waiting, after a
// restart or a takeover): the call was offered when it first joined, so folds
// count it once.
const JoinRestored = "restored"

// Hang-up sides recorded in CallEnded.Side.
const (
	SideCaller = "caller" // the citizen (or the carrier) hung up
	SideEngine = "engine" // we ended the call (menu goodbye, timeout, shutdown)
	SideAgent  = "agent"  // the agent hung up
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
	Pool     string `json:"pool,omitempty"`  // agent pool: primary, backup
	Level    int    `json:"level,omitempty"` // minimum skill level a queued call accepts (QueueWidened)
	// Estimate is the wait predicted for a call when it joined a queue.
	Estimate time.Duration `json:"estimate,omitempty"`

	File     string        `json:"file,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Size     int64         `json:"size,omitempty"` // bytes (RecordingCompleted)
	Hash     string        `json:"hash,omitempty"` // hex SHA-256 (RecordingCompleted)

	Side   string `json:"side,omitempty"`
	Cause  string `json:"cause,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Role   string `json:"role,omitempty"`
	State  string `json:"state,omitempty"`

	// Data is the document an event carries whole (ticket.*: the work order as
	// it is after the change, as JSON).
	Data json.RawMessage `json:"data,omitempty"`
}
