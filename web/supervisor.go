package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
)

// Directory is what the supervisor page knows of the configuration: who the
// agents are and what the queues promise.
type Directory struct {
	Agents []AgentInfo
	Queues []QueueInfo
	// StuckAfter is how long an agent may stay not-ready, in wrap-up or ringing
	// before the wallboard raises an alert (default 15m; wrap-up and ringing use
	// a fifth of it).
	StuckAfter time.Duration
	// WaitAlert is how long a caller may wait before the wallboard raises an
	// alert (default: the queue's service-level time, else 60s).
	WaitAlert time.Duration
}

// AgentInfo is one agent as the supervisor page shows it.
type AgentInfo struct {
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Pool   string         `json:"pool"`
	Skills map[string]int `json:"skills"`
}

// QueueInfo is one queue's configuration as the supervisor page shows it.
type QueueInfo struct {
	Name          string        `json:"name"`
	Skill         string        `json:"skill"`
	TargetPercent int           `json:"target_percent"` // service level: this share ...
	TargetWithin  time.Duration `json:"target_within"`  // ... answered within this (ns)
}

// Monitor is what the supervisor's listen, whisper and barge need (*call.Manager).
type Monitor interface {
	// Monitor joins supervisor sup to call id in mode (listen, whisper, barge),
	// or takes them out (leave).
	Monitor(ctx context.Context, sup, id, mode string) error
}

// Auditor writes the supervisors' actions to the event log (*call.Manager).
type Auditor interface {
	Audit(ev event.Event)
}

// wallboard is one snapshot of the floor, sent on the supervisor WebSocket.
type wallboard struct {
	Type   string         `json:"type"` // "wallboard"
	Time   time.Time      `json:"time"`
	Queues []wallQueue    `json:"queues"`
	Agents []wallAgent    `json:"agents"`
	Calls  []wallCall     `json:"calls"`
	Alerts []wallAlert    `json:"alerts"`
	Totals map[string]int `json:"totals"` // agents by state
	Seq    uint64         `json:"seq"`    // the newest event it includes
}

type wallQueue struct {
	queueView
	Skill         string  `json:"skill"`
	TargetPercent int     `json:"target_percent"`
	TargetWithin  float64 `json:"target_within_seconds"`
	Estimate      float64 `json:"estimated_wait_seconds"`
	AtRisk        bool    `json:"at_risk"`
}

type wallAgent struct {
	agentView
	Name   string         `json:"name"`
	Pool   string         `json:"pool"`
	Skills map[string]int `json:"skills"`
	Call   string         `json:"call,omitempty"`
}

type wallCall struct {
	ID     string    `json:"id"`
	Caller string    `json:"caller"`
	State  string    `json:"state"`
	Queue  string    `json:"queue,omitempty"`
	Agent  string    `json:"agent,omitempty"`
	Held   bool      `json:"held"`
	Since  time.Time `json:"since"` // when it entered its state
}

type wallAlert struct {
	Kind    string `json:"kind"` // service_level, agent_stuck, caller_waiting
	Subject string `json:"subject"`
	Text    string `json:"text"`
}

// agentNow is ai with the name, pool and skills as they are now (the
// configuration file's, or a run-time change's).
func (a *api) agentNow(ai AgentInfo) AgentInfo {
	if a.o.Configurer == nil || ai.ID == "" {
		return ai
	}
	if s, ok := a.o.Configurer.AgentSettings(ai.ID); ok {
		ai.Name, ai.Pool, ai.Skills = s.Name, s.Pool, s.Skills
		if ai.Pool == "" {
			ai.Pool = "primary"
		}
	}
	return ai
}

