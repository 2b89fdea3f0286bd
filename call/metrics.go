package call

import (
	"sync/atomic"

	"github.com/hotline12345/hotline/ticket"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the call counters. Results are a fixed set: completed (the menu said
// goodbye), routed (held with no ACD), answered (talked to an agent),
// abandoned_in_menu, abandoned_in_queue, callback (hung up to be called back),
// callback_failed (the citizen did not answer the callback),
// cancelled, rejected, not_found, failed, lost (at a restart).
type Metrics struct {
	results    *prometheus.CounterVec
	active     atomic.Int64
	total      atomic.Int64 // calls ever started
	recordings *prometheus.CounterVec
	recStarted prometheus.Counter
	recDeleted prometheus.Counter
	hooks      *prometheus.CounterVec
	reg        prometheus.Registerer
}

// NewMetrics registers the call metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_calls_total", Help: "Calls that ended, by result.",
		}, []string{"result"}),
		recordings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_recordings_total", Help: "Recordings finished, by state (complete, repaired, failed).",
		}, []string{"state"}),
		recStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_recordings_started_total", Help: "Recordings started.",
		}),
		recDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_recordings_deleted_total", Help: "Recordings deleted by the retention sweep.",
		}),
	}
	m.hooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotline_hook_deliveries_total", Help: "Hook delivery attempts, by sink and result (delivered, failed, dead).",
	}, []string{"sink", "result"})
	m.reg = reg
	for _, s := range []string{"complete", "repaired", "failed"} {
		m.recordings.WithLabelValues(s)
	}
	if reg != nil {
		reg.MustRegister(m.results, m.recordings, m.recStarted, m.recDeleted, m.hooks, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hotline_calls_active", Help: "Calls between INVITE and hang-up.",
		}, func() float64 { return float64(m.active.Load()) }))
	}
	return m
}

func (m *Metrics) recording(state string) {
	switch state {
	case "complete", "repaired", "failed":
		m.recordings.WithLabelValues(state).Inc()
	}
}
func (m *Metrics) recordingStarted()       { m.recStarted.Inc() }
func (m *Metrics) recordingsDeleted(n int) { m.recDeleted.Add(float64(n)) }

func (m *Metrics) result(r string)  { m.results.WithLabelValues(r).Inc() }
func (m *Metrics) started()         { m.active.Add(1) }
func (m *Metrics) finished()        { m.active.Add(-1) }
func (m *Metrics) activeCount() int { return int(m.active.Load()) }

// hookDelivery counts one hook delivery attempt (ticket.HooksOptions.OnDelivery).
func (m *Metrics) hookDelivery(r ticket.DeliveryReport) {
	res := "delivered"
	switch {
	case r.Dead:
		res = "dead"
	case r.Err != nil:
		res = "failed"
	}
	m.hooks.WithLabelValues(r.Sink, res).Inc()
}

// hookBacklog exports the undelivered events per sink.
func (m *Metrics) hookBacklog(backlog func() map[string]int) {
	if m.reg == nil {
		return
	}
	m.reg.MustRegister(&backlogCollector{backlog: backlog, desc: prometheus.NewDesc("hotline_hook_backlog",
		"Events not yet delivered, by sink.", []string{"sink"}, nil)})
}

type backlogCollector struct {
	backlog func() map[string]int
	desc    *prometheus.Desc
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	for sink, n := range c.backlog() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), sink)
	}
}
