// Package storetest is the contract every store.Log implementation must meet, run as
// one shared test: the in-memory log and the journal run it in package store's tests,
// and the Redis log will run it against a real redis-server.
//
// Usage, in the implementation's tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Log { return openMyLog(t) })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
)

// Run checks the Log contract. open must return a new, empty log for each call; Run
// closes what it opens (a second Close is part of the contract and must return
// store.ErrClosed), so open need not register a cleanup for the log itself.
func Run(t *testing.T, open func(t *testing.T) store.Log) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, l store.Log)
	}{
		{"SeqStartsAtOne", testSeqStartsAtOne},
		{"ReplayAfter", testReplayAfter},
		{"ReplayStopsOnError", testReplayStopsOnError},
		{"ReplayCancelled", testReplayCancelled},
		{"ReplayMayAppend", testReplayMayAppend},
		{"ConcurrentAppends", testConcurrentAppends},
		{"RoundTrip", testRoundTrip},
		{"Isolation", testIsolation},
		{"AppendCancelled", testAppendCancelled},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := open(t)
			t.Cleanup(func() { l.Close() }) // ErrClosed if the test closed it already
			tt.fn(t, l)
		})
	}
}

func sample(i int) *event.Event {
	return &event.Event{
		Time:   time.Date(2025, 3, 1, 9, 0, 0, i, time.UTC),
		Type:   event.MenuInput,
		Call:   fmt.Sprintf("call-%d", i),
		Digits: fmt.Sprint(i % 10),
	}
}

// collect replays after and returns the events.
func collect(t *testing.T, l store.Log, after uint64) []*event.Event {
	t.Helper()
	var got []*event.Event
	if err := l.Replay(context.Background(), after, func(ev *event.Event) error {
		got = append(got, ev)
		return nil
	}); err != nil {
		t.Fatalf("Replay(%d): %v", after, err)
	}
	return got
}

func appendN(t *testing.T, l store.Log, n int) {
	t.Helper()
	for i := range n {
		if err := l.Append(context.Background(), sample(i)); err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
	}
}

func testSeqStartsAtOne(t *testing.T, l store.Log) {
	if got := l.LastSeq(); got != 0 {
		t.Fatalf("LastSeq of an empty log = %d, want 0", got)
	}
	if got := collect(t, l, 0); len(got) != 0 {
		t.Fatalf("Replay of an empty log gave %d events", len(got))
	}
	for i := 1; i <= 5; i++ {
		ev := sample(i)
		ev.Seq = 999 // whatever the caller put there is replaced
		if err := l.Append(context.Background(), ev); err != nil {
			t.Fatalf("Append: %v", err)
		}
		if ev.Seq != uint64(i) {
			t.Fatalf("Append #%d set Seq %d, want %d", i, ev.Seq, i)
		}
		if got := l.LastSeq(); got != uint64(i) {
			t.Fatalf("LastSeq after %d appends = %d", i, got)
		}
	}
}

func testReplayAfter(t *testing.T, l store.Log) {
	appendN(t, l, 10)
	for _, after := range []uint64{0, 1, 4, 9, 10, 11, 1000} {
		got := collect(t, l, after)
		want := 0
		if after < 10 {
			want = 10 - int(after)
		}
		if len(got) != want {
			t.Fatalf("Replay(after=%d) gave %d events, want %d", after, len(got), want)
		}
		for i, ev := range got {
			if ev.Seq != after+uint64(i)+1 {
				t.Fatalf("Replay(after=%d) event %d has Seq %d, want %d", after, i, ev.Seq, after+uint64(i)+1)
			}
			if wantCall := fmt.Sprintf("call-%d", ev.Seq-1); ev.Call != wantCall {
				t.Fatalf("event Seq %d has Call %q, want %q", ev.Seq, ev.Call, wantCall)
			}
		}
	}
}

