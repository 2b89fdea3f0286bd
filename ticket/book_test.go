package ticket

import (
	"errors"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
)

func newTestBook(t *testing.T) (*Book, *clock.Fake) {
	t.Helper()
	c := loadCal(t)
	fc := clock.NewFake(time.Date(2026, 11, 27, 15, 0, 0, 0, c.Loc)) // a Friday
	return NewBook(BookOptions{Calendar: c, Departments: []string{"water", "roads"}, Clock: fc}), fc
}

func TestBookCreate(t *testing.T) {
	b, _ := newTestBook(t)
	d, err := b.Create(WorkOrder{Call: "c1", Caller: "13800000000", Agent: "a1", Category: CategoryConsultation, Disposition: DispositionDirect, Summary: "opening hours", MenuPath: []string{"1", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "WO20261127-0001" || d.Digits() != "202611270001" || d.Status != StatusClosed || !d.Deadline.IsZero() {
		t.Fatalf("direct: %+v", d)
	}
	x, err := b.Create(WorkOrder{Call: "c2", Category: CategoryComplaint, Disposition: DispositionDispatched, Department: "water"})
	if err != nil {
		t.Fatal(err)
	}
	wantDL := time.Date(2026, 12, 2, 23, 59, 59, 999999999, b.cal.Loc) // complaint: 3 working days from Friday
	if x.ID != "WO20261127-0002" || x.Status != StatusOpen || !x.Deadline.Equal(wantDL) {
		t.Fatalf("dispatched: %+v", x)
	}
	for _, bad := range []WorkOrder{
		{Category: "gossip", Disposition: DispositionDirect},
		{Category: CategoryHelp, Disposition: "later"},
		{Category: CategoryHelp, Disposition: DispositionDispatched, Department: "police"},
		{Category: CategoryHelp, Disposition: DispositionDispatched},
	} {
		if _, err := b.Create(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	for _, in := range []string{"202611270002", "WO20261127-0002", "2026 1127 0002"} {
		if got, err := b.ByDigits(in); err != nil || got.ID != x.ID {
			t.Errorf("ByDigits(%q) = %v, %v", in, got.ID, err)
		}
	}
	if _, err := b.ByDigits("202611270009"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown digits: %v", err)
	}
	if _, err := b.ByDigits(""); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty digits: %v", err)
	}
}

func TestBookTransitions(t *testing.T) {
	cases := []struct {
		name  string
		start string // disposition
		steps []string
		bad   string // a last step that must be refused ("" none)
	}{
		{"full cycle", DispositionDispatched, []string{StatusDispatched, StatusReplied, StatusClosed}, ""},
		{"reopen and again", DispositionDispatched, []string{StatusDispatched, StatusReplied, StatusClosed, StatusReopened, StatusDispatched, StatusReplied, StatusClosed}, ""},
		{"reply rejected", DispositionDispatched, []string{StatusDispatched, StatusReplied, StatusDispatched, StatusReplied, StatusClosed}, ""},
		{"open closed directly", DispositionDispatched, []string{StatusClosed}, ""},
		{"open cannot reply", DispositionDispatched, nil, StatusReplied},
		{"open cannot reopen", DispositionDispatched, nil, StatusReopened},
		{"dispatched cannot close", DispositionDispatched, []string{StatusDispatched}, StatusClosed},
		{"same status refused", DispositionDispatched, []string{StatusDispatched}, StatusDispatched},
		{"direct is closed", DispositionDirect, nil, StatusReplied},
		{"direct reopened", DispositionDirect, []string{StatusReopened, StatusClosed}, ""},
		{"direct reopened cannot dispatch without department", DispositionDirect, []string{StatusReopened}, StatusDispatched},
		{"unknown status", DispositionDispatched, nil, "lost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, fc := newTestBook(t)
			w := WorkOrder{Category: CategoryHelp, Disposition: tc.start}
			if tc.start == DispositionDispatched {
				w.Department = "roads"
			}
			w, err := b.Create(w)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				fc.Advance(time.Hour)
				got, err := b.SetStatus(w.ID, s, "dept-system", "note "+s)
				if err != nil {
					t.Fatalf("-> %s: %v", s, err)
				}
				if got.Status != s {
					t.Fatalf("status %s, want %s", got.Status, s)
				}
			}
			if tc.bad != "" {
				if _, err := b.SetStatus(w.ID, tc.bad, "x", ""); err == nil {
					t.Fatalf("-> %s accepted", tc.bad)
				}
			}
			got, _ := b.Get(w.ID)
			if len(got.History) != 1+len(tc.steps) || got.History[len(got.History)-1].To != got.Status {
				t.Fatalf("history %+v", got.History)
			}
		})
	}
	b, _ := newTestBook(t)
	if _, err := b.SetStatus("WO1", StatusClosed, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	// A reopened direct order can be dispatched to a department from the directory.
	w, _ := b.Create(WorkOrder{Category: CategoryHelp, Disposition: DispositionDirect})
	if _, err := b.SetStatus(w.ID, StatusReopened, "citizen", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Dispatch(w.ID, "police", "a1", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("dispatch outside the directory: %v", err)
	}
	got, err := b.Dispatch(w.ID, "water", "a1", "")
	if err != nil || got.Department != "water" || got.Disposition != DispositionDispatched || got.Deadline.IsZero() {
		t.Fatalf("dispatch: %+v, %v", got, err)
	}
}

func TestBookOverdueAndRate(t *testing.T) {
	b, fc := newTestBook(t)
	a, _ := b.Create(WorkOrder{Category: CategoryComplaint, Disposition: DispositionDispatched, Department: "water", Agent: "a1"}) // 3 days: Wed 2 Dec
	fc.Advance(24 * time.Hour)
	c, _ := b.Create(WorkOrder{Category: CategoryConsultation, Disposition: DispositionDispatched, Department: "roads", Agent: "a2"}) // Sat; 5 days: Fri 4 Dec
	if got := b.Overdue(fc.Now()); len(got) != 0 {
		t.Fatalf("overdue too early: %v", got)
	}
	thu := time.Date(2026, 12, 3, 0, 0, 1, 0, b.cal.Loc)
	got := b.Overdue(thu)
	if len(got) != 1 || got[0].ID != a.ID || !got[0].Overdue {
		t.Fatalf("overdue on Thursday: %+v", got)
	}
	fc.Advance(thu.Sub(fc.Now()))
	if l, n := b.List(Filter{Overdue: true}); n != 1 || l[0].ID != a.ID {
		t.Fatalf("List overdue: %v %d", l, n)
	}
	// Closing late keeps the flag; closing in time clears the list.
	for _, s := range []string{StatusDispatched, StatusReplied, StatusClosed} {
		if _, err := b.SetStatus(a.ID, s, "x", ""); err != nil {
			t.Fatal(err)
		}
	}
	if g, _ := b.Get(a.ID); !g.Overdue {
		t.Fatal("closed late but not flagged")
	}
	if len(b.Overdue(thu.Add(24*time.Hour))) != 0 { // c is due by the end of Friday
		t.Fatal("a closed order is in the overdue list")
	}
	if _, err := b.Rate(c.ID, 4); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rating 4: %v", err)
	}
	if g, err := b.Rate(c.ID, RatingBasicallySatisfied); err != nil || g.Rating != 2 {
		t.Fatalf("rate: %+v %v", g, err)
	}
	// Listing: newest first, filters, paging.
	l, n := b.List(Filter{})
	if n != 2 || l[0].ID != c.ID {
		t.Fatalf("List: %d %+v", n, l)
	}
	if l, n = b.List(Filter{Agent: "a1"}); n != 1 || l[0].ID != a.ID {
		t.Fatalf("List agent: %d", n)
	}
	if l, n = b.List(Filter{Limit: 1, Offset: 1}); n != 2 || len(l) != 1 || l[0].ID != a.ID {
		t.Fatalf("paging: %d %+v", n, l)
	}
	if _, n = b.List(Filter{From: c.Created}); n != 1 {
		t.Fatalf("from: %d", n)
	}
	if _, n = b.List(Filter{To: c.Created}); n != 1 {
		t.Fatalf("to: %d", n)
	}
	if _, n = b.List(Filter{Status: StatusOpen}); n != 1 {
		t.Fatalf("status: %d", n)
	}
}

// TestBookFold rebuilds a Book from the events of another and compares.
func TestBookFold(t *testing.T) {
	b, fc := newTestBook(t)
	var log []Event
	emit := func(typ string, w WorkOrder, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, NewEvent(typ, w, fc.Now()))
	}
	w, err := b.Create(WorkOrder{Category: CategoryHelp, Disposition: DispositionDispatched, Department: "water", Caller: "139"})
	emit(TypeCreated, w, err)
	d, err := b.Create(WorkOrder{Category: CategoryPraise, Disposition: DispositionDirect})
	emit(TypeCreated, d, err)
	w, err = b.SetStatus(w.ID, StatusDispatched, "city", "")
	emit(TypeUpdated, w, err)
	w, err = b.Rate(w.ID, RatingSatisfied)
	emit(TypeSurveyResult, w, err)
	log = append(log, Event{Type: TypeSurveyResult, Survey: &SurveyResult{Kind: SurveyPostCall, Order: d.ID, Rating: RatingDissatisfied}})
	if !b.Apply(log[len(log)-1]) {
		t.Fatal("survey-only event ignored")
	}
	log = append(log, Event{Type: TypeRecordingReady, Recording: &RecordingInfo{ID: "r"}})

	r, _ := newTestBook(t)
	for _, ev := range log {
		r.Apply(ev)
	}
	for _, id := range []string{w.ID, d.ID} {
		x, _ := b.Get(id)
		y, err := r.Get(id)
		if err != nil || x.Status != y.Status || x.Rating != y.Rating || len(x.History) != len(y.History) || !x.Deadline.Equal(y.Deadline) {
			t.Fatalf("%s: rebuilt %+v, want %+v", id, y, x)
		}
	}
	if g, _ := r.Get(d.ID); g.Rating != RatingDissatisfied {
		t.Fatalf("survey-only event: rating %d", g.Rating)
	}
	// The sequence continues after a rebuild.
	n, err := r.Create(WorkOrder{Category: CategoryHelp, Disposition: DispositionDirect})
	if err != nil || n.ID != "WO20261127-0003" {
		t.Fatalf("next id after rebuild: %s %v", n.ID, err)
	}
}