// buildWallboard makes a snapshot from the ACD's live numbers and the live calls.
func (a *api) buildWallboard(ctx context.Context, now time.Time) (*wallboard, error) {
	st, err := a.o.ACD.Stats(ctx)
	if err != nil {
		return nil, err
	}
	d := a.o.Directory
	wb := &wallboard{Type: "wallboard", Time: now, Totals: map[string]int{}, Queues: []wallQueue{}, Agents: []wallAgent{},
		Calls: []wallCall{}, Alerts: []wallAlert{}}
	qinfo := map[string]QueueInfo{}
	for _, q := range d.Queues {
		qinfo[q.Name] = q
	}
	for name, q := range st.Queues {
		info := qinfo[name]
		if a.o.Configurer != nil { // the targets as they are now (run-time changes)
			if qc, ok := a.o.Configurer.QueueConfig(name); ok {
				info.TargetPercent, info.TargetWithin = qc.ServiceLevel.Percent, qc.ServiceLevel.Within
			}
		}
		v := wallQueue{queueView: queueViewOf(name, q, now), Skill: info.Skill, TargetPercent: info.TargetPercent,
			TargetWithin: info.TargetWithin.Seconds(), Estimate: st.Estimates[name].Seconds()}
		if v.ServiceLevel != nil && info.TargetPercent > 0 && *v.ServiceLevel*100 < float64(info.TargetPercent) {
			v.AtRisk = true
			wb.Alerts = append(wb.Alerts, wallAlert{Kind: "service_level", Subject: name,
				Text: fmt.Sprintf("service level %.0f%% below the target %d%%", *v.ServiceLevel*100, info.TargetPercent)})
		}
		limit := d.WaitAlert
		if limit == 0 {
			limit = info.TargetWithin
		}
		if limit == 0 {
			limit = time.Minute
		}
		if q.Waiting > 0 && v.LongestWait > limit.Seconds() {
			wb.Alerts = append(wb.Alerts, wallAlert{Kind: "caller_waiting", Subject: name,
				Text: fmt.Sprintf("a caller has waited %s (over %s)", (time.Duration(v.LongestWait) * time.Second).String(), limit)})
		}
		wb.Queues = append(wb.Queues, v)
	}
	sort.Slice(wb.Queues, func(i, j int) bool { return wb.Queues[i].Name < wb.Queues[j].Name })

	onCall := map[string]string{}
	if a.o.Calls != nil {
		for _, c := range a.o.Calls.List(store.CallFilter{State: store.FilterActive, Limit: store.MaxListLimit}) {
			wc := wallCall{ID: c.ID, Caller: c.Caller, State: c.State, Agent: c.Agent, Held: c.Held, Since: c.Start}
			if c.Route != nil {
				wc.Queue = c.Route.Queue
			}
			if c.State == store.StateConnected {
				wc.Since = c.Connected
				if c.Agent != "" {
					onCall[c.Agent] = c.ID
				}
			}
			wb.Calls = append(wb.Calls, wc)
		}
	}
	stuck := d.StuckAfter
	if stuck == 0 {
		stuck = 15 * time.Minute
	}
	info := map[string]AgentInfo{}
	for _, ai := range d.Agents {
		info[ai.ID] = ai
	}
	for id, ag := range st.Agents {
		ai := a.agentNow(info[id])
		v := wallAgent{agentView: agentViewOf(id, ag, now), Name: ai.Name, Pool: ai.Pool, Skills: ai.Skills, Call: onCall[id]}
		wb.Totals[v.State]++
		limit := time.Duration(0)
		switch ag.State {
		case acd.NotReady:
			limit = stuck
		case acd.WrapUp, acd.Reserved:
			limit = stuck / 5
		}
		if limit > 0 && v.InState > limit.Seconds() {
			wb.Alerts = append(wb.Alerts, wallAlert{Kind: "agent_stuck", Subject: id,
				Text: fmt.Sprintf("%s for %s (over %s)", v.State, (time.Duration(v.InState) * time.Second).String(), limit)})
		}
		wb.Agents = append(wb.Agents, v)
	}
	sort.Slice(wb.Agents, func(i, j int) bool { return wb.Agents[i].ID < wb.Agents[j].ID })
	return wb, nil
}

