package acd

import (
	"fmt"
	"slices"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/queue"
)

// Deps are the collaborators of a Router.
type Deps struct {
	// Clock gives the time of every event and deadline; nil means the real clock.
	Clock clock.Clock
	// Sink receives offers, withdrawals and exits; nil drops them.
	Sink Sink
	// Emit receives every state change as an event, in order; nil drops them. It is
	// called on the Router's (the matcher's) goroutine and must not block: append
	// to the log's in-memory buffer, not to a disk or a network.
	Emit func(event.Event)
	// Seed seeds the random strategy (one stream per queue), for repeatable tests.
	Seed int64
}

// Router is the ACD's state machine: it owns every queue's line, every agent's state
// and every offer, and decides who rings for which call. It is not safe for
// concurrent use: the Matcher runs it on one goroutine; tests drive it directly with a
// fake clock (Apply, then Advance the clock and Tick).
//
// After every Apply and Tick the Router has settled: no ready agent is eligible for a
// waiting call. An agent is eligible for a call when it has the queue's skill at the
// call's current level or above (Widen lowers it) and is in the primary pool or the
// call has overflowed. When one step frees several agents or calls at once, newly
// ready agents are served first, each taking the best call it is eligible for across
// its queues, then newly waiting calls in serving order take a ready agent chosen by
// their queue's strategy.
//
// The best call across queues is the one with the higher priority, then the one that
// joined its queue first; equal clock readings are broken by arrival order (a counter
// the Router assigns), so the choice is deterministic.
type Router struct {
	clk  clock.Clock
	sink Sink
	emit func(event.Event)
	now  time.Time
	routerConfig

	queues  []*qstate
	byQueue map[string]*qstate
	agents  []*agent
	byAgent map[string]*agent
	// skillAgents lists, per skill index, the agents with that skill in
	// configuration order; primaryIn counts the logged-in primary ones.
	skillAgents [][]*agent
	primaryIn   []int
	skillQueues [][]*qstate

	calls map[string]*entry
	seq   uint64

	dl    []deadline
	dlSeq uint64

	dirtyA []*agent
	dirtyE []*entry
	cands  []Candidate
	candA  []*agent
}

// routerConfig is what run-time configuration changes need (see configure.go).
type routerConfig struct {
	skills map[string]int // skill name -> index
	seed   int64
}

type qstate struct {
	cfg   queue.Config
	skill int
	line  queue.Line[*entry]
	strat Strategy
	est   queue.Estimator
	st    QueueStats
	live  int     // callers waiting or ringing, callbacks not counted (MaxLength)
	lvl   [11]int // entries in line by Level
	ovl   [11]int // overflowed entries in line by Level
}

type agent struct {
	cfg       AgentConfig
	order     int
	backup    bool
	levels    []int8 // by skill index; 0: no skill
	queues    []*qstate
	st        AgentStats
	idleSince time.Time
	offer     *offer
	call      *entry
	callStart time.Time
	wrapGen   uint64
	pending   bool // not-ready asked for during a call
	pendingRe string
	dirty     bool
}

type entryState uint8

const (
	esNew entryState = iota
	esLine
	esRinging
	esAnswered
)

type entry struct {
	queue.Entry
	q       *qstate
	state   entryState
	offer   *offer
	agent   *agent // answered by; nil once detached
	overdue bool   // MaxWait passed while ringing
	consult bool   // a consult call: counted in no figure
	hops    int    // moves to other queues by rule
	gone    bool   // left its queue: its deadlines are stale
	dirty   bool
}

type offer struct {
	e        *entry
	ringing  []*agent
	answered *agent
	ringAll  bool
	done     bool
}

type dlKind uint8

const (
	dlRing dlKind = iota
	dlWrap
	dlWiden
	dlOverflow
	dlMaxWait
)

type deadline struct {
	at   time.Time
	n    uint64
	kind dlKind
	e    *entry
	o    *offer
	a    *agent
	gen  uint64
	step int
}

