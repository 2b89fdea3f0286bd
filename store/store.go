package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
)

// Options tune New. The zero value is ready to use.
type Options struct {
	// KeepEnded is how many ended calls the call view keeps in memory: 0 means
	// DefaultKeepEnded (10000), a negative value keeps none. Live calls are always
	// kept. The log keeps every call regardless.
	KeepEnded int
	// Clock stamps events appended without a Time. nil means the real clock.
	Clock clock.Clock
}

// Store is the event log with its projections: the default store of the engine.
// Appends are serialised so that the projections and the subscribers see the events in
// sequence order. It is safe for concurrent use.
type Store struct {
	log   Log
	clock clock.Clock
	calls *CallView
	recs  *RecordingView

	mu sync.Mutex // serialises Append: log order == projection order

	subMu  sync.RWMutex
	subs   []subscriber // in the order they subscribed
	nextID uint64
}

type subscriber struct {
	id uint64
	fn func(*event.Event)
}

// New returns a Store over log, replaying the whole log into the projections first.
// The Store owns the log from then on: Store.Close closes it.
func New(log Log, opts Options) (*Store, error) {
	s := &Store{
		log:   log,
		clock: opts.Clock,
		calls: NewCallView(opts.KeepEnded),
		recs:  NewRecordingView(),
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	err := log.Replay(context.Background(), 0, func(ev *event.Event) error {
		s.calls.Apply(ev)
		s.recs.Apply(ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: replay log into projections: %w", err)
	}
	return s, nil
}

// Append stamps ev.Time from the clock when it is zero, appends ev to the log (which
// sets ev.Seq), then applies it to the projections and hands it to the subscribers.
// ev must have a Type.
func (s *Store) Append(ctx context.Context, ev *event.Event) error {
	if ev == nil || ev.Type == "" {
		return ErrInvalidEvent
	}
	if ev.Time.IsZero() {
		ev.Time = s.clock.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.log.Append(ctx, ev); err != nil {
		return err
	}
	s.calls.Apply(ev)
	s.recs.Apply(ev)
	s.subMu.RLock()
	subs := s.subs // never modified in place: Subscribe and cancel copy
	s.subMu.RUnlock()
	for _, sub := range subs {
		c := *ev
		sub.fn(&c)
	}
	return nil
}

// Calls returns the call view, the projection of call events into call records.
func (s *Store) Calls() *CallView { return s.calls }

// Recordings returns the recording view: recordings and the messages left in the menu.
func (s *Store) Recordings() *RecordingView { return s.recs }

// Subscribe registers fn to be called after each successful Append, synchronously
// and in sequence order, with a copy of the event. fn runs while Append holds the
// store's append lock: it must be quick and must not call Append (it may call
// cancel). cancel removes fn; it is safe to call more than once.
func (s *Store) Subscribe(fn func(*event.Event)) (cancel func()) {
	s.subMu.Lock()
	id := s.nextID
	s.nextID++
	s.subs = append(slices.Clip(s.subs), subscriber{id: id, fn: fn})
	s.subMu.Unlock()
	return func() {
		s.subMu.Lock()
		s.subs = slices.DeleteFunc(slices.Clone(s.subs), func(sub subscriber) bool { return sub.id == id })
		s.subMu.Unlock()
	}
}

// Close closes the log. Later Appends return ErrClosed; the call view stays readable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Close()
}
