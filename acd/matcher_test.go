package acd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/queue"
	"go.uber.org/goleak"
)

func TestMatcher(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := clock.NewFake(t0)
	acts := make(chan Action, 64)
	var mu sync.Mutex
	var evs []event.Event
	qc := q("q", "s")
	r, err := NewRouter([]queue.Config{qc}, Config{Agents: []AgentConfig{ag("1", Primary, "s", 5)}}, Deps{
		Clock: clk,
		Sink:  SinkFunc(func(a Action) { acts <- a }),
		Emit: func(ev event.Event) {
			mu.Lock()
			evs = append(evs, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	// Callers arrive from many goroutines at once.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Do(ctx, enq(fmt.Sprint("c", i), "q", 5)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, err := m.Stats(ctx)
	if err != nil || s.Queues["q"].Waiting != 8 {
		t.Fatalf("stats %+v, %v", s.Queues["q"], err)
	}
	// An agent logs in: the longest-waiting call rings; the ring timeout runs on the
	// matcher's own timer.
	armed := clk.TimerCreated()
	if err := m.Do(ctx, login("1")); err != nil {
		t.Fatal(err)
	}
	offer := <-acts
	if offer.Kind != ActOffer || offer.Agents[0] != "1" {
		t.Fatalf("action %+v", offer)
	}
	<-armed
	clk.Advance(qc.WithDefaults().RingTimeout)
	select {
	case a := <-acts:
		if a.Kind != ActWithdraw || a.Reason != ReasonMissed || a.Call != offer.Call {
			t.Fatalf("action %+v, want the missed offer withdrawn", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the ring timeout did not fire")
	}
	s, err = m.Stats(ctx)
	if err != nil || s.Agents["1"].State != NotReady || s.Agents["1"].Reason != ReasonMissed {
		t.Fatalf("agent %+v, %v", s.Agents["1"], err)
	}
	if p, ok, err := m.Position(ctx, offer.Call); err != nil || !ok || p.Place != 1 {
		t.Fatalf("position %+v %v %v", p, ok, err)
	}
	if err := m.Do(ctx, Command{Kind: CmdLogin, Agent: "1"}); !errors.Is(err, ErrLoggedIn) {
		t.Fatalf("second login: %v", err)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if err := m.Do(context.Background(), hangup("c1")); !errors.Is(err, ErrStopped) {
		t.Fatalf("Do after stop: %v", err)
	}
	if _, err := m.Stats(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("Stats after stop: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := Recount([]queue.Config{qc}, Config{Agents: []AgentConfig{ag("1", Primary, "s", 5)}}, evs), s; !statsEqual(got, want) {
		t.Fatalf("recount differs:\n%s", statsDiff(want, got))
	}
}