// NewRouter checks the queues and agents (queue.Validate's checks of levels, limits
// and exits, and Config.Validate's) and returns a Router with every agent logged out
// and every queue empty.
func NewRouter(queues []queue.Config, cfg Config, d Deps) (*Router, error) {
	errs := queue.Validate(queues, func(string) bool { return true })
	errs = append(errs, cfg.Validate(queues)...)
	if len(errs) > 0 {
		return nil, &ConfigError{Errors: errs}
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Sink == nil {
		d.Sink = SinkFunc(func(Action) {})
	}
	if d.Emit == nil {
		d.Emit = func(event.Event) {}
	}
	r := &Router{
		clk: d.Clock, sink: d.Sink, emit: d.Emit,
		byQueue: map[string]*qstate{}, byAgent: map[string]*agent{},
		calls: map[string]*entry{}, routerConfig: routerConfig{seed: d.Seed},
	}
	skills := map[string]int{}
	r.skills = skills
	skill := func(name string) int {
		i, ok := skills[name]
		if !ok {
			i = len(skills)
			skills[name] = i
		}
		return i
	}
	for i, qc := range queues {
		qc = qc.WithDefaults()
		st, _ := NewStrategy(qc.Strategy, d.Seed+int64(i))
		q := &qstate{cfg: qc, skill: skill(qc.Skill), strat: st}
		r.queues = append(r.queues, q)
		r.byQueue[qc.Name] = q
	}
	for _, ac := range cfg.Agents {
		for s := range ac.Skills {
			skill(s)
		}
	}
	r.skillAgents = make([][]*agent, len(skills))
	r.skillQueues = make([][]*qstate, len(skills))
	r.primaryIn = make([]int, len(skills))
	for _, q := range r.queues {
		r.skillQueues[q.skill] = append(r.skillQueues[q.skill], q)
	}
	for i, ac := range cfg.Agents {
		a := &agent{cfg: ac, order: i, backup: ac.Pool == Backup, levels: make([]int8, len(skills))}
		for s, l := range ac.Skills {
			a.levels[skills[s]] = int8(l)
		}
		for _, q := range r.queues {
			if a.levels[q.skill] > 0 {
				a.queues = append(a.queues, q)
			}
		}
		r.agents = append(r.agents, a)
		r.byAgent[ac.ID] = a
	}
	for _, a := range r.agents { // configuration order within each skill
		for s, l := range a.levels {
			if l > 0 {
				r.skillAgents[s] = append(r.skillAgents[s], a)
			}
		}
	}
	return r, nil
}

// Apply carries out one command at the clock's present time, emits its events and
// actions, and settles (offers calls to agents who became eligible). A command that
// fails changes nothing.
func (r *Router) Apply(c Command) error {
	r.now = r.clk.Now()
	err := r.apply(c)
	r.settle()
	return err
}

// Tick carries out everything that has fallen due by the clock's present time (ring
// timeouts, wrap-up ends, widening, overflow, maximum waits), in deadline order, and
// settles.
func (r *Router) Tick() {
	r.now = r.clk.Now()
	for len(r.dl) > 0 && !r.dl[0].at.After(r.now) {
		d := r.popDeadline()
		if !r.stale(&d) {
			r.fire(&d)
		}
	}
	r.settle()
}

// NextDeadline returns when Tick next has something to do.
func (r *Router) NextDeadline() (time.Time, bool) {
	for len(r.dl) > 0 && r.stale(&r.dl[0]) {
		r.popDeadline()
	}
	if len(r.dl) == 0 {
		return time.Time{}, false
	}
	return r.dl[0].at, true
}

func (r *Router) apply(c Command) error {
	switch c.Kind {
	case CmdEnqueue:
		return r.enqueue(c)
	case CmdHangup:
		return r.hangup(c)
	case CmdCallback:
		return r.callback(c)
	case CmdLogin:
		return r.login(c)
	case CmdLogout, CmdEndpointGone:
		return r.logout(c)
	case CmdSetState:
		return r.setStateCmd(c)
	case CmdAccept:
		return r.accept(c)
	case CmdReject:
		return r.reject(c)
	case CmdConnected:
		return r.connected(c)
	case CmdResetCounters:
		r.resetCounters()
		return nil
	case CmdMove:
		return r.move(c)
	case CmdConfigureAgent:
		return r.configureAgent(c)
	case CmdConfigureQueue:
		return r.configureQueue(c)
	case CmdEndWait:
		return r.endWait(c)
	}
	return fmt.Errorf("%w: kind %v", ErrBadCommand, c.Kind)
}

// move moves a waiting call to another queue and/or priority (a supervisor's).
func (r *Router) move(c Command) error {
	e := r.calls[c.Call]
	if e == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCall, c.Call)
	}
	if e.state != esLine || e.Callback {
		return fmt.Errorf("%w: only a call waiting in line can be moved", ErrBadState)
	}
	prio := e.Priority
	if c.Priority != 0 {
		prio = c.Priority
	}
	if c.Queue == "" || c.Queue == e.q.cfg.Name {
		r.pull(e)
		e.Priority = prio
		r.push(e)
		r.event(event.Event{Type: event.QueueMoved, Call: e.Call, Queue: e.q.cfg.Name, Priority: prio, Reason: c.Reason})
		return nil
	}
	t, ok := r.byQueue[c.Queue]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownQueue, c.Queue)
	}
	r.leave(e, "moved", nil)
	delete(r.calls, e.Call)
	r.event(event.Event{Type: event.QueueMoved, Call: e.Call, Queue: t.cfg.Name, Priority: prio, Reason: c.Reason})
	r.sink.Act(Action{Kind: ActMoved, Call: e.Call, Queue: t.cfg.Name})
	r.join(t, e.Call, e.Caller, prio, false, e.hops, nil, false, keepConsult(e, "moved"))
	return nil
}

// --- calls ---------------------------------------------------------------

