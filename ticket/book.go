package ticket

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
)

// BookOptions configure a Book. The zero value works: time.Local, default deadlines, no
// departments (so no dispatch is valid), the real clock.
type BookOptions struct {
	Calendar Calendar
	// Deadlines: working days per category; missing categories use DefaultDeadlines.
	Deadlines map[string]int
	// Departments is the directory a dispatch must name one of.
	Departments []string
	Clock       clock.Clock
}

// Book holds the work orders in memory. It is a fold over ticket events: the engine
// writes the Event returned by NewEvent for each change it makes (Create, SetStatus,
// Dispatch, Rate) to its log and, on start, rebuilds the Book by calling Apply for each
// of them in log order. Apply reads only Event.Type and Event.Order (the order's full
// state) for ticket.created, ticket.updated and survey.result; for a survey.result
// without Order it reads Survey.Order and Survey.Rating. Other events are ignored.
// Book is safe for concurrent use.
type Book struct {
	cal       Calendar
	deadlines map[string]int
	depts     []string
	clk       clock.Clock

	mu     sync.Mutex
	orders map[string]*WorkOrder
	ids    []string          // creation order
	digits map[string]string // Digits() -> ID
	seq    map[string]int    // YYYYMMDD -> last sequence number used
}

// NewBook returns an empty Book.
func NewBook(o BookOptions) *Book {
	b := &Book{cal: o.Calendar, deadlines: map[string]int{}, depts: slices.Clone(o.Departments), clk: o.Clock,
		orders: map[string]*WorkOrder{}, digits: map[string]string{}, seq: map[string]int{}}
	if b.clk == nil {
		b.clk = clock.Real{}
	}
	for k, v := range DefaultDeadlines {
		b.deadlines[k] = v
	}
	for k, v := range o.Deadlines {
		b.deadlines[k] = v
	}
	return b
}

// Departments returns the configured directory.
func (b *Book) Departments() []string { return slices.Clone(b.depts) }

// DeadlineDays returns the working days a dispatched order of the category has.
func (b *Book) DeadlineDays(category string) int { return b.deadlines[category] }

func (b *Book) checkDepartment(d string) error {
	if !slices.Contains(b.depts, d) {
		return fmt.Errorf("%w: department %q is not in the directory", ErrInvalid, d)
	}
	return nil
}

// Create validates w (category, disposition, department from the directory when
// dispatched), assigns its ID, creation time (the clock's, when w.Created is zero),
// status (direct: closed; dispatched: open) and deadline (dispatched only), stores it
// and returns it. By is taken from w.Agent for the history.
func (b *Book) Create(w WorkOrder) (WorkOrder, error) {
	if err := checkCategory(w.Category); err != nil {
		return WorkOrder{}, err
	}
	switch w.Disposition {
	case DispositionDirect:
		w.Department = ""
	case DispositionDispatched:
		if err := b.checkDepartment(w.Department); err != nil {
			return WorkOrder{}, err
		}
	default:
		return WorkOrder{}, fmt.Errorf("%w: disposition %q (want %s or %s)", ErrInvalid, w.Disposition, DispositionDirect, DispositionDispatched)
	}
	if w.Rating != RatingNone && !validRating(w.Rating) {
		return WorkOrder{}, fmt.Errorf("%w: rating %d (want 1, 2 or 3)", ErrInvalid, w.Rating)
	}
	if w.Created.IsZero() {
		w.Created = b.clk.Now()
	}
	w.Deadline = time.Time{}
	w.Status = StatusClosed
	if w.Disposition == DispositionDispatched {
		w.Status = StatusOpen
		w.Deadline = b.cal.AddWorkingDays(w.Created, b.deadlines[w.Category])
	}
	w.History = []Change{{Time: w.Created, To: w.Status, By: w.Agent}}
	w.MenuPath = slices.Clone(w.MenuPath)

	b.mu.Lock()
	defer b.mu.Unlock()
	date := w.Created.In(b.cal.loc()).Format("20060102")
	b.seq[date]++
	w.ID = fmt.Sprintf("WO%s-%04d", date, b.seq[date])
	b.put(w)
	return b.view(b.orders[w.ID], w.Created), nil
}

// put stores a copy of w; the caller holds b.mu.
func (b *Book) put(w WorkOrder) {
	c := w.clone()
	c.Overdue = false
	if _, ok := b.orders[c.ID]; !ok {
		b.ids = append(b.ids, c.ID)
	}
	b.orders[c.ID] = &c
	b.digits[c.Digits()] = c.ID
	if date, n, ok := parseID(c.ID); ok && n > b.seq[date] {
		b.seq[date] = n
	}
}

func (b *Book) view(w *WorkOrder, now time.Time) WorkOrder {
	c := w.clone()
	c.Overdue = w.overdueAt(now)
	return c
}

