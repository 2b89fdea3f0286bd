package call

// Overdue work orders: a dispatched work order that is not closed by the end of its
// deadline (working days on the calendar) is overdue. The supervisor page lists
// them (GET /api/v1/tickets?overdue=1); here they are counted for Prometheus at
// scrape time and each is logged once when it becomes overdue.

import (
	"context"
	"errors"
	"time"

	"github.com/hotline12345/hotline/ticket"

	"github.com/prometheus/client_golang/prometheus"
)

// overdueSweep is how often the work orders are checked for newly overdue ones.
const overdueSweep = time.Minute

// watchOverdue registers the work-order gauges (hotline_tickets_overdue,
// hotline_tickets{status}) and, until ctx ends, checks every minute on the
// manager's clock for work orders that became overdue, logging each once. It
// returns at once (the sweep runs on its own goroutine); without work orders it
// does nothing. Manager.Start calls it.
func (m *Manager) watchOverdue(ctx context.Context) {
	if m.book == nil {
		return
	}
	m.registerTicketMetrics()
	go m.sweepOverdue(ctx)
}

// registerTicketMetrics exports the work orders' figures, computed from the Book
// when Prometheus scrapes.
func (m *Manager) registerTicketMetrics() {
	reg := m.metrics.reg
	if reg == nil {
		return
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hotline_tickets_overdue",
			Help: "Work orders not closed whose deadline has passed.",
		}, func() float64 { return float64(len(m.book.Overdue(m.clock.Now()))) }),
		&ticketCollector{book: m.book, desc: prometheus.NewDesc("hotline_tickets",
			"Work orders in the book, by status.", []string{"status"}, nil)},
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) { // a second Start keeps the first registration
				m.log.Error("work-order metrics not registered", "error", err)
			}
		}
	}
}

// ticketCollector counts the work orders per status at scrape time.
type ticketCollector struct {
	book *ticket.Book
	desc *prometheus.Desc
}

// statuses are the work-order statuses, in a fixed order (bounded label values).
var statuses = []string{ticket.StatusOpen, ticket.StatusDispatched, ticket.StatusReplied, ticket.StatusClosed, ticket.StatusReopened}

func (c *ticketCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *ticketCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range statuses {
		_, n := c.book.List(ticket.Filter{Status: s, Limit: 1})
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), s)
	}
}

// sweepOverdue logs newly overdue work orders every overdueSweep until ctx ends.
func (m *Manager) sweepOverdue(ctx context.Context) {
	seen := map[string]time.Time{} // overdue at the last sweep: id -> deadline
	for {
		seen = m.logOverdue(seen)
		t := m.clock.NewTimer(overdueSweep)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// logOverdue logs each work order that is overdue now and was not at the last
// sweep (seen, by id with its deadline: a reopened order has a new deadline and is
// logged again when that one passes), and returns the overdue ones now. The first
// sweep after a start logs those already overdue.
func (m *Manager) logOverdue(seen map[string]time.Time) map[string]time.Time {
	now := m.clock.Now()
	over := m.book.Overdue(now)
	next := make(map[string]time.Time, len(over))
	for _, w := range over {
		next[w.ID] = w.Deadline
		if d, ok := seen[w.ID]; ok && d.Equal(w.Deadline) {
			continue
		}
		m.log.Warn("work order overdue", "ticket", w.ID, "status", w.Status, "category", w.Category,
			"department", w.Department, "agent_id", w.Agent, "deadline", w.Deadline,
			"overdue_by", now.Sub(w.Deadline).Round(time.Minute))
	}
	return next
}