// supervisorWS serves GET /api/v1/supervisors/{id}/ws?token=T: a wallboard
// snapshot at once and then whenever something changed, at most every
// wallboardEvery, plus the supervisor's own messages (audit confirmations).
func (a *api) supervisorWS(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("token")
	}
	sess, ok := a.o.Sessions.Check(tok)
	if tok == "" || !ok {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "log in first (POST /api/v1/login), then connect with ?token=<token>")
		return
	}
	if sess.Role != RoleSupervisor || sess.ID != r.PathValue("id") {
		writeError(w, http.StatusForbidden, "forbidden", "the wallboard is the supervisor's own")
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: a.o.OriginPatterns})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(wsReadLimit)
	ctx := conn.CloseRead(r.Context()) // the supervisor sends nothing on it
	var changed atomic.Uint64
	if a.o.Events != nil {
		cancel := a.o.Events.Subscribe(func(ev *event.Event) { changed.Store(ev.Seq) })
		defer cancel()
	}
	tick := time.NewTicker(wallboardEvery)
	defer tick.Stop()
	sent, last := uint64(0), time.Time{}
	for first := true; ; first = false {
		seq := changed.Load()
		// Something changed, or a second went by (times in state and waits grow).
		if first || seq != sent || time.Since(last) >= time.Second {
			wb, err := a.buildWallboard(ctx, time.Now())
			if err != nil {
				conn.Close(websocket.StatusInternalError, "acd unavailable")
				return
			}
			wb.Seq = seq
			data, _ := json.Marshal(wb)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = conn.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				return
			}
			sent, last = seq, time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// wallboardEvery is how often the supervisor WebSocket looks for changes.
const wallboardEvery = 250 * time.Millisecond

// moveRequest is the body of POST /api/v1/calls/{id}/move.
type moveRequest struct {
	Queue    string `json:"queue"`
	Priority int    `json:"priority"`
}

// moveCall serves POST /api/v1/calls/{id}/move {"queue": "business", "priority": 9}:
// a supervisor moves a waiting call to another queue and/or priority.
//
// Errors: 400 bad_request, bad_queue; 403 forbidden; 404 call_not_waiting; 409
// call_not_waiting (ringing, answered, a callback).
func (a *api) moveCall(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	if sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "only supervisors move calls")
		return
	}
	var req moveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || (req.Queue == "" && req.Priority == 0) || req.Priority < 0 {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"queue": "business"} and/or {"priority": 9}`)
		return
	}
	id := r.PathValue("id")
	err := a.o.ACD.Do(r.Context(), acd.Command{Kind: acd.CmdMove, Call: id, Queue: req.Queue, Priority: req.Priority, Reason: sess.ID})
	switch {
	case err == nil:
		a.audit(event.Event{Type: event.SupervisorAction, Agent: sess.ID, Reason: "move", Call: id, Queue: req.Queue, Priority: req.Priority})
		writeJSON(w, http.StatusOK, map[string]any{"call": id, "queue": req.Queue, "priority": req.Priority})
	case errors.Is(err, acd.ErrUnknownCall):
		writeError(w, http.StatusNotFound, "call_not_waiting", "no such call waits in a queue")
	case errors.Is(err, acd.ErrUnknownQueue):
		writeError(w, http.StatusBadRequest, "bad_queue", err.Error())
	case errors.Is(err, acd.ErrBadState):
		writeError(w, http.StatusConflict, "call_not_waiting", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "acd_unavailable", err.Error())
	}
}

// monitorRequest is the body of POST /api/v1/supervisors/{id}/monitor.
type monitorRequest struct {
	Call string `json:"call"`
	Mode string `json:"mode"`
}

// monitorCall serves POST /api/v1/supervisors/{id}/monitor {"call": ID, "mode":
// "listen"|"whisper"|"barge"|"leave"}: the supervisor's own browser media joins
// the call (connect it first with POST /api/v1/agents/{supervisor}/media).
//
// Errors: 400 bad_request; 403 forbidden; 409 not_on_call (the call is not
// talking to an agent), no_media (the supervisor's media is not connected).
func (a *api) monitorCall(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	if sess.Role != RoleSupervisor || sess.ID != r.PathValue("id") {
		writeError(w, http.StatusForbidden, "forbidden", "a supervisor monitors with their own media")
		return
	}
	var req monitorRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Call == "" || !slices.Contains([]string{"listen", "whisper", "barge", "leave"}, req.Mode) {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"call": "<id>", "mode": "listen"|"whisper"|"barge"|"leave"}`)
		return
	}
	err := a.o.Monitor.Monitor(r.Context(), sess.ID, req.Call, req.Mode)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"call": req.Call, "mode": req.Mode})
	case errors.Is(err, call.ErrNotOnCall):
		writeError(w, http.StatusConflict, "not_on_call", err.Error())
	case errors.Is(err, call.ErrNoEndpoint):
		writeError(w, http.StatusConflict, "no_media", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "monitor_failed", err.Error())
	}
}

// audit writes a supervisor's action to the event log.
func (a *api) audit(ev event.Event) {
	if a.o.Auditor != nil {
		a.o.Auditor.Audit(ev)
	}
}

// Callbacks is what the abandoned-calls list needs (*call.Manager).
type Callbacks interface {
	Abandoned(limit int) []store.CallRecord
	CallBack(ctx context.Context, id, by string) error
}

// abandoned serves GET /api/v1/abandoned?limit=N: the calls whose callers hung up
// while waiting in a queue, newest first, with number, queue and wait (supervisors).
func (a *api) abandoned(w http.ResponseWriter, r *http.Request) {
	if sess, _ := SessionFrom(r.Context()); sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "supervisors only")
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		fmt.Sscan(s, &limit)
	}
	calls := a.o.Callbacks.Abandoned(limit)
	if calls == nil {
		calls = []store.CallRecord{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": calls})
}

// callBack serves POST /api/v1/calls/{id}/callback: a supervisor puts an abandoned
// call on its queue's callback list. 409 not_abandoned, no_outbound_trunk.
func (a *api) callBack(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	if sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "supervisors only")
		return
	}
	id := r.PathValue("id")
	err := a.o.Callbacks.CallBack(r.Context(), id, sess.ID)
	switch {
	case err == nil:
		a.audit(event.Event{Type: event.SupervisorAction, Agent: sess.ID, Reason: "callback", Call: id})
		writeJSON(w, http.StatusOK, map[string]string{"call": id, "callback": "queued"})
	case errors.Is(err, call.ErrNoTrunk):
		writeError(w, http.StatusConflict, "no_outbound_trunk", err.Error())
	case errors.Is(err, call.ErrNotOnCall):
		writeError(w, http.StatusConflict, "not_abandoned", err.Error())
	default:
		writeError(w, http.StatusConflict, "callback_refused", err.Error())
	}
}
