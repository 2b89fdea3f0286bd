package store

import (
	"context"
	"sync"

	"github.com/hotline12345/hotline/event"
)

// Memory is the in-memory twin of the Journal: a Log that keeps every event in a slice
// and forgets them when the process ends. Used by tests and by a run without a data
// folder. It is safe for concurrent use.
type Memory struct {
	mu     sync.RWMutex
	events []event.Event // events[i].Seq == i+1
	closed bool
}

// NewMemory returns an empty in-memory log.
func NewMemory() *Memory { return &Memory{} }

// Append assigns ev.Seq and keeps a copy of the event.
func (m *Memory) Append(ctx context.Context, ev *event.Event) error {
	if ev == nil {
		return ErrInvalidEvent
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	ev.Seq = uint64(len(m.events)) + 1
	m.events = append(m.events, *ev)
	return nil
}

// Replay calls fn with a copy of each event after the given sequence number, in order.
// It sees the events that were appended when it started.
func (m *Memory) Replay(ctx context.Context, after uint64, fn func(*event.Event) error) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	// Elements of the slice are never modified after they are appended, so the
	// snapshot can be read without the lock (a later append may reallocate the
	// backing array, but not change this one).
	events := m.events
	m.mu.RUnlock()
	if after >= uint64(len(events)) {
		return ctx.Err()
	}
	for i := after; i < uint64(len(events)); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev := events[i]
		if err := fn(&ev); err != nil {
			return err
		}
	}
	return nil
}

// LastSeq returns the sequence number of the last event, 0 if none.
func (m *Memory) LastSeq() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return uint64(len(m.events))
}

// Close forgets nothing (a closed Memory keeps its events) but makes every later call
// return ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	return nil
}
