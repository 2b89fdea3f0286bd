package store

import (
	"slices"
	"sync"
	"time"

	"github.com/hotline12345/hotline/event"
)

// Call states shown in CallRecord.State. Being on hold is shown by CallRecord.Held.
const (
	StateRinging   = "ringing"   // created, not answered yet
	StateIVR       = "ivr"       // answered, in the voice menu
	StateRouted    = "routed"    // the menu chose a queue
	StateConnected = "connected" // talking to an agent
	StateEnded     = "ended"     // hung up
)

// Listing bounds for CallView.List.
const (
	// FilterActive as CallFilter.State lists every call that has not ended.
	FilterActive = "active"
	// DefaultListLimit is the number of records List returns when Limit is 0.
	DefaultListLimit = 100
	// MaxListLimit is the most records one List call returns.
	MaxListLimit = 1000
	// DefaultKeepEnded is the number of ended calls a CallView keeps by default.
	DefaultKeepEnded = 10000
)

// CallRecord is one call as the API lists it (the call detail record), folded from the
// call's events. Times are the events' times; Answer and End are zero (and omitted from
// JSON) until they happen.
type CallRecord struct {
	ID        string    `json:"id"`
	Caller    string    `json:"caller"`
	Dialled   string    `json:"dialled"`
	Trunk     string    `json:"trunk,omitempty"`
	Direction string    `json:"direction,omitempty"` // inbound, outbound
	Transport string    `json:"transport,omitempty"` // udp, tcp
	State     string    `json:"state"`               // ringing, ivr, routed, connected, ended
	Held      bool      `json:"held"`
	Digits    string    `json:"digits"`             // every key pressed in the menu, in order
	Inputs    []Input   `json:"inputs,omitempty"`   // the menu inputs, one per MenuInput event
	Path      []string  `json:"path,omitempty"`     // the menu nodes entered, in order
	Route     *Route    `json:"route,omitempty"`    // nil until routed
	Language  string    `json:"language,omitempty"` // the caller's menu language
	Messages  []Message `json:"messages,omitempty"` // messages left in the menu
	Codec     string    `json:"codec,omitempty"`
	Agent     string    `json:"agent,omitempty"` // the agent who took the call (the last, after transfers)
	Start     time.Time `json:"start"`
	Answer    time.Time `json:"answer,omitzero"`
	Connected time.Time `json:"connected,omitzero"` // when an agent answered
	End       time.Time `json:"end,omitzero"`
	Side      string    `json:"side,omitempty"`   // who hung up: caller, agent or engine
	Cause     string    `json:"cause,omitempty"`  // why, in words
	Code      int       `json:"code,omitempty"`   // SIP status code of the ending, if any
	Rating    string    `json:"rating,omitempty"` // the post-call survey: 1 satisfied, 2 basically satisfied, 3 dissatisfied
	// LeftQueue is how the call last left a queue (answered, abandoned, timed_out,
	// full, moved, lost) and Waited how long it had waited there.
	LeftQueue string        `json:"left_queue,omitempty"`
	Waited    time.Duration `json:"waited,omitempty"`
}

// Input is one menu input: the digits collected at a node and how they arrived.
type Input struct {
	Node   string    `json:"node"`
	Digits string    `json:"digits"`
	Via    string    `json:"via,omitempty"` // rfc4733, info, inband
	Time   time.Time `json:"time"`
}

