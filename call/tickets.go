package call

// Work orders: the agent's after-call form creates one for the call, linked to
// the caller, the menu path, the queue and the recording; its changes are events in
// the log (the Book is folded from them again at start-up) and go to the hooks'
// sinks through the durable outbox; the department's system answers back with
// signed status updates; a dispatched work order that is closed leads to a
// follow-up call to the citizen (follow.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// TicketConfig is the work orders' configuration.
type TicketConfig struct {
	// Deadlines are working days per category (default: help and complaint 3, the
	// others 5).
	Deadlines map[string]int `yaml:"deadlines"`
	// Departments is the directory a dispatched work order names one of.
	Departments []string `yaml:"departments"`
	// Calendar: public holidays and the weekend days made working days.
	Calendar ticket.Calendar `yaml:"calendar"`
	// CallbackSecret signs the status updates the work-order system posts back
	// (default: the first webhook sink's secret).
	CallbackSecret string `yaml:"callback_secret"`
	// FollowUp is the satisfaction call after a dispatched work order is closed.
	FollowUp FollowUpConfig `yaml:"followup"`
}

// Errors of the work-order side.
var (
	// ErrNoTickets: work orders are not enabled (no data folder).
	ErrNoTickets = errors.New("call: work orders are not enabled")
	// ErrNotYourCall: an agent made a work order for a call they did not take.
	ErrNotYourCall = errors.New("call: the agent did not take this call")
)

// TicketForm is the after-call form of the agent page.
type TicketForm struct {
	Call        string `json:"call"`
	Category    string `json:"category"`
	District    string `json:"district"`
	Address     string `json:"address"`
	Summary     string `json:"summary"`
	Disposition string `json:"disposition"` // direct or dispatched
	Department  string `json:"department"`  // when dispatched
}

// openTickets makes the Book and the hooks (their outbox in dir) and rebuilds the
// Book from the log.
func (m *Manager) openTickets(cfg TicketConfig, sinks []ticket.SinkConfig, dir string, log *slog.Logger) error {
	cal := cfg.Calendar
	if cal.Loc == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.Local
		}
		cal.Loc = loc
	}
	m.book = ticket.NewBook(ticket.BookOptions{Calendar: cal, Deadlines: cfg.Deadlines, Departments: cfg.Departments, Clock: m.clock})
	stop, err := m.store.Follow(context.Background(), 0, func(ev *event.Event) {
		if te, ok := ticketEvent(ev); ok {
			m.book.Apply(te)
		}
	})
	if err != nil {
		return fmt.Errorf("work orders: rebuild from the log: %w", err)
	}
	stop()
	if len(sinks) == 0 {
		sinks = []ticket.SinkConfig{{Type: "builtin"}}
	}
	ss, err := ticket.NewSinks(sinks)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	m.hooks, err = ticket.OpenHooks(dir, ss, ticket.HooksOptions{Clock: m.clock, Logger: log, OnDelivery: m.onDelivery})
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	m.metrics.hookBacklog(m.hooks.Backlog)
	m.callbackSecret = []byte(cfg.CallbackSecret)
	if len(m.callbackSecret) == 0 {
		for _, s := range sinks {
			if s.Type == "webhook" && s.Secret != "" {
				m.callbackSecret = []byte(s.Secret)
				break
			}
		}
	}
	m.follow = cfg.FollowUp
	return nil
}

// ticketEvent turns a logged ticket event back into the Book's.
func ticketEvent(ev *event.Event) (ticket.Event, bool) {
	switch ev.Type {
	case event.TicketCreated, event.TicketUpdated:
		var w ticket.WorkOrder
		if json.Unmarshal(ev.Data, &w) != nil {
			return ticket.Event{}, false
		}
		return ticket.Event{Type: string(ev.Type), Time: ev.Time, Order: &w}, true
	}
	return ticket.Event{}, false
}

