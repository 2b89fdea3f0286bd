package acd

import (
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

// TestRestoredWaitIsNotOfferedAgain: a run leaves a callback request waiting and
// stops; the next run (a new Router, its counters seeded from the log) takes the
// wait up again with ReasonRestored. The day's recount over both runs' events
// and the new Router's numbers agree: one offer, one waiting callback request,
// and, once an agent answers it, one answered and nothing waiting.
func TestRestoredWaitIsNotOfferedAgain(t *testing.T) {
	queues := []queue.Config{q("g", "s")}
	agents := []AgentConfig{ag("a1", Primary, "s", 5)}
	first := newHarness(t, queues, agents)
	first.do(enq("c1", "g", 0), Command{Kind: CmdCallback, Call: "c1"})
	if s := first.stats("g"); s.Offered != 1 || s.Waiting != 1 || s.Callbacks != 1 {
		t.Fatalf("first run: %+v, want 1 offered, 1 waiting callback", s)
	}

	// The second run's harness checks its numbers against the recount of the
	// whole day's events, the first run's included, after every step.
	second := newHarness(t, queues, agents)
	second.events = append(second.events, first.events...)
	second.r.SeedCounters(Recount(queues, second.cfg, first.events))
	second.clk.Advance(10 * time.Minute) // the restart took a while
	second.do(Command{Kind: CmdEnqueue, Call: "c1", Queue: "g", Caller: "138c1", Callback: true, Reason: ReasonRestored, Since: t0})
	both := func() Stats { return Recount(queues, second.cfg, second.events) }
	for _, s := range []QueueStats{second.stats("g"), both().Queues["g"]} {
		if s.Offered != 1 || s.Waiting != 1 || s.Callbacks != 1 {
			t.Fatalf("after the restore: %+v, want 1 offered, 1 waiting callback", s)
		}
	}
	second.do(login("a1"))
	second.wantOffers("c1>a1")
	second.do(accept("c1", "a1"))
	// The wait counts from when the caller first joined, before the restart.
	left := 0
	for _, ev := range second.events {
		if ev.Type == event.QueueLeft && ev.Call == "c1" {
			left++
			if ev.Duration != 10*time.Minute {
				t.Errorf("the restored wait left after %v, want 10m (from its first join)", ev.Duration)
			}
		}
	}
	if left != 1 {
		t.Errorf("c1 left its queue %d times, want once", left)
	}
	live, recount := second.stats("g"), both().Queues["g"]
	if live.Offered != 1 || live.Answered != 1 || live.Waiting != 0 || live.Callbacks != 0 {
		t.Fatalf("answered after the restore: %+v, want 1 offered, 1 answered, none waiting", live)
	}
	if d := statsDiff(Stats{Queues: map[string]QueueStats{"g": live}}, Stats{Queues: map[string]QueueStats{"g": recount}}); d != "" {
		t.Fatalf("live and recount differ after the restore:\n%s", d)
	}
}

// TestReseedKeepsWhatCameSince: a standby's Router is taken up to the log's day
// (Recount up to a point) while it already takes calls: what it counted after its
// numbers were taken as the base stays on top of the log's figures.
func TestReseedKeepsWhatCameSince(t *testing.T) {
	queues := []queue.Config{q("g", "s")}
	agents := []AgentConfig{ag("a1", Primary, "s", 5)}
	lost := newHarness(t, queues, agents) // the lost site's day
	lost.do(login("a1"), enq("c1", "g", 0), accept("c1", "a1"), hangup("c1"), enq("c2", "g", 0), hangup("c2"))

	standby := newHarness(t, queues, agents)
	base := standby.r.Stats()
	standby.do(enq("n1", "g", 0)) // a new call, after the base
	standby.r.ReseedCounters(base, Recount(queues, standby.cfg, lost.events))
	got := standby.stats("g")
	want := lost.stats("g")
	if got.Offered != want.Offered+1 || got.Answered != want.Answered || got.Abandoned != want.Abandoned || got.Waiting != 1 {
		t.Fatalf("after the reseed: %+v; want the lost site's %+v plus one offered and waiting", got, want)
	}
	if a := standby.r.Stats().Agents["a1"]; a.Calls != 1 {
		t.Errorf("agent a1 after the reseed: %d calls, want 1 (the log's)", a.Calls)
	}
}
