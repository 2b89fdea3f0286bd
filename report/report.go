package report

import (
	"fmt"
	"sort"
	"time"
)

// Periods a report can roll up to.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"  // ISO weeks, Monday to Sunday
	PeriodMonth = "month" // calendar months
)

// NotAvailable lists the figures that have no events yet; their columns are kept and
// show "n/a". (Work orders and satisfaction have their events now: none is left.)
var NotAvailable = []string{}

// Report is the figures of a range of days, rolled up by period.
type Report struct {
	From    string    `json:"from"` // first day, YYYY-MM-DD
	To      string    `json:"to"`   // last day, inclusive
	Period  string    `json:"period"`
	Zone    string    `json:"zone"`
	AsOf    time.Time `json:"as_of"` // open agent states are counted up to here
	Events  int       `json:"events"`
	Periods []Period  `json:"periods"`
	// ShortAbandonSeconds is the short-abandon threshold.
	ShortAbandonSeconds float64 `json:"short_abandon_seconds"`
	// NotAvailable names the columns without data (always null / n/a).
	NotAvailable []string `json:"not_available"`
	// Violations are the reconciliation failures of the range's days (none expected).
	Violations []string `json:"violations"`
}

// Period is one day, ISO week or month of a report (clipped to the report's range).
type Period struct {
	Label  string     `json:"label"` // 2025-03-01, 2025-W09, 2025-03
	From   string     `json:"from"`
	To     string     `json:"to"`
	Calls  int        `json:"calls"` // calls that reached the engine (call.created)
	Total  QueueRow   `json:"total"` // all queues
	Queues []QueueRow `json:"queues"`
	Hours  []HourRow  `json:"hours"` // 24 rows, all queues, by hour of joining
	Agents []AgentRow `json:"agents"`
	Menu   []MenuRow  `json:"menu"`
}

// QueueRow is one queue's figures over a period (or an hour). Rates and averages
// are nil when undefined (nothing to divide by); times are seconds.
type QueueRow struct {
	Queue              string   `json:"queue"`
	Offered            int      `json:"offered"`
	Answered           int      `json:"answered"`
	AnswerRate         *float64 `json:"answer_rate"`
	AnsweredInTarget   int      `json:"answered_in_target"`
	ServiceLevel       *float64 `json:"service_level"`
	TargetPercent      int      `json:"target_percent,omitempty"`
	TargetSeconds      float64  `json:"target_seconds,omitempty"`
	Abandoned          int      `json:"abandoned"`
	ShortAbandoned     int      `json:"short_abandoned"`
	Overflowed         int      `json:"overflowed"`
	Exited             int      `json:"exited"`
	Waiting            int      `json:"waiting"`
	Transfers          int      `json:"transfers"`
	Consults           int      `json:"consults"`
	CallbacksScheduled int      `json:"callbacks_scheduled"`
	CallbacksMade      int      `json:"callbacks_made"`
	AverageAnswer      *float64 `json:"average_answer_seconds"`
	AverageTalk        *float64 `json:"average_talk_seconds"`
	AverageWrapUp      *float64 `json:"average_wrap_up_seconds"`
	// WorkOrdersDirect and WorkOrdersDispatched are the shares of the work orders
	// made that were answered directly and dispatched (null without work orders);
	// WorkOrders is how many.
	WorkOrders           int      `json:"work_orders"`
	WorkOrdersDirect     *float64 `json:"work_orders_direct"`
	WorkOrdersDispatched *float64 `json:"work_orders_dispatched"`
	// Satisfaction is the share of survey answers that were satisfied or basically
	// satisfied (null without answers); Ratings how many answers there were.
	Ratings      int      `json:"ratings"`
	Satisfaction *float64 `json:"satisfaction"`
}

// HourRow is the figures of one hour of the day (all queues, summed over the
// period's days).
type HourRow struct {
	Hour  int `json:"hour"`
	Calls int `json:"calls"`
	QueueRow
}

// AgentRow is one agent's figures over a period; times are seconds.
type AgentRow struct {
	Agent       string   `json:"agent"`
	Pool        string   `json:"pool,omitempty"`
	Calls       int      `json:"calls"`
	Consults    int      `json:"consults"`
	Missed      int      `json:"missed"`
	Rejected    int      `json:"rejected"`
	LoggedIn    float64  `json:"logged_in_seconds"`
	Ready       float64  `json:"ready_seconds"`
	NotReady    float64  `json:"not_ready_seconds"`
	Reserved    float64  `json:"reserved_seconds"`
	Talk        float64  `json:"talk_seconds"`
	WrapUp      float64  `json:"wrap_up_seconds"`
	AverageTalk *float64 `json:"average_talk_seconds"`
	Occupancy   *float64 `json:"occupancy"`
}

