package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
)

// ACD is what the agent API needs of the matcher (acd.Matcher).
type ACD interface {
	Do(ctx context.Context, c acd.Command) error
	Stats(ctx context.Context) (acd.Stats, error)
}

// queueView is one queue in GET /api/v1/queues.
type queueView struct {
	Name             string   `json:"name"`
	Waiting          int      `json:"waiting"`
	Callbacks        int      `json:"callbacks"`
	LongestWait      float64  `json:"longest_wait_seconds"`
	Offered          int      `json:"offered"`
	Answered         int      `json:"answered"`
	AnsweredInTarget int      `json:"answered_in_target"`
	Abandoned        int      `json:"abandoned"`
	ShortAbandoned   int      `json:"short_abandoned"`
	Overflowed       int      `json:"overflowed"`
	Exited           int      `json:"exited"`
	ServiceLevel     *float64 `json:"service_level"` // null until a call was answered or abandoned
	AverageAnswer    float64  `json:"average_answer_seconds"`
}

// agentView is one agent in GET /api/v1/agents.
type agentView struct {
	ID       string    `json:"id"`
	State    string    `json:"state"`
	Reason   string    `json:"reason,omitempty"`
	Since    time.Time `json:"since,omitzero"` // zero (left out) for an agent never logged in
	InState  float64   `json:"in_state_seconds"`
	Calls    int       `json:"calls"`
	Missed   int       `json:"missed"`
	Rejected int       `json:"rejected"`
	Talk     float64   `json:"talk_seconds"`
}

// queueViewOf is one queue's live numbers as the API shows them.
func queueViewOf(name string, q acd.QueueStats, now time.Time) queueView {
	v := queueView{Name: name, Waiting: q.Waiting, Callbacks: q.Callbacks, LongestWait: q.LongestWait(now).Seconds(),
		Offered: q.Offered, Answered: q.Answered, AnsweredInTarget: q.AnsweredInTarget, Abandoned: q.Abandoned,
		ShortAbandoned: q.ShortAbandoned, Overflowed: q.Overflowed, Exited: q.Exited, AverageAnswer: q.AverageAnswer().Seconds()}
	if sl, ok := q.ServiceLevel(); ok {
		v.ServiceLevel = &sl
	}
	return v
}

// agentViewOf is one agent's live state as the API shows it.
func agentViewOf(id string, ag acd.AgentStats, now time.Time) agentView {
	v := agentView{ID: id, State: ag.State.String(), Reason: ag.Reason, Since: ag.Since,
		Calls: ag.Calls, Missed: ag.Missed, Rejected: ag.Rejected, Talk: ag.Talk().Seconds()}
	if !ag.Since.IsZero() {
		v.InState = now.Sub(ag.Since).Seconds()
	}
	return v
}

func (a *api) queues(w http.ResponseWriter, r *http.Request) {
	st, err := a.o.ACD.Stats(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "acd_unavailable", err.Error())
		return
	}
	now := time.Now()
	out := make([]queueView, 0, len(st.Queues))
	for name, q := range st.Queues {
		out = append(out, queueViewOf(name, q, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"queues": out})
}

func (a *api) agents(w http.ResponseWriter, r *http.Request) {
	st, err := a.o.ACD.Stats(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "acd_unavailable", err.Error())
		return
	}
	now := time.Now()
	byState := map[string]int{}
	out := make([]agentView, 0, len(st.Agents))
	for id, ag := range st.Agents {
		byState[ag.State.String()]++
		out = append(out, agentViewOf(id, ag, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"agents": out, "by_state": byState})
}

// stateRequest is the body of POST /api/v1/agents/{id}/state.
type stateRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// setState serves POST /api/v1/agents/{id}/state: ready, not-ready (with a reason)
// or logged-out. Agents change only their own state; supervisors anyone's.
func (a *api) setState(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	id := r.PathValue("id")
	if sess.ID != id && sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "an agent may change only their own state")
		return
	}
	var req stateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"state": "ready"|"not-ready"|"logged-out", "reason": "..."}`)
		return
	}
	code, msg := changeState(r.Context(), a.o.ACD, id, req.State, req.Reason)
	switch code {
	case "":
		if sess.ID != id {
			// A supervisor forced another agent's state: the audit log says so.
			a.audit(event.Event{Type: event.SupervisorAction, Agent: sess.ID, Reason: "state", Dialled: id, State: req.State})
		}
		writeJSON(w, http.StatusOK, map[string]string{"agent": id, "state": req.State, "reason": req.Reason})
	case "bad_state":
		writeError(w, http.StatusBadRequest, code, msg)
	case "agent_not_found":
		writeError(w, http.StatusNotFound, code, msg)
	case "state_conflict":
		writeError(w, http.StatusConflict, code, msg)
	default:
		writeError(w, http.StatusServiceUnavailable, code, msg)
	}
}