// newCallQueue checks that c names a call the Router does not hold and a queue
// it has, and returns the queue.
func (r *Router) newCallQueue(c Command) (*qstate, error) {
	q, ok := r.byQueue[c.Queue]
	switch {
	case c.Call == "":
		return nil, fmt.Errorf("%w: %s without a call id", ErrBadCommand, c.Kind)
	case !ok:
		return nil, fmt.Errorf("%w %q (call %s)", ErrUnknownQueue, c.Queue, c.Call)
	case r.calls[c.Call] != nil:
		return nil, fmt.Errorf("%w: %s", ErrDuplicateCall, c.Call)
	}
	return q, nil
}

func (r *Router) enqueue(c Command) error {
	q, err := r.newCallQueue(c)
	if err != nil {
		return err
	}
	reason := c.Reason
	if c.Consult {
		reason = reasonConsult
	}
	if c.Agent == "" {
		if reason == ReasonRestored && !c.Since.IsZero() && c.Since.Before(r.now) {
			defer func() {
				if e := r.calls[c.Call]; e != nil && !e.gone {
					e.Joined = c.Since // the wait goes on from where it began
				}
			}()
		}
		r.join(q, c.Call, c.Caller, c.Priority, c.Callback, 0, nil, c.Head && !c.Callback, reason)
		return nil
	}
	a, err := r.agent(c.Agent)
	switch {
	case err != nil:
		return err
	case c.Callback:
		return fmt.Errorf("%w: a callback request cannot be offered to a named agent", ErrBadCommand)
	case a.st.State == LoggedOut:
		return fmt.Errorf("%w: %s", ErrNotLoggedIn, c.Agent)
	case a.st.State != Ready:
		return fmt.Errorf("%w: agent %s is %v, not ready", ErrBadState, c.Agent, a.st.State)
	}
	r.join(q, c.Call, c.Caller, c.Priority, false, 0, a, false, reason)
	return nil
}

// join puts a new entry for call in q, or sends it where q's exit says when q is full.
// With target set (a ready agent) the queue is never full and the call is offered to
// target at once.
//
// With head set the call goes before the others of its priority; reason (why it
// came back) is the joined event's Reason.
func (r *Router) join(q *qstate, call, caller string, prio int, cb bool, hops int, target *agent, head bool, reason string) {
	r.seq++
	e := &entry{
		Entry: queue.Entry{Call: call, Caller: caller, Priority: prio, Seq: r.seq, Joined: r.now,
			Level: q.cfg.MinLevel, Callback: cb, Head: head},
		q: q, hops: hops,
	}
	e.consult = reason == reasonConsult
	r.calls[call] = e
	if !e.consult {
		if reason != ReasonRestored || target != nil {
			q.st.Offered++
		}
		q.st.Waiting++
	}
	ev := event.Event{Type: event.QueueJoined, Call: call, Queue: q.cfg.Name, Skill: q.cfg.Skill,
		Priority: prio, Caller: caller, Reason: reason}
	if target != nil {
		ev.Agent = target.cfg.ID
		if !e.consult {
			ev.Reason = "transfer"
		}
	}
	if !cb && target == nil && q.cfg.MaxLength > 0 && q.live >= q.cfg.MaxLength {
		r.event(ev)
		r.exit(e, "full")
		return
	}
	var overflow string
	if !q.cfg.Overflow.WaitForPrimary && r.primaryIn[q.skill] == 0 {
		overflow = "no-primary"
		e.Overflowed = true
	}
	r.push(e)
	if !cb {
		q.live++
	}
	pos := q.line.Position(e)
	e.Estimate = r.estimate(e, pos)
	if overflow == "" && q.cfg.Overflow.Estimate > 0 && e.Estimate > q.cfg.Overflow.Estimate {
		overflow = "estimate"
		r.setOverflowed(e)
		e.Estimate = r.estimate(e, pos)
	}
	ev.Estimate = e.Estimate
	r.event(ev)
	if overflow != "" {
		r.overflow(e, overflow)
	}
	if cb {
		q.st.Callbacks++
		why := "requested"
		if ev.Reason == ReasonRestored {
			why = ReasonRestored
		}
		r.event(event.Event{Type: event.CallbackScheduled, Call: call, Queue: q.cfg.Name, Caller: caller, Reason: why})
	}
	for i, s := range q.cfg.Widen {
		r.pushDeadline(deadline{at: r.now.Add(s.After), kind: dlWiden, e: e, step: i})
	}
	if q.cfg.Overflow.After > 0 {
		r.pushDeadline(deadline{at: r.now.Add(q.cfg.Overflow.After), kind: dlOverflow, e: e})
	}
	if q.cfg.MaxWait > 0 && !cb {
		r.pushDeadline(deadline{at: r.now.Add(q.cfg.MaxWait), kind: dlMaxWait, e: e})
	}
	if target != nil {
		r.offerTo(e, []*agent{target}, false)
	}
}

