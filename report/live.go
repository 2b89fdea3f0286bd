package report

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
	"github.com/prometheus/client_golang/prometheus"
)

// FoldJournal folds the journal of a data folder (dir/events.journal), read without
// its lock (store.ReadJournal), so it works on a live engine's folder too. progress,
// when set, is called every 65,536 events with the count so far and the day of the
// last event read.
func FoldJournal(ctx context.Context, dir string, opts Options, progress func(events int, day string)) (*Fold, store.ReadStats, error) {
	f := NewFold(opts)
	st, err := store.ReadJournal(ctx, dir, func(ev *event.Event) error {
		f.Apply(ev)
		if progress != nil && f.events%65536 == 0 {
			dk, _ := f.dayKey(ev.Time)
			progress(f.events, dk)
		}
		return nil
	})
	if err != nil {
		return nil, st, fmt.Errorf("report: %w", err)
	}
	return f, st, nil
}

// LiveOptions tune Attach beyond the fold's Options.
type LiveOptions struct {
	Options
	// StuckAfter is, per agent state, how long an agent may stay in it before
	// hotline_agents_stuck counts them. nil means DefaultStuckAfter; a state left out
	// is never stuck.
	StuckAfter map[string]time.Duration
	// WaitAlert is the wait past which a caller counts in
	// hotline_queue_callers_over_threshold; 0 means the queue's service-level time.
	WaitAlert time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// DefaultStuckAfter are the default thresholds of hotline_agents_stuck.
var DefaultStuckAfter = map[string]time.Duration{
	"reserved":  time.Minute,
	"on-call":   30 * time.Minute,
	"wrap-up":   5 * time.Minute,
	"not-ready": 30 * time.Minute,
}

// Live is a Fold kept up to date from a store, exported as Prometheus metrics (it is a
// prometheus.Collector) and serving reports. It is safe for concurrent use.
type Live struct {
	opts   LiveOptions
	mu     sync.Mutex
	fold   *Fold
	cancel func()

	offered, answered, abandoned, overflowed *prometheus.Desc
	waiting, longest, sl, atRisk, over       *prometheus.Desc
	agents, stuck                            *prometheus.Desc
	answerH, talkH                           *prometheus.Desc
}

// NewLive returns a Live over an empty fold; feed it with Apply (Attach does).
func NewLive(opts LiveOptions) *Live {
	if opts.StuckAfter == nil {
		opts.StuckAfter = DefaultStuckAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := []string{"queue"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Live{
		opts:       opts,
		fold:       NewFold(opts.Options),
		offered:    d("hotline_queue_calls_offered_total", "Calls that joined the queue today (resets at midnight in the report time zone; consults not counted).", q),
		answered:   d("hotline_queue_calls_answered_total", "Calls of today answered by an agent.", q),
		abandoned:  d("hotline_queue_calls_abandoned_total", "Calls of today whose caller hung up while waiting.", q),
		overflowed: d("hotline_queue_calls_overflowed_total", "Calls of today made eligible for the backup pool.", q),
		waiting:    d("hotline_queue_waiting", "Calls waiting in the queue now (callback requests included).", q),
		longest:    d("hotline_queue_longest_wait_seconds", "How long the longest-waiting call has waited.", q),
		sl:         d("hotline_queue_service_level", "Today's service level: answered within target / (answered + abandoned - short abandons); absent before the first such call.", q),
		atRisk:     d("hotline_queue_service_level_at_risk", "1 when today's service level is below the queue's target.", q),
		over:       d("hotline_queue_callers_over_threshold", "Callers waiting longer than the alert threshold.", q),
		agents:     d("hotline_agents", "Agents by pool and state.", []string{"pool", "state"}),
		stuck:      d("hotline_agents_stuck", "Agents longer than the threshold in their current state.", []string{"state"}),
		answerH:    d("hotline_queue_answer_seconds", "Wait of today's answered calls.", q),
		talkH:      d("hotline_queue_talk_seconds", "Agents' talk time per call of today.", q),
	}
}

// Attach folds every event of st (its journal, replayed) and then each new one, and
// registers the metrics on reg (nil: not registered). Close stops the following.
func Attach(st *store.Store, reg prometheus.Registerer, opts LiveOptions) (*Live, error) {
	l := NewLive(opts)
	cancel, err := st.Follow(context.Background(), 0, l.Apply)
	if err != nil {
		return nil, fmt.Errorf("report: attach to the store: %w", err)
	}
	l.cancel = cancel
	if reg != nil {
		if err := reg.Register(l); err != nil {
			cancel()
			return nil, fmt.Errorf("report: register metrics: %w", err)
		}
	}
	return l, nil
}

// Apply folds one event.
func (l *Live) Apply(ev *event.Event) {
	l.mu.Lock()
	l.fold.Apply(ev)
	l.mu.Unlock()
}

// Close stops following the store. It is safe to call more than once.
func (l *Live) Close() {
	if l.cancel != nil {
		l.cancel()
	}
}

// Check returns the fold's reconciliation violations.
func (l *Live) Check() []Violation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fold.Check()
}

// Report builds the report of the days from to to (dates in the report's zone) by
// period, with agents' open states counted up to now. It satisfies web.Reports.
func (l *Live) Report(ctx context.Context, from, to time.Time, period string) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fold.Report(from, to, period, l.opts.Now())
}

// Location returns the report's time zone.
func (l *Live) Location() *time.Location { return l.fold.Location() }

// Today is a queue's figures for the current day, as the metrics export them.
type Today struct {
	Counts
	Waiting     int           // calls waiting now, of any day
	LongestWait time.Duration // of the calls waiting now
	Over        int           // callers waiting past the alert threshold
}

// Today returns every queue's figures of the current day and its waiting calls now.
func (l *Live) Today() map[string]Today {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.today(l.opts.Now())
}

func (l *Live) today(now time.Time) map[string]Today {
	f := l.fold
	out := map[string]Today{}
	for _, q := range f.opts.Queues {
		out[q.Name] = Today{}
	}
	dk, _ := f.dayKey(now)
	if d := f.days[dk]; d != nil {
		for q, hours := range d.queues {
			t := out[q]
			for h := range hours {
				t.Counts.add(&hours[h])
			}
			t.Counts.Waiting = 0 // replaced by every day's waiting calls below
			out[q] = t
		}
	}
	for _, e := range f.calls {
		if e.left || e.consult {
			continue
		}
		t := out[e.queue]
		t.Waiting++
		w := now.Sub(e.joined)
		if w > t.LongestWait {
			t.LongestWait = w
		}
		alert := l.opts.WaitAlert
		if alert <= 0 {
			alert = f.withinOf(e.queue)
		}
		if w > alert {
			t.Over++
		}
		out[e.queue] = t
	}
	return out
}

// Describe sends the metrics' descriptions.
func (l *Live) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{l.offered, l.answered, l.abandoned, l.overflowed, l.waiting, l.longest,
		l.sl, l.atRisk, l.over, l.agents, l.stuck, l.answerH, l.talkH} {
		ch <- d
	}
}

