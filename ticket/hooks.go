package ticket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
)

// Defaults of HooksOptions.
const (
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultMaxAge         = 24 * time.Hour
	DefaultAttemptTimeout = 30 * time.Second
	DefaultConcurrency    = 4
)

// ErrClosed is returned by Publish and Retry after Close.
var ErrClosed = errors.New("ticket: hooks closed")

// HooksOptions tune OpenHooks. The zero value is ready to use.
type HooksOptions struct {
	Clock  clock.Clock  // backoff timers and ages; nil: the real clock
	Logger *slog.Logger // nil: slog.Default()
	// MinBackoff and MaxBackoff bound the wait before retry k (1-based), which is
	// MinBackoff*2^(k-1) capped at MaxBackoff, then jittered to a uniform value in
	// [d/2, d].
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is the dead-letter age for sinks that do not carry their own (MaxAger).
	MaxAge time.Duration
	// AttemptTimeout bounds one Deliver call (the context's deadline).
	AttemptTimeout time.Duration
	// Concurrency is how many deliveries run at once per sink (never two of the same
	// work order). Default 4.
	Concurrency int
	// OnDelivery, if set, is called after every attempt (for metrics); it must not block.
	OnDelivery func(DeliveryReport)
}

// DeliveryReport describes one delivery attempt, for metrics.
type DeliveryReport struct {
	Sink     string
	Type     string // the event's type
	Key      string
	Attempt  int           // 1 for the first
	Err      error         // nil: delivered
	Dead     bool          // the failure moved the event to the dead-letter list
	Duration time.Duration // of the Deliver call (real time)
}

// DeadLetter is an event a sink did not take within its MaxAge.
type DeadLetter struct {
	Sink      string
	Event     Event
	LastError string
	Attempts  int
	Since     time.Time // the age was counted from here (publication or the last Retry)
	Dead      time.Time // when it went to the dead-letter list
}

// Hooks fans events out to sinks through a durable outbox, <dir>/hooks.outbox. Publish
// appends the event and fsyncs before returning; a worker per sink delivers events in
// publication order per work order, retrying with exponential backoff and jitter, until
// the sink takes them or MaxAge passes (then the event goes to the dead-letter list, from
// which Retry takes it back). Acknowledgements are appended too, so a Hooks reopened on
// the same folder after a restart or a kill -9 redelivers exactly what was not
// acknowledged, with the same idempotency key. A dead-lettered or retried event leaves
// its lane: later events of the same work order are not held back by it. Only one Hooks
// may use a folder at a time. Safe for concurrent use.
type Hooks struct {
	path string
	opts HooksOptions
	clk  clock.Clock
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	f       *os.File
	size    int64 // intact bytes in the file
	garbage int   // acknowledged records written since the last compaction
	lastSeq uint64
	live    map[uint64]*entry
	workers map[string]*worker
	closed  bool
}

type worker struct {
	h      *Hooks
	sink   Sink
	name   string
	maxAge time.Duration
	queue  []*entry // entries with a pending slot for this sink, by seq
	busy   map[string]bool
	nbusy  int
	wake   chan struct{}
}

// OpenHooks opens (or creates) the outbox in dir, drops a torn tail left by a crash,
// compacts it, and starts one worker per sink; events left undelivered by a previous
// run are delivered again. Sinks must have unique names. Deliveries recorded for sinks
// that are no longer configured stay in the outbox (see Backlog) until a sink of that
// name returns.
func OpenHooks(dir string, sinks []Sink, opts HooksOptions) (*Hooks, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("ticket: hooks: data folder: %w", err)
	}
	h := &Hooks{path: filepath.Join(dir, OutboxFile), opts: opts, clk: opts.Clock, log: opts.Logger, workers: map[string]*worker{}}
	for _, s := range sinks {
		name := s.Name()
		if _, dup := h.workers[name]; dup || name == "" {
			return nil, fmt.Errorf("ticket: hooks: sink name %q is empty or used twice", name)
		}
		w := &worker{h: h, sink: s, name: name, maxAge: opts.MaxAge, busy: map[string]bool{}, wake: make(chan struct{}, 1)}
		if m, ok := s.(MaxAger); ok && m.MaxAge() > 0 {
			w.maxAge = m.MaxAge()
		}
		h.workers[name] = w
	}

	data, err := os.ReadFile(h.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ticket: hooks: read outbox: %w", err)
	}
	recs, good, torn, err := readOutbox(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ticket: hooks: %s: %w", h.path, err)
	}
	if torn {
		h.log.Warn("hooks outbox: dropped a torn or corrupt tail (a crash during a write)",
			"file", h.path, "kept_bytes", good, "dropped_bytes", int64(len(data))-good)
	}
	h.live, h.lastSeq = replay(recs)
	snap, err := snapshot(h.live)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(h.path, snap); err != nil {
		return nil, fmt.Errorf("ticket: hooks: compact outbox: %w", err)
	}
	if h.f, err = os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		return nil, fmt.Errorf("ticket: hooks: open outbox: %w", err)
	}
	h.size = int64(len(snap))

	now := h.clk.Now()
	for _, seq := range h.sortedSeqs() {
		e := h.live[seq]
		for name, s := range e.slots {
			if w := h.workers[name]; w != nil && s.state == statePending {
				s.due = now
				w.queue = append(w.queue, e)
			} else if w == nil {
				h.log.Warn("hooks outbox: undelivered event for a sink that is not configured", "sink", name, "key", e.ev.Key)
			}
		}
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for _, w := range h.workers {
		h.wg.Add(1)
		go w.run()
	}
	return h, nil
}