// estimate returns the wait predicted for e at position pos (queue.Estimator).
func (r *Router) estimate(e *entry, pos int) time.Duration {
	ready, serving := 0, 0
	for _, a := range r.skillAgents[e.q.skill] {
		if !r.eligible(a, e) {
			continue
		}
		switch a.st.State {
		case Ready:
			ready++
			serving++
		case Reserved, OnCall, WrapUp:
			serving++
		}
	}
	return e.q.est.Estimate(pos, ready, serving)
}

// exit sends e where its queue's exit says; reason is timed_out or full.
func (r *Router) exit(e *entry, reason string) {
	q := e.q
	switch {
	case q.cfg.Exit.Action == queue.ExitCallback:
		if !e.Callback {
			e.Callback = true
			q.st.Callbacks++
			if e.state != esNew {
				q.live--
			}
		}
		r.event(event.Event{Type: event.CallbackScheduled, Call: e.Call, Queue: q.cfg.Name, Caller: e.Caller, Reason: reason})
		if e.state != esLine {
			r.push(e)
		}
		r.sink.Act(Action{Kind: ActExit, Call: e.Call, Queue: q.cfg.Name, Reason: queue.ExitCallback})
	case q.cfg.Exit.Action == queue.ExitQueue && e.hops < len(r.queues):
		t := r.byQueue[q.cfg.Exit.Queue]
		r.leave(e, reason, nil)
		delete(r.calls, e.Call)
		r.sink.Act(Action{Kind: ActMoved, Call: e.Call, Queue: t.cfg.Name})
		r.join(t, e.Call, e.Caller, e.Priority, false, e.hops+1, nil, false, keepConsult(e, ""))
	default:
		r.leave(e, reason, nil)
		delete(r.calls, e.Call)
		r.sink.Act(Action{Kind: ActExit, Call: e.Call, Queue: q.cfg.Name, Reason: queue.ExitMessage})
	}
}

// leave takes e out of its queue for good and counts why.
func (r *Router) leave(e *entry, reason string, by *agent) {
	q := e.q
	if !e.Callback && e.state != esNew {
		q.live--
	}
	if e.state == esLine {
		r.pull(e)
	}
	if e.Callback {
		q.st.Callbacks--
	}
	e.gone = true
	if !e.consult {
		q.st.Waiting--
	}
	wait := r.now.Sub(e.Joined)
	ev := event.Event{Type: event.QueueLeft, Call: e.Call, Queue: q.cfg.Name, Reason: reason, Duration: wait, Caller: e.Caller}
	if by != nil {
		ev.Agent = by.cfg.ID
	}
	if !e.consult {
		q.st.count(reason, wait, e.Estimate, e.Callback, q.cfg.ServiceLevel.Within)
	}
	r.event(ev)
}

// endWait is CmdEndWait.
func (r *Router) endWait(c Command) error {
	q, err := r.newCallQueue(c)
	if err != nil {
		return err
	}
	r.event(event.Event{Type: event.QueueJoined, Call: c.Call, Queue: q.cfg.Name, Skill: q.cfg.Skill,
		Caller: c.Caller, Reason: ReasonRestored})
	q.st.count("lost", 0, 0, false, q.cfg.ServiceLevel.Within)
	r.event(event.Event{Type: event.QueueLeft, Call: c.Call, Queue: q.cfg.Name, Reason: "lost", Caller: c.Caller})
	return nil
}

func (r *Router) hangup(c Command) error {
	e := r.calls[c.Call]
	if e == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCall, c.Call)
	}
	switch e.state {
	case esLine:
		if e.Callback {
			return nil // the caller hung up after asking for a callback
		}
		r.leave(e, "abandoned", nil)
		delete(r.calls, e.Call)
	case esRinging:
		if e.Callback {
			return nil
		}
		r.withdrawAll(e.offer, ReasonAbandoned)
		e.offer = nil
		r.leave(e, "abandoned", nil)
		delete(r.calls, e.Call)
	case esAnswered:
		if o := e.offer; o != nil && !o.done {
			r.withdrawAll(o, ReasonElsewhere)
		}
		delete(r.calls, e.Call)
		a := e.agent
		if a == nil {
			return nil // detached: the agent's endpoint went away
		}
		a.call, e.agent = nil, nil
		wrap := max(e.q.cfg.WrapUp, 0)
		e.q.est.Record(r.now.Sub(a.callStart) + wrap)
		if wrap > 0 {
			a.wrapGen++
			r.setState(a, WrapUp, "")
			r.pushDeadline(deadline{at: r.now.Add(wrap), kind: dlWrap, a: a, gen: a.wrapGen})
		} else {
			r.endWork(a)
		}
	}
	return nil
}

