package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline12345/hotline/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options are what the HTTP side reads from.
type Options struct {
	// Calls is the projection of call events that /api/v1/calls lists.
	Calls *store.CallView
	// Ready reports whether the engine can take calls (nil error) for /readyz.
	Ready func() error
	// Gatherer is the metrics registry /metrics exposes.
	Gatherer prometheus.Gatherer
	// ACD, when set, serves the queues and agents API.
	ACD ACD
	// Sessions, when set, serves POST /api/v1/login and /logout and guards the
	// endpoints that need a logged-in agent or supervisor.
	Sessions *Sessions
	// CallControl, when set with Sessions, serves POST /api/v1/agents/{id}/call.
	CallControl CallControl
	// Events, with Sessions, serves the agents' WebSocket GET /api/v1/agents/{id}/ws
	// (*store.Store). Handler subscribes to it once, for the life of the process.
	Events Feed
	// OriginPatterns are the browser origins (host patterns, path.Match syntax) allowed
	// to open the agents' WebSocket besides the engine's own host. Empty: same host only.
	OriginPatterns []string
	// Softphones, with Sessions, serves the agents' media connections
	// (/api/v1/agents/{id}/media) and the agent page /agent.
	Softphones Softphones
	// ICEServers are the STUN/TURN servers handed to the agents' browsers.
	ICEServers []ICEServer
	// Sites are the base URLs of every site's pages in a hot-standby pair
	// (https://a.example:8443): the agent page moves to whichever is active when
	// its own site is lost (with a SessionShare in Sessions, the token holds there).
	Sites []string
	// Recordings, with Sessions, serves /api/v1/recordings.
	Recordings Recordings
	// Directory is the configuration the supervisor page shows (agents' names,
	// pools and skills; queues' targets). With ACD and Sessions it serves the
	// supervisor WebSocket and page.
	Directory Directory
	// Monitor serves listen, whisper and barge; Auditor writes supervisors'
	// actions to the log.
	Monitor Monitor
	Auditor Auditor
	// Reports, with Sessions, serves GET /api/v1/reports to supervisors (*report.Live).
	Reports Reports
	// Tickets, with Sessions, serves the work orders (/api/v1/tickets) and the
	// hooks' dead letters.
	Tickets Tickets
	// Configurer, with Sessions, serves the run-time changes of queues and agents.
	Configurer Configurer
	// Callbacks, with Sessions, serves the abandoned calls and calling them back.
	Callbacks Callbacks
	// Standby, when set and true, makes the API read-only: a standby site (hot
	// standby) shows its warm copy but refuses every change with 503 "standby"
	// (login and logout excepted), so that nothing is changed on the site that
	// does not write the log.
	Standby func() bool
	Logger  *slog.Logger

	ws wsConfig // tests tune the WebSocket
}

