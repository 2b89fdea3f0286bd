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
// call.ErrUnknownQueue, call.ErrBadTarget, call.ErrTargetNotReady,
// call.ErrBadNumber, call.ErrNoTrunk or call.ErrBadOp (wrapped) for the requests it
// refuses.
type CallControl interface {
	Control(ctx context.Context, agent string, op call.Op) error
}

var _ CallControl = (*call.Manager)(nil)

// controlRequest is the body of POST /api/v1/agents/{id}/call.
type controlRequest struct {
	Op     string `json:"op"`
	Queue  string `json:"queue"`
	Agent  string `json:"agent"`
	Number string `json:"number"`
	Call   string `json:"call"`
}

// callOps maps the API's operation names to the call package's (a transfer's kind
// depends on its target: see controlCall).
var callOps = map[string]call.OpKind{
	"hangup":   call.OpHangup,
	"hold":     call.OpHold,
	"resume":   call.OpResume,
	"transfer": call.OpTransferQueue,
	"answer":   call.OpAnswer,
	"reject":   call.OpReject,

	"pause_recording":  call.OpPauseRecording,
	"resume_recording": call.OpResumeRecording,
	"consult":          call.OpConsult,
	"consult_complete": call.OpConsultComplete,
	"consult_cancel":   call.OpConsultCancel,
}

// controlCall serves POST /api/v1/agents/{id}/call: answer or reject the call
// ringing on a WebRTC agent's page ("call": its id, optional), or hang up, hold,
// resume or blind transfer the call agent {id} is on. A transfer names exactly one target: "queue",
// "agent" (who must be ready) or "number" (an outside number dialled through the
// outbound trunk); the other operations name none. Agents act only on their own
// call; supervisors on anyone's.
//
// Errors (the "code" of the error body): 400 bad_request (not JSON, unknown field),
// bad_op, bad_transfer (no target, several, or a target on another operation),
// bad_queue, bad_agent (unknown, or the agent themself), bad_number; 403 forbidden;
// 404 agent_not_found; 409 not_on_call, not_ringing, agent_not_ready, no_outbound_trunk; 503
// call_unavailable.
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
		writeError(w, http.StatusBadRequest, "bad_request", `want {"op": "answer"|"reject"|"hangup"|"hold"|"resume"|"transfer", "queue"|"agent"|"number"|"call": "..."}`)
		return
	}
	kind, ok := callOps[req.Op]
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_op", "op must be answer, reject, hangup, hold, resume, transfer, consult, consult_complete, consult_cancel, pause_recording or resume_recording")
		return
	}
	targets := 0
	for _, t := range []string{req.Queue, req.Agent, req.Number} {
		if t != "" {
			targets++
		}
	}
	takesTarget := kind == call.OpTransferQueue || kind == call.OpConsult
	if takesTarget != (targets == 1) || targets > 1 {
		writeError(w, http.StatusBadRequest, "bad_transfer", `a transfer or consult needs exactly one of "queue", "agent" or "number", and only they take one`)
		return
	}
	if req.Call != "" && kind != call.OpAnswer && kind != call.OpReject {
		writeError(w, http.StatusBadRequest, "bad_request", `only answer and reject name a "call"`)
		return
	}
	target := ""
	switch {
	case req.Queue != "":
		target = "queue"
	case req.Agent != "":
		target = "agent"
		if kind == call.OpTransferQueue {
			kind = call.OpTransferAgent
		}
	case req.Number != "":
		target = "number"
		if kind == call.OpTransferQueue {
			kind = call.OpTransferNumber
		}
		if !call.ValidNumber(req.Number) {
			writeError(w, http.StatusBadRequest, "bad_number", "number must be 3 to 20 digits, optionally after a '+'")
			return
		}
	}
	err := a.o.CallControl.Control(r.Context(), id, call.Op{Kind: kind, Queue: req.Queue, Agent: req.Agent, Number: req.Number, Call: req.Call, Target: target})
	switch {
	case err == nil:
		out := map[string]string{"agent": id, "op": req.Op}
		switch {
		case req.Queue != "":
			out["queue"] = req.Queue
		case req.Agent != "":
			out["to_agent"] = req.Agent
		case req.Number != "":
			out["number"] = req.Number
		}
		writeJSON(w, http.StatusOK, out)
	case errors.Is(err, call.ErrUnknownAgent):
		writeError(w, http.StatusNotFound, "agent_not_found", err.Error())
	case errors.Is(err, call.ErrNotOnCall):
		writeError(w, http.StatusConflict, "not_on_call", err.Error())
	case errors.Is(err, call.ErrNotRinging):
		writeError(w, http.StatusConflict, "not_ringing", err.Error())
	case errors.Is(err, call.ErrNotRecording):
		writeError(w, http.StatusConflict, "not_recording", err.Error())
	case errors.Is(err, call.ErrConsulting):
		writeError(w, http.StatusConflict, "consulting", err.Error())
	case errors.Is(err, call.ErrNotConsulting):
		writeError(w, http.StatusConflict, "not_consulting", err.Error())
	case errors.Is(err, call.ErrUnknownQueue):
		writeError(w, http.StatusBadRequest, "bad_queue", err.Error())
	case errors.Is(err, call.ErrBadTarget):
		writeError(w, http.StatusBadRequest, "bad_agent", err.Error())
	case errors.Is(err, call.ErrBadNumber):
		writeError(w, http.StatusBadRequest, "bad_number", err.Error())
	case errors.Is(err, call.ErrTargetNotReady):
		writeError(w, http.StatusConflict, "agent_not_ready", err.Error())
	case errors.Is(err, call.ErrNoTrunk):
		writeError(w, http.StatusConflict, "no_outbound_trunk", err.Error())
	case errors.Is(err, call.ErrBadOp):
		writeError(w, http.StatusBadRequest, "bad_op", err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, "call_unavailable", err.Error())
	}
}