func (r *Router) callback(c Command) error {
	e := r.calls[c.Call]
	if e == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCall, c.Call)
	}
	if e.state != esLine {
		return fmt.Errorf("%w: call %s is not waiting in line", ErrBadState, c.Call)
	}
	if c.Caller != "" {
		e.Caller = c.Caller
	}
	if e.Callback {
		return nil
	}
	e.Callback = true
	e.q.live--
	e.q.st.Callbacks++
	reason := "requested"
	if c.Reason != "" {
		reason = c.Reason // "handover": a planned switchover
	}
	r.event(event.Event{Type: event.CallbackScheduled, Call: e.Call, Queue: e.q.cfg.Name, Caller: e.Caller, Reason: reason})
	return nil
}

// --- offers ----------------------------------------------------------------

// offerTo rings e at agents.
func (r *Router) offerTo(e *entry, agents []*agent, ringAll bool) {
	q := e.q
	r.pull(e)
	o := &offer{e: e, ringing: slices.Clone(agents), ringAll: ringAll}
	e.state, e.offer = esRinging, o
	reason := ""
	switch {
	case ringAll:
		reason = "ring-all"
	case e.Callback:
		reason = "callback"
	}
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.cfg.ID
		a.offer = o
		r.event(event.Event{Type: event.OfferMade, Call: e.Call, Agent: a.cfg.ID, Queue: q.cfg.Name, Pool: a.pool(), Reason: reason})
		r.setState(a, Reserved, "")
	}
	r.pushDeadline(deadline{at: r.now.Add(q.cfg.RingTimeout), kind: dlRing, o: o})
	act := Action{Kind: ActOffer, Call: e.Call, Agents: ids, Queue: q.cfg.Name, Callback: e.Callback}
	if e.Callback {
		act.Number = e.Caller
	}
	r.sink.Act(act)
}

// ringingOffer returns the offer of call ringing at agent id.
func (r *Router) ringingOffer(c Command) (*agent, *offer, error) {
	a := r.byAgent[c.Agent]
	if a == nil {
		return nil, nil, fmt.Errorf("%w %q", ErrUnknownAgent, c.Agent)
	}
	o := a.offer
	if o == nil || o.e.Call != c.Call {
		return nil, nil, fmt.Errorf("%w: call %s at agent %s", ErrNoOffer, c.Call, c.Agent)
	}
	return a, o, nil
}

func (r *Router) accept(c Command) error {
	a, o, err := r.ringingOffer(c)
	if err != nil {
		return err
	}
	if o.answered != nil { // ring-all: someone else was first
		r.withdraw(o, a, ReasonElsewhere)
		return fmt.Errorf("%w: call %s already answered by %s", ErrNoOffer, c.Call, o.answered.cfg.ID)
	}
	e := o.e
	o.ringing = slices.DeleteFunc(o.ringing, func(x *agent) bool { return x == a })
	o.answered, a.offer = a, nil
	o.done = len(o.ringing) == 0
	r.event(event.Event{Type: event.OfferAccepted, Call: e.Call, Agent: a.cfg.ID, Queue: e.q.cfg.Name})
	if !e.consult {
		a.st.Calls++
	}
	a.call, a.callStart = e, r.now
	r.setState(a, OnCall, "")
	r.leave(e, "answered", a)
	e.state, e.agent = esAnswered, a
	return nil
}

func (r *Router) reject(c Command) error {
	a, o, err := r.ringingOffer(c)
	if err != nil {
		return err
	}
	if o.answered != nil {
		r.withdraw(o, a, ReasonElsewhere)
		return nil
	}
	r.dropRinging(o, a)
	r.event(event.Event{Type: event.OfferRejected, Call: o.e.Call, Agent: a.cfg.ID, Queue: o.e.q.cfg.Name})
	a.st.Rejected++
	r.setState(a, NotReady, ReasonRejected)
	r.offerEnded(o)
	return nil
}

func (r *Router) connected(c Command) error {
	e := r.calls[c.Call]
	if e == nil {
		return fmt.Errorf("%w: %s", ErrUnknownCall, c.Call)
	}
	if e.state != esAnswered {
		return fmt.Errorf("%w: call %s is not answered", ErrBadState, c.Call)
	}
	if o := e.offer; o != nil && !o.done {
		r.withdrawAll(o, ReasonElsewhere)
	}
	return nil
}

// dropRinging takes a out of o's ringing agents.
func (r *Router) dropRinging(o *offer, a *agent) {
	o.ringing = slices.DeleteFunc(o.ringing, func(x *agent) bool { return x == a })
	a.offer = nil
}

// withdraw stops o ringing at a, who becomes ready again (its idle time goes on).
func (r *Router) withdraw(o *offer, a *agent, reason string) {
	r.dropRinging(o, a)
	r.event(event.Event{Type: event.OfferWithdrawn, Call: o.e.Call, Agent: a.cfg.ID, Queue: o.e.q.cfg.Name, Reason: reason})
	r.sink.Act(Action{Kind: ActWithdraw, Call: o.e.Call, Agents: []string{a.cfg.ID}, Queue: o.e.q.cfg.Name, Reason: reason})
	r.setState(a, Ready, "")
	r.markA(a)
	if len(o.ringing) == 0 {
		o.done = true
	}
}