// logTicket writes a work order's change to the log and hands it to the sinks.
func (m *Manager) logTicket(typ event.Type, w ticket.WorkOrder, by string) {
	data, _ := json.Marshal(w)
	m.emitID(w.Call, m.log, event.Event{Type: typ, Agent: by, Reason: w.Status, File: w.ID, Data: data})
	if err := m.hookPublish(ticket.NewEvent(string(typ), w, m.clock.Now())); err != nil {
		m.log.Error("work order not handed to the hooks", "ticket", w.ID, "error", err)
	}
}

// hookPublish hands ev to the sinks; with Deps.ReplicateHooks it is written to
// the log first (hook.published), so that the other site has it.
func (m *Manager) hookPublish(ev ticket.Event) error {
	if ev.Key == "" {
		ev.Key = ticket.NewKey()
	}
	if m.delivered != nil {
		data, err := json.Marshal(ev)
		if err == nil {
			err = m.store.Append(context.Background(), &event.Event{Type: event.HookPublished, File: ev.Key, Reason: ev.Type, Data: data})
		}
		if err != nil {
			m.log.Warn("hook event not written to the log: the other site would not deliver it if this one is lost", "type", ev.Type, "key", ev.Key, "error", err)
		}
	}
	return m.hooks.Publish(ev)
}

// onDelivery counts a delivery attempt and, with Deps.ReplicateHooks, has a
// successful one noted in the log (without blocking the outbox's worker: a note
// that does not fit is dropped, and the other site would deliver that event
// again, with the same key, only if it took over).
func (m *Manager) onDelivery(rep ticket.DeliveryReport) {
	m.metrics.hookDelivery(rep)
	if m.delivered == nil || rep.Err != nil {
		return
	}
	select {
	case m.delivered <- rep:
	default:
	}
}

// noteDeliveries writes hook.delivered events until Close.
func (m *Manager) noteDeliveries() {
	defer close(m.deliveredDone)
	for rep := range m.delivered {
		ev := event.Event{Type: event.HookDelivered, File: rep.Key, Reason: rep.Sink}
		if err := m.store.Append(context.Background(), &ev); err != nil {
			m.log.Debug("hook delivery not noted in the log", "key", rep.Key, "sink", rep.Sink, "error", err)
		}
	}
}

// CreateTicket makes a work order from agent's after-call form for a call they
// took: linked to the caller, the queue, the menu path, the recording and the
// caller's post-call rating.
func (m *Manager) CreateTicket(agent string, f TicketForm) (ticket.WorkOrder, error) {
	if m.book == nil {
		return ticket.WorkOrder{}, ErrNoTickets
	}
	rec, ok := m.store.Calls().Get(f.Call)
	if !ok {
		return ticket.WorkOrder{}, fmt.Errorf("%w: no call %s", ticket.ErrInvalid, f.Call)
	}
	if rec.Agent != agent && !m.tookPart(f.Call, agent) {
		return ticket.WorkOrder{}, fmt.Errorf("%w: %s", ErrNotYourCall, f.Call)
	}
	w := ticket.WorkOrder{
		Call: f.Call, Caller: rec.Caller, Agent: agent, MenuPath: rec.Path,
		Category: f.Category, District: f.District, Address: f.Address, Summary: f.Summary,
		Disposition: f.Disposition, Department: f.Department,
	}
	if rec.Route != nil {
		w.Queue = rec.Route.Queue
	}
	if r, ok := m.store.Recordings().Get(f.Call); ok && r.State != store.RecFailed {
		w.Recording = r.ID
	}
	w, err := m.book.Create(w)
	if err != nil {
		return w, err
	}
	if rec.Rating != "" {
		if rated, err := m.book.Rate(w.ID, int(rec.Rating[0]-'0')); err == nil {
			w = rated
		}
	}
	m.logTicket(event.TicketCreated, w, agent)
	m.log.Info("work order created", "ticket", w.ID, "call_id", w.Call, "agent_id", agent, "disposition", w.Disposition)
	return w, nil
}