// MenuRow counts one choice (digits) at one menu node.
type MenuRow struct {
	Node   string `json:"node"`
	Digits string `json:"digits"`
	Count  int    `json:"count"`
}

func ptr(v float64) *float64 { return &v }

func (f *Fold) queueRow(name string, c *Counts) QueueRow {
	r := QueueRow{
		Queue: name, Offered: c.Offered, Answered: c.Answered, AnsweredInTarget: c.AnsweredInTarget,
		Abandoned: c.Abandoned, ShortAbandoned: c.ShortAbandoned, Overflowed: c.Overflowed,
		Exited: c.Exited, Waiting: c.Waiting, Transfers: c.Transfers, Consults: c.Consults,
		CallbacksScheduled: c.CallbacksScheduled, CallbacksMade: c.CallbacksMade,
	}
	if v, ok := c.AnswerRate(); ok {
		r.AnswerRate = ptr(v)
	}
	if v, ok := c.ServiceLevel(); ok {
		r.ServiceLevel = ptr(v)
	}
	if c.Answered > 0 {
		r.AverageAnswer = ptr(avg(c.AnswerWait, c.Answered).Seconds())
	}
	if c.Talks > 0 {
		r.AverageTalk = ptr(avg(c.Talk, c.Talks).Seconds())
	}
	if c.WrapUps > 0 {
		r.AverageWrapUp = ptr(avg(c.WrapUp, c.WrapUps).Seconds())
	}
	if n := c.WorkOrdersDirect + c.WorkOrdersDispatched; n > 0 {
		r.WorkOrders = n
		r.WorkOrdersDirect = ptr(float64(c.WorkOrdersDirect) / float64(n))
		r.WorkOrdersDispatched = ptr(float64(c.WorkOrdersDispatched) / float64(n))
	}
	if n := c.Ratings[1] + c.Ratings[2] + c.Ratings[3]; n > 0 {
		r.Ratings = n
		r.Satisfaction = ptr(float64(c.Ratings[1]+c.Ratings[2]) / float64(n))
	}
	if name != "" {
		r.TargetPercent, r.TargetSeconds = f.target(name)
	}
	return r
}

func (f *Fold) target(queue string) (int, float64) {
	for _, q := range f.opts.Queues {
		if q.Name == queue {
			p := q.Percent
			if p <= 0 {
				p = DefaultTargetPercent
			}
			return p, f.withinOf(queue).Seconds()
		}
	}
	return DefaultTargetPercent, f.withinOf(queue).Seconds()
}

// periodLabel returns the label of the period holding day t, and its first and last day.
func periodLabel(t time.Time, period string) (label string, first, last time.Time) {
	switch period {
	case PeriodWeek:
		y, w := t.ISOWeek()
		wd := (int(t.Weekday()) + 6) % 7 // Monday 0
		first = t.AddDate(0, 0, -wd)
		return fmt.Sprintf("%04d-W%02d", y, w), first, first.AddDate(0, 0, 6)
	case PeriodMonth:
		first = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
		return t.Format("2006-01"), first, first.AddDate(0, 1, -1)
	default:
		return t.Format(time.DateOnly), t, t
	}
}

// ParseDay parses a YYYY-MM-DD date as midnight in loc.
func ParseDay(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD: %w", s, err)
	}
	return t, nil
}

