package ticket

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Categories of a work order (the after-call form's choices).
const (
	CategoryConsultation = "consultation"
	CategoryHelp         = "help"
	CategorySuggestion   = "suggestion"
	CategoryPraise       = "praise"
	CategoryComplaint    = "complaint"
	CategoryReport       = "report"
)

// Categories lists every category in the form's order.
var Categories = []string{CategoryConsultation, CategoryHelp, CategorySuggestion, CategoryPraise, CategoryComplaint, CategoryReport}

// DefaultDeadlines is the number of working days a dispatched work order of each category
// has, used when BookOptions.Deadlines leaves a category out.
var DefaultDeadlines = map[string]int{
	CategoryConsultation: 5,
	CategoryHelp:         3,
	CategorySuggestion:   5,
	CategoryPraise:       5,
	CategoryComplaint:    3,
	CategoryReport:       5,
}

// Dispositions: answered by the agent on the spot, or dispatched to a department.
const (
	DispositionDirect     = "direct"
	DispositionDispatched = "dispatched"
)

// Statuses of a work order. A direct work order is created closed; a dispatched one is
// created open. The allowed moves are listed by Transitions.
const (
	StatusOpen       = "open"
	StatusDispatched = "dispatched"
	StatusReplied    = "replied"
	StatusClosed     = "closed"
	StatusReopened   = "reopened"
)

// Transitions lists, for each status, the statuses a work order may move to:
// open -> dispatched (the department took it) or closed (settled without dispatch);
// dispatched -> replied; replied -> closed, or dispatched again (reply rejected);
// closed -> reopened; reopened -> dispatched or closed.
var Transitions = map[string][]string{
	StatusOpen:       {StatusDispatched, StatusClosed},
	StatusDispatched: {StatusReplied},
	StatusReplied:    {StatusClosed, StatusDispatched},
	StatusClosed:     {StatusReopened},
	StatusReopened:   {StatusDispatched, StatusClosed},
}

// Satisfaction ratings (the survey's keys).
const (
	RatingNone               = 0
	RatingSatisfied          = 1
	RatingBasicallySatisfied = 2 // basically satisfied
	RatingDissatisfied       = 3 // dissatisfied
)

// Errors returned by the Book; test with errors.Is.
var (
	ErrNotFound   = errors.New("ticket: no such work order")
	ErrInvalid    = errors.New("ticket: invalid work order")
	ErrTransition = errors.New("ticket: status change not allowed")
)

// Change is one status change in a work order's history.
type Change struct {
	Time time.Time `json:"time"`
	From string    `json:"from,omitempty"` // empty for the creation
	To   string    `json:"to"`
	By   string    `json:"by,omitempty"` // who: an agent, a sink or receiver name, "engine"
	Note string    `json:"note,omitempty"`
}

// WorkOrder is one work order (工单).
type WorkOrder struct {
	// ID is "WO" + creation date (YYYYMMDD, in the calendar's zone) + "-" + a sequence
	// number of at least four digits, e.g. WO20261127-0001. Digits() is the number a
	// citizen keys in on a phone.
	ID          string    `json:"id"`
	Call        string    `json:"call,omitempty"`   // the call it came from
	Caller      string    `json:"caller,omitempty"` // the citizen's number
	Agent       string    `json:"agent,omitempty"`
	Queue       string    `json:"queue,omitempty"`
	MenuPath    []string  `json:"menu_path,omitempty"`
	Recording   string    `json:"recording,omitempty"` // the recording's id
	Category    string    `json:"category"`
	District    string    `json:"district,omitempty"`
	Address     string    `json:"address,omitempty"`
	Summary     string    `json:"summary,omitempty"`
	Disposition string    `json:"disposition"`          // direct or dispatched
	Department  string    `json:"department,omitempty"` // when dispatched
	Status      string    `json:"status"`
	Created     time.Time `json:"created"`
	// Deadline is the end of the last working day allowed (Calendar.AddWorkingDays);
	// zero for direct work orders (until reopened).
	Deadline time.Time `json:"deadline,omitzero"`
	// Overdue is computed when the order is read: the deadline passed before the order
	// was closed (or, if it is not closed, before now). It is not stored.
	Overdue bool     `json:"overdue"`
	Rating  int      `json:"rating,omitempty"` // 1 satisfied, 2 basically, 3 dissatisfied; 0 none
	History []Change `json:"history,omitempty"`
}

// Digits returns the ID's digits, the number a caller keys in: WO20261127-0001 ->
// "202611270001".
func (w WorkOrder) Digits() string { return digitsOf(w.ID) }

func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (w WorkOrder) clone() WorkOrder {
	w.MenuPath = slices.Clone(w.MenuPath)
	w.History = slices.Clone(w.History)
	return w
}

// closedAt returns the time of the last move to closed, if the order is closed now.
func (w *WorkOrder) closedAt() (time.Time, bool) {
	if w.Status != StatusClosed {
		return time.Time{}, false
	}
	for i := len(w.History) - 1; i >= 0; i-- {
		if w.History[i].To == StatusClosed {
			return w.History[i].Time, true
		}
	}
	return w.Created, true
}

// overdueAt reports whether the order is overdue as seen at now.
func (w *WorkOrder) overdueAt(now time.Time) bool {
	if w.Deadline.IsZero() {
		return false
	}
	if at, ok := w.closedAt(); ok {
		return at.After(w.Deadline)
	}
	return now.After(w.Deadline)
}

// parseID splits an ID into its date part and sequence number.
func parseID(id string) (date string, seq int, ok bool) {
	rest, found := strings.CutPrefix(id, "WO")
	if !found {
		return "", 0, false
	}
	date, num, found := strings.Cut(rest, "-")
	if !found || len(date) != 8 || digitsOf(date) != date {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return date, n, true
}

func validRating(r int) bool { return r >= RatingSatisfied && r <= RatingDissatisfied }

func checkCategory(c string) error {
	if !slices.Contains(Categories, c) {
		return fmt.Errorf("%w: category %q (want one of %s)", ErrInvalid, c, strings.Join(Categories, ", "))
	}
	return nil
}
