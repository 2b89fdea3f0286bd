package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/ticket"
)

// Tickets is what the work-order API needs (*call.Manager).
type Tickets interface {
	CreateTicket(agent string, f call.TicketForm) (ticket.WorkOrder, error)
	Tickets(f ticket.Filter) ([]ticket.WorkOrder, int)
	Ticket(id string) (ticket.WorkOrder, error)
	TicketDirectory() (categories, departments []string)
	CallbackSecret() []byte
	SetTicketStatus(id, status, department, by, note string) (ticket.WorkOrder, error)
	DeadLetters() []ticket.DeadLetter
	RetryDelivery(key string) error
}

var _ Tickets = (*call.Manager)(nil)

// ticketsAPI serves the work orders.
type ticketsAPI struct {
	t      Tickets
	replay *ticket.ReplayGuard
	mu     sync.Mutex
}

func (a *api) ticketRoutes(mux *http.ServeMux) {
	ta := &ticketsAPI{t: a.o.Tickets, replay: ticket.NewReplayGuard(ticket.DefaultTolerance)}
	auth := a.o.Sessions.requireAuth
	mux.HandleFunc("POST /api/v1/tickets", auth(ta.create))
	mux.HandleFunc("GET /api/v1/tickets", auth(ta.list))
	mux.HandleFunc("GET /api/v1/tickets/directory", auth(ta.directory))
	mux.HandleFunc("GET /api/v1/tickets/{id}", auth(ta.get))
	mux.HandleFunc("POST /api/v1/tickets/{id}/status", ta.status) // signed, not a session
	mux.HandleFunc("GET /api/v1/hooks/dead-letters", auth(ta.deadLetters))
	mux.HandleFunc("POST /api/v1/hooks/dead-letters/{key}/retry", auth(ta.retry))
}

// create serves POST /api/v1/tickets: the after-call form ({"call", "category",
// "district", "address", "summary", "disposition": "direct"|"dispatched",
// "department"}) makes a work order linked to the call. 201 with the work order;
// 400 bad_ticket (a field missing or not allowed), 403 not_your_call, 503.
func (ta *ticketsAPI) create(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	var f call.TicketForm
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.Call == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"call": "<id>", "category": "...", "summary": "...", "disposition": "direct"|"dispatched", ...}`)
		return
	}
	wo, err := ta.t.CreateTicket(sess.ID, f)
	switch {
	case err == nil:
		writeJSON(w, http.StatusCreated, wo)
	case errors.Is(err, call.ErrNotYourCall):
		writeError(w, http.StatusForbidden, "not_your_call", err.Error())
	case errors.Is(err, ticket.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_ticket", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "tickets_unavailable", err.Error())
	}
}

// list serves GET /api/v1/tickets?status=&overdue=1&agent=&limit=&offset=: an
// agent sees their own work orders, a supervisor everyone's.
func (ta *ticketsAPI) list(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	q := r.URL.Query()
	f := ticket.Filter{Status: q.Get("status"), Agent: q.Get("agent"), Overdue: q.Get("overdue") == "1" || q.Get("overdue") == "true"}
	for _, p := range []struct {
		name string
		v    *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "bad_"+p.name, p.name+" must be a number >= 0")
				return
			}
			*p.v = n
		}
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	if sess.Role != RoleSupervisor {
		f.Agent = sess.ID
	}
	ws, total := ta.t.Tickets(f)
	if ws == nil {
		ws = []ticket.WorkOrder{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": ws, "total": total})
}

func (ta *ticketsAPI) get(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	wo, err := ta.t.Ticket(r.PathValue("id"))
	if err != nil || (sess.Role != RoleSupervisor && wo.Agent != sess.ID) {
		writeError(w, http.StatusNotFound, "ticket_not_found", "no such work order")
		return
	}
	writeJSON(w, http.StatusOK, wo)
}

func (ta *ticketsAPI) directory(w http.ResponseWriter, r *http.Request) {
	cats, depts := ta.t.TicketDirectory()
	writeJSON(w, http.StatusOK, map[string]any{"categories": nonNil(cats), "departments": nonNil(depts)})
}

// statusUpdate is the body of POST /api/v1/tickets/{id}/status.
type statusUpdate struct {
	Status     string `json:"status"` // dispatched, replied, closed, reopened
	Department string `json:"department"`
	By         string `json:"by"` // who in the department
	Note       string `json:"note"`
}

// status serves POST /api/v1/tickets/{id}/status, the work-order system's answer
// back, signed like the webhooks: X-Hotline-Timestamp and X-Hotline-Signature
// (HMAC-SHA256 of timestamp + "." + body with tickets.callback_secret). A forged,
// stale or replayed request is refused (401) and changes nothing.
func (ta *ticketsAPI) status(w http.ResponseWriter, r *http.Request) {
	secret := ta.t.CallbackSecret()
	if len(secret) == 0 {
		writeError(w, http.StatusServiceUnavailable, "no_callback_secret", "no tickets.callback_secret (or webhook secret) is configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body too large")
		return
	}
	now := time.Now()
	sig := r.Header.Get(ticket.HeaderSignature)
	if err := ticket.Verify(secret, r.Header.Get(ticket.HeaderTimestamp), sig, body, now, ticket.DefaultTolerance); err != nil {
		writeError(w, http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	ta.mu.Lock()
	err = ta.replay.Check(sig, now)
	ta.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusUnauthorized, "replayed", err.Error())
		return
	}
	var u statusUpdate
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil || u.Status == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"status": "dispatched"|"replied"|"closed"|"reopened", "department": "...", "by": "...", "note": "..."}`)
		return
	}
	by := u.By
	if by == "" {
		by = "work-order system"
	}
	wo, err := ta.t.SetTicketStatus(r.PathValue("id"), u.Status, u.Department, by, u.Note)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, wo)
	case errors.Is(err, ticket.ErrNotFound):
		writeError(w, http.StatusNotFound, "ticket_not_found", err.Error())
	case errors.Is(err, ticket.ErrTransition), errors.Is(err, ticket.ErrInvalid):
		writeError(w, http.StatusConflict, "bad_transition", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "tickets_unavailable", err.Error())
	}
}

func (ta *ticketsAPI) deadLetters(w http.ResponseWriter, r *http.Request) {
	if sess, _ := SessionFrom(r.Context()); sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "supervisors only")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": nonNil(ta.t.DeadLetters())})
}

func (ta *ticketsAPI) retry(w http.ResponseWriter, r *http.Request) {
	if sess, _ := SessionFrom(r.Context()); sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "supervisors only")
		return
	}
	if err := ta.t.RetryDelivery(r.PathValue("key")); err != nil {
		writeError(w, http.StatusNotFound, "not_dead", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": r.PathValue("key"), "retried": "yes"})
}