func (h *Hooks) sortedSeqs() []uint64 {
	seqs := make([]uint64, 0, len(h.live))
	for s := range h.live {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	return seqs
}

// Publish appends ev to the outbox for every configured sink and returns once it is
// fsync'd; delivery happens in the background. An empty Key gets a random one and a zero
// Time the clock's time.
func (h *Hooks) Publish(ev Event) error { return h.PublishTo(ev, nil) }

// PublishTo is Publish for the named sinks only (nil: every sink; names of sinks
// this Hooks does not have are ignored): a site that takes over hands on what
// the lost site had not delivered, to the sinks that had not taken it, with the
// same key.
func (h *Hooks) PublishTo(ev Event, sinks []string) error {
	ev = ev.clone()
	if ev.Key == "" {
		ev.Key = NewKey()
	}
	now := h.clk.Now()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if len(h.workers) == 0 {
		return nil
	}
	names := make([]string, 0, len(h.workers))
	for n := range h.workers {
		if sinks == nil || slices.Contains(sinks, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	seq := h.lastSeq + 1
	rec, err := appendRecord(nil, recEvent, &outRec{Seq: seq, Sinks: names, At: now, Event: &ev})
	if err != nil {
		return fmt.Errorf("ticket: hooks: publish %s: %w", ev.Type, err)
	}
	if err := h.write(rec, true); err != nil {
		return fmt.Errorf("ticket: hooks: publish %s: %w", ev.Type, err)
	}
	h.lastSeq = seq
	e := &entry{seq: seq, ev: ev, lane: ev.orderKey(), published: now, slots: map[string]*slot{}}
	for _, n := range names {
		e.slots[n] = &slot{since: now, due: now}
		w := h.workers[n]
		w.queue = append(w.queue, e)
		w.poke()
	}
	h.live[seq] = e
	return nil
}

// Sinks returns the names of the sinks, sorted.
func (h *Hooks) Sinks() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.workers))
	for n := range h.workers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// write appends framed records; the caller holds h.mu. On a failed write the file is cut
// back to its intact length so that the outbox stays consistent.
func (h *Hooks) write(rec []byte, sync bool) error {
	n, err := h.f.Write(rec)
	if err == nil && sync {
		err = h.f.Sync()
	}
	if err != nil {
		if n > 0 {
			_ = h.f.Truncate(h.size)
		}
		return fmt.Errorf("write outbox %s: %w", h.path, err)
	}
	h.size += int64(n)
	return nil
}

// record appends a bookkeeping record (ack, dead, retry), logging a failure: a lost
// record only means a redelivery after a restart (receivers deduplicate by key).
func (h *Hooks) record(kind byte, r *outRec, sync bool) {
	rec, err := appendRecord(nil, kind, r)
	if err == nil {
		err = h.write(rec, sync)
	}
	if err != nil {
		h.log.Error("hooks outbox: cannot record a delivery state", "kind", string(kind), "sink", r.Sink, "err", err)
	}
}

// compactLocked rewrites the outbox with only the live entries once enough acknowledged
// records piled up; the caller holds h.mu.
func (h *Hooks) compactLocked() {
	if h.garbage < 1024 || h.size < 1<<20 {
		return
	}
	snap, err := snapshot(h.live)
	if err == nil {
		err = writeFileAtomic(h.path, snap)
	}
	if err == nil {
		var f *os.File
		if f, err = os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			_ = h.f.Close()
			h.f, h.size, h.garbage = f, int64(len(snap)), 0
			return
		}
	}
	h.log.Error("hooks outbox: compaction failed; continuing to append", "err", err)
	h.garbage = 0
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run schedules deliveries: the first pending entry of each lane, when due, while fewer
// than Concurrency are in flight.
func (w *worker) run() {
	h := w.h
	defer h.wg.Done()
	for {
		h.mu.Lock()
		now := h.clk.Now()
		var next time.Time
		seen := map[string]bool{}
		for _, e := range w.queue {
			s := e.slots[w.name]
			if e.lane != "" {
				if seen[e.lane] {
					continue
				}
				seen[e.lane] = true
			}
			if s.inflight {
				continue
			}
			if w.nbusy >= h.opts.Concurrency {
				break
			}
			if s.due.After(now) {
				if next.IsZero() || s.due.Before(next) {
					next = s.due
				}
				continue
			}
			s.inflight = true
			w.nbusy++
			s.attempts++
			h.wg.Add(1)
			go w.deliver(e, s, s.attempts)
		}
		h.mu.Unlock()

		var timer clock.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = h.clk.NewTimer(next.Sub(now))
			fire = timer.C()
		}
		select {
		case <-w.wake:
		case <-fire:
		case <-h.ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if h.ctx.Err() != nil {
			return
		}
	}
}

func (w *worker) deliver(e *entry, s *slot, attempt int) {
	h := w.h
	defer h.wg.Done()
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.AttemptTimeout)
	start := time.Now()
	err := w.sink.Deliver(ctx, e.ev)
	took := time.Since(start)
	cancel()

	h.mu.Lock()
	s.inflight = false
	w.nbusy--
	rep := DeliveryReport{Sink: w.name, Type: e.ev.Type, Key: e.ev.Key, Attempt: attempt, Err: err, Duration: took}
	switch {
	case err == nil:
		h.record(recAck, &outRec{Seq: e.seq, Sink: w.name}, false)
		w.remove(e)
		delete(e.slots, w.name)
		if len(e.slots) == 0 {
			delete(h.live, e.seq)
		}
		h.garbage++
		h.compactLocked()
	case h.ctx.Err() != nil:
		// Closing: the attempt was cut short; it is redelivered after the restart.
		s.attempts--
		h.mu.Unlock()
		return
	default:
		now := h.clk.Now()
		s.lastErr = err.Error()
		if now.Sub(s.since) >= w.maxAge {
			s.state, s.deadAt = stateDead, now
			h.record(recDead, &outRec{Seq: e.seq, Sink: w.name, At: now, Since: s.since, Error: s.lastErr, Attempts: s.attempts}, true)
			w.remove(e)
			rep.Dead = true
			h.log.Error("hook delivery dead-lettered", "sink", w.name, "type", e.ev.Type, "key", e.ev.Key, "attempts", s.attempts, "err", err)
		} else {
			s.due = now.Add(h.backoff(s.attempts))
			h.log.Warn("hook delivery failed; will retry", "sink", w.name, "type", e.ev.Type, "key", e.ev.Key, "attempt", s.attempts, "retry_at", s.due, "err", err)
		}
	}
	h.mu.Unlock()
	if h.opts.OnDelivery != nil {
		h.opts.OnDelivery(rep)
	}
	w.poke()
}

