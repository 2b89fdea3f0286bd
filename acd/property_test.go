package acd

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

// propertyConfig has three queues sharing agents, with every rule switched on:
// widening, overflow by wait, estimate and no-primary, maximum wait and length with
// each kind of exit, ring-all.
func propertyConfig(rng *rand.Rand) ([]queue.Config, []AgentConfig) {
	names := StrategyNames()
	g := q("g", "s1")
	g.Strategy = names[rng.IntN(len(names))]
	g.RingTimeout, g.WrapUp, g.MinLevel = 10*time.Second, 5*time.Second, 5
	g.Widen = []queue.Step{{After: 30 * time.Second, MinLevel: 2}}
	g.Overflow.After = 40 * time.Second
	g.MaxWait, g.Exit = 90*time.Second, queue.Exit{Action: queue.ExitQueue, Queue: "h"}
	h := q("h", "s2")
	h.Strategy = "ring-all"
	h.RingTimeout, h.WrapUp = 8*time.Second, -1
	h.MaxLength, h.Exit = 4, queue.Exit{Action: queue.ExitCallback}
	k := q("k", "s1")
	k.Strategy = names[rng.IntN(len(names))]
	k.MaxWait = 60 * time.Second
	k.Overflow = queue.Overflow{Estimate: 5 * time.Minute, WaitForPrimary: true}
	agents := []AgentConfig{
		ag("p1", Primary, "s1", 7, "s2", 3), ag("p2", Primary, "s1", 3), ag("p3", Primary, "s2", 8),
		ag("p4", Primary, "s1", 5, "s2", 5), ag("b1", Backup, "s1", 5, "s2", 5), ag("b2", Backup, "s1", 9),
	}
	return []queue.Config{g, h, k}, agents
}

// offerLedger checks, from the events alone, that no call rings at two agents
// (except one ring-all offer) and no agent holds two calls.
type offerLedger struct {
	ringing map[string]map[string]bool // call -> agents it rings
	holds   map[string]string          // agent -> the call it rings or talks to
	ringAll map[string]bool            // call -> rings as ring-all
	n       int                        // events read
}

func (l *offerLedger) read(evs []event.Event) error {
	if l.ringing == nil {
		l.ringing, l.holds, l.ringAll = map[string]map[string]bool{}, map[string]string{}, map[string]bool{}
	}
	for ; l.n < len(evs); l.n++ {
		ev := evs[l.n]
		switch ev.Type {
		case event.OfferMade:
			if c, ok := l.holds[ev.Agent]; ok {
				return fmt.Errorf("event %d: %s offered to %s, who holds %s", l.n, ev.Call, ev.Agent, c)
			}
			if len(l.ringing[ev.Call]) > 0 && (ev.Reason != "ring-all" || !l.ringAll[ev.Call]) {
				return fmt.Errorf("event %d: %s offered to %s while ringing elsewhere", l.n, ev.Call, ev.Agent)
			}
			if l.ringing[ev.Call] == nil {
				l.ringing[ev.Call] = map[string]bool{}
			}
			l.ringing[ev.Call][ev.Agent] = true
			l.ringAll[ev.Call] = ev.Reason == "ring-all"
			l.holds[ev.Agent] = ev.Call
		case event.OfferAccepted, event.OfferRejected, event.OfferTimedOut, event.OfferWithdrawn:
			if !l.ringing[ev.Call][ev.Agent] {
				return fmt.Errorf("event %d: %s for %s at %s, which was not ringing", l.n, ev.Type, ev.Call, ev.Agent)
			}
			delete(l.ringing[ev.Call], ev.Agent)
			if ev.Type != event.OfferAccepted {
				delete(l.holds, ev.Agent)
			}
		case event.AgentState:
			if ev.State != OnCall.String() && ev.State != Reserved.String() {
				delete(l.holds, ev.Agent)
			}
		}
	}
	return nil
}

