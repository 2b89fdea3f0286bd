package store

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
)

func TestStoreRebuildsProjectionsOnOpen(t *testing.T) {
	dir := t.TempDir()
	open := func() *Store {
		j := openT(t, dir, JournalOptions{})
		s, err := New(j, Options{Clock: clock.NewFake(t0)})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	}
	s := open()
	ctx := context.Background()
	for _, ev := range []event.Event{
		created("c1", 0),
		{Type: event.CallAnswered, Call: "c1", Codec: "PCMU"},
		{Type: event.MenuInput, Call: "c1", Node: "main", Digits: "4"},
		{Type: event.MenuRouted, Call: "c1", Queue: "household", Skill: "hukou", Priority: 1},
		created("c2", 5),
		{Type: event.CallEnded, Call: "c2", Side: event.SideCaller, Cause: "bye", Code: 200},
	} {
		if err := s.Append(ctx, &ev); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	before := s.Calls().List(CallFilter{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open() // a restart
	defer s.Close()
	after := s.Calls().List(CallFilter{})
	if len(before) != 2 || !reflect.DeepEqual(after, before) {
		t.Fatalf("records after a restart:\n %+v\nbefore:\n %+v", after, before)
	}
	r, ok := s.Calls().Get("c1")
	if !ok || r.State != StateRouted || r.Route.Queue != "household" || r.Digits != "4" {
		t.Fatalf("c1 after restart = %+v, %v", r, ok)
	}
	if s.Calls().Active() != 1 {
		t.Fatalf("Active = %d after restart, want 1", s.Calls().Active())
	}
}

func TestStoreAppend(t *testing.T) {
	fake := clock.NewFake(t0)
	s, err := New(NewMemory(), Options{Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	ev := created("c1", 0)
	ev.Time = time.Time{}
	fake.Advance(time.Minute)
	if err := s.Append(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Time.Equal(t0.Add(time.Minute)) || ev.Seq != 1 {
		t.Fatalf("appended event has Time %v Seq %d, want the clock's time and Seq 1", ev.Time, ev.Seq)
	}
	given := event.Event{Type: event.CallAnswered, Call: "c1", Time: at(7)}
	if err := s.Append(ctx, &given); err != nil {
		t.Fatal(err)
	}
	if !given.Time.Equal(at(7)) {
		t.Fatalf("a given Time was replaced by %v", given.Time)
	}
	if r, _ := s.Calls().Get("c1"); r.State != StateIVR || !r.Start.Equal(t0.Add(time.Minute)) || !r.Answer.Equal(at(7)) {
		t.Fatalf("projection not updated by Append: %+v", r)
	}

	for _, bad := range []*event.Event{nil, {Call: "c1"}} {
		if err := s.Append(ctx, bad); !errors.Is(err, ErrInvalidEvent) {
			t.Fatalf("Append(%v) = %v, want ErrInvalidEvent", bad, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, &event.Event{Type: event.CallResumed, Call: "c1"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
	if _, ok := s.Calls().Get("c1"); !ok {
		t.Fatal("the call view should stay readable after Close")
	}
}

func TestStoreSubscribe(t *testing.T) {
	s, err := New(NewMemory(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	var mu sync.Mutex
	var got []uint64
	var order []string
	cancelA := s.Subscribe(func(ev *event.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev.Seq)
		order = append(order, "a")
		ev.Call = "mutated" // must not reach other subscribers or the caller
	})
	var cancelB func()
	cancelB = s.Subscribe(func(ev *event.Event) {
		mu.Lock()
		order = append(order, "b")
		mu.Unlock()
		if ev.Call != "x" {
			t.Errorf("subscriber b saw Call %q", ev.Call)
		}
		cancelB() // cancelling from inside the callback must not deadlock
	})

	const workers, each = 4, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				ev := &event.Event{Type: event.MenuInput, Call: "x"}
				if err := s.Append(ctx, ev); err != nil {
					t.Error(err)
					return
				}
				if ev.Call != "x" {
					t.Errorf("a subscriber changed the caller's event: Call %q", ev.Call)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	if len(got) != workers*each {
		t.Fatalf("subscriber a saw %d events, want %d", len(got), workers*each)
	}
	for i, seq := range got {
		if seq != uint64(i)+1 {
			t.Fatalf("subscriber a saw Seq %d at position %d: out of order", seq, i)
		}
	}
	if order[0] != "a" || order[1] != "b" {
		t.Fatalf("subscribers called in order %v, want a before b", order[:2])
	}
	bCalls := 0
	for _, o := range order {
		if o == "b" {
			bCalls++
		}
	}
	mu.Unlock()
	if bCalls != 1 {
		t.Fatalf("subscriber b called %d times after it cancelled itself, want 1", bCalls)
	}

	cancelA()
	cancelA() // twice is fine
	if err := s.Append(ctx, &event.Event{Type: event.MenuInput, Call: "x"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != workers*each {
		t.Fatal("a cancelled subscriber was still called")
	}
}

type failingLog struct{ Log }

var errReplay = errors.New("disk on fire")

func (failingLog) Replay(context.Context, uint64, func(*event.Event) error) error { return errReplay }

func TestStoreNewReplayError(t *testing.T) {
	if _, err := New(failingLog{NewMemory()}, Options{}); !errors.Is(err, errReplay) {
		t.Fatalf("New = %v, want the log's replay error", err)
	}
}