// Get returns the work order with the ID.
func (b *Book) Get(id string) (WorkOrder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.orders[id]
	if !ok {
		return WorkOrder{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return b.view(w, b.clk.Now()), nil
}

// ByDigits finds a work order by the digits a caller keyed in (anything that is not a
// digit is ignored, so "WO20261127-0001" works too).
func (b *Book) ByDigits(digits string) (WorkOrder, error) {
	d := digitsOf(digits)
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.digits[d]
	if !ok || d == "" {
		return WorkOrder{}, fmt.Errorf("%w: number %q", ErrNotFound, digits)
	}
	return b.view(b.orders[id], b.clk.Now()), nil
}

// Filter selects work orders for List. Zero fields select everything.
type Filter struct {
	Status   string    // one status, or "" for all
	Agent    string    // the agent who created it
	Overdue  bool      // only overdue ones
	From, To time.Time // created at or after From, before To
	Offset   int       // paging: skip this many matches
	Limit    int       // paging: at most this many (0: no limit)
}

// List returns the matching work orders, newest first, one page of them, and the number
// of matches before paging.
func (b *Book) List(f Filter) ([]WorkOrder, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	var out []WorkOrder
	total := 0
	for i := len(b.ids) - 1; i >= 0; i-- {
		w := b.orders[b.ids[i]]
		if f.Status != "" && w.Status != f.Status ||
			f.Agent != "" && w.Agent != f.Agent ||
			f.Overdue && !w.overdueAt(now) ||
			!f.From.IsZero() && w.Created.Before(f.From) ||
			!f.To.IsZero() && !w.Created.Before(f.To) {
			continue
		}
		total++
		if total <= f.Offset || f.Limit > 0 && len(out) >= f.Limit {
			continue
		}
		out = append(out, b.view(w, now))
	}
	return out, total
}

// Overdue returns the work orders that are not closed and whose deadline is before now,
// oldest first.
func (b *Book) Overdue(now time.Time) []WorkOrder {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []WorkOrder
	for _, id := range b.ids {
		w := b.orders[id]
		if w.Status != StatusClosed && w.overdueAt(now) {
			out = append(out, b.view(w, now))
		}
	}
	return out
}

// SetStatus moves a work order to status, if Transitions allows it, recording who and
// why in its history. Moving to dispatched needs a department (see Dispatch). Reopening
// starts a new deadline from now, in working days of the order's category.
func (b *Book) SetStatus(id, status, by, note string) (WorkOrder, error) {
	return b.change(id, status, "", by, note)
}

// Dispatch moves a work order to dispatched, to a department from the directory (the
// order's own department when department is empty).
func (b *Book) Dispatch(id, department, by, note string) (WorkOrder, error) {
	if department != "" {
		if err := b.checkDepartment(department); err != nil {
			return WorkOrder{}, err
		}
	}
	return b.change(id, StatusDispatched, department, by, note)
}

func (b *Book) change(id, status, dept, by, note string) (WorkOrder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.orders[id]
	if !ok {
		return WorkOrder{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if _, known := Transitions[status]; !known {
		return WorkOrder{}, fmt.Errorf("%w: unknown status %q", ErrTransition, status)
	}
	if !slices.Contains(Transitions[w.Status], status) {
		return WorkOrder{}, fmt.Errorf("%w: %s -> %s for %s (allowed: %s)", ErrTransition, w.Status, status, id, strings.Join(Transitions[w.Status], ", "))
	}
	if status == StatusDispatched {
		if dept == "" {
			dept = w.Department
		}
		if dept == "" {
			return WorkOrder{}, fmt.Errorf("%w: %s has no department to dispatch to", ErrInvalid, id)
		}
	}
	now := b.clk.Now()
	if dept != "" {
		w.Department = dept
		w.Disposition = DispositionDispatched
	}
	if status == StatusReopened {
		w.Deadline = b.cal.AddWorkingDays(now, b.deadlines[w.Category])
	}
	w.History = append(w.History, Change{Time: now, From: w.Status, To: status, By: by, Note: note})
	w.Status = status
	return b.view(w, now), nil
}

// Rate stores a satisfaction rating (1, 2 or 3) on a work order; a later rating (the
// follow-up after the post-call survey) replaces an earlier one.
func (b *Book) Rate(id string, rating int) (WorkOrder, error) {
	if !validRating(rating) {
		return WorkOrder{}, fmt.Errorf("%w: rating %d (want 1, 2 or 3)", ErrInvalid, rating)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.orders[id]
	if !ok {
		return WorkOrder{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	w.Rating = rating
	return b.view(w, b.clk.Now()), nil
}

// Apply folds one event into the Book (see the type's comment for the fields read). A
// ticket.created or ticket.updated replaces the order's state with ev.Order; a
// survey.result sets the rating. It returns false for events it ignored.
func (b *Book) Apply(ev Event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev.Type {
	case TypeCreated, TypeUpdated:
		if ev.Order == nil || ev.Order.ID == "" {
			return false
		}
		b.put(*ev.Order)
		return true
	case TypeSurveyResult:
		if ev.Order != nil && ev.Order.ID != "" {
			b.put(*ev.Order)
			return true
		}
		if ev.Survey == nil || !validRating(ev.Survey.Rating) {
			return false
		}
		w, ok := b.orders[ev.Survey.Order]
		if !ok {
			return false
		}
		w.Rating = ev.Survey.Rating
		return true
	}
	return false
}

// Len returns the number of work orders.
func (b *Book) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.ids)
}

// Location is the calendar's time zone (the zone of work-order days and deadlines).
func (b *Book) Location() *time.Location {
	if b.cal.Loc == nil {
		return time.Local
	}
	return b.cal.Loc
}
