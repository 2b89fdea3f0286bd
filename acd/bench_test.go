package acd

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/queue"
)

// BenchmarkDecision measures the matcher's decisions with 10,000 calls waiting across
// the six default queues and the 250 default agents all busy. Each iteration: an
// agent's call ends (no wrap-up), so the agent is ready and the Router picks the
// best eligible call across the agent's queues and offers it; the agent accepts; a
// new call joins (a decision that finds no ready agent). Reported: p50/p99 of the
// agent-ready decision and of the join, in nanoseconds, and allocations per
// iteration (all three commands).
func BenchmarkDecision(b *testing.B) {
	queues := queue.DefaultQueues()
	for i := range queues {
		queues[i].WrapUp = -1
		queues[i].Overflow.After = time.Minute
	}
	// Calls are spread as a 12345 evening might: most to the general desk.
	weights := []int{60, 8, 8, 8, 8, 8}
	var pick []string
	for i, w := range weights {
		for range w {
			pick = append(pick, queues[i].Name)
		}
	}
	clk := clock.NewFake(t0)
	r, err := NewRouter(queues, Default(), Deps{Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	apply := func(c Command) {
		if err := r.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	enqueue := func() string {
		n++
		call := fmt.Sprint("c", n)
		apply(Command{Kind: CmdEnqueue, Call: call, Queue: pick[n%len(pick)], Priority: 5 + n%3})
		return call
	}
	// Every agent logs in; calls arrive 10 ms apart and agents answer whatever rings
	// until 10,000 wait. Calls overflow after a minute, so the backup seats are busy
	// too and the oldest calls are open to them.
	for _, a := range r.agents {
		apply(Command{Kind: CmdLogin, Agent: a.cfg.ID, State: Ready})
	}
	for r.waiting() < 10_000 {
		enqueue()
		clk.Advance(10 * time.Millisecond)
		r.Tick()
		for _, a := range r.agents {
			if a.offer != nil {
				apply(Command{Kind: CmdAccept, Call: a.offer.e.Call, Agent: a.cfg.ID})
			}
		}
	}
	busy := []*agent{}
	for _, a := range r.agents {
		if a.call != nil {
			busy = append(busy, a)
		}
	}
	freed := make([]time.Duration, 0, b.N)
	joined := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		a := busy[i%len(busy)]
		if a.call == nil {
			continue // a backup agent that found no overflowed call stays ready
		}
		clk.Advance(time.Millisecond)
		r.Tick()
		start := time.Now()
		apply(Command{Kind: CmdHangup, Call: a.call.Call})
		freed = append(freed, time.Since(start))
		if a.offer != nil {
			apply(Command{Kind: CmdAccept, Call: a.offer.e.Call, Agent: a.cfg.ID})
		}
		start = time.Now()
		enqueue()
		joined = append(joined, time.Since(start))
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), name+"-p50-ns")
		b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), name+"-p99-ns")
	}
	report("ready", freed)
	report("join", joined)
	b.ReportMetric(float64(r.waiting()), "waiting")
}

func (r *Router) waiting() int {
	n := 0
	for _, q := range r.queues {
		n += q.line.Len()
	}
	return n
}