func (w *worker) remove(e *entry) {
	if i := slices.Index(w.queue, e); i >= 0 {
		w.queue = slices.Delete(w.queue, i, i+1)
	}
}

// insert puts e back into the queue in sequence order.
func (w *worker) insert(e *entry) {
	i, _ := slices.BinarySearchFunc(w.queue, e.seq, func(x *entry, seq uint64) int {
		switch {
		case x.seq < seq:
			return -1
		case x.seq > seq:
			return 1
		}
		return 0
	})
	w.queue = slices.Insert(w.queue, i, e)
}

func (h *Hooks) backoff(attempt int) time.Duration {
	d := h.opts.MinBackoff
	for i := 1; i < attempt && d < h.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, h.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// DeadLetters returns the dead-letter list, oldest first.
func (h *Hooks) DeadLetters() []DeadLetter {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []DeadLetter
	for _, seq := range h.sortedSeqs() {
		e := h.live[seq]
		names := make([]string, 0, len(e.slots))
		for n := range e.slots {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if s := e.slots[n]; s.state == stateDead {
				out = append(out, DeadLetter{Sink: n, Event: e.ev.clone(), LastError: s.lastErr, Attempts: s.attempts, Since: s.since, Dead: s.deadAt})
			}
		}
	}
	return out
}

// Retry takes every dead letter of the event with this key back into its sink's queue;
// its age counts again from now. It returns an error wrapping ErrNotFound if no dead
// letter has the key.
func (h *Hooks) Retry(key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	now := h.clk.Now()
	found := false
	for _, seq := range h.sortedSeqs() {
		e := h.live[seq]
		if e.ev.Key != key {
			continue
		}
		for n, s := range e.slots {
			if s.state != stateDead {
				continue
			}
			found = true
			h.record(recRetry, &outRec{Seq: seq, Sink: n, At: now}, true)
			s.state, s.since, s.deadAt, s.due, s.attempts = statePending, now, time.Time{}, now, 0
			if w := h.workers[n]; w != nil {
				w.insert(e)
				w.poke()
			}
		}
	}
	if !found {
		return fmt.Errorf("%w: no dead letter with key %q", ErrNotFound, key)
	}
	return nil
}

// Backlog returns, per sink, the events not yet delivered (pending and dead letters);
// sinks with nothing undelivered are present with 0 when configured.
func (h *Hooks) Backlog() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for n := range h.workers {
		out[n] = 0
	}
	for _, e := range h.live {
		for n := range e.slots {
			out[n]++
		}
	}
	return out
}

// Close stops the workers, cancelling deliveries in flight (they are delivered again by
// the next Hooks on the folder), and closes the outbox. Sinks that implement io.Closer
// are closed too.
func (h *Hooks) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.f.Sync()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	for _, w := range h.workers {
		if c, ok := w.sink.(io.Closer); ok {
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		return fmt.Errorf("ticket: hooks: close: %w", err)
	}
	return nil
}

// crash stops the workers and closes the file without any of Close's tidying, as a
// kill -9 would leave things (tests only).
func (h *Hooks) crash() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	_ = h.f.Close()
}
