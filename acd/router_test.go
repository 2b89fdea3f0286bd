package acd

import (
	"slices"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

func TestPriorityThenFIFO(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking")},
		[]AgentConfig{ag("1001", Primary, "call-taking", 5)})
	h.do(Command{Kind: CmdLogin, Agent: "1001"}) // not-ready: calls wait
	h.do(enq("a", "general", 5), enq("b", "general", 5), enq("c", "general", 9), enq("d", "general", 3), enq("e", "general", 9))
	var order []string
	for _, c := range []string{"c", "e", "a", "b", "d"} {
		if p, _ := h.r.Position(c); p.Place != len(order)+1 {
			t.Fatalf("call %s at place %d, want %d", c, p.Place, len(order)+1)
		}
		order = append(order, c)
	}
	h.take()
	h.do(ready("1001"))
	for _, c := range order {
		h.wantOffers(c + ">1001")
		h.do(accept(c, "1001"), hangup(c), ready("1001"))
	}
	if s := h.stats("general"); s.Answered != 5 || s.Waiting != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Across queues the agent takes the more urgent call, then the one that joined first.
func TestFairnessAcrossQueues(t *testing.T) {
	tests := []struct {
		name  string
		calls []Command // joined 1 s apart
		want  []string
	}{
		{"longest waiting first", []Command{enq("b1", "business", 5), enq("g1", "general", 5), enq("b2", "business", 5), enq("g2", "general", 5)},
			[]string{"b1", "g1", "b2", "g2"}},
		{"priority beats wait", []Command{enq("g1", "general", 5), enq("b1", "business", 7), enq("g2", "general", 7)},
			[]string{"b1", "g2", "g1"}},
		{"same instant: arrival order", []Command{enq("g1", "general", 5), enq("b1", "business", 5)},
			[]string{"g1", "b1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, []queue.Config{q("general", "call-taking"), q("business", "business-environment")},
				[]AgentConfig{ag("1001", Primary, "call-taking", 5, "business-environment", 5)})
			h.do(Command{Kind: CmdLogin, Agent: "1001"})
			for _, c := range tt.calls {
				h.do(c)
				if tt.name != "same instant: arrival order" {
					h.advance(time.Second)
				}
			}
			h.take()
			h.do(ready("1001"))
			for _, c := range tt.want {
				h.wantOffers(c + ">1001")
				h.do(accept(c, "1001"), hangup(c), ready("1001"))
			}
		})
	}
}