// Route is the menu's routing decision.
type Route struct {
	Queue    string `json:"queue"`
	Skill    string `json:"skill,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Language string `json:"language,omitempty"`
}

// Message is a message the caller left in the menu.
type Message struct {
	File     string        `json:"file"`
	Duration time.Duration `json:"duration"` // in nanoseconds in JSON, as in event.Event
}

// CallFilter selects the records CallView.List returns.
type CallFilter struct {
	// State keeps only calls in that state (StateRinging ... StateEnded), or every
	// call not ended for FilterActive. Empty means every call.
	State string
	// Limit is the most records to return: 0 (or less) means DefaultListLimit, and
	// more than MaxListLimit means MaxListLimit.
	Limit int
}

// CallView is the projection of call events into call records. It keeps every live
// call and at most a bounded number of ended ones (the oldest-ended are evicted first;
// live calls never are). It is safe for concurrent use.
type CallView struct {
	keepEnded int

	mu     sync.RWMutex
	calls  map[string]*callEntry
	order  []*callEntry // by creation; evicted entries stay until compacted
	dead   int          // evicted entries still in order
	ended  []*callEntry // ended calls in the order they ended; ended[head:] are kept
	head   int
	active int
}

type callEntry struct {
	rec     CallRecord
	evicted bool
}

// NewCallView returns an empty view that keeps at most keepEnded ended calls: 0 means
// DefaultKeepEnded, a negative value keeps none.
func NewCallView(keepEnded int) *CallView {
	switch {
	case keepEnded == 0:
		keepEnded = DefaultKeepEnded
	case keepEnded < 0:
		keepEnded = 0
	}
	return &CallView{keepEnded: keepEnded, calls: make(map[string]*callEntry)}
}

// Apply folds one event into the view. Events that are not about calls, and events
// for calls the view does not know (never created, or already evicted), are ignored.
func (v *CallView) Apply(ev *event.Event) {
	if ev.Call == "" {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.Type == event.CallCreated {
		if _, ok := v.calls[ev.Call]; ok {
			return
		}
		e := &callEntry{rec: CallRecord{
			ID:        ev.Call,
			Caller:    ev.Caller,
			Dialled:   ev.Dialled,
			Trunk:     ev.Trunk,
			Direction: ev.Direction,
			Transport: ev.Transport,
			State:     StateRinging,
			Start:     ev.Time,
		}}
		v.calls[ev.Call] = e
		v.order = append(v.order, e)
		v.active++
		return
	}
	e, ok := v.calls[ev.Call]
	if !ok {
		return
	}
	r := &e.rec
	ended := r.State == StateEnded
	switch ev.Type {
	case event.CallAnswered:
		if !ended {
			r.State = StateIVR
		}
		if r.Answer.IsZero() {
			r.Answer = ev.Time
		}
		if ev.Codec != "" {
			r.Codec = ev.Codec
		}
	case event.MenuEntered:
		r.Path = append(r.Path, ev.Node)
		if ev.Language != "" {
			r.Language = ev.Language
		}
	case event.MenuInput:
		r.Digits += ev.Digits
		r.Inputs = append(r.Inputs, Input{Node: ev.Node, Digits: ev.Digits, Via: ev.Via, Time: ev.Time})
	case event.MenuRouted:
		if !ended {
			r.State = StateRouted
		}
		r.Route = &Route{Queue: ev.Queue, Skill: ev.Skill, Priority: ev.Priority, Language: ev.Language}
		if ev.Language != "" {
			r.Language = ev.Language
		}
	case event.QueueLeft:
		r.LeftQueue, r.Waited = ev.Reason, ev.Duration
	case event.SurveyResult:
		if ev.Reason == "post-call" {
			r.Rating = ev.Digits
		}
	case event.QueueMoved:
		// A supervisor moved the waiting call: it waits in ev.Queue now.
		if r.Route != nil {
			r.Route.Queue, r.Route.Priority = ev.Queue, ev.Priority
		}
	case event.CallTransferred:
		// Back in a queue (a blind transfer): routed again, to the new queue.
		if !ended {
			r.State = StateRouted
		}
		if ev.Queue != "" {
			rt := Route{Queue: ev.Queue, Language: r.Language}
			if r.Route != nil {
				rt = *r.Route
				rt.Queue = ev.Queue
			}
			r.Route = &rt
		}
	case event.CallConnected:
		if !ended {
			r.State = StateConnected
		}
		r.Agent = ev.Agent
		if r.Connected.IsZero() {
			r.Connected = ev.Time
		}
	case event.MenuMessage:
		// May come after CallEnded: the caller hangs up to finish the message.
		r.Messages = append(r.Messages, Message{File: ev.File, Duration: ev.Duration})
	case event.CallHeld:
		if !ended {
			r.Held = true
		}
	case event.CallResumed:
		r.Held = false
	case event.CallEnded:
		if ended {
			return
		}
		r.State = StateEnded
		r.Held = false
		r.End = ev.Time
		r.Side, r.Cause, r.Code = ev.Side, ev.Cause, ev.Code
		v.active--
		v.ended = append(v.ended, e)
		v.evict()
	}
}

// evict drops the oldest-ended calls beyond the bound. v.mu is held.
func (v *CallView) evict() {
	for len(v.ended)-v.head > v.keepEnded {
		e := v.ended[v.head]
		v.ended[v.head] = nil
		v.head++
		e.evicted = true
		delete(v.calls, e.rec.ID)
		v.dead++
	}
	if v.head > len(v.ended)/2 {
		v.ended = append(v.ended[:0], v.ended[v.head:]...)
		v.head = 0
	}
	if v.dead > len(v.order)/2 {
		v.order = slices.DeleteFunc(v.order, func(e *callEntry) bool { return e.evicted })
		v.dead = 0
	}
}

// Get returns a copy of the record of call id.
func (v *CallView) Get(id string) (CallRecord, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.calls[id]
	if !ok {
		return CallRecord{}, false
	}
	return e.rec.clone(), true
}

// List returns copies of the records that match f, newest (most recently created)
// first.
func (v *CallView) List(f CallFilter) []CallRecord {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]CallRecord, 0, min(limit, len(v.calls)))
	for i := len(v.order) - 1; i >= 0 && len(out) < limit; i-- {
		e := v.order[i]
		if e.evicted || !f.match(e.rec.State) {
			continue
		}
		out = append(out, e.rec.clone())
	}
	return out
}

// Active returns the number of calls that have not ended.
func (v *CallView) Active() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.active
}

func (f CallFilter) match(state string) bool {
	switch f.State {
	case "":
		return true
	case FilterActive:
		return state != StateEnded
	default:
		return state == f.State
	}
}

func (r *CallRecord) clone() CallRecord {
	c := *r
	c.Inputs = slices.Clone(r.Inputs)
	c.Path = slices.Clone(r.Path)
	c.Messages = slices.Clone(r.Messages)
	if r.Route != nil {
		rt := *r.Route
		c.Route = &rt
	}
	return c
}