// Report builds the report of the days from (inclusive) to to (inclusive), taken as
// dates in the fold's zone, rolled up by period (day, week or month; "" is day).
// Agents still in a state are counted up to asOf (clipped to the range); a zero asOf
// means the last event's time.
func (f *Fold) Report(from, to time.Time, period string, asOf time.Time) (*Report, error) {
	loc := f.opts.Location
	switch period {
	case "":
		period = PeriodDay
	case PeriodDay, PeriodWeek, PeriodMonth:
	default:
		return nil, fmt.Errorf("report: period %q: want day, week or month", period)
	}
	from = midnight(from.In(loc))
	to = midnight(to.In(loc))
	if to.Before(from) {
		return nil, fmt.Errorf("report: the range ends (%s) before it starts (%s)", to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	if asOf.IsZero() {
		asOf = f.last
	}
	rep := &Report{
		From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Period: period, Zone: loc.String(),
		AsOf: asOf, Events: f.events, ShortAbandonSeconds: f.opts.ShortAbandon.Seconds(),
		NotAvailable: NotAvailable, Violations: []string{},
	}
	// The open stretches of agents, split by day, up to asOf.
	open := map[string]map[string]*AgentCounts{}
	for id, a := range f.agents {
		if a.state < 0 || a.since.IsZero() || !asOf.After(a.since) {
			continue
		}
		f.splitDays(a.since, asOf, func(dk string, d time.Duration) {
			m := open[dk]
			if m == nil {
				m = map[string]*AgentCounts{}
				open[dk] = m
			}
			ac := m[id]
			if ac == nil {
				ac = &AgentCounts{}
				m[id] = ac
			}
			ac.Time[a.state] += d
		})
	}
	violations := map[string][]Violation{}
	for _, v := range f.Check() {
		violations[v.Day] = append(violations[v.Day], v)
	}

	type acc struct {
		p      *Period
		queues map[string]*Counts
		hours  [24]Counts
		calls  [24]int
		agents map[string]*AgentCounts
		menu   map[menuKey]int
	}
	var cur *acc
	flush := func() {
		if cur == nil {
			return
		}
		rep.Periods = append(rep.Periods, f.finish(cur.p, cur.queues, &cur.hours, &cur.calls, cur.agents, cur.menu))
		cur = nil
	}
	for t := from; !t.After(to); t = t.AddDate(0, 0, 1) {
		label, first, last := periodLabel(t, period)
		if cur == nil || cur.p.Label != label {
			flush()
			if first.Before(from) {
				first = from
			}
			if last.After(to) {
				last = to
			}
			cur = &acc{p: &Period{Label: label, From: first.Format(time.DateOnly), To: last.Format(time.DateOnly)},
				queues: map[string]*Counts{}, agents: map[string]*AgentCounts{}, menu: map[menuKey]int{}}
			for _, q := range f.opts.Queues {
				cur.queues[q.Name] = &Counts{}
			}
		}
		dk := t.Format(time.DateOnly)
		for _, v := range violations[dk] {
			rep.Violations = append(rep.Violations, v.String())
		}
		d := f.days[dk]
		if d != nil {
			for h, n := range d.calls {
				cur.p.Calls += n
				cur.calls[h] += n
			}
			for q, hours := range d.queues {
				c := cur.queues[q]
				if c == nil {
					c = &Counts{}
					cur.queues[q] = c
				}
				for h := range hours {
					c.add(&hours[h])
					cur.hours[h].add(&hours[h])
				}
			}
			for id, a := range d.agents {
				ac := cur.agents[id]
				if ac == nil {
					ac = &AgentCounts{}
					cur.agents[id] = ac
				}
				ac.add(a)
			}
			for k, n := range d.menu {
				cur.menu[k] += n
			}
		}
		for id, a := range open[dk] {
			ac := cur.agents[id]
			if ac == nil {
				ac = &AgentCounts{}
				cur.agents[id] = ac
			}
			ac.add(a)
		}
	}
	flush()
	return rep, nil
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

func (f *Fold) finish(p *Period, queues map[string]*Counts, hours *[24]Counts, calls *[24]int, agents map[string]*AgentCounts, menu map[menuKey]int) Period {
	names := make([]string, 0, len(queues))
	for n := range queues {
		names = append(names, n)
	}
	sort.Strings(names)
	var total Counts
	p.Queues = []QueueRow{}
	for _, n := range names {
		total.add(queues[n])
		p.Queues = append(p.Queues, f.queueRow(n, queues[n]))
	}
	p.Total = f.queueRow("", &total)
	p.Total.Queue = "all"
	p.Hours = make([]HourRow, 24)
	for h := range hours {
		p.Hours[h] = HourRow{Hour: h, Calls: calls[h], QueueRow: f.queueRow("", &hours[h])}
	}
	ids := make([]string, 0, len(agents))
	for id := range agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	p.Agents = []AgentRow{}
	for _, id := range ids {
		a := agents[id]
		r := AgentRow{Agent: id, Calls: a.Calls, Consults: a.Consults, Missed: a.Missed, Rejected: a.Rejected,
			LoggedIn: a.LoggedIn().Seconds(), Ready: a.Time[stReady].Seconds(), NotReady: a.Time[stNotReady].Seconds(),
			Reserved: a.Time[stReserved].Seconds(), Talk: a.Time[stOnCall].Seconds(), WrapUp: a.Time[stWrapUp].Seconds()}
		if al := f.agents[id]; al != nil {
			r.Pool = al.pool
		}
		if n := a.Calls + a.Consults; n > 0 {
			r.AverageTalk = ptr(avg(a.Time[stOnCall], n).Seconds())
		}
		if v, ok := a.Occupancy(); ok {
			r.Occupancy = ptr(v)
		}
		p.Agents = append(p.Agents, r)
	}
	p.Menu = []MenuRow{}
	for k, n := range menu {
		p.Menu = append(p.Menu, MenuRow{Node: k.node, Digits: k.digits, Count: n})
	}
	sort.Slice(p.Menu, func(i, j int) bool {
		if p.Menu[i].Node != p.Menu[j].Node {
			return p.Menu[i].Node < p.Menu[j].Node
		}
		return p.Menu[i].Digits < p.Menu[j].Digits
	})
	return *p
}