func TestStrategiesThroughRouter(t *testing.T) {
	agents := []AgentConfig{
		ag("a1", Primary, "s", 3), ag("a2", Primary, "s", 9), ag("a3", Primary, "s", 6), ag("a4", Primary, "s", 9),
	}
	// Before the call: a2 took two calls of 10 s, a3 one of 50 s, a4 one of 5 s;
	// they became ready in the order a1 (login), a3, a2, a4.
	prepare := func(t *testing.T, strategy string) *harness {
		qc := q("q", "s")
		qc.Strategy = strategy
		qc.WrapUp = -1
		h := newHarness(t, []queue.Config{qc}, agents)
		for _, id := range []string{"a1", "a2", "a3", "a4"} {
			h.do(Command{Kind: CmdLogin, Agent: id})
		}
		talk := func(id, call string, d time.Duration) {
			h.do(ready(id), enq(call, "q", 5), accept(call, id))
			h.advance(d)
			h.do(hangup(call), notReady(id, "break"))
		}
		talk("a2", "x1", 10*time.Second)
		talk("a2", "x2", 10*time.Second)
		talk("a3", "x3", 50*time.Second)
		talk("a4", "x4", 5*time.Second)
		for _, id := range []string{"a1", "a3", "a2", "a4"} {
			h.do(ready(id))
			h.advance(time.Second)
		}
		h.take()
		return h
	}
	tests := []struct {
		strategy string
		want     string
	}{
		{"longest-idle", "c>a1"},
		{"fewest-calls", "c>a1"},      // a1 has no calls
		{"least-talk-time", "c>a1"},   // a1 has no talk time
		{"skill-level-first", "c>a2"}, // a2 and a4 have 9; a2 idle longer
		{"linear", "c>a1"},            // configuration order
		{"round-robin", "c>a1"},       // starts at the first
		{"ring-all", "c>a1,a2,a3,a4"}, // everyone
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			h := prepare(t, tt.strategy)
			h.do(enq("c", "q", 5))
			h.wantOffers(tt.want)
		})
	}
	t.Run("random is repeatable", func(t *testing.T) {
		var runs [2][]string
		for i := range runs {
			h := prepare(t, "random")
			for _, call := range []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"} {
				h.do(enq(call, "q", 5))
				o := h.offers()
				runs[i] = append(runs[i], o...)
				h.do(accept(call, o[0][len(call)+1:]), hangup(call))
			}
		}
		if !slices.Equal(runs[0], runs[1]) {
			t.Fatalf("same seed, different picks: %q and %q", runs[0], runs[1])
		}
	})
	t.Run("fewest-calls without a1", func(t *testing.T) {
		h := prepare(t, "fewest-calls")
		h.do(notReady("a1", "meal"), enq("c", "q", 5))
		h.wantOffers("c>a3") // a3 and a4 have one call; a3 idle longer
	})
	t.Run("least-talk-time without a1", func(t *testing.T) {
		h := prepare(t, "least-talk-time")
		h.do(notReady("a1", "meal"), enq("c", "q", 5))
		h.wantOffers("c>a4") // 5 s
	})
	t.Run("round-robin remembers where it stopped", func(t *testing.T) {
		h := prepare(t, "round-robin")
		var got []string
		for _, call := range []string{"c1", "c2", "c3", "c4", "c5", "c6"} {
			h.do(enq(call, "q", 5))
			o := h.offers()
			got = append(got, o...)
			id := o[0][len(call)+1:]
			h.do(accept(call, id), hangup(call))
		}
		want := []string{"c1>a1", "c2>a2", "c3>a3", "c4>a4", "c5>a1", "c6>a2"}
		if !slices.Equal(got, want) {
			t.Fatalf("offers %q, want %q", got, want)
		}
	})
}

func TestStrategyPick(t *testing.T) {
	c := []Candidate{
		{ID: "a", Order: 0, Level: 5, IdleSince: t0.Add(3 * time.Second), Calls: 2, Talk: 30 * time.Second},
		{ID: "b", Order: 1, Level: 8, IdleSince: t0.Add(1 * time.Second), Calls: 3, Talk: 10 * time.Second},
		{ID: "c", Order: 2, Level: 8, IdleSince: t0.Add(2 * time.Second), Calls: 1, Talk: 20 * time.Second},
		{ID: "d", Order: 5, Level: 2, IdleSince: t0.Add(1 * time.Second), Calls: 1, Talk: 10 * time.Second},
	}
	tests := []struct {
		name string
		want int
	}{
		{"longest-idle", 1},      // b and d idle since 1 s: b first in order
		{"fewest-calls", 3},      // c and d have 1: d idle longer
		{"least-talk-time", 1},   // b and d 10 s: b first in order
		{"skill-level-first", 1}, // b and c level 8: b idle longer
		{"linear", 0},
		{"round-robin", 0},
		{"ring-all", All},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewStrategy(tt.name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Pick(c); got != tt.want {
				t.Fatalf("Pick = %d, want %d", got, tt.want)
			}
		})
	}
	rr, _ := NewStrategy("round-robin", 0)
	var got []string
	for range 5 {
		got = append(got, c[rr.Pick(c)].ID)
	}
	if want := []string{"a", "b", "c", "d", "a"}; !slices.Equal(got, want) {
		t.Fatalf("round-robin %q, want %q", got, want)
	}
	// Random is uniform-ish and repeatable per seed.
	r1, _ := NewStrategy("random", 7)
	r2, _ := NewStrategy("random", 7)
	hits := make([]int, len(c))
	for range 400 {
		i := r1.Pick(c)
		if j := r2.Pick(c); i != j {
			t.Fatal("random with the same seed differs")
		}
		hits[i]++
	}
	for i, n := range hits {
		if n < 60 {
			t.Fatalf("random picked candidate %d only %d times in 400", i, n)
		}
	}
	if _, err := NewStrategy("longest-idel", 0); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}

