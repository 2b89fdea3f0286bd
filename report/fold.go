package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai and every other zone, even without the system's tz database

	"github.com/hotline12345/hotline/event"
)

// Defaults used for zero Options fields.
const (
	DefaultZone          = "Asia/Shanghai"
	DefaultShortAbandon  = 5 * time.Second
	DefaultWithin        = 20 * time.Second
	DefaultTargetPercent = 80
)

// Queue is a queue's service-level target (queue.Config's ServiceLevel).
type Queue struct {
	// Name is the queue's name as in the events.
	Name string
	// Within is the answer time that counts as in target (0: DefaultWithin).
	Within time.Duration
	// Percent is the target share answered within Within, 1-100 (0: DefaultTargetPercent).
	Percent int
}

// Agent is an agent known before any event names it (so that logged-out agents are
// counted in the metrics).
type Agent struct {
	ID   string
	Pool string // primary or backup
}

// Options configure a Fold. The zero value uses the defaults.
type Options struct {
	// Location is the time zone whose midnight starts a day; nil means Asia/Shanghai.
	Location *time.Location
	// ShortAbandon is the wait under which an abandon is short (0: 5 s).
	ShortAbandon time.Duration
	// Queues are the configured queues: their targets, and rows even without calls.
	Queues []Queue
	// Agents are the configured agents (optional).
	Agents []Agent
}

func (o Options) withDefaults() Options {
	if o.Location == nil {
		loc, err := time.LoadLocation(DefaultZone)
		if err != nil { // cannot happen with time/tzdata linked in
			loc = time.FixedZone("CST", 8*3600)
		}
		o.Location = loc
	}
	if o.ShortAbandon <= 0 {
		o.ShortAbandon = DefaultShortAbandon
	}
	return o
}

// The agent states as the ACD names them in agent.state events.
var states = []string{"logged-out", "ready", "not-ready", "reserved", "on-call", "wrap-up"}

const (
	stLoggedOut = iota
	stReady
	stNotReady
	stReserved
	stOnCall
	stWrapUp
	numStates
)

func stateIndex(name string) int {
	for i, s := range states {
		if s == name {
			return i
		}
	}
	return -1
}

// Histogram bucket upper bounds, seconds.
var (
	answerBuckets = []float64{5, 10, 20, 30, 60, 120, 300, 600}
	talkBuckets   = []float64{30, 60, 120, 180, 300, 600, 900, 1800}
)

const numBuckets = 9 // len(buckets) + the +Inf bucket

type hist [numBuckets]uint64

func (h *hist) observe(bounds []float64, d time.Duration) {
	s := d.Seconds()
	for i, b := range bounds {
		if s <= b {
			h[i]++
			return
		}
	}
	h[len(bounds)]++
}

// Counts are a queue's additive figures for one bucket (an hour of a day, or any sum
// of them). The package comment defines them.
type Counts struct {
	Offered            int
	Answered           int
	AnsweredInTarget   int
	Abandoned          int
	ShortAbandoned     int
	Overflowed         int
	Exited             int
	Waiting            int
	Transfers          int
	Consults           int
	CallbacksScheduled int
	CallbacksMade      int
	// WorkOrdersDirect and WorkOrdersDispatched count the work orders made from
	// the queue's calls (ticket.created), by disposition, on the day they were made.
	WorkOrdersDirect     int
	WorkOrdersDispatched int
	// Ratings counts the satisfaction survey answers (post-call and follow-up) by
	// rating: [1] satisfied, [2] basically satisfied, [3] dissatisfied.
	Ratings [4]int
	// AnswerWait is the total wait of the answered calls.
	AnswerWait time.Duration
	// Talk is the agents' on-call time for these calls, in Talks stretches.
	Talk  time.Duration
	Talks int
	// WrapUp is the agents' wrap-up time after these calls, in WrapUps stretches.
	WrapUp  time.Duration
	WrapUps int

	answerHist, talkHist hist
}

func (c *Counts) add(o *Counts) {
	c.Offered += o.Offered
	c.Answered += o.Answered
	c.AnsweredInTarget += o.AnsweredInTarget
	c.Abandoned += o.Abandoned
	c.ShortAbandoned += o.ShortAbandoned
	c.Overflowed += o.Overflowed
	c.Exited += o.Exited
	c.Waiting += o.Waiting
	c.Transfers += o.Transfers
	c.Consults += o.Consults
	c.CallbacksScheduled += o.CallbacksScheduled
	c.CallbacksMade += o.CallbacksMade
	c.WorkOrdersDirect += o.WorkOrdersDirect
	c.WorkOrdersDispatched += o.WorkOrdersDispatched
	for i := range c.Ratings {
		c.Ratings[i] += o.Ratings[i]
	}
	c.AnswerWait += o.AnswerWait
	c.Talk += o.Talk
	c.Talks += o.Talks
	c.WrapUp += o.WrapUp
	c.WrapUps += o.WrapUps
	for i := range c.answerHist {
		c.answerHist[i] += o.answerHist[i]
		c.talkHist[i] += o.talkHist[i]
	}
}