// tookPart reports whether agent answered call at some point (a transfer's first agent).
func (m *Manager) tookPart(call, agent string) bool {
	r, ok := m.store.Recordings().Get(call)
	if !ok {
		return false
	}
	for _, a := range r.Agents {
		if a == agent {
			return true
		}
	}
	return false
}

// Tickets lists work orders.
func (m *Manager) Tickets(f ticket.Filter) ([]ticket.WorkOrder, int) {
	if m.book == nil {
		return nil, 0
	}
	return m.book.List(f)
}

// Ticket returns one work order.
func (m *Manager) Ticket(id string) (ticket.WorkOrder, error) {
	if m.book == nil {
		return ticket.WorkOrder{}, ErrNoTickets
	}
	return m.book.Get(id)
}

// TicketDirectory is the form's choices: categories and departments.
func (m *Manager) TicketDirectory() (categories, departments []string) {
	if m.book == nil {
		return nil, nil
	}
	return ticket.Categories, m.book.Departments()
}

// CallbackSecret is the key the work-order system signs its status updates with
// (empty: none configured, updates are refused).
func (m *Manager) CallbackSecret() []byte { return m.callbackSecret }

// SetTicketStatus applies a status update from the work-order system (dispatched
// to a department, replied, closed, reopened). A dispatched work order that is
// closed is followed up with a satisfaction call.
func (m *Manager) SetTicketStatus(id, status, department, by, note string) (ticket.WorkOrder, error) {
	if m.book == nil {
		return ticket.WorkOrder{}, ErrNoTickets
	}
	var (
		w   ticket.WorkOrder
		err error
	)
	if status == ticket.StatusDispatched && department != "" {
		w, err = m.book.Dispatch(id, department, by, note)
	} else {
		w, err = m.book.SetStatus(id, status, by, note)
	}
	if err != nil {
		return w, err
	}
	m.logTicket(event.TicketUpdated, w, by)
	m.log.Info("work order status", "ticket", w.ID, "status", w.Status, "by", by)
	if w.Status == ticket.StatusClosed && w.Disposition == ticket.DispositionDispatched {
		m.scheduleFollowUp(w)
	}
	return w, nil
}

// DeadLetters are the hook deliveries that gave up; RetryDelivery sends one again.
func (m *Manager) DeadLetters() []ticket.DeadLetter {
	if m.hooks == nil {
		return nil
	}
	return m.hooks.DeadLetters()
}

// RetryDelivery sends a dead letter again.
func (m *Manager) RetryDelivery(key string) error {
	if m.hooks == nil {
		return ErrNoTickets
	}
	return m.hooks.Retry(key)
}

// publish hands an event that is not a work order's change (a recording ready, a
// survey result) to the sinks.
func (m *Manager) publish(ev ticket.Event) {
	if m.hooks == nil {
		return
	}
	if err := m.hookPublish(ev); err != nil {
		m.log.Error("event not handed to the hooks", "type", ev.Type, "error", err)
	}
}

// rate puts a satisfaction rating on the work orders of call (a post-call survey
// after the work order was made) and hands the result to the sinks.
func (m *Manager) rate(call, agent, caller, kind string, rating int, order string) {
	if m.book == nil {
		return
	}
	res := ticket.SurveyResult{Kind: kind, Call: call, Agent: agent, Caller: caller, Rating: rating, Order: order, Time: m.clock.Now()}
	if order == "" {
		if ws, _ := m.book.List(ticket.Filter{}); len(ws) > 0 {
			for _, w := range ws {
				if w.Call == call {
					order = w.ID
					break
				}
			}
		}
		res.Order = order
	}
	if order != "" && rating > 0 {
		if w, err := m.book.Rate(order, rating); err == nil {
			m.logTicket(event.TicketUpdated, w, "survey")
		}
	}
	m.publish(ticket.Event{Type: ticket.TypeSurveyResult, Time: res.Time, Survey: &res})
}