func testReplayStopsOnError(t *testing.T, l store.Log) {
	appendN(t, l, 5)
	stop := errors.New("enough")
	calls := 0
	err := l.Replay(context.Background(), 0, func(ev *event.Event) error {
		calls++
		if ev.Seq == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Replay returned %v, want fn's error", err)
	}
	if calls != 3 {
		t.Fatalf("fn called %d times, want 3 (it must stop at the error)", calls)
	}
}

func testReplayCancelled(t *testing.T, l store.Log) {
	appendN(t, l, 5)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := l.Replay(ctx, 0, func(*event.Event) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Replay with a cancelled context returned %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Fatalf("fn called %d times after the context was cancelled, want 1", calls)
	}
}

func testReplayMayAppend(t *testing.T, l store.Log) {
	appendN(t, l, 3)
	err := l.Replay(context.Background(), 0, func(ev *event.Event) error {
		if ev.Seq > 3 {
			return nil // the implementation may show events appended meanwhile
		}
		return l.Append(context.Background(), sample(100+int(ev.Seq)))
	})
	if err != nil {
		t.Fatalf("Replay whose fn appends: %v", err)
	}
	if got := l.LastSeq(); got != 6 {
		t.Fatalf("LastSeq = %d, want 6", got)
	}
	if got := collect(t, l, 0); len(got) != 6 {
		t.Fatalf("Replay gave %d events, want 6", len(got))
	}
}

func testConcurrentAppends(t *testing.T, l store.Log) {
	const workers, each = 8, 50
	var wg sync.WaitGroup
	seqs := make([][]uint64, workers)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ev := sample(w*each + i)
				if err := l.Append(context.Background(), ev); err != nil {
					errs <- err
					return
				}
				seqs[w] = append(seqs[w], ev.Seq)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	seen := make(map[uint64]bool)
	for w, ss := range seqs {
		for i, s := range ss {
			if seen[s] {
				t.Fatalf("Seq %d handed out twice", s)
			}
			seen[s] = true
			if i > 0 && s <= ss[i-1] {
				t.Fatalf("worker %d got Seq %d after %d: not increasing", w, s, ss[i-1])
			}
		}
	}
	for s := uint64(1); s <= workers*each; s++ {
		if !seen[s] {
			t.Fatalf("Seq %d missing: the sequence has a gap", s)
		}
	}
	if got := l.LastSeq(); got != workers*each {
		t.Fatalf("LastSeq = %d, want %d", got, workers*each)
	}
	got := collect(t, l, 0)
	if len(got) != workers*each {
		t.Fatalf("Replay gave %d events, want %d", len(got), workers*each)
	}
	for i, ev := range got {
		if ev.Seq != uint64(i)+1 {
			t.Fatalf("Replay event %d has Seq %d", i, ev.Seq)
		}
	}
}

// Full returns an event with every field of event.Event set to a non-zero value (the
// time in a non-UTC zone, with nanoseconds). It fails t if a field is left zero, so a
// field added to event.Event must be added here and then round-trips through every Log.
func Full(t testing.TB) event.Event {
	t.Helper()
	ev := event.Event{
		Seq:       7,
		Epoch:     3,
		Time:      time.Date(2025, 3, 1, 9, 30, 15, 123456789, time.FixedZone("CST", 8*3600)),
		Site:      "primary",
		Type:      event.CallEnded,
		Call:      "c-1f2e",
		Agent:     "agent-007",
		Caller:    "+8613800138000",
		Dialled:   "12345",
		Trunk:     "carrier-a",
		Direction: "inbound",
		Transport: "udp",
		Codec:     "PCMA",
		Node:      "main",
		Digits:    "1*#",
		Via:       event.ViaRFC4733,
		Queue:     "general",
		Skill:     "mandarin",
		Priority:  2,
		Language:  "zh",
		Pool:      "backup",
		Level:     3,
		Estimate:  42 * time.Second,
		File:      "messages/c-1f2e.wav",
		Duration:  12*time.Second + 340*time.Millisecond,
		Size:      1888044,
		Hash:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Data:      json.RawMessage(`{"id":"WO20261127-0001","status":"open"}`),
		Side:      event.SideCaller,
		Cause:     "normal clearing \"quoted\" <tag> & 市民热线",
		Code:      487,
		Reason:    "sendonly",
		Role:      "active",
		State:     "ready",
	}
	v := reflect.ValueOf(ev)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("storetest.Full leaves event.Event.%s zero: set it", v.Type().Field(i).Name)
		}
	}
	return ev
}

// normal makes times comparable with reflect.DeepEqual: same instant, UTC, no
// monotonic reading.
func normal(ev event.Event) event.Event {
	ev.Time = ev.Time.UTC().Round(0)
	return ev
}

func testRoundTrip(t *testing.T, l store.Log) {
	appendN(t, l, 2)
	want := Full(t)
	in := want
	if err := l.Append(context.Background(), &in); err != nil {
		t.Fatalf("Append: %v", err)
	}
	want.Seq = 3
	got := collect(t, l, 2)
	if len(got) != 1 {
		t.Fatalf("Replay(after=2) gave %d events, want 1", len(got))
	}
	if !reflect.DeepEqual(normal(*got[0]), normal(want)) {
		t.Fatalf("event did not round-trip:\n got  %+v\n want %+v", normal(*got[0]), normal(want))
	}
	if !got[0].Time.Equal(want.Time) {
		t.Fatalf("time %v, want the same instant as %v", got[0].Time, want.Time)
	}
}

func testIsolation(t *testing.T, l store.Log) {
	ev := sample(1)
	if err := l.Append(context.Background(), ev); err != nil {
		t.Fatalf("Append: %v", err)
	}
	ev.Call = "changed-after-append"
	first := collect(t, l, 0)
	if first[0].Call != "call-1" {
		t.Fatalf("changing the event after Append changed the log: Call = %q", first[0].Call)
	}
	first[0].Call = "changed-by-reader"
	if again := collect(t, l, 0); again[0].Call != "call-1" {
		t.Fatalf("changing a replayed event changed the log: Call = %q", again[0].Call)
	}
}

func testAppendCancelled(t *testing.T, l store.Log) {
	appendN(t, l, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Append(ctx, sample(2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context returned %v, want context.Canceled", err)
	}
	if got := l.LastSeq(); got != 1 {
		t.Fatalf("LastSeq = %d after a cancelled Append, want 1", got)
	}
	appendN(t, l, 1)
	if got := l.LastSeq(); got != 2 {
		t.Fatalf("LastSeq = %d, want 2: a cancelled Append must not use up a sequence number", got)
	}
}

func testClosed(t *testing.T, l store.Log) {
	appendN(t, l, 3)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Append(context.Background(), sample(9)); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Append after Close returned %v, want ErrClosed", err)
	}
	err := l.Replay(context.Background(), 0, func(*event.Event) error { return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Replay after Close returned %v, want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("second Close returned %v, want ErrClosed", err)
	}
}
