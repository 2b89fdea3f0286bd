package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

// Configurer changes queues and agents at run time (*call.Manager).
type Configurer interface {
	ConfigureQueue(ctx context.Context, by, name string, body []byte) (queue.Config, error)
	ConfigureAgent(ctx context.Context, by, id string, s acd.AgentSettings) error
	QueueConfig(name string) (queue.Config, bool)
	AgentSettings(id string) (acd.AgentSettings, bool)
}

var _ Configurer = (*call.Manager)(nil)

// configureQueue serves PUT /api/v1/queues/{name}: a supervisor changes the
// queue's settings; the body holds the keys that change, named as in the
// configuration file ({"ring_timeout": "20s", "strategy": "round-robin",
// "service_level": {"percent": 90, "within": "15s"}}). The change is kept in the
// log and applied again after a restart. 200 with the queue's settings; 400
// bad_settings; 403; 404 queue_not_found.
func (a *api) configureQueue(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	if sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "only supervisors change queues")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil || len(body) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "want the settings that change, as JSON")
		return
	}
	name := r.PathValue("name")
	q, err := a.o.Configurer.ConfigureQueue(r.Context(), sess.ID, name, body)
	switch {
	case err == nil:
		a.audit(event.Event{Type: event.SupervisorAction, Agent: sess.ID, Reason: "configure-queue", Queue: name})
		writeJSON(w, http.StatusOK, map[string]any{"name": q.Name, "skill": q.Skill, "strategy": q.Strategy,
			"ring_timeout_seconds": q.RingTimeout.Seconds(), "wrap_up_seconds": q.WrapUp.Seconds(),
			"max_wait_seconds": q.MaxWait.Seconds(), "max_length": q.MaxLength,
			"service_level":          map[string]any{"percent": q.ServiceLevel.Percent, "within_seconds": q.ServiceLevel.Within.Seconds()},
			"announce_every_seconds": q.AnnounceEvery.Seconds(), "record": q.Record})
	case errors.Is(err, call.ErrUnknownQueue):
		writeError(w, http.StatusNotFound, "queue_not_found", err.Error())
	case errors.Is(err, call.ErrBadSettings):
		writeError(w, http.StatusBadRequest, "bad_settings", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "acd_unavailable", err.Error())
	}
}

// configureAgent serves PUT /api/v1/agents/{id}/config {"name", "pool",
// "skills": {"call-taking": 7}}: a supervisor changes a logged-out agent's pool
// and skills (kept in the log, applied again after a restart). 200; 400
// bad_settings; 403; 404 agent_not_found; 409 agent_logged_in.
func (a *api) configureAgent(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	if sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "only supervisors change agents")
		return
	}
	var s acd.AgentSettings
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"name": "...", "pool": "primary"|"backup", "skills": {"call-taking": 7}}`)
		return
	}
	id := r.PathValue("id")
	err := a.o.Configurer.ConfigureAgent(r.Context(), sess.ID, id, s)
	switch {
	case err == nil:
		a.audit(event.Event{Type: event.SupervisorAction, Agent: sess.ID, Reason: "configure-agent", Dialled: id})
		writeJSON(w, http.StatusOK, map[string]any{"agent": id, "pool": s.Pool, "skills": s.Skills})
	case errors.Is(err, call.ErrUnknownAgent):
		writeError(w, http.StatusNotFound, "agent_not_found", err.Error())
	case errors.Is(err, call.ErrBadSettings):
		writeError(w, http.StatusBadRequest, "bad_settings", err.Error())
	case errors.Is(err, call.ErrTargetNotReady):
		writeError(w, http.StatusConflict, "agent_logged_in", "log the agent out first: "+err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "acd_unavailable", err.Error())
	}
}