// withdrawAll stops o ringing everywhere; the caller handles the call.
func (r *Router) withdrawAll(o *offer, reason string) {
	if len(o.ringing) > 0 {
		ids := make([]string, len(o.ringing))
		for i, a := range o.ringing {
			ids[i] = a.cfg.ID
			a.offer = nil
			r.event(event.Event{Type: event.OfferWithdrawn, Call: o.e.Call, Agent: a.cfg.ID, Queue: o.e.q.cfg.Name, Reason: reason})
			r.setState(a, Ready, "")
			r.markA(a)
		}
		r.sink.Act(Action{Kind: ActWithdraw, Call: o.e.Call, Agents: ids, Queue: o.e.q.cfg.Name, Reason: reason})
	}
	o.ringing, o.done = nil, true
}

// offerEnded puts o's call back at its place when nobody rings or answered.
func (r *Router) offerEnded(o *offer) {
	if len(o.ringing) > 0 || o.answered != nil {
		return
	}
	o.done = true
	e := o.e
	e.offer = nil
	if e.overdue && !e.Callback {
		e.overdue = false
		e.state = esNew // not in line: exit must not pull it
		e.q.live--      // exit and leave count it as never having waited
		r.exit(e, "timed_out")
		return
	}
	r.push(e)
}

// ringTimeout ends o: agents still ringing missed it (or, when another agent answered
// in ring-all, just stop ringing).
func (r *Router) ringTimeout(o *offer) {
	if o.answered != nil {
		r.withdrawAll(o, ReasonElsewhere)
		return
	}
	ids := make([]string, len(o.ringing))
	for i, a := range o.ringing {
		ids[i] = a.cfg.ID
		a.offer = nil
		r.event(event.Event{Type: event.OfferTimedOut, Call: o.e.Call, Agent: a.cfg.ID, Queue: o.e.q.cfg.Name})
		a.st.Missed++
		r.setState(a, NotReady, ReasonMissed)
	}
	if len(ids) > 0 {
		r.sink.Act(Action{Kind: ActWithdraw, Call: o.e.Call, Agents: ids, Queue: o.e.q.cfg.Name, Reason: ReasonMissed})
	}
	o.ringing = nil
	r.offerEnded(o)
}

// --- agents ------------------------------------------------------------------

func (a *agent) pool() string {
	if a.backup {
		return Backup
	}
	return Primary
}

func (r *Router) agent(id string) (*agent, error) {
	a := r.byAgent[id]
	if a == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownAgent, id)
	}
	return a, nil
}

func (r *Router) login(c Command) error {
	a, err := r.agent(c.Agent)
	if err != nil {
		return err
	}
	if a.st.State != LoggedOut {
		return fmt.Errorf("%w: %s", ErrLoggedIn, c.Agent)
	}
	state, reason := NotReady, c.Reason
	switch c.State {
	case Ready:
		state, reason = Ready, ""
	case NotReady, LoggedOut:
		if reason == "" {
			reason = ReasonLogin
		}
	default:
		return fmt.Errorf("%w: log in as %v", ErrBadCommand, c.State)
	}
	r.event(event.Event{Type: event.AgentLogin, Agent: a.cfg.ID, Pool: a.pool()})
	if !a.backup {
		for s, l := range a.levels {
			if l > 0 {
				r.primaryIn[s]++
			}
		}
	}
	r.setState(a, state, reason)
	if state == Ready {
		a.idleSince = r.now
		r.markA(a)
	}
	return nil
}

func (r *Router) logout(c Command) error {
	a, err := r.agent(c.Agent)
	if err != nil {
		return err
	}
	reason := ReasonLogout
	if c.Kind == CmdEndpointGone {
		reason = ReasonEndpointGone
	}
	switch a.st.State {
	case LoggedOut:
		return fmt.Errorf("%w: %s", ErrNotLoggedIn, c.Agent)
	case OnCall:
		if c.Kind != CmdEndpointGone {
			return fmt.Errorf("%w: agent %s is on a call: hang up first", ErrBadState, c.Agent)
		}
		e := a.call
		e.q.est.Record(r.now.Sub(a.callStart) + max(e.q.cfg.WrapUp, 0))
		e.agent, a.call = nil, nil
	case Reserved:
		o := a.offer
		r.dropRinging(o, a)
		r.event(event.Event{Type: event.OfferWithdrawn, Call: o.e.Call, Agent: a.cfg.ID, Queue: o.e.q.cfg.Name, Reason: reason})
		r.sink.Act(Action{Kind: ActWithdraw, Call: o.e.Call, Agents: []string{a.cfg.ID}, Queue: o.e.q.cfg.Name, Reason: reason})
		if len(o.ringing) == 0 {
			o.done = true
		}
		r.offerEnded(o)
	case WrapUp:
		a.wrapGen++
	}
	a.pending = false
	r.setState(a, LoggedOut, reason)
	r.event(event.Event{Type: event.AgentLogout, Agent: a.cfg.ID, Reason: reason})
	if a.backup {
		return nil
	}
	for s, l := range a.levels {
		if l == 0 {
			continue
		}
		if r.primaryIn[s]--; r.primaryIn[s] > 0 {
			continue
		}
		for _, q := range r.skillQueues[s] {
			if q.cfg.Overflow.WaitForPrimary {
				continue
			}
			for i := 0; i < q.line.Len(); i++ {
				if e := q.line.At(i); !e.Overflowed {
					r.setOverflowed(e)
					r.overflow(e, "no-primary")
				}
			}
		}
	}
	return nil
}