func TestProperty(t *testing.T) {
	sequences, steps := 1000, 150
	switch {
	case testing.Short():
		sequences = 200
	case raceEnabled:
		sequences = 300 // the race detector makes each step ~10 times slower
	}
	for seq := range sequences {
		rng := rand.New(rand.NewPCG(uint64(seq), 2025))
		queues, agents := propertyConfig(rng)
		h := newHarness(t, queues, agents)
		var ledger offerLedger
		var log []string
		for step := range steps {
			c := randomCommand(rng, h, queues, agents)
			if c.Kind == 0 {
				d := time.Duration(rng.IntN(12_000)) * time.Millisecond
				log = append(log, fmt.Sprintf("advance %v", d))
				h.clk.Advance(d)
				h.r.Tick()
			} else {
				log = append(log, fmt.Sprintf("%v %+v", c.Kind, c))
				_ = h.r.Apply(c) // errors are expected (random commands); state must stay sound
			}
			fail := func(err error) {
				t.Fatalf("sequence %d step %d: %v\nsteps:\n%s", seq, step, err, fmtLog(log))
			}
			if err := h.r.check(); err != nil {
				fail(err)
			}
			if err := ledger.read(h.events); err != nil {
				fail(err)
			}
			if got, want := h.r.Stats(), Recount(queues, h.cfg, h.events); !statsEqual(got, want) {
				fail(fmt.Errorf("live stats differ from the recount:\n%s", statsDiff(got, want)))
			}
		}
	}
}

func statsEqual(a, b Stats) bool {
	if len(a.Queues) != len(b.Queues) || len(a.Agents) != len(b.Agents) {
		return false
	}
	for n, q := range a.Queues {
		if b.Queues[n] != q {
			return false
		}
	}
	for id, s := range a.Agents {
		if b.Agents[id] != s {
			return false
		}
	}
	return true
}

func fmtLog(log []string) string {
	s := ""
	for i, l := range log {
		s += fmt.Sprintf("  %d: %s\n", i, l)
	}
	return s
}

// randomCommand returns a command (Kind 0: advance the clock), biased towards ones
// that make sense in the present state so that sequences get somewhere: answering
// what rings, hanging up what is answered, making agents ready.
func randomCommand(rng *rand.Rand, h *harness, queues []queue.Config, agents []AgentConfig) Command {
	id := agents[rng.IntN(len(agents))].ID
	call := fmt.Sprintf("c%d", rng.IntN(16))
	pick := func(s AgentState) *agent {
		var as []*agent
		for _, a := range h.r.agents {
			if a.st.State == s {
				as = append(as, a)
			}
		}
		if len(as) == 0 {
			return nil
		}
		return as[rng.IntN(len(as))]
	}
	n := rng.IntN(100)
	switch {
	case n < 20:
		c := Command{Kind: CmdEnqueue, Call: call, Queue: queues[rng.IntN(len(queues))].Name,
			Priority: rng.IntN(3), Caller: "1" + call, Callback: rng.IntN(10) == 0}
		switch rng.IntN(12) {
		case 0: // a wait taken up again after a restart
			c.Reason = ReasonRestored
		case 1: // a wait a restart closes
			return Command{Kind: CmdEndWait, Call: call, Queue: c.Queue, Caller: c.Caller}
		}
		if rng.IntN(5) == 0 { // a transfer to a named agent, most often a ready one
			c.Callback, c.Agent = false, id
			if a := pick(Ready); a != nil && rng.IntN(4) != 0 {
				c.Agent = a.cfg.ID
			}
		}
		return c
	case n < 40:
		if a := pick(Reserved); a != nil {
			if rng.IntN(8) == 0 {
				return Command{Kind: CmdReject, Call: a.offer.e.Call, Agent: a.cfg.ID}
			}
			return Command{Kind: CmdAccept, Call: a.offer.e.Call, Agent: a.cfg.ID}
		}
		return Command{Kind: CmdAccept, Call: call, Agent: id}
	case n < 50:
		if a := pick(OnCall); a != nil {
			if rng.IntN(3) == 0 {
				return Command{Kind: CmdConnected, Call: a.call.Call}
			}
			return Command{Kind: CmdHangup, Call: a.call.Call}
		}
		return Command{Kind: CmdConnected, Call: call}
	case n < 60:
		a := pick(NotReady)
		if a == nil || rng.IntN(3) == 0 {
			a = pick(WrapUp)
		}
		if a != nil {
			id = a.cfg.ID
		}
		return Command{Kind: CmdSetState, Agent: id, State: Ready}
	case n < 65:
		st := Ready
		if rng.IntN(3) == 0 {
			st = NotReady
		}
		if a := pick(LoggedOut); a != nil {
			id = a.cfg.ID
		}
		return Command{Kind: CmdLogin, Agent: id, State: st}
	case n < 67:
		return Command{Kind: CmdEndpointGone, Agent: id}
	case n < 69:
		return Command{Kind: CmdLogout, Agent: id}
	case n < 72:
		return Command{Kind: CmdSetState, Agent: id, State: NotReady, Reason: "break"}
	case n < 77:
		return Command{Kind: CmdHangup, Call: call}
	case n < 80:
		return Command{Kind: CmdCallback, Call: call}
	case n < 81:
		return Command{Kind: CmdResetCounters}
	}
	return Command{}
}
