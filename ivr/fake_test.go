package ivr

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/media"
)

// safety bounds how long a test waits for the interpreter to reach a state. It never
// decides an outcome: hitting it fails the test as a hang.
const safety = 10 * time.Second

// fakeLeg records what was played and lets the test feed digits. Prompts named in block
// play until their context ends (a long prompt the caller can barge into); others finish
// at once.
type fakeLeg struct {
	mu      sync.Mutex
	played  []string // "lang/prompt", in order
	block   map[string]bool
	started chan string // every prompt as it starts
	digits  chan media.Digit

	recMax   time.Duration
	recFile  string
	recDur   time.Duration
	recErr   error
	recBlock bool // Record runs until its context ends
	recorded chan struct{}

	// Work orders for WorkOrderStatus: keyed digits -> status prompts. Other numbers are
	// not found and answer notFound.
	orders      map[string][]string
	notFound    []string
	lookups     []string      // digits asked for, in order
	statusBlock bool          // WorkOrderStatus runs until its context ends
	looking     chan struct{} // a token per WorkOrderStatus call
}

func newFakeLeg(block ...string) *fakeLeg {
	l := &fakeLeg{
		block:    map[string]bool{},
		started:  make(chan string, 1024),
		digits:   make(chan media.Digit, 64),
		recFile:  "messages/1.wav",
		recDur:   7 * time.Second,
		recorded: make(chan struct{}, 1),
		orders:   map[string][]string{},
		notFound: []string{"ticket_not_found"},
		looking:  make(chan struct{}, 64),
	}
	for _, b := range block {
		l.block[b] = true
	}
	return l
}

var _ StatusLeg = (*fakeLeg)(nil)

// plainLeg hides the fake's WorkOrderStatus: a leg that cannot look up work orders.
type plainLeg struct{ Leg }

func (l *fakeLeg) WorkOrderStatus(ctx context.Context, digits string) ([]string, bool) {
	l.mu.Lock()
	l.lookups = append(l.lookups, digits)
	prompts, found := l.orders[digits]
	block := l.statusBlock
	l.mu.Unlock()
	l.looking <- struct{}{}
	if block {
		<-ctx.Done()
		return nil, false
	}
	if !found {
		return slices.Clone(l.notFound), false
	}
	return slices.Clone(prompts), true
}

func (l *fakeLeg) Lookups() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lookups)
}

func (l *fakeLeg) Play(ctx context.Context, lang, prompt string) error {
	l.mu.Lock()
	l.played = append(l.played, lang+"/"+prompt)
	block := l.block[prompt]
	l.mu.Unlock()
	l.started <- prompt
	if block {
		<-ctx.Done()
		return context.Cause(ctx)
	}
	return nil
}

func (l *fakeLeg) Digits() <-chan media.Digit { return l.digits }

func (l *fakeLeg) Record(ctx context.Context, max time.Duration) (string, time.Duration, error) {
	l.mu.Lock()
	l.recMax = max
	l.mu.Unlock()
	l.recorded <- struct{}{}
	if l.recBlock {
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		return "", 0, context.Cause(ctx)
	}
	return l.recFile, l.recDur, l.recErr
}

func (l *fakeLeg) Played() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.played)
}

type outcome struct {
	res Result
	err error
}

// harness runs one menu on a fake leg and a fake clock.
type harness struct {
	t      *testing.T
	leg    *fakeLeg
	clk    *clock.Fake
	tc     <-chan struct{} // closed at the next timer the interpreter creates
	cancel context.CancelCauseFunc
	done   chan outcome

	mu     sync.Mutex
	events []event.Event
}

var t0 = time.Date(2026, 9, 28, 2, 0, 0, 0, time.UTC) // Monday 10:00 in Shanghai

func start(t *testing.T, cfg *Config, leg *fakeLeg) *harness {
	return startAt(t, cfg, leg, t0)
}

func startAt(t *testing.T, cfg *Config, leg *fakeLeg, now time.Time) *harness {
	t.Helper()
	return startLeg(t, cfg, leg, leg, now)
}

// startLeg runs the menu on run, a leg that wraps leg (to hide some of its methods).
func startLeg(t *testing.T, cfg *Config, leg *fakeLeg, run Leg, now time.Time) *harness {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &harness{t: t, leg: leg, clk: clock.NewFake(now), cancel: cancel, done: make(chan outcome, 1)}
	h.tc = h.clk.TimerCreated()
	opts := Options{Clock: h.clk, Emit: func(e event.Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	}}
	go func() {
		res, err := Run(ctx, run, cfg, opts)
		h.done <- outcome{res, err}
	}()
	t.Cleanup(func() {
		cancel(errors.New("test over"))
		select {
		case <-h.done:
		case <-time.After(safety):
			t.Error("Run did not return after the test")
		}
	})
	return h
}

// waitTimer waits until the interpreter arms its next timer (it is then waiting for a
// key) and prepares for the one after.
func (h *harness) waitTimer() {
	h.t.Helper()
	select {
	case <-h.tc:
		h.tc = h.clk.TimerCreated()
	case <-time.After(safety):
		h.t.Fatal("interpreter never armed a timer")
	}
}

// timeout waits for the next timer and lets d pass.
func (h *harness) timeout(d time.Duration) {
	h.t.Helper()
	h.waitTimer()
	h.clk.Advance(d)
}

// press queues keys on the leg (the channel is buffered, like a real leg's); the
// interpreter reads them at its next read. Tests wait for a timer or a prompt first when
// the moment of the key matters.
func (h *harness) press(keys string) {
	h.t.Helper()
	for i := 0; i < len(keys); i++ {
		h.leg.digits <- media.Digit{Key: keys[i], Via: event.ViaRFC4733}
	}
}

// pressWait presses one key and waits for the timer that reading it arms (the
// inter-digit timeout of a multi-digit entry).
func (h *harness) pressWait(key string) {
	h.t.Helper()
	h.press(key)
	h.waitTimer()
}

// waitPlay waits until prompt starts playing.
func (h *harness) waitPlay(prompt string) {
	h.t.Helper()
	deadline := time.After(safety)
	for {
		select {
		case p := <-h.leg.started:
			if p == prompt {
				return
			}
		case <-deadline:
			h.t.Fatalf("prompt %q never played; played %v", prompt, h.leg.Played())
		}
	}
}

func (h *harness) wait() (Result, error) {
	h.t.Helper()
	select {
	case o := <-h.done:
		h.done <- o // for the cleanup
		return o.res, o.err
	case <-time.After(safety):
		h.t.Fatalf("Run did not return; played %v", h.leg.Played())
		return Result{}, nil
	}
}

func (h *harness) Events() []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// eventsEqual compares events field by field (an Event holds a byte slice, Data, so it
// is not comparable with ==).
func eventsEqual(a, b []event.Event) bool {
	return slices.EqualFunc(a, b, func(x, y event.Event) bool { return reflect.DeepEqual(x, y) })
}

// inputs returns the MenuInput events.
func (h *harness) inputs() []event.Event {
	var in []event.Event
	for _, e := range h.Events() {
		if e.Type == event.MenuInput {
			in = append(in, e)
		}
	}
	return in
}