func (r *Router) setStateCmd(c Command) error {
	a, err := r.agent(c.Agent)
	if err != nil {
		return err
	}
	cur := a.st.State
	if cur == LoggedOut {
		return fmt.Errorf("%w: %s", ErrNotLoggedIn, c.Agent)
	}
	switch c.State {
	case Ready:
		switch cur {
		case Ready:
		case NotReady, WrapUp:
			a.wrapGen++
			a.pending = false
			r.becomeReady(a)
		case OnCall:
			a.pending = false
		default:
			return fmt.Errorf("%w: agent %s is %v", ErrBadState, c.Agent, cur)
		}
	case NotReady:
		switch cur {
		case Ready, WrapUp, NotReady:
			if cur == NotReady && a.st.Reason == c.Reason {
				return nil
			}
			a.wrapGen++
			r.setState(a, NotReady, c.Reason)
		case OnCall:
			a.pending, a.pendingRe = true, c.Reason
		default:
			return fmt.Errorf("%w: agent %s is %v: reject the offer instead", ErrBadState, c.Agent, cur)
		}
	default:
		return fmt.Errorf("%w: an agent cannot set itself %v", ErrBadCommand, c.State)
	}
	return nil
}

// endWork ends an agent's after-call work: not-ready if it asked during the call,
// ready otherwise.
func (r *Router) endWork(a *agent) {
	if a.pending {
		a.pending = false
		r.setState(a, NotReady, a.pendingRe)
		return
	}
	r.becomeReady(a)
}

func (r *Router) becomeReady(a *agent) {
	r.setState(a, Ready, "")
	a.idleSince = r.now
	r.markA(a)
}

func (r *Router) setState(a *agent, s AgentState, reason string) {
	a.st.enter(s, reason, r.now)
	r.event(event.Event{Type: event.AgentState, Agent: a.cfg.ID, State: s.String(), Reason: reason})
}

func (r *Router) resetCounters() {
	for _, q := range r.queues {
		q.st.reset()
	}
	for _, a := range r.agents {
		a.st.reset(r.now)
	}
	r.event(event.Event{Type: event.CountersReset})
}

// --- waiting calls -------------------------------------------------------------

func (r *Router) eligible(a *agent, e *entry) bool {
	l := int(a.levels[e.q.skill])
	return l > 0 && l >= e.Level && (!a.backup || e.Overflowed)
}

func (r *Router) push(e *entry) {
	q := e.q
	q.line.Push(e)
	e.state = esLine
	q.lvl[e.Level]++
	if e.Overflowed {
		q.ovl[e.Level]++
	}
	r.markE(e)
}

func (r *Router) pull(e *entry) {
	q := e.q
	q.line.Remove(e)
	e.state = esNew
	q.lvl[e.Level]--
	if e.Overflowed {
		q.ovl[e.Level]--
	}
}

func (r *Router) setOverflowed(e *entry) {
	if e.state == esLine {
		e.q.ovl[e.Level]++
	}
	e.Overflowed = true
}

// overflow records that e (already marked) may go to the backup pool.
func (r *Router) overflow(e *entry, reason string) {
	if !e.consult {
		e.q.st.Overflowed++
	}
	r.event(event.Event{Type: event.QueueOverflowed, Call: e.Call, Queue: e.q.cfg.Name, Reason: reason})
	if e.state == esLine {
		r.markE(e)
	}
}

func (r *Router) setLevel(e *entry, l int) {
	if e.state == esLine {
		e.q.lvl[e.Level]--
		e.q.lvl[l]++
		if e.Overflowed {
			e.q.ovl[e.Level]--
			e.q.ovl[l]++
		}
	}
	e.Level = l
}

func (r *Router) markA(a *agent) {
	if !a.dirty {
		a.dirty = true
		r.dirtyA = append(r.dirtyA, a)
	}
}

func (r *Router) markE(e *entry) {
	if !e.dirty {
		e.dirty = true
		r.dirtyE = append(r.dirtyE, e)
	}
}