func TestMissedOfferGoesBackToHead(t *testing.T) {
	qc := q("general", "call-taking")
	qc.RingTimeout = 10 * time.Second
	h := newHarness(t, []queue.Config{qc}, []AgentConfig{ag("1001", Primary, "call-taking", 5), ag("1002", Primary, "call-taking", 5)})
	h.do(Command{Kind: CmdLogin, Agent: "1001"}, Command{Kind: CmdLogin, Agent: "1002"})
	h.do(enq("a", "general", 5))
	h.advance(time.Second)
	h.do(enq("b", "general", 5), ready("1001"))
	h.wantOffers("a>1001")
	h.advance(9 * time.Second)
	h.wantState("1001", Reserved, "")
	h.advance(time.Second)
	h.wantState("1001", NotReady, ReasonMissed)
	if p, _ := h.r.Position("a"); p.Place != 1 {
		t.Fatalf("missed call at place %d, want 1", p.Place)
	}
	if got := h.eventsOf(event.OfferTimedOut); !slices.Equal(got, []string{"a/1001/"}) {
		t.Fatalf("timed-out events %q", got)
	}
	if a := h.take(); len(a) != 1 || a[0].Kind != ActWithdraw || a[0].Reason != ReasonMissed {
		t.Fatalf("actions after timeout %+v, want one withdraw (missed)", a)
	}
	h.do(ready("1002"))
	h.wantOffers("a>1002")
	if s := h.r.Stats().Agents["1001"]; s.Missed != 1 {
		t.Fatalf("missed count %d", s.Missed)
	}
}

func TestRejectedOfferGoesBackAndAgentNotReady(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking")},
		[]AgentConfig{ag("1001", Primary, "call-taking", 5), ag("1002", Primary, "call-taking", 5)})
	h.do(login("1001"), enq("a", "general", 5))
	h.wantOffers("a>1001")
	h.do(reject("a", "1001"))
	h.wantState("1001", NotReady, ReasonRejected)
	h.do(login("1002"))
	h.wantOffers("a>1002")
	isErr(t, h.try(accept("a", "1001")), ErrNoOffer)
}

