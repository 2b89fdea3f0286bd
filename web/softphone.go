package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/media"
)

// Softphones is what the agent page needs of the engine's WebRTC side
// (*call.Manager).
type Softphones interface {
	// Connect answers the agent browser's SDP offer (restart: an ICE restart of the
	// connection the agent has).
	Connect(ctx context.Context, agent, offer string, restart bool) (string, error)
	// Disconnect closes the agent's media connection.
	Disconnect(agent string)
	// MediaState is "none", "connecting", "connected", "disconnected", "failed" or "closed".
	MediaState(agent string) string
}

var _ Softphones = (*call.Manager)(nil)

// ICEServer is a STUN or TURN server handed to the agents' browsers (the
// RTCIceServer dictionary of the WebRTC API).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

//go:embed static
var static embed.FS

// mediaRequest is the body of POST /api/v1/agents/{id}/media.
type mediaRequest struct {
	SDP     string `json:"sdp"`
	Restart bool   `json:"restart"`
}

// connectMedia serves POST /api/v1/agents/{id}/media: the agent's browser sends its
// SDP offer ({"sdp": "...", "restart": false}) and gets the engine's answer
// ({"sdp": "..."}). Only the agent themself may connect their media.
//
// Errors: 400 bad_request, bad_offer (no G.711 audio, not SDP); 403 forbidden; 404
// agent_not_found; 409 not_webrtc (a SIP seat); 503 webrtc_unavailable.
func (a *api) connectMedia(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	id := r.PathValue("id")
	if sess.ID != id {
		writeError(w, http.StatusForbidden, "forbidden", "only the agent themself connects their media")
		return
	}
	var req mediaRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.SDP == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `want {"sdp": "<the browser's SDP offer>", "restart": false}`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ans, err := a.o.Softphones.Connect(ctx, id, req.SDP, req.Restart)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"sdp": ans})
	case errors.Is(err, call.ErrUnknownAgent):
		writeError(w, http.StatusNotFound, "agent_not_found", err.Error())
	case errors.Is(err, call.ErrNotWebRTC):
		writeError(w, http.StatusConflict, "not_webrtc", err.Error())
	case errors.Is(err, media.ErrBadOffer):
		writeError(w, http.StatusBadRequest, "bad_offer", err.Error())
	default:
		a.o.Logger.Warn("agent media connection refused", "agent_id", id, "error", err)
		writeError(w, http.StatusServiceUnavailable, "webrtc_unavailable", err.Error())
	}
}

// disconnectMedia serves DELETE /api/v1/agents/{id}/media.
func (a *api) disconnectMedia(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	id := r.PathValue("id")
	if sess.ID != id && sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "an agent may close only their own media")
		return
	}
	a.o.Softphones.Disconnect(id)
	writeJSON(w, http.StatusOK, map[string]string{"agent": id, "media": "closed"})
}

// mediaState serves GET /api/v1/agents/{id}/media: {"state": "connected"}.
func (a *api) mediaState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"agent": r.PathValue("id"), "state": a.o.Softphones.MediaState(r.PathValue("id"))})
}

// webrtcConfig serves GET /api/v1/webrtc: what the page builds its
// RTCPeerConnection with.
func (a *api) webrtcConfig(w http.ResponseWriter, r *http.Request) {
	servers := a.o.ICEServers
	if servers == nil {
		servers = []ICEServer{}
	}
	sites := a.o.Sites
	if sites == nil {
		sites = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ice_servers": servers, "sites": sites})
}

// staticFiles serves the agent page and its assets, embedded in the binary.
func staticFiles() http.Handler {
	sub, _ := fs.Sub(static, "static")
	return http.FileServerFS(sub)
}