// Handler returns the engine's HTTP handler.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{o: o}
	if o.Events != nil && o.Sessions != nil {
		a.hub = newWSHub(o.ws, o.Logger)
		o.Events.Subscribe(a.hub.publish)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.HandleFunc("GET /api/v1/calls", a.listCalls)
	mux.HandleFunc("GET /api/v1/calls/{id}", a.getCall)
	if o.Sessions != nil {
		mux.HandleFunc("POST /api/v1/login", o.Sessions.handleLogin)
		mux.HandleFunc("POST /api/v1/logout", o.Sessions.requireAuth(o.Sessions.handleLogout))
		mux.HandleFunc("GET /api/v1/me", o.Sessions.requireAuth(func(w http.ResponseWriter, r *http.Request) {
			sess, _ := SessionFrom(r.Context())
			sess.Token = ""
			writeJSON(w, http.StatusOK, sess)
		}))
	}
	if o.ACD != nil {
		mux.HandleFunc("GET /api/v1/queues", a.queues)
		mux.HandleFunc("GET /api/v1/agents", a.agents)
		if o.Sessions != nil {
			mux.HandleFunc("POST /api/v1/agents/{id}/state", o.Sessions.requireAuth(a.setState))
		}
	}
	if o.CallControl != nil && o.Sessions != nil {
		mux.HandleFunc("POST /api/v1/agents/{id}/call", o.Sessions.requireAuth(a.controlCall))
	}
	if a.hub != nil {
		mux.HandleFunc("GET /api/v1/agents/{id}/ws", a.agentWS)
	}
	if o.ACD != nil && o.Sessions != nil {
		mux.HandleFunc("GET /api/v1/supervisors/{id}/ws", a.supervisorWS)
		mux.HandleFunc("POST /api/v1/calls/{id}/move", o.Sessions.requireAuth(a.moveCall))
		mux.HandleFunc("GET /api/v1/directory", o.Sessions.requireAuth(func(w http.ResponseWriter, r *http.Request) {
			agents := make([]AgentInfo, 0, len(o.Directory.Agents))
			for _, ai := range o.Directory.Agents {
				agents = append(agents, a.agentNow(ai))
			}
			writeJSON(w, http.StatusOK, map[string]any{"agents": agents, "queues": nonNil(o.Directory.Queues)})
		}))
		files := staticFiles()
		mux.Handle("GET /supervisor/", files)
		mux.HandleFunc("GET /supervisor", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/supervisor/", http.StatusFound)
		})
	}
	if o.Callbacks != nil && o.Sessions != nil {
		mux.HandleFunc("GET /api/v1/abandoned", o.Sessions.requireAuth(a.abandoned))
		mux.HandleFunc("POST /api/v1/calls/{id}/callback", o.Sessions.requireAuth(a.callBack))
	}
	if o.Configurer != nil && o.Sessions != nil {
		mux.HandleFunc("PUT /api/v1/queues/{name}", o.Sessions.requireAuth(a.configureQueue))
		mux.HandleFunc("PUT /api/v1/agents/{id}/config", o.Sessions.requireAuth(a.configureAgent))
	}
	if o.Tickets != nil && o.Sessions != nil {
		a.ticketRoutes(mux)
	}
	if o.Reports != nil && o.Sessions != nil {
		mux.HandleFunc("GET /api/v1/reports", o.Sessions.requireAuth(reportsHandler(o.Reports)))
	}
	if o.Monitor != nil && o.Sessions != nil {
		mux.HandleFunc("POST /api/v1/supervisors/{id}/monitor", o.Sessions.requireAuth(a.monitorCall))
	}
	if o.Recordings != nil && o.Sessions != nil {
		mux.HandleFunc("GET /api/v1/recordings", o.Sessions.requireAuth(a.listRecordings))
		mux.HandleFunc("GET /api/v1/recordings/{id}", o.Sessions.requireAuth(a.getRecording))
		mux.HandleFunc("GET /api/v1/recordings/{id}/audio", o.Sessions.requireAuth(a.recordingAudio))
	}
	if o.Softphones != nil && o.Sessions != nil {
		mux.HandleFunc("POST /api/v1/agents/{id}/media", o.Sessions.requireAuth(a.connectMedia))
		mux.HandleFunc("DELETE /api/v1/agents/{id}/media", o.Sessions.requireAuth(a.disconnectMedia))
		mux.HandleFunc("GET /api/v1/agents/{id}/media", o.Sessions.requireAuth(a.mediaState))
		mux.HandleFunc("GET /api/v1/webrtc", a.webrtcConfig)
		files := staticFiles()
		mux.Handle("GET /agent/", files)
		mux.HandleFunc("GET /agent", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/agent/", http.StatusFound)
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)}))
	}
	var h http.Handler = mux
	if o.Standby != nil {
		h = readOnlyWhenStandby(o.Standby, mux)
	}
	return recoverer(o.Logger, h)
}

// readOnlyWhenStandby refuses changes while standby() says this site is the standby.
func readOnlyWhenStandby(standby func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet, r.Method == http.MethodHead, r.Method == http.MethodOptions,
			r.URL.Path == "/api/v1/login", r.URL.Path == "/api/v1/logout", !standby():
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "2")
			writeError(w, http.StatusServiceUnavailable, "standby", "this site is the standby: changes go to the active site")
		}
	})
}

type api struct {
	o   Options
	hub *wsHub // nil without Events
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	// The agent page of the other site of a pair asks which site is active: the
	// answer says no more than a load balancer's probe learns.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if a.o.Ready != nil {
		if err := a.o.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// listCalls serves GET /api/v1/calls?state=ivr&limit=50: live and recent calls,
// newest first.
func (a *api) listCalls(w http.ResponseWriter, r *http.Request) {
	f := store.CallFilter{State: r.URL.Query().Get("state")}
	switch f.State {
	case "", store.FilterActive, store.StateRinging, store.StateIVR, store.StateRouted, store.StateConnected, store.StateEnded:
	default:
		writeError(w, http.StatusBadRequest, "bad_state", "state must be one of active, ringing, ivr, routed, connected, ended")
		return
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit must be a number from 1 to 1000")
			return
		}
		f.Limit = n
	}
	calls := a.o.Calls.List(f)
	writeJSON(w, http.StatusOK, map[string]any{"calls": calls, "active": a.o.Calls.Active(), "time": time.Now().UTC()})
}

func (a *api) getCall(w http.ResponseWriter, r *http.Request) {
	rec, ok := a.o.Calls.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "call_not_found", "no call with id "+strconv.Quote(r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// Error is the body of every API error: a stable code for programs, a message for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]Error{"error": {Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// recoverer turns a panic in a handler into a 500 with a log line, so one bad request
// never takes the engine down.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				log.Error("HTTP handler panic", "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, "internal", "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// nonNil returns s, or an empty slice for nil (JSON [] rather than null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
