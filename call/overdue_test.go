package call

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/ticket"

	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log destination the sweep writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gauge reads one gauge (with the label pair, when given) from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string, label ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(label); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == label[i] && lp.GetValue() == label[i+1]
				}
				if !found {
					continue metrics
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v among the metrics", name, label)
	return 0
}

// TestOverdueWorkOrders: a complaint dispatched on a Friday has until the end of
// the third working day (Wednesday). At Thursday 00:00 the sweep, a minute at a
// time on the manager's clock, logs it once as overdue and the gauge counts it;
// later sweeps do not log it again; closing it takes it off the gauge; a direct
// work order never becomes overdue.
func TestOverdueWorkOrders(t *testing.T) {
	start := time.Date(2026, 11, 27, 15, 0, 0, 0, cst) // Friday
	fc := clock.NewFake(start)
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	m := &Manager{clock: fc, metrics: NewMetrics(reg), log: slog.New(slog.NewTextHandler(logs, nil)),
		book: ticket.NewBook(ticket.BookOptions{Departments: []string{"housing"}, Calendar: ticket.Calendar{Loc: cst}, Clock: fc})}
	w, err := m.book.Create(ticket.WorkOrder{Agent: "1022", Category: ticket.CategoryComplaint,
		Disposition: ticket.DispositionDispatched, Department: "housing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.book.Create(ticket.WorkOrder{Agent: "1022", Category: ticket.CategoryConsultation, Disposition: ticket.DispositionDirect}); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 3, 0, 0, 0, 0, cst).Add(-time.Nanosecond); !w.Deadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", w.Deadline, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	armed := fc.TimerCreated()
	m.watchOverdue(ctx)
	waitTimer(t, armed, nil)  // the first sweep is done
	m.registerTicketMetrics() // a second start keeps the first registration (no panic)

	count := func() int { return strings.Count(logs.String(), `msg="work order overdue"`) }
	if got := gauge(t, reg, "hotline_tickets_overdue"); got != 0 || count() != 0 {
		t.Fatalf("before the deadline: gauge %v, %d log lines; want none", got, count())
	}
	if got := gauge(t, reg, "hotline_tickets", "status", "open"); got != 1 {
		t.Errorf(`hotline_tickets{status="open"} = %v, want 1`, got)
	}
	if got := gauge(t, reg, "hotline_tickets", "status", "closed"); got != 1 {
		t.Errorf(`hotline_tickets{status="closed"} = %v, want 1 (the direct one)`, got)
	}
	sweep := func(d time.Duration) {
		t.Helper()
		armed := fc.TimerCreated()
		fc.Advance(d)
		waitTimer(t, armed, nil)
	}
	sweep(5*24*time.Hour + 9*time.Hour) // Thursday 00:00
	if got := gauge(t, reg, "hotline_tickets_overdue"); got != 1 {
		t.Errorf("after the deadline: hotline_tickets_overdue = %v, want 1", got)
	}
	if count() != 1 || !strings.Contains(logs.String(), "ticket="+w.ID) || !strings.Contains(logs.String(), "overdue_by=0s") {
		t.Fatalf("log after the deadline, want one overdue line for %s:\n%s", w.ID, logs.String())
	}
	for range 3 { // the next sweeps: nothing new
		sweep(overdueSweep)
	}
	if count() != 1 {
		t.Errorf("the overdue work order was logged %d times, want once:\n%s", count(), logs.String())
	}
	if _, err := m.book.SetStatus(w.ID, ticket.StatusClosed, "housing", ""); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg, "hotline_tickets_overdue"); got != 0 {
		t.Errorf("after closing it: hotline_tickets_overdue = %v, want 0", got)
	}
	// Reopened: a new deadline (three working days from Thursday: the next
	// Tuesday); when that passes, it is logged again.
	if _, err := m.book.SetStatus(w.ID, ticket.StatusReopened, "citizen", ""); err != nil {
		t.Fatal(err)
	}
	sweep(overdueSweep)
	if count() != 1 {
		t.Errorf("reopened, before its new deadline: logged %d times, want still once", count())
	}
	sweep(6 * 24 * time.Hour)
	if count() != 2 || gauge(t, reg, "hotline_tickets_overdue") != 1 {
		t.Errorf("reopened and overdue again: %d log lines (want 2), gauge %v (want 1)", count(), gauge(t, reg, "hotline_tickets_overdue"))
	}
}
