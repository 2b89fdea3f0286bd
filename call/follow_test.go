package call

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// cst is the work orders' zone in these tests (Asia/Shanghai without tzdata).
var cst = time.FixedZone("CST", 8*3600)

func TestFollowUpHours(t *testing.T) {
	for _, tc := range []struct {
		hours    string
		from, to int
		bad      string // part of the error, when it is refused
	}{
		{hours: "", from: 9 * 60, to: 20 * 60},
		{hours: "09:00-20:00", from: 9 * 60, to: 20 * 60},
		{hours: "00:00-24:00", from: 0, to: 24 * 60},
		{hours: "08:30-12:15", from: 8*60 + 30, to: 12*60 + 15},
		{hours: "9-20", bad: "want HH:MM-HH:MM"},
		{hours: "nine to eight", bad: "want HH:MM-HH:MM"},
		{hours: "24:00-24:00", bad: "want HH:MM-HH:MM"},
		{hours: "09:60-10:00", bad: "want HH:MM-HH:MM"},
		{hours: "09:00-25:00", bad: "want HH:MM-HH:MM"},
		{hours: "20:00-09:00", bad: "not after the start"},
		{hours: "10:00-10:00", bad: "not after the start"},
	} {
		from, to, err := FollowUpConfig{Hours: tc.hours}.hours()
		switch {
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("hours(%q): error %v, want one saying %q", tc.hours, err, tc.bad)
		case tc.bad == "" && (err != nil || from != tc.from || to != tc.to):
			t.Errorf("hours(%q) = %d, %d, %v; want %d, %d", tc.hours, from, to, err, tc.from, tc.to)
		}
	}
}

func TestUntilHours(t *testing.T) {
	day := func(h, m int) time.Time { return time.Date(2026, 11, 27, h, m, 0, 0, cst) }
	for _, tc := range []struct {
		now   time.Time
		hours string
		want  time.Duration
	}{
		{day(8, 0), "09:00-20:00", time.Hour},
		{day(8, 59), "09:00-20:00", time.Minute},
		{day(9, 0), "09:00-20:00", 0},
		{day(19, 59), "09:00-20:00", 0},
		{day(20, 0), "09:00-20:00", 13 * time.Hour},
		{day(23, 30), "09:00-20:00", 9*time.Hour + 30*time.Minute},
		{day(0, 0), "00:00-24:00", 0},
		{day(23, 59), "00:00-24:00", 0},
		{day(3, 0), "08:30-12:15", 5*time.Hour + 30*time.Minute},
		// The clock in another zone: 00:30 UTC is 08:30 in the work orders' zone.
		{time.Date(2026, 11, 27, 0, 30, 0, 0, time.UTC), "09:00-20:00", 30 * time.Minute},
	} {
		fc := clock.NewFake(tc.now)
		m := &Manager{clock: fc, book: ticket.NewBook(ticket.BookOptions{Calendar: ticket.Calendar{Loc: cst}, Clock: fc})}
		from, to, err := FollowUpConfig{Hours: tc.hours}.hours()
		if err != nil {
			t.Fatal(err)
		}
		if got := m.untilHours(from, to); got != tc.want {
			t.Errorf("at %v with %s: untilHours = %v, want %v", tc.now, tc.hours, got, tc.want)
		}
	}
}

// fakeTrunk refuses every follow-up call with the next of its results and notes
// when (on the fake clock) each call was made.
type fakeTrunk struct {
	clk     clock.Clock
	results []error

	mu    sync.Mutex
	calls []time.Time
	to    []string
}

func (f *fakeTrunk) Dial(_ context.Context, target sip.Target, _ []byte, _ sip.DialOptions) (*sip.OutboundCall, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.calls)
	f.calls = append(f.calls, f.clk.Now())
	f.to = append(f.to, target.URI)
	return nil, &sip.DialError{Code: 486, Err: f.results[min(n, len(f.results)-1)]}
}

func (f *fakeTrunk) made() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls...)
}