// Collect sends the current values.
func (l *Live) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	f := l.fold
	today := l.today(now)
	names := make([]string, 0, len(today))
	for n := range today {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := today[n]
		c := &t.Counts
		ch <- prometheus.MustNewConstMetric(l.offered, prometheus.CounterValue, float64(c.Offered), n)
		ch <- prometheus.MustNewConstMetric(l.answered, prometheus.CounterValue, float64(c.Answered), n)
		ch <- prometheus.MustNewConstMetric(l.abandoned, prometheus.CounterValue, float64(c.Abandoned), n)
		ch <- prometheus.MustNewConstMetric(l.overflowed, prometheus.CounterValue, float64(c.Overflowed), n)
		ch <- prometheus.MustNewConstMetric(l.waiting, prometheus.GaugeValue, float64(t.Waiting), n)
		ch <- prometheus.MustNewConstMetric(l.longest, prometheus.GaugeValue, t.LongestWait.Seconds(), n)
		ch <- prometheus.MustNewConstMetric(l.over, prometheus.GaugeValue, float64(t.Over), n)
		risk := 0.0
		if sl, ok := c.ServiceLevel(); ok {
			ch <- prometheus.MustNewConstMetric(l.sl, prometheus.GaugeValue, sl, n)
			p, _ := f.target(n)
			if sl*100 < float64(p) {
				risk = 1
			}
		}
		ch <- prometheus.MustNewConstMetric(l.atRisk, prometheus.GaugeValue, risk, n)
		ch <- histogram(l.answerH, answerBuckets, &c.answerHist, c.AnswerWait, n)
		ch <- histogram(l.talkH, talkBuckets, &c.talkHist, c.Talk, n)
	}
	type ps struct{ pool, state string }
	byPS := map[ps]int{}
	stuck := map[string]int{}
	for s := range l.opts.StuckAfter {
		stuck[s] = 0
	}
	for _, a := range f.agents {
		state := "logged-out"
		if a.state >= 0 {
			state = states[a.state]
		}
		pool := a.pool
		if pool == "" {
			pool = "primary"
		}
		byPS[ps{pool, state}]++
		if lim, ok := l.opts.StuckAfter[state]; ok && a.state >= 0 && !a.since.IsZero() && now.Sub(a.since) > lim {
			stuck[state]++
		}
	}
	for _, pool := range []string{"primary", "backup"} {
		for _, s := range states {
			k := ps{pool, s}
			ch <- prometheus.MustNewConstMetric(l.agents, prometheus.GaugeValue, float64(byPS[k]), pool, s)
			delete(byPS, k)
		}
	}
	for k, n := range byPS { // pools other than the two (bounded by the config)
		ch <- prometheus.MustNewConstMetric(l.agents, prometheus.GaugeValue, float64(n), k.pool, k.state)
	}
	for s, n := range stuck {
		ch <- prometheus.MustNewConstMetric(l.stuck, prometheus.GaugeValue, float64(n), s)
	}
}

func histogram(d *prometheus.Desc, bounds []float64, h *hist, sum time.Duration, label string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += h[i]
		buckets[b] = cum
	}
	cum += h[len(bounds)]
	return prometheus.MustNewConstHistogram(d, cum, sum.Seconds(), buckets, label)
}