// settle offers calls to agents until no ready agent is eligible for a waiting call
// (see Router).
func (r *Router) settle() {
	for i := 0; i < len(r.dirtyA); i++ {
		a := r.dirtyA[i]
		a.dirty = false
		for a.st.State == Ready {
			e := r.bestFor(a)
			if e == nil || !r.match(e) {
				break
			}
		}
	}
	clear(r.dirtyA)
	r.dirtyA = r.dirtyA[:0]
	slices.SortFunc(r.dirtyE, func(x, y *entry) int {
		if x.Before(&y.Entry) {
			return -1
		}
		return 1
	})
	for _, e := range r.dirtyE {
		e.dirty = false
		if e.state == esLine {
			r.match(e)
		}
	}
	clear(r.dirtyE)
	r.dirtyE = r.dirtyE[:0]
}

// bestFor returns the call a should take: the first in serving order of the first
// eligible call of each of its queues.
func (r *Router) bestFor(a *agent) *entry {
	var best *entry
	for _, q := range a.queues {
		l := int(a.levels[q.skill])
		counts := &q.lvl
		if a.backup {
			counts = &q.ovl
		}
		has := false
		for i := 1; i <= l && !has; i++ {
			has = counts[i] > 0
		}
		if !has {
			continue
		}
		for i := 0; i < q.line.Len(); i++ {
			e := q.line.At(i)
			if best != nil && !e.Before(&best.Entry) {
				break
			}
			if r.eligible(a, e) {
				best = e
				break
			}
		}
	}
	return best
}

// match rings e at the agents its queue's strategy picks among the ready eligible
// ones, and reports whether there were any.
func (r *Router) match(e *entry) bool {
	r.cands, r.candA = r.cands[:0], r.candA[:0]
	for _, a := range r.skillAgents[e.q.skill] {
		if a.st.State != Ready || !r.eligible(a, e) {
			continue
		}
		r.cands = append(r.cands, Candidate{ID: a.cfg.ID, Order: a.order, Level: int(a.levels[e.q.skill]),
			IdleSince: a.idleSince, Calls: a.st.Calls, Talk: a.st.Talk()})
		r.candA = append(r.candA, a)
	}
	if len(r.cands) == 0 {
		return false
	}
	i := e.q.strat.Pick(r.cands)
	if i == All {
		r.offerTo(e, r.candA, true)
	} else {
		r.offerTo(e, r.candA[i:i+1], false)
	}
	clear(r.candA)
	return true
}

// --- deadlines -------------------------------------------------------------------

func (r *Router) stale(d *deadline) bool {
	switch d.kind {
	case dlRing:
		return d.o.done
	case dlWrap:
		return d.a.wrapGen != d.gen || d.a.st.State != WrapUp
	default:
		return d.e.gone
	}
}

func (r *Router) fire(d *deadline) {
	switch d.kind {
	case dlRing:
		r.ringTimeout(d.o)
	case dlWrap:
		r.endWork(d.a)
	case dlWiden:
		e := d.e
		if l := e.q.cfg.Widen[d.step].MinLevel; l < e.Level {
			r.setLevel(e, l)
			r.event(event.Event{Type: event.QueueWidened, Call: e.Call, Queue: e.q.cfg.Name, Level: l})
			if e.state == esLine {
				r.markE(e)
			}
		}
	case dlOverflow:
		if !d.e.Overflowed {
			r.setOverflowed(d.e)
			r.overflow(d.e, "wait")
		}
	case dlMaxWait:
		e := d.e
		switch {
		case e.Callback:
		case e.state == esLine:
			r.exit(e, "timed_out")
		case e.state == esRinging:
			e.overdue = true
		}
	}
}

func (r *Router) pushDeadline(d deadline) {
	r.dlSeq++
	d.n = r.dlSeq
	r.dl = append(r.dl, d)
	i := len(r.dl) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !r.dlLess(i, p) {
			break
		}
		r.dl[i], r.dl[p] = r.dl[p], r.dl[i]
		i = p
	}
}

func (r *Router) popDeadline() deadline {
	top := r.dl[0]
	n := len(r.dl) - 1
	r.dl[0] = r.dl[n]
	r.dl[n] = deadline{}
	r.dl = r.dl[:n]
	i := 0
	for {
		l, m := 2*i+1, i
		if l < n && r.dlLess(l, m) {
			m = l
		}
		if l+1 < n && r.dlLess(l+1, m) {
			m = l + 1
		}
		if m == i {
			break
		}
		r.dl[i], r.dl[m] = r.dl[m], r.dl[i]
		i = m
	}
	return top
}

func (r *Router) dlLess(i, j int) bool {
	a, b := &r.dl[i], &r.dl[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.n < b.n
}

func (r *Router) event(ev event.Event) {
	ev.Time = r.now
	r.emit(ev)
}

// reasonConsult marks a consult call's queue.joined event.
const reasonConsult = "consult"

// ReasonRestored is the Reason of a CmdEnqueue (and of its queue.joined event)
// that takes up a wait the log shows as not ended: the call was offered already,
// so neither the Router nor Recount counts it as offered again.
const ReasonRestored = event.JoinRestored

// keepConsult is the joined reason of e moving on: consult for a consult call.
func keepConsult(e *entry, reason string) string {
	if e.consult {
		return reasonConsult
	}
	return reason
}