// TestFollowUpRetriesOnAFakeClock: a follow-up that starts after the allowed hours
// waits for the next morning; busy and no answer are retried after RetryAfter, and
// a retry that would fall after the hours waits for the next morning again. When
// the attempts are used up, the outcome is a survey.result with the cause and no
// rating on the work order.
func TestFollowUpRetriesOnAFakeClock(t *testing.T) {
	st, err := store.New(store.NewMemory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []event.Event
	)
	defer st.Subscribe(func(ev *event.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, *ev)
	})()
	start := time.Date(2026, 11, 27, 19, 10, 0, 0, cst) // a Friday evening
	fc := clock.NewFake(start)
	// No data folder: no hooks (their workers would arm timers on the fake clock);
	// the Book and the follow-up configuration are set here instead.
	m, err := NewManager(DefaultConfig(), Deps{Store: st, Clock: fc, CallbackVia: "127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	m.book = ticket.NewBook(ticket.BookOptions{Departments: []string{"housing"}, Calendar: ticket.Calendar{Loc: cst}, Clock: fc})
	m.follow = FollowUpConfig{Hours: "09:00-20:00", Attempts: 3, RetryAfter: 30 * time.Minute}
	trunk := &fakeTrunk{clk: fc, results: []error{sip.ErrBusy, sip.ErrNoAnswer, sip.ErrNoAnswer}}
	m.dialer = trunk
	w, err := m.book.Create(ticket.WorkOrder{Caller: "13800138000", Agent: "1022", Category: ticket.CategoryComplaint,
		Disposition: ticket.DispositionDispatched, Department: "housing"})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	armed := fc.TimerCreated()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.followUp(ctx, w)
	}()
	// Within the hours: the first call at once (19:10, busy); the retry 30 min later.
	for i, step := range []struct {
		calls   int
		advance time.Duration
	}{
		{1, 30 * time.Minute}, // -> 19:40: the second call (no answer)
		{2, 30 * time.Minute}, // -> 20:10: after the hours: wait until 09:00
	} {
		waitTimer(t, armed, done)
		if got := len(trunk.made()); got != step.calls {
			t.Fatalf("step %d: %d calls made, want %d", i, got, step.calls)
		}
		armed = fc.TimerCreated()
		fc.Advance(step.advance)
	}
	waitTimer(t, armed, done)
	fc.Advance(12*time.Hour + 50*time.Minute - time.Second) // 08:59:59 next day: not yet
	if got, pending := len(trunk.made()), fc.Pending(); got != 2 || pending != 1 {
		t.Fatalf("at 08:59:59: %d calls made and %d timers armed, want 2 and the wait for 09:00", got, pending)
	}
	fc.Advance(time.Second) // 09:00: the third call (no answer), the last
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("followUp did not end after the last attempt")
	}
	calls := trunk.made()
	want := []time.Time{start, start.Add(30 * time.Minute), time.Date(2026, 11, 28, 9, 0, 0, 0, cst)}
	if len(calls) != len(want) {
		t.Fatalf("calls at %v, want %v", calls, want)
	}
	for i := range want {
		if !calls[i].Equal(want[i]) {
			t.Errorf("call %d at %v, want %v", i+1, calls[i], want[i])
		}
		if trunk.to[i] != "sip:13800138000@127.0.0.1:9" {
			t.Errorf("call %d to %s, want the citizen through the trunk", i+1, trunk.to[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var found bool
	for _, ev := range events {
		if ev.Type == event.SurveyResult && ev.File == w.ID {
			found = true
			if ev.Digits != "" || ev.Cause != "not reached in 3 attempts (no-answer)" || ev.Reason != "follow-up" {
				t.Errorf("survey.result %+v: want no rating and the cause", ev)
			}
		}
	}
	if !found {
		t.Errorf("no survey.result for %s among %d events", w.ID, len(events))
	}
	if got, _ := m.book.Get(w.ID); got.Rating != 0 {
		t.Errorf("work order rated %d after nobody answered", got.Rating)
	}
}

// waitTimer waits until the code under test armed a timer on the fake clock.
func waitTimer(t *testing.T, armed <-chan struct{}, done <-chan struct{}) {
	t.Helper()
	select {
	case <-armed:
	case <-done:
		t.Fatal("followUp ended early")
	case <-time.After(5 * time.Second):
		t.Fatal("no timer armed within 5 s")
	}
}
