package ticket

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event types that sinks receive and that Book.Apply folds.
const (
	// TypeCreated carries the new work order in Order (its full state).
	TypeCreated = "ticket.created"
	// TypeUpdated carries the work order's full state after a change (status,
	// dispatch, rating) in Order.
	TypeUpdated = "ticket.updated"
	// TypeRecordingReady carries a completed recording in Recording.
	TypeRecordingReady = "recording.ready"
	// TypeSurveyResult carries a satisfaction answer in Survey (and, when it concerns a
	// work order, the order's state after the rating in Order).
	TypeSurveyResult = "survey.result"
)

// Survey kinds.
const (
	SurveyPostCall = "post-call" // asked right after the agent ended the call
	SurveyFollowUp = "follow-up" // 回访: an outbound call after a dispatched order closed
)

// Event is what sinks receive and what Book.Apply folds.
type Event struct {
	Type string `json:"type"`
	// Key is the idempotency key, unique per event and the same on every retry and on
	// every sink. Hooks.Publish assigns a random one when it is empty.
	Key       string         `json:"key"`
	Time      time.Time      `json:"time"`
	Order     *WorkOrder     `json:"order,omitempty"`
	Recording *RecordingInfo `json:"recording,omitempty"`
	Survey    *SurveyResult  `json:"survey,omitempty"`
}

// RecordingInfo describes a completed recording (recording.ready).
type RecordingInfo struct {
	ID       string        `json:"id"` // the recording's id (the call's)
	Call     string        `json:"call,omitempty"`
	Order    string        `json:"order,omitempty"` // the work order it belongs to, if known
	File     string        `json:"file,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Size     int64         `json:"size,omitempty"`
	Hash     string        `json:"hash,omitempty"` // hex SHA-256
}

// SurveyResult is one satisfaction survey's outcome (survey.result).
type SurveyResult struct {
	Kind     string    `json:"kind"`            // post-call or follow-up
	Order    string    `json:"order,omitempty"` // the work order's ID
	Call     string    `json:"call,omitempty"`  // the call surveyed (post-call) or the outbound call (follow-up)
	Agent    string    `json:"agent,omitempty"`
	Caller   string    `json:"caller,omitempty"`
	Rating   int       `json:"rating,omitempty"`  // 1..3; 0 when no answer was collected
	Outcome  string    `json:"outcome,omitempty"` // answered, busy, no-answer, failed, notified
	Attempts int       `json:"attempts,omitempty"`
	Time     time.Time `json:"time"`
}

// NewEvent returns an event of type typ carrying a copy of w, with a fresh key.
func NewEvent(typ string, w WorkOrder, now time.Time) Event {
	c := w.clone()
	return Event{Type: typ, Key: NewKey(), Time: now, Order: &c}
}

// NewKey returns a random idempotency key (32 hex digits).
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// orderKey is the ordering lane of an event: events with the same non-empty lane reach a
// sink in the order they were published.
func (ev *Event) orderKey() string {
	switch {
	case ev.Order != nil && ev.Order.ID != "":
		return ev.Order.ID
	case ev.Survey != nil && ev.Survey.Order != "":
		return ev.Survey.Order
	case ev.Recording != nil && ev.Recording.Order != "":
		return ev.Recording.Order
	}
	return ""
}

func (ev Event) clone() Event {
	if ev.Order != nil {
		c := ev.Order.clone()
		ev.Order = &c
	}
	if ev.Recording != nil {
		c := *ev.Recording
		ev.Recording = &c
	}
	if ev.Survey != nil {
		c := *ev.Survey
		ev.Survey = &c
	}
	return ev
}
