package acd

import (
	"context"
	"errors"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
)

// ErrStopped is returned by Matcher methods once its Run has returned.
var ErrStopped = errors.New("acd: matcher stopped")

// Matcher runs a Router on one goroutine (Run) that owns all queue and agent state.
// Other goroutines (the call goroutines, the web layer) talk to it only through its
// methods, which pass requests over a channel; the Router's Sink and Emit are called
// on the matcher's goroutine, never concurrently. The matcher itself never blocks
// on I/O: it waits only for requests and for its one timer (the Router's next
// deadline).
type Matcher struct {
	r    *Router
	reqs chan request
	done chan struct{}
}

type request struct {
	cmd   Command
	query func(*Router) // instead of cmd: read state on the matcher's goroutine
	reply chan error
}

// queueDepth is how many requests may wait for the matcher before senders block.
const queueDepth = 1024

// NewMatcher returns a Matcher for r; start it with go m.Run(ctx). r must not be used
// directly afterwards.
func NewMatcher(r *Router) *Matcher {
	return &Matcher{r: r, reqs: make(chan request, queueDepth), done: make(chan struct{})}
}

// Run is the matcher's loop: it applies requests in arrival order and ticks the
// Router when its next deadline falls due, until ctx is done. It returns
// context.Cause(ctx). Call it once.
func (m *Matcher) Run(ctx context.Context) error {
	defer close(m.done)
	var (
		t     clock.Timer
		tc    <-chan time.Time
		armed time.Time
	)
	stop := func() {
		if t != nil {
			t.Stop()
			t, tc = nil, nil
		}
	}
	defer stop()
	for {
		if next, ok := m.r.NextDeadline(); !ok {
			stop()
		} else if t == nil || !next.Equal(armed) {
			stop()
			t = m.r.clk.NewTimer(next.Sub(m.r.clk.Now()))
			tc, armed = t.C(), next
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case req := <-m.reqs:
			var err error
			if req.query != nil {
				req.query(m.r)
			} else {
				err = m.r.Apply(req.cmd)
			}
			req.reply <- err
		case <-tc:
			t, tc = nil, nil
			m.r.Tick()
		}
	}
}

func (m *Matcher) do(ctx context.Context, req request) error {
	req.reply = make(chan error, 1)
	select {
	case m.reqs <- req:
	case <-m.done:
		return ErrStopped
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case err := <-req.reply:
		return err
	case <-m.done:
		return ErrStopped
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Do applies c on the matcher's goroutine and returns Router.Apply's error. It
// blocks the caller (never the matcher) until the command is applied. Do must not
// be called from a Sink or Emit function: they run on the matcher's goroutine.
func (m *Matcher) Do(ctx context.Context, c Command) error {
	return m.do(ctx, request{cmd: c})
}

// Stats returns the Router's live numbers.
func (m *Matcher) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	if err := m.do(ctx, request{query: func(r *Router) { s = r.Stats() }}); err != nil {
		return Stats{}, err
	}
	return s, nil
}

// ReseedCounters applies Router.ReseedCounters on the matcher's goroutine: a
// site that becomes active takes up the day's figures from the log.
func (m *Matcher) ReseedCounters(ctx context.Context, base, st Stats) error {
	return m.do(ctx, request{query: func(r *Router) { r.ReseedCounters(base, st) }})
}

// Replay applies c as Router.Replay does (no event written): a change another
// writer of the log made, applied here too.
func (m *Matcher) Replay(ctx context.Context, c Command) error {
	var err error
	if derr := m.do(ctx, request{query: func(r *Router) { err = r.Replay(c) }}); derr != nil {
		return derr
	}
	return err
}

// Position returns where call waits (Router.Position).
func (m *Matcher) Position(ctx context.Context, call string) (Position, bool, error) {
	var (
		p  Position
		ok bool
	)
	if err := m.do(ctx, request{query: func(r *Router) { p, ok = r.Position(call) }}); err != nil {
		return Position{}, false, err
	}
	return p, ok, nil
}