func TestCallerHangsUpWhileRinging(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking")}, []AgentConfig{ag("1001", Primary, "call-taking", 5)})
	h.do(login("1001"), enq("a", "general", 5))
	h.wantOffers("a>1001")
	h.advance(3 * time.Second)
	h.do(hangup("a"))
	h.wantState("1001", Ready, "")
	acts := h.take()
	if len(acts) != 1 || acts[0].Kind != ActWithdraw || acts[0].Reason != ReasonAbandoned || acts[0].Agents[0] != "1001" {
		t.Fatalf("actions %+v, want a withdrawal at 1001", acts)
	}
	// The agent answers a moment too late: nothing changes.
	isErr(t, h.try(accept("a", "1001")), ErrNoOffer)
	h.wantState("1001", Ready, "")
	h.advance(time.Minute) // the old ring timer must not fire into anything
	h.wantState("1001", Ready, "")
	if s := h.stats("general"); s.Abandoned != 1 || s.ShortAbandoned != 1 || s.Waiting != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAnswerBeatsHangup(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking")}, []AgentConfig{ag("1001", Primary, "call-taking", 5)})
	h.do(login("1001"), enq("a", "general", 5), accept("a", "1001"), hangup("a"))
	h.wantState("1001", WrapUp, "")
	if s := h.stats("general"); s.Answered != 1 || s.Abandoned != 0 {
		t.Fatalf("stats %+v", s)
	}
	isErr(t, h.try(hangup("a")), ErrUnknownCall)
}

func TestAbandonShortAndLong(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking")}, nil)
	h.do(enq("a", "general", 5), enq("b", "general", 5))
	h.advance(4999 * time.Millisecond)
	h.do(hangup("a"))
	h.advance(time.Millisecond)
	h.do(hangup("b"))
	s := h.stats("general")
	if s.Abandoned != 2 || s.ShortAbandoned != 1 {
		t.Fatalf("abandoned %d short %d, want 2 and 1", s.Abandoned, s.ShortAbandoned)
	}
	var waits []time.Duration
	for _, ev := range h.events {
		if ev.Type == event.QueueLeft {
			waits = append(waits, ev.Duration)
		}
	}
	if !slices.Equal(waits, []time.Duration{4999 * time.Millisecond, 5 * time.Second}) {
		t.Fatalf("recorded waits %v", waits)
	}
	if _, ok := s.ServiceLevel(); !ok {
		t.Fatal("a long abandon must count against the service level")
	}
}

func TestWrapUp(t *testing.T) {
	qc := q("general", "call-taking")
	qc.WrapUp = 30 * time.Second
	setup := func(t *testing.T) *harness {
		h := newHarness(t, []queue.Config{qc}, []AgentConfig{ag("1001", Primary, "call-taking", 5)})
		h.do(login("1001"), enq("a", "general", 5), accept("a", "1001"))
		h.advance(40 * time.Second)
		h.do(hangup("a"), enq("b", "general", 5))
		h.wantState("1001", WrapUp, "")
		h.take()
		return h
	}
	t.Run("ends by timer", func(t *testing.T) {
		h := setup(t)
		h.advance(29 * time.Second)
		h.wantState("1001", WrapUp, "")
		h.wantOffers()
		h.advance(time.Second)
		h.wantOffers("b>1001")
		a := h.r.Stats().Agents["1001"]
		if a.Time[WrapUp] != 30*time.Second || a.Time[OnCall] != 40*time.Second || a.Calls != 1 {
			t.Fatalf("agent stats %+v", a)
		}
	})
	t.Run("ends by the agent", func(t *testing.T) {
		h := setup(t)
		h.advance(5 * time.Second)
		h.do(ready("1001"))
		h.wantOffers("b>1001")
		h.do(accept("b", "1001"))
		h.advance(30 * time.Second) // the old wrap-up timer must not end this call
		h.wantState("1001", OnCall, "")
		if a := h.r.Stats().Agents["1001"]; a.Time[WrapUp] != 5*time.Second {
			t.Fatalf("wrap-up time %v", a.Time[WrapUp])
		}
	})
	t.Run("not-ready asked during the call", func(t *testing.T) {
		h := newHarness(t, []queue.Config{qc}, []AgentConfig{ag("1001", Primary, "call-taking", 5)})
		h.do(login("1001"), enq("a", "general", 5), accept("a", "1001"), notReady("1001", "meal"))
		h.wantState("1001", OnCall, "")
		h.take()
		h.do(hangup("a"), enq("b", "general", 5))
		h.advance(30 * time.Second)
		h.wantState("1001", NotReady, "meal")
		h.wantOffers()
	})
}

func TestOverflow(t *testing.T) {
	agents := []AgentConfig{ag("1001", Primary, "s", 5), ag("2001", Backup, "s", 5)}
	t.Run("no primary logged in: at once", func(t *testing.T) {
		h := newHarness(t, []queue.Config{q("q", "s")}, agents)
		h.do(login("2001"), enq("a", "q", 5))
		h.wantOffers("a>2001")
		if got := h.eventsOf(event.QueueOverflowed); !slices.Equal(got, []string{"a//no-primary"}) {
			t.Fatalf("overflow events %q", got)
		}
	})
	t.Run("last primary logs out: waiting calls overflow", func(t *testing.T) {
		h := newHarness(t, []queue.Config{q("q", "s")}, agents)
		h.do(Command{Kind: CmdLogin, Agent: "1001"}, login("2001"), enq("a", "q", 5))
		h.wantOffers()
		h.do(Command{Kind: CmdLogout, Agent: "1001"})
		h.wantOffers("a>2001")
	})
	t.Run("wait_for_primary keeps calls", func(t *testing.T) {
		qc := q("q", "s")
		qc.Overflow.WaitForPrimary = true
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(login("2001"), enq("a", "q", 5))
		h.wantOffers()
	})
	t.Run("after a wait", func(t *testing.T) {
		qc := q("q", "s")
		qc.Overflow.After = 30 * time.Second
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(Command{Kind: CmdLogin, Agent: "1001"}, login("2001"), enq("a", "q", 5))
		h.advance(29 * time.Second)
		h.wantOffers()
		h.advance(time.Second)
		h.wantOffers("a>2001")
		if got := h.eventsOf(event.QueueOverflowed); !slices.Equal(got, []string{"a//wait"}) {
			t.Fatalf("overflow events %q", got)
		}
	})
	t.Run("estimated wait", func(t *testing.T) {
		qc := q("q", "s")
		qc.Overflow.Estimate = 2 * time.Minute // one busy primary: EWT = 1 × 3 min
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(login("1001"), enq("x", "q", 5), accept("x", "1001"), login("2001"), enq("a", "q", 5))
		h.wantOffers("x>1001", "a>2001")
		if got := h.eventsOf(event.QueueOverflowed); !slices.Equal(got, []string{"a//estimate"}) {
			t.Fatalf("overflow events %q", got)
		}
	})
	t.Run("estimate below the threshold", func(t *testing.T) {
		qc := q("q", "s")
		qc.Overflow.Estimate = 4 * time.Minute
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(login("1001"), enq("x", "q", 5), accept("x", "1001"), login("2001"), enq("a", "q", 5))
		h.wantOffers("x>1001")
	})
}

func TestWidening(t *testing.T) {
	qc := q("q", "s")
	qc.MinLevel = 7
	qc.Widen = []queue.Step{{After: 60 * time.Second, MinLevel: 3}}
	h := newHarness(t, []queue.Config{qc}, []AgentConfig{ag("low", Primary, "s", 3), ag("two", Primary, "s", 2)})
	h.do(login("low"), login("two"), enq("a", "q", 5))
	h.advance(59 * time.Second)
	h.wantOffers()
	h.advance(time.Second)
	h.wantOffers("a>low")
	if got := h.eventsOf(event.QueueWidened); len(got) != 1 {
		t.Fatalf("widened events %q", got)
	}
	// A new call starts at level 7 again.
	h.do(enq("b", "q", 5))
	h.do(accept("a", "low"), hangup("a"))
	h.advance(30 * time.Second) // wrap-up over; b has waited 30 s
	h.wantOffers()
	h.advance(30 * time.Second)
	h.wantOffers("b>low")
}

func TestCallbackKeepsPlace(t *testing.T) {
	h := newHarness(t, []queue.Config{q("q", "s")}, []AgentConfig{ag("1001", Primary, "s", 5)})
	h.do(Command{Kind: CmdLogin, Agent: "1001"})
	h.do(enq("a", "q", 5), enq("b", "q", 5), enq("c", "q", 5))
	h.do(Command{Kind: CmdCallback, Call: "b", Caller: "13900000000"}, hangup("b")) // b leaves the line but not its place
	if s := h.stats("q"); s.Waiting != 3 || s.Callbacks != 1 || s.Abandoned != 0 {
		t.Fatalf("stats %+v", s)
	}
	if p, _ := h.r.Position("b"); p.Place != 2 || !p.Callback {
		t.Fatalf("callback position %+v", p)
	}
	h.take()
	h.do(ready("1001"))
	h.wantOffers("a>1001")
	h.do(accept("a", "1001"), hangup("a"), ready("1001"))
	acts := h.take()
	if len(acts) != 1 || !acts[0].Callback || acts[0].Number != "13900000000" || acts[0].Call != "b" {
		t.Fatalf("actions %+v, want a callback offer of b to dial 13900000000", acts)
	}
	h.do(accept("b", "1001"), hangup("b"), ready("1001"))
	h.wantOffers("c>1001")
	if s := h.stats("q"); s.Answered != 2 || s.Waiting != 1 || s.Callbacks != 0 || s.Estimated != 1 {
		t.Fatalf("stats %+v", s)
	}
	// An abandoned call can be put back as a callback request.
	h.do(Command{Kind: CmdEnqueue, Call: "z", Queue: "q", Caller: "139", Callback: true})
	h.do(accept("c", "1001"), hangup("c"), ready("1001"))
	if acts := h.take(); len(acts) != 1 || acts[0].Call != "z" || !acts[0].Callback {
		t.Fatalf("actions %+v", acts)
	}
}

func TestMaxWaitAndFull(t *testing.T) {
	base := q("q", "s")
	base.MaxWait = 30 * time.Second
	base.MaxLength = 1
	other := q("other", "s")
	tests := []struct {
		exit     queue.Exit
		wantKind ActionKind
		reason   string
	}{
		{queue.Exit{}, ActExit, queue.ExitMessage},
		{queue.Exit{Action: queue.ExitCallback}, ActExit, queue.ExitCallback},
		{queue.Exit{Action: queue.ExitQueue, Queue: "other"}, ActMoved, ""},
	}
	for _, tt := range tests {
		t.Run(tt.exit.Action, func(t *testing.T) {
			qc := base
			qc.Exit = tt.exit
			h := newHarness(t, []queue.Config{qc, other}, nil)
			h.do(enq("a", "q", 5), enq("b", "q", 5)) // b finds it full
			acts := h.take()
			if len(acts) != 1 || acts[0].Kind != tt.wantKind || acts[0].Call != "b" || acts[0].Reason != tt.reason {
				t.Fatalf("full: actions %+v", acts)
			}
			h.advance(30 * time.Second)
			acts = h.take()
			if len(acts) != 1 || acts[0].Kind != tt.wantKind || acts[0].Call != "a" {
				t.Fatalf("max wait: actions %+v", acts)
			}
			s, o := h.stats("q"), h.stats("other")
			switch tt.exit.Action {
			case queue.ExitCallback:
				if s.Waiting != 2 || s.Callbacks != 2 || s.Exited != 0 {
					t.Fatalf("stats %+v", s)
				}
			case queue.ExitQueue:
				if s.Waiting != 0 || s.Exited != 2 || o.Waiting != 2 || o.Offered != 2 {
					t.Fatalf("stats %+v / %+v", s, o)
				}
			default:
				if s.Waiting != 0 || s.Exited != 2 {
					t.Fatalf("stats %+v", s)
				}
			}
		})
	}
	t.Run("max wait while ringing applies after a miss", func(t *testing.T) {
		qc := base
		qc.MaxWait, qc.RingTimeout = 20*time.Second, 15*time.Second
		h := newHarness(t, []queue.Config{qc}, []AgentConfig{ag("1001", Primary, "s", 5)})
		h.do(enq("a", "q", 5))
		h.advance(10 * time.Second)
		h.do(login("1001"))
		h.advance(15 * time.Second)
		acts := h.take()
		if last := acts[len(acts)-1]; last.Kind != ActExit || last.Call != "a" {
			t.Fatalf("actions %+v, want the exit after the miss", acts)
		}
	})
}

func TestRingAll(t *testing.T) {
	qc := q("q", "s")
	qc.Strategy = "ring-all"
	agents := []AgentConfig{ag("1", Primary, "s", 5), ag("2", Primary, "s", 5), ag("3", Primary, "s", 5)}
	t.Run("first to answer wins, others stop at media", func(t *testing.T) {
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(login("1"), login("2"), login("3"), enq("a", "q", 5))
		h.wantOffers("a>1,2,3")
		h.do(accept("a", "2"))
		h.wantState("1", Reserved, "")
		isErr(t, h.try(accept("a", "3")), ErrNoOffer)
		h.wantState("3", Ready, "")
		h.do(Command{Kind: CmdConnected, Call: "a"})
		h.wantState("1", Ready, "")
		h.wantState("2", OnCall, "")
	})
	t.Run("nobody answers", func(t *testing.T) {
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(login("1"), login("2"), enq("a", "q", 5), reject("a", "1"))
		h.wantState("2", Reserved, "")
		h.advance(15 * time.Second)
		h.wantState("2", NotReady, ReasonMissed)
		if p, _ := h.r.Position("a"); p.Place != 1 {
			t.Fatal("call not back in line")
		}
	})
	t.Run("losers stop at the ring timeout without media news", func(t *testing.T) {
		h := newHarness(t, []queue.Config{qc}, agents)
		h.do(login("1"), login("2"), enq("a", "q", 5), accept("a", "1"))
		h.advance(15 * time.Second)
		h.wantState("2", Ready, "")
	})
}

func TestEndpointGone(t *testing.T) {
	h := newHarness(t, []queue.Config{q("q", "s")}, []AgentConfig{ag("1", Primary, "s", 5), ag("2", Primary, "s", 5)})
	h.do(login("1"), enq("a", "q", 5))
	h.wantOffers("a>1")
	h.do(Command{Kind: CmdEndpointGone, Agent: "1"})
	h.wantState("1", LoggedOut, ReasonEndpointGone)
	if got := h.eventsOf(event.OfferWithdrawn); !slices.Equal(got, []string{"a/1/endpoint-gone"}) {
		t.Fatalf("withdrawn %q", got)
	}
	h.do(login("2"))
	h.wantOffers("a>2")
	h.do(accept("a", "2"), Command{Kind: CmdEndpointGone, Agent: "2"}, hangup("a"))
	h.wantState("2", LoggedOut, ReasonEndpointGone)
}

func TestCommandErrors(t *testing.T) {
	h := newHarness(t, []queue.Config{q("q", "s")}, []AgentConfig{ag("1", Primary, "s", 5)})
	isErr(t, h.try(enq("a", "nope", 5)), ErrUnknownQueue)
	isErr(t, h.try(Command{Kind: CmdEnqueue, Queue: "q"}), ErrBadCommand)
	isErr(t, h.try(login("x")), ErrUnknownAgent)
	isErr(t, h.try(ready("1")), ErrNotLoggedIn)
	isErr(t, h.try(Command{Kind: CmdLogout, Agent: "1"}), ErrNotLoggedIn)
	h.do(login("1"))
	isErr(t, h.try(login("1")), ErrLoggedIn)
	isErr(t, h.try(Command{Kind: CmdSetState, Agent: "1", State: OnCall}), ErrBadCommand)
	h.do(enq("a", "q", 5))
	isErr(t, h.try(enq("a", "q", 5)), ErrDuplicateCall)
	isErr(t, h.try(notReady("1", "break")), ErrBadState) // ringing: reject instead
	isErr(t, h.try(Command{Kind: CmdCallback, Call: "a"}), ErrBadState)
	h.do(accept("a", "1"))
	isErr(t, h.try(Command{Kind: CmdLogout, Agent: "1"}), ErrBadState)
	isErr(t, h.try(hangup("zz")), ErrUnknownCall)
	isErr(t, h.try(Command{Kind: 99}), ErrBadCommand)
}

func TestCountersReset(t *testing.T) {
	h := newHarness(t, []queue.Config{q("q", "s")}, []AgentConfig{ag("1", Primary, "s", 5)})
	h.do(login("1"), enq("a", "q", 5), accept("a", "1"), enq("b", "q", 5))
	h.advance(time.Minute)
	h.do(Command{Kind: CmdResetCounters})
	s := h.stats("q")
	if s.Answered != 0 || s.Offered != 0 || s.Waiting != 1 {
		t.Fatalf("stats after reset %+v", s)
	}
	h.advance(time.Minute)
	h.do(hangup("a"))
	if a := h.r.Stats().Agents["1"]; a.Time[OnCall] != time.Minute || a.Calls != 0 {
		t.Fatalf("agent after reset %+v", a)
	}
}

func TestEstimateRecorded(t *testing.T) {
	qc := q("q", "s")
	qc.WrapUp = -1
	h := newHarness(t, []queue.Config{qc}, []AgentConfig{ag("1", Primary, "s", 5), ag("2", Primary, "s", 5)})
	h.do(login("1"), login("2"), enq("x", "q", 5), enq("y", "q", 5), accept("x", "1"), accept("y", "2"))
	h.do(enq("a", "q", 5), enq("b", "q", 5), enq("c", "q", 5))
	var est []time.Duration
	for _, ev := range h.events {
		if ev.Type == event.QueueJoined {
			est = append(est, ev.Estimate)
		}
	}
	// x and y found ready agents; then two busy agents, AHT 3 min: 90 s a place.
	want := []time.Duration{0, 0, 90 * time.Second, 180 * time.Second, 270 * time.Second}
	if !slices.Equal(est, want) {
		t.Fatalf("estimates %v, want %v", est, want)
	}
	h.advance(100 * time.Second)
	h.do(hangup("x"))
	h.do(accept("a", "1"))
	if s := h.stats("q"); s.Estimated != 3 || s.EstimateError != 10*time.Second {
		t.Fatalf("estimate error %v over %d", s.EstimateError, s.Estimated)
	}
	if p, ok := h.r.Position("c"); !ok || p.Place != 2 {
		t.Fatalf("position %+v", p)
	}
}
