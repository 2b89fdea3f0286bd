package store

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hotline12345/hotline/event"
)

// Recording states (RecordingRecord.State).
const (
	RecRecording = "recording" // being written (or cut by a crash, until repaired)
	RecComplete  = "complete"
	RecRepaired  = "repaired" // cut by a crash and repaired on start-up
	RecFailed    = "failed"   // a write error stopped it; the call went on
	RecDeleted   = "deleted"  // removed by the retention sweep
)

// Kinds of recordings.
const (
	KindCall    = "call"    // a conversation (one file per call)
	KindMessage = "message" // a message left in the menu
)

// RecordingRecord is one recording as the API lists it, folded from the recording
// events and the events of its call.
type RecordingRecord struct {
	ID       string        `json:"id"`
	Call     string        `json:"call"`
	Kind     string        `json:"kind"`
	Caller   string        `json:"caller"`
	Agents   []string      `json:"agents"` // everyone who spoke for the centre, in order
	Queue    string        `json:"queue,omitempty"`
	File     string        `json:"file"` // name in the recordings folder
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"` // nanoseconds, as in events
	Size     int64         `json:"size"`
	SHA256   string        `json:"sha256,omitempty"`
	State    string        `json:"state"`
	Error    string        `json:"error,omitempty"`
	Pauses   []PauseRecord `json:"pauses,omitempty"`
	From     string        `json:"from,omitempty"` // answer (menu included) or agent
	Listens  []Listen      `json:"listens,omitempty"`
}

// Listen is one time someone listened to a recording (the audit log).
type Listen struct {
	By   string    `json:"by"`
	Role string    `json:"role"`
	At   time.Time `json:"at"`
}

// PauseRecord is one pause of a recording by an agent.
type PauseRecord struct {
	By       string        `json:"by"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"` // 0 while paused
}

// RecordingFilter selects recordings for RecordingView.List; zero fields match all.
type RecordingFilter struct {
	From, To time.Time // Start in [From, To)
	Caller   string    // exact number
	Agent    string    // one of the agents
	Queue    string
	Call     string
	Limit    int // default DefaultListLimit, at most MaxListLimit
	Offset   int
}

// RecordingView is the projection of recordings. Safe for concurrent use.
type RecordingView struct {
	mu      sync.RWMutex
	recs    map[string]*RecordingRecord
	order   []string          // ids by start, oldest first
	callers map[string]string // live calls' callers, for their messages
}

// NewRecordingView returns an empty view.
func NewRecordingView() *RecordingView {
	return &RecordingView{recs: map[string]*RecordingRecord{}, callers: map[string]string{}}
}

func (v *RecordingView) add(r *RecordingRecord) {
	if _, ok := v.recs[r.ID]; !ok {
		v.order = append(v.order, r.ID)
	}
	v.recs[r.ID] = r
}

// Apply folds one event into the view.
func (v *RecordingView) Apply(ev *event.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ev.Type {
	case event.CallCreated:
		v.callers[ev.Call] = ev.Caller
	case event.CallEnded:
		delete(v.callers, ev.Call)
	case event.RecordingStarted:
		v.add(&RecordingRecord{ID: ev.Call, Call: ev.Call, Kind: KindCall, Caller: ev.Caller, Queue: ev.Queue,
			File: ev.File, Start: ev.Time, State: RecRecording, From: ev.Reason, Agents: []string{}})
		return
	case event.MenuMessage:
		file := filepath.Base(ev.File)
		id := strings.TrimSuffix(strings.TrimSuffix(file, ".enc"), ".wav")
		caller := v.callers[ev.Call]
		v.add(&RecordingRecord{ID: id, Call: ev.Call, Kind: KindMessage, Caller: caller, File: file,
			Start: ev.Time.Add(-ev.Duration), Duration: ev.Duration, State: RecComplete, Agents: []string{}})
		return
	}
	r := v.recs[ev.Call]
	if r == nil {
		return
	}
	switch ev.Type {
	case event.CallConnected:
		if ev.Agent != "" && !slices.Contains(r.Agents, ev.Agent) {
			r.Agents = append(r.Agents, ev.Agent)
		}
	case event.QueueJoined:
		if r.Queue == "" {
			r.Queue = ev.Queue
		}
	case event.RecordingPaused:
		r.Pauses = append(r.Pauses, PauseRecord{By: ev.Agent, At: ev.Time})
	case event.RecordingResumed:
		if n := len(r.Pauses); n > 0 && r.Pauses[n-1].Duration == 0 {
			r.Pauses[n-1].Duration = ev.Time.Sub(r.Pauses[n-1].At)
		}
	case event.RecordingCompleted:
		r.State, r.Duration, r.Size, r.SHA256 = ev.State, ev.Duration, ev.Size, ev.Hash
		if r.State == "" {
			r.State = RecComplete
		}
		if ev.File != "" {
			r.File = ev.File
		}
	case event.RecordingFailed:
		r.State, r.Error = RecFailed, ev.Cause
	case event.RecordingDeleted:
		r.State = RecDeleted
	case event.RecordingListened:
		r.Listens = append(r.Listens, Listen{By: ev.Agent, Role: ev.Role, At: ev.Time})
	}
}

// Get returns the recording with that id.
func (v *RecordingView) Get(id string) (RecordingRecord, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	r := v.recs[id]
	if r == nil {
		return RecordingRecord{}, false
	}
	return r.clone(), true
}

// Unfinished returns the recordings still in state recording (after a restart:
// the ones a crash cut).
func (v *RecordingView) Unfinished() []RecordingRecord {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []RecordingRecord
	for _, id := range v.order {
		if r := v.recs[id]; r.State == RecRecording {
			out = append(out, r.clone())
		}
	}
	return out
}

// List returns the recordings matching f, newest first, and how many match in all.
func (v *RecordingView) List(f RecordingFilter) ([]RecordingRecord, int) {
	if f.Limit <= 0 {
		f.Limit = DefaultListLimit
	}
	f.Limit = min(f.Limit, MaxListLimit)
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []RecordingRecord
	total := 0
	for i := len(v.order) - 1; i >= 0; i-- {
		r := v.recs[v.order[i]]
		switch {
		case r.State == RecDeleted:
			continue
		case !f.From.IsZero() && r.Start.Before(f.From), !f.To.IsZero() && !r.Start.Before(f.To):
			continue
		case f.Caller != "" && r.Caller != f.Caller, f.Queue != "" && r.Queue != f.Queue, f.Call != "" && r.Call != f.Call:
			continue
		case f.Agent != "" && !slices.Contains(r.Agents, f.Agent):
			continue
		}
		total++
		if total > f.Offset && len(out) < f.Limit {
			out = append(out, r.clone())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out, total
}

func (r *RecordingRecord) clone() RecordingRecord {
	c := *r
	c.Agents = slices.Clone(r.Agents)
	c.Pauses = slices.Clone(r.Pauses)
	c.Listens = slices.Clone(r.Listens)
	return c
}