// AnswerRate is Answered / Offered; ok is false without offered calls.
func (c *Counts) AnswerRate() (float64, bool) {
	if c.Offered == 0 {
		return 0, false
	}
	return float64(c.Answered) / float64(c.Offered), true
}

// ServiceLevel is AnsweredInTarget / (Answered + Abandoned - ShortAbandoned); ok is
// false when that is zero.
func (c *Counts) ServiceLevel() (float64, bool) {
	n := c.Answered + c.Abandoned - c.ShortAbandoned
	if n <= 0 {
		return 0, false
	}
	return float64(c.AnsweredInTarget) / float64(n), true
}

func avg(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

// AgentCounts are an agent's figures for one day (or a sum of days).
type AgentCounts struct {
	Calls    int // offers accepted (consults not included)
	Consults int // consult calls accepted
	Missed   int // offers that rang out
	Rejected int // offers declined
	// Time is the time in each state, indexed as the states of the ACD
	// (logged-out, ready, not-ready, reserved, on-call, wrap-up).
	Time [numStates]time.Duration
}

func (a *AgentCounts) add(o *AgentCounts) {
	a.Calls += o.Calls
	a.Consults += o.Consults
	a.Missed += o.Missed
	a.Rejected += o.Rejected
	for i := range a.Time {
		a.Time[i] += o.Time[i]
	}
}

// LoggedIn is the time in every state but logged-out.
func (a *AgentCounts) LoggedIn() time.Duration {
	var d time.Duration
	for i := stReady; i < numStates; i++ {
		d += a.Time[i]
	}
	return d
}

// Occupancy is (on-call + wrap-up) / logged-in; ok is false without logged-in time.
func (a *AgentCounts) Occupancy() (float64, bool) {
	li := a.LoggedIn()
	if li <= 0 {
		return 0, false
	}
	return float64(a.Time[stOnCall]+a.Time[stWrapUp]) / float64(li), true
}

// day holds one day's buckets. Keys are "YYYY-MM-DD" in the fold's zone.
type day struct {
	queues map[string]*[24]Counts
	agents map[string]*AgentCounts
	menu   map[menuKey]int
	calls  [24]int // call.created, by hour
}

type menuKey struct{ node, digits string }

// entry is a call in (or answered from) a queue.
type entry struct {
	call     string
	queue    string
	day      string
	hour     int
	joined   time.Time
	callback bool
	consult  bool
	left     bool
}

// agentLive is an agent's current state.
type agentLive struct {
	pool   string
	state  int // -1 until the first state event
	reason string
	since  time.Time
	call   *entry // the call last accepted
}

// Fold accumulates the figures from events applied in order. It is not safe for
// concurrent use (Live guards one with a mutex).
type Fold struct {
	opts    Options
	within  map[string]time.Duration
	days    map[string]*day
	calls   map[string]*entry // by call id: joined, until the call ends or joins again
	queueOf map[string]string // by call id: the last queue it joined (for its survey); cleared when it ends
	orderQ  map[string]string // by work order id: its queue (for the follow-up survey)
	agents  map[string]*agentLive
	events  int
	orphans int
	last    time.Time
}

// NewFold returns an empty fold.
func NewFold(opts Options) *Fold {
	opts = opts.withDefaults()
	f := &Fold{
		opts:    opts,
		within:  map[string]time.Duration{},
		days:    map[string]*day{},
		calls:   map[string]*entry{},
		queueOf: map[string]string{},
		orderQ:  map[string]string{},
		agents:  map[string]*agentLive{},
	}
	for _, q := range opts.Queues {
		w := q.Within
		if w <= 0 {
			w = DefaultWithin
		}
		f.within[q.Name] = w
	}
	for _, a := range opts.Agents {
		f.agents[a.ID] = &agentLive{pool: a.Pool, state: stLoggedOut}
	}
	return f
}

// Location returns the time zone the fold's days are in.
func (f *Fold) Location() *time.Location { return f.opts.Location }

// Events returns how many events were applied.
func (f *Fold) Events() int { return f.events }

// Last returns the time of the last event applied.
func (f *Fold) Last() time.Time { return f.last }

// Orphans returns how many queue events named a call the fold never saw join (the
// data began after it joined).
func (f *Fold) Orphans() int { return f.orphans }

func (f *Fold) dayKey(t time.Time) (string, int) {
	t = t.In(f.opts.Location)
	return t.Format(time.DateOnly), t.Hour()
}

func (f *Fold) day(key string) *day {
	d := f.days[key]
	if d == nil {
		d = &day{queues: map[string]*[24]Counts{}, agents: map[string]*AgentCounts{}, menu: map[menuKey]int{}}
		f.days[key] = d
	}
	return d
}

func (f *Fold) bucket(queue, dayKey string, hour int) *Counts {
	d := f.day(dayKey)
	q := d.queues[queue]
	if q == nil {
		q = new([24]Counts)
		d.queues[queue] = q
	}
	return &q[hour]
}

func (f *Fold) entryBucket(e *entry) *Counts { return f.bucket(e.queue, e.day, e.hour) }

func (f *Fold) agentDay(id, dayKey string) *AgentCounts {
	d := f.day(dayKey)
	a := d.agents[id]
	if a == nil {
		a = &AgentCounts{}
		d.agents[id] = a
	}
	return a
}

func (f *Fold) agent(id string) *agentLive {
	a := f.agents[id]
	if a == nil {
		a = &agentLive{state: -1}
		f.agents[id] = a
	}
	return a
}

func (f *Fold) withinOf(queue string) time.Duration {
	if w, ok := f.within[queue]; ok {
		return w
	}
	return DefaultWithin
}

// IsConsult reports whether call is a consult call's ACD id ("<call>-consultN").
func IsConsult(call string) bool {
	i := strings.LastIndex(call, "-consult")
	if i < 0 {
		return false
	}
	rest := call[i+len("-consult"):]
	if rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Apply folds one event. Events must come in log order.
func (f *Fold) Apply(ev *event.Event) {
	f.events++
	if ev.Time.After(f.last) {
		f.last = ev.Time
	}
	switch ev.Type {
	case event.CallCreated:
		dk, h := f.dayKey(ev.Time)
		f.day(dk).calls[h]++
	case event.TicketCreated:
		var w struct {
			ID          string `json:"id"`
			Queue       string `json:"queue"`
			Disposition string `json:"disposition"`
		}
		if json.Unmarshal(ev.Data, &w) == nil {
			f.orderQ[w.ID] = w.Queue
			dk, h := f.dayKey(ev.Time)
			b := f.bucket(w.Queue, dk, h)
			if w.Disposition == "dispatched" {
				b.WorkOrdersDispatched++
			} else {
				b.WorkOrdersDirect++
			}
		}
	case event.SurveyResult:
		if len(ev.Digits) == 1 && ev.Digits[0] >= '1' && ev.Digits[0] <= '3' {
			dk, h := f.dayKey(ev.Time)
			q := f.queueOf[ev.Call]
			if ev.File != "" { // a follow-up: the work order's queue
				q = f.orderQ[ev.File]
			}
			f.bucket(q, dk, h).Ratings[ev.Digits[0]-'0']++
		}
	case event.MenuInput:
		dk, _ := f.dayKey(ev.Time)
		f.day(dk).menu[menuKey{ev.Node, ev.Digits}]++
	case event.QueueJoined:
		restored := ev.Reason == event.JoinRestored
		if old := f.calls[ev.Call]; restored && old != nil && !old.left {
			return // a wait taken up again after a restart or a takeover: it goes on
		}
		dk, h := f.dayKey(ev.Time)
		e := &entry{call: ev.Call, queue: ev.Queue, day: dk, hour: h, joined: ev.Time, consult: IsConsult(ev.Call)}
		f.calls[ev.Call] = e
		if !e.consult {
			f.queueOf[ev.Call] = ev.Queue // for the call's survey, after it left the queue
		}
		b := f.entryBucket(e)
		if e.consult {
			b.Consults++
			return
		}
		if !restored { // offered when it first joined
			b.Offered++
		}
		b.Waiting++
	case event.CallbackScheduled:
		e := f.calls[ev.Call]
		if e == nil || e.left || e.consult {
			if e == nil {
				f.orphans++
			}
			return
		}
		if !e.callback {
			e.callback = true
			f.entryBucket(e).CallbacksScheduled++
		}
	case event.QueueOverflowed:
		e := f.calls[ev.Call]
		if e == nil {
			f.orphans++
			return
		}
		if !e.consult {
			f.entryBucket(e).Overflowed++
		}
	case event.QueueLeft:
		e := f.calls[ev.Call]
		if e == nil || e.left {
			f.orphans++
			return
		}
		e.left = true
		if e.consult {
			return
		}
		b := f.entryBucket(e)
		b.Waiting--
		wait := ev.Duration
		switch ev.Reason {
		case "answered":
			b.Answered++
			b.AnswerWait += wait
			b.answerHist.observe(answerBuckets, wait)
			if wait <= f.withinOf(e.queue) {
				b.AnsweredInTarget++
			}
			if e.callback {
				b.CallbacksMade++
			}
		case "abandoned":
			b.Abandoned++
			if wait < f.opts.ShortAbandon {
				b.ShortAbandoned++
			}
		case "timed_out", "full", "moved", "lost":
			// Left by rule, moved by a supervisor, or lost with a stopped engine.
			b.Exited++
		default:
			// Unknown: counted nowhere, so Check reports the day.
		}
	case event.CallTransferred:
		if e := f.calls[ev.Call]; e != nil && !e.consult {
			f.entryBucket(e).Transfers++
		}
	case event.CallEnded:
		if e := f.calls[ev.Call]; e != nil && e.left {
			delete(f.calls, ev.Call)
		}
		delete(f.queueOf, ev.Call)
	case event.OfferAccepted, event.OfferTimedOut, event.OfferRejected:
		a := f.agent(ev.Agent)
		dk, _ := f.dayKey(ev.Time)
		ac := f.agentDay(ev.Agent, dk)
		switch ev.Type {
		case event.OfferAccepted:
			a.call = f.calls[ev.Call]
			if IsConsult(ev.Call) {
				ac.Consults++
			} else {
				ac.Calls++
			}
		case event.OfferTimedOut:
			ac.Missed++
		default:
			ac.Rejected++
		}
	case event.AgentLogin:
		a := f.agent(ev.Agent)
		if ev.Pool != "" {
			a.pool = ev.Pool
		}
	case event.AgentState:
		s := stateIndex(ev.State)
		if s < 0 {
			return
		}
		a := f.agent(ev.Agent)
		f.closeStretch(ev.Agent, a, ev.Time)
		a.state, a.reason, a.since = s, ev.Reason, ev.Time
	}
}

// closeStretch counts agent a's current state from a.since to t.
func (f *Fold) closeStretch(id string, a *agentLive, t time.Time) {
	if a.state < 0 || a.since.IsZero() || !t.After(a.since) {
		return
	}
	d := t.Sub(a.since)
	f.splitDays(a.since, t, func(dk string, part time.Duration) {
		f.agentDay(id, dk).Time[a.state] += part
	})
	if e := a.call; e != nil && !e.consult {
		switch a.state {
		case stOnCall:
			b := f.entryBucket(e)
			b.Talk += d
			b.Talks++
			b.talkHist.observe(talkBuckets, d)
		case stWrapUp:
			b := f.entryBucket(e)
			b.WrapUp += d
			b.WrapUps++
		}
	}
}

// splitDays calls fn with each day's share of [from, to).
func (f *Fold) splitDays(from, to time.Time, fn func(dayKey string, d time.Duration)) {
	loc := f.opts.Location
	for from.Before(to) {
		l := from.In(loc)
		next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
		end := to
		if next.Before(end) {
			end = next
		}
		fn(l.Format(time.DateOnly), end.Sub(from))
		from = end
	}
}

// Violation is a day and queue whose figures do not reconcile.
type Violation struct {
	Day, Queue string
	Counts     Counts
	Problem    string
}

func (v Violation) String() string {
	c := v.Counts
	return fmt.Sprintf("%s %s: %s (offered %d, answered %d, abandoned %d, exited %d, waiting %d)",
		v.Day, v.Queue, v.Problem, c.Offered, c.Answered, c.Abandoned, c.Exited, c.Waiting)
}

// Check verifies, per day and queue, that offered = answered + abandoned + exited +
// waiting, that no count is negative, and that the in-target answers and short
// abandons are within their totals. It returns the violations, sorted.
func (f *Fold) Check() []Violation {
	var out []Violation
	for dk, d := range f.days {
		for q, hours := range d.queues {
			var c Counts
			for h := range hours {
				c.add(&hours[h])
			}
			var problems []string
			if c.Offered != c.Answered+c.Abandoned+c.Exited+c.Waiting {
				problems = append(problems, "offered != answered + abandoned + exited + waiting")
			}
			if c.Waiting < 0 {
				problems = append(problems, "negative waiting")
			}
			if c.AnsweredInTarget > c.Answered || c.ShortAbandoned > c.Abandoned || c.CallbacksMade > c.Answered {
				problems = append(problems, "a part exceeds its total")
			}
			for _, p := range problems {
				out = append(out, Violation{Day: dk, Queue: q, Counts: c, Problem: p})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		if out[i].Queue != out[j].Queue {
			return out[i].Queue < out[j].Queue
		}
		return out[i].Problem < out[j].Problem
	})
	return out
}
