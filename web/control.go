package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hotline12345/hotline/call"
)

// CallControl is what the agent API needs to act on the call an agent is on
// (call.Manager). Control must be safe for concurrent use and return once the
// operation is done, with call.ErrNotOnCall, call.ErrUnknownAgent,
// call.ErrUnknownQueue or call.ErrBadOp (wrapped) for the requests it refuses.
type CallControl interface {
	Control(ctx context.Context, agent string, op call.Op) error
}

var _ CallControl = (*call.Manager)(nil)

// controlRequest is the body of POST /api/v1/agents/{id}/call.
type controlRequest struct {
	Op    string `json:"op"`
	Queue string `json:"queue"`
}

// callOps maps the API's operation names to the call package's.
var callOps = map[string]call.OpKind{
	"hangup":   call.OpHangup,
	"hold":     call.OpHold,
	"resume":   call.OpResume,
	"transfer": call.OpTransferQueue,
}

// controlCall serves POST /api/v1/agents/{id}/call: hang up, hold, resume or blind
// transfer to a queue the call agent {id} is on. Agents act only on their own call;
// supervisors on anyone's.
func (a *api) controlCall(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	id := r.PathValue("id")
	if sess.ID != id && sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "an agent may act only on their own call")
		return
	}
	var req controlRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"op": "hangup"|"hold"|"resume"|"transfer", "queue": "..."}`)
		return
	}
	kind, ok := callOps[req.Op]
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_op", "op must be hangup, hold, resume or transfer")
		return
	}
	if (kind == call.OpTransferQueue) != (req.Queue != "") {
		writeError(w, http.StatusBadRequest, "bad_queue", "a transfer needs a queue, and only a transfer takes one")
		return
	}
	err := a.o.CallControl.Control(r.Context(), id, call.Op{Kind: kind, Queue: req.Queue})
	switch {
	case err == nil:
		out := map[string]string{"agent": id, "op": req.Op}
		if req.Queue != "" {
			out["queue"] = req.Queue
		}
		writeJSON(w, http.StatusOK, out)
	case errors.Is(err, call.ErrUnknownAgent):
		writeError(w, http.StatusNotFound, "agent_not_found", err.Error())
	case errors.Is(err, call.ErrNotOnCall):
		writeError(w, http.StatusConflict, "not_on_call", err.Error())
	case errors.Is(err, call.ErrUnknownQueue):
		writeError(w, http.StatusBadRequest, "bad_queue", err.Error())
	case errors.Is(err, call.ErrBadOp):
		writeError(w, http.StatusBadRequest, "bad_op", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "call_unavailable", err.Error())
	}
}
