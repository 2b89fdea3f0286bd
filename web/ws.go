package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
)

// Feed is where the agent WebSocket reads the engine's events from (*store.Store).
// Subscribe must call fn synchronously, in sequence order; fn never blocks.
type Feed interface {
	Subscribe(fn func(*event.Event)) (cancel func())
}

// Types of the messages on the agent WebSocket (Message.Type). The server sends all
// but MsgState's request form; the client sends only MsgState.
const (
	MsgResync          = "resync"           // State, Reason, Since: the current state; seq is the newest message's
	MsgState           = "state"            // State, Reason (server: agent.state; client: a change request)
	MsgLogin           = "login"            // Pool
	MsgLogout          = "logout"           // Reason
	MsgOffer           = "offer"            // Call, Queue, Pool, Caller, Reason (ring-all, callback)
	MsgOfferAccepted   = "offer_accepted"   // Call, Queue
	MsgOfferRejected   = "offer_rejected"   // Call, Queue
	MsgOfferTimedOut   = "offer_timed_out"  // Call, Queue
	MsgOfferWithdrawn  = "offer_withdrawn"  // Call, Queue, Reason
	MsgCallConnected   = "call_connected"   // Call
	MsgCallHeld        = "call_held"        // Call, Reason
	MsgCallResumed     = "call_resumed"     // Call
	MsgCallEnded       = "call_ended"       // Call, Side, Cause
	MsgCallTransferred = "call_transferred" // Call, Queue, Reason (queue, agent, number, consult): the agent's part is over
	MsgConsult         = "consult"          // Call, Reason (started, connected, completed, cancelled, failed), Target, Queue, Cause
	MsgSupervisor      = "supervisor"       // Call, Reason (listen, whisper, barge, leave), Target (the supervisor): a supervisor on the agent's call
	MsgError           = "error"            // Code, Message: a reply to a bad client frame
)

// Message is one JSON frame on the agent WebSocket. Seq numbers the messages of one
// agent from 1, one more per message, while the engine runs; error replies carry no
// seq, and a resync carries the seq of the newest message it stands for.
type Message struct {
	Seq     uint64    `json:"seq,omitempty"`
	Type    string    `json:"type"`
	Time    time.Time `json:"time,omitzero"`
	Call    string    `json:"call,omitempty"`
	Queue   string    `json:"queue,omitempty"`
	Pool    string    `json:"pool,omitempty"`
	Caller  string    `json:"caller,omitempty"`
	State   string    `json:"state,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Side    string    `json:"side,omitempty"`
	Cause   string    `json:"cause,omitempty"`
	Code    string    `json:"code,omitempty"`
	Message string    `json:"message,omitempty"`
	Target  string    `json:"target,omitempty"` // a consult's agent or number
}

// wsConfig tunes the agent WebSocket; tests shrink it.
type wsConfig struct {
	ring         int           // messages kept per agent for resuming
	buffer       int           // messages queued per connection before it is cut off
	ping         time.Duration // keepalive interval
	writeTimeout time.Duration // a write (or ping) that takes longer ends the connection
	created      func(*wsHub)  // tests: called with the new hub
}

func (c wsConfig) withDefaults() wsConfig {
	if c.ring <= 0 {
		c.ring = 256
	}
	if c.buffer <= 0 {
		c.buffer = 64
	}
	if c.ping <= 0 {
		c.ping = 20 * time.Second
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = 10 * time.Second
	}
	return c
}

// wsReadLimit is the largest frame a client may send; a bigger one closes the socket.
const wsReadLimit = 32 << 10

type frame struct {
	seq  uint64
	data []byte
}

// wsClient is one connection of an agent, as the hub sees it.
type wsClient struct {
	agent  string
	ch     chan frame
	kicked chan struct{} // closed by the hub when ch was full
}

// agentStream is the numbered messages of one agent and its connections.
type agentStream struct {
	head    uint64  // seq of the newest message
	ring    []frame // the newest messages, oldest first once full at ring[next]
	next    int
	clients map[*wsClient]struct{}
}

// since returns the messages after seq, oldest first, and whether they are all there.
func (s *agentStream) since(seq uint64) ([]frame, bool) {
	if seq > s.head {
		return nil, false
	}
	n := int(s.head - seq)
	if n > len(s.ring) {
		return nil, false
	}
	out := make([]frame, 0, n)
	for i := len(s.ring) - n; i < len(s.ring); i++ {
		out = append(out, s.ring[(s.next+i)%len(s.ring)])
	}
	return out, true
}

// wsHub turns events into per-agent numbered messages and fans them out. publish
// runs on the store's appender: it only takes mu and never blocks on a client.
type wsHub struct {
	cfg wsConfig
	log *slog.Logger

	mu      sync.Mutex
	streams map[string]*agentStream
	calls   map[string]*callTrack // live calls: who to tell about them
}

type callTrack struct {
	caller string
	agents []string // offered or connected
}

func newWSHub(cfg wsConfig, log *slog.Logger) *wsHub {
	h := &wsHub{cfg: cfg.withDefaults(), log: log, streams: map[string]*agentStream{}, calls: map[string]*callTrack{}}
	if cfg.created != nil {
		cfg.created(h)
	}
	return h
}

func (h *wsHub) stream(agent string) *agentStream {
	s := h.streams[agent]
	if s == nil {
		s = &agentStream{clients: map[*wsClient]struct{}{}}
		h.streams[agent] = s
	}
	return s
}

func (h *wsHub) track(call string) *callTrack {
	t := h.calls[call]
	if t == nil {
		t = &callTrack{}
		h.calls[call] = t
	}
	return t
}

// publish is the Feed subscriber.
func (h *wsHub) publish(ev *event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := Message{Time: ev.Time, Call: ev.Call, Queue: ev.Queue}
	switch ev.Type {
	case event.CallCreated, event.QueueJoined:
		if ev.Caller != "" {
			h.track(ev.Call).caller = ev.Caller
		}
	case event.AgentState:
		m.Type, m.State, m.Reason = MsgState, ev.State, ev.Reason
		h.send(ev.Agent, m)
	case event.AgentLogin:
		m.Type, m.Pool = MsgLogin, ev.Pool
		h.send(ev.Agent, m)
	case event.AgentLogout:
		m.Type, m.Reason = MsgLogout, ev.Reason
		h.send(ev.Agent, m)
	case event.OfferMade:
		t := h.track(ev.Call)
		if !slices.Contains(t.agents, ev.Agent) {
			t.agents = append(t.agents, ev.Agent)
		}
		m.Type, m.Pool, m.Reason, m.Caller = MsgOffer, ev.Pool, ev.Reason, t.caller
		h.send(ev.Agent, m)
	case event.OfferAccepted:
		m.Type = MsgOfferAccepted
		h.send(ev.Agent, m)
	case event.OfferRejected, event.OfferTimedOut, event.OfferWithdrawn:
		m.Type = map[event.Type]string{event.OfferRejected: MsgOfferRejected, event.OfferTimedOut: MsgOfferTimedOut,
			event.OfferWithdrawn: MsgOfferWithdrawn}[ev.Type]
		m.Reason = ev.Reason
		if t := h.calls[ev.Call]; t != nil {
			t.agents = slices.DeleteFunc(t.agents, func(a string) bool { return a == ev.Agent })
		}
		h.send(ev.Agent, m)
	case event.CallConnected:
		if ev.Agent != "" {
			t := h.track(ev.Call)
			if !slices.Contains(t.agents, ev.Agent) {
				t.agents = append(t.agents, ev.Agent)
			}
		}
		m.Queue, m.Type = "", MsgCallConnected
		h.toCall(ev.Call, m)
	case event.CallHeld:
		m.Type, m.Reason = MsgCallHeld, ev.Reason
		h.toCall(ev.Call, m)
	case event.CallResumed:
		m.Type = MsgCallResumed
		h.toCall(ev.Call, m)
	case event.SupervisorAction:
		if ev.Call != "" && ev.Dialled != "" && ev.Reason != "move" && ev.Reason != "state" {
			m.Type, m.Reason, m.Target = MsgSupervisor, ev.Reason, ev.Agent
			h.send(ev.Dialled, m)
		}
	case event.CallAgentLeft:
		// The agent hung up; the caller stays for the survey: the call is over for
		// the agent.
		m.Type, m.Side, m.Cause = MsgCallEnded, event.SideAgent, "agent hung up"
		h.send(ev.Agent, m)
		if t := h.calls[ev.Call]; t != nil {
			t.agents = slices.DeleteFunc(t.agents, func(a string) bool { return a == ev.Agent })
		}
	case event.CallConsult:
		m.Type, m.Reason, m.Target, m.Cause = MsgConsult, ev.Reason, ev.Dialled, ev.Cause
		h.send(ev.Agent, m)
	case event.CallTransferred:
		m.Type, m.Reason = MsgCallTransferred, ev.Reason
		h.send(ev.Agent, m)
		if t := h.calls[ev.Call]; t != nil {
			t.agents = slices.DeleteFunc(t.agents, func(a string) bool { return a == ev.Agent })
		}
	case event.CallEnded:
		m.Type, m.Side, m.Cause = MsgCallEnded, ev.Side, ev.Cause
		h.toCall(ev.Call, m)
		delete(h.calls, ev.Call)
	}
}

func (h *wsHub) toCall(call string, m Message) {
	if t := h.calls[call]; t != nil {
		for _, a := range t.agents {
			h.send(a, m)
		}
	}
}

// send numbers m in agent's stream, keeps it in the ring and hands it to the agent's
// connections; one whose queue is full is cut off. h.mu is held.
func (h *wsHub) send(agent string, m Message) {
	if agent == "" {
		return
	}
	s := h.stream(agent)
	s.head++
	m.Seq = s.head
	data, err := json.Marshal(m)
	if err != nil { // cannot happen: Message has only strings and times
		h.log.Error("agent websocket: encode", "agent_id", agent, "err", err)
		return
	}
	f := frame{seq: m.Seq, data: data}
	if len(s.ring) < h.cfg.ring {
		s.ring = append(s.ring, f)
	} else {
		s.ring[s.next] = f
		s.next = (s.next + 1) % len(s.ring)
	}
	for c := range s.clients {
		select {
		case c.ch <- f:
		default:
			delete(s.clients, c)
			close(c.kicked)
		}
	}
}

// attach registers a connection for agent. It returns the messages after since to
// send first, or resync true when they are not all kept (or since is nil), with head
// the seq of the newest message.
func (h *wsHub) attach(agent string, since *uint64) (c *wsClient, backlog []frame, resync bool, head uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stream(agent)
	c = &wsClient{agent: agent, ch: make(chan frame, h.cfg.buffer), kicked: make(chan struct{})}
	s.clients[c] = struct{}{}
	if since == nil {
		return c, nil, true, s.head
	}
	backlog, ok := s.since(*since)
	return c, backlog, !ok, s.head
}

func (h *wsHub) detach(c *wsClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.streams[c.agent]; s != nil {
		delete(s.clients, c)
	}
}

// connections returns how many connections agent has (for tests).
func (h *wsHub) connections(agent string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.streams[agent]; s != nil {
		return len(s.clients)
	}
	return 0
}

// agentWS serves GET /api/v1/agents/{id}/ws?token=T&since=N.
//
// Browsers cannot set headers on a WebSocket, so the login token comes as the token
// query parameter ("Authorization: Bearer" works too, for programs). since is the seq
// of the last message the client has: the server sends every later message first,
// then live ones; without since, or when the messages after it are no longer kept (or
// since is ahead, after an engine restart), the first message is a resync with the
// agent's current state.
func (a *api) agentWS(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("token")
	}
	sess, ok := a.o.Sessions.Check(tok)
	if tok == "" || !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "log in first (POST /api/v1/login), then connect with ?token=<token>")
		return
	}
	id := r.PathValue("id")
	if sess.ID != id && sess.Role != RoleSupervisor {
		writeError(w, http.StatusForbidden, "forbidden", "an agent may connect only to their own stream")
		return
	}
	var since *uint64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_since", "since must be the seq of the last message received")
			return
		}
		since = &n
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: a.o.OriginPatterns})
	if err != nil {
		return // Accept answered the request
	}
	conn.SetReadLimit(wsReadLimit)
	log := a.o.Logger.With("agent_id", id, "session", sess.ID)

	c, backlog, resync, head := a.hub.attach(id, since)
	defer a.hub.detach(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replies := make(chan Message, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		a.wsRead(ctx, conn, id, replies)
	}()
	defer wg.Wait()
	defer conn.CloseNow()

	cfg := a.hub.cfg
	write := func(data []byte) bool {
		wctx, wcancel := context.WithTimeout(ctx, cfg.writeTimeout)
		defer wcancel()
		if err := conn.Write(wctx, websocket.MessageText, data); err != nil {
			log.Debug("agent websocket: write", "err", err)
			return false
		}
		return true
	}
	last := head
	if resync {
		m := Message{Seq: head, Type: MsgResync}
		if a.o.ACD != nil {
			sctx, scancel := context.WithTimeout(ctx, cfg.writeTimeout)
			st, err := a.o.ACD.Stats(sctx)
			scancel()
			if err == nil {
				ag := st.Agents[id]
				m.State, m.Reason, m.Since = ag.State.String(), ag.Reason, ag.Since
			}
		}
		data, _ := json.Marshal(m)
		if !write(data) {
			return
		}
	}
	for _, f := range backlog {
		if !write(f.data) {
			return
		}
		last = f.seq
	}
	ping := time.NewTicker(cfg.ping)
	defer ping.Stop()
	for {
		select {
		case f := <-c.ch:
			if !write(f.data) {
				return
			}
			last = f.seq
		case m := <-replies:
			data, _ := json.Marshal(m)
			if !write(data) {
				return
			}
		case <-c.kicked:
			log.Info("agent websocket: client too slow, disconnected", "last_seq", last)
			_ = conn.Close(websocket.StatusPolicyViolation, "too slow: reconnect with since="+strconv.FormatUint(last, 10))
			return
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, cfg.writeTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				log.Debug("agent websocket: ping", "err", err)
				return
			}
		case <-ctx.Done(): // the reader ended: the client closed or broke the socket
			return
		}
	}
}

// wsRead reads the client's frames until the socket ends, answering state changes and
// replying an error to anything it cannot use.
func (a *api) wsRead(ctx context.Context, conn *websocket.Conn, id string, replies chan<- Message) {
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		reply := a.wsCommand(ctx, id, typ, data)
		if reply == nil {
			continue
		}
		select {
		case replies <- *reply:
		case <-ctx.Done():
			return
		}
	}
}

// wsRequest is a frame from the client: {"type":"state","state":"not-ready","reason":"break"}.
type wsRequest struct {
	Type   string `json:"type"`
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func wsError(code, msg string) *Message { return &Message{Type: MsgError, Code: code, Message: msg} }

// wsCommand carries out one client frame; a non-nil result is the error reply.
func (a *api) wsCommand(ctx context.Context, id string, typ websocket.MessageType, data []byte) *Message {
	if typ != websocket.MessageText {
		return wsError("bad_frame", "send JSON text frames")
	}
	var req wsRequest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return wsError("bad_request", `want {"type": "state", "state": "ready"|"not-ready"|"logged-out", "reason": "..."}`)
	}
	if req.Type != MsgState {
		return wsError("unknown_type", "unknown message type "+strconv.Quote(req.Type))
	}
	if a.o.ACD == nil {
		return wsError("acd_unavailable", "no ACD")
	}
	if code, msg := changeState(ctx, a.o.ACD, id, req.State, req.Reason); code != "" {
		return wsError(code, msg)
	}
	return nil // the change arrives as a state message
}

// changeState applies an agent's state request with the REST endpoint's rules and
// returns an error code and message when it fails.
func changeState(ctx context.Context, d ACD, id, state, reason string) (code, msg string) {
	st, err := acd.ParseAgentState(state)
	if err != nil || (st != acd.Ready && st != acd.NotReady && st != acd.LoggedOut) {
		return "bad_state", "state must be ready, not-ready or logged-out"
	}
	cmd := acd.Command{Kind: acd.CmdSetState, Agent: id, State: st, Reason: reason}
	if st == acd.LoggedOut {
		cmd = acd.Command{Kind: acd.CmdLogout, Agent: id}
	}
	err = d.Do(ctx, cmd)
	if errors.Is(err, acd.ErrNotLoggedIn) && st != acd.LoggedOut {
		cmd.Kind = acd.CmdLogin
		err = d.Do(ctx, cmd)
	}
	switch {
	case err == nil:
		return "", ""
	case errors.Is(err, acd.ErrUnknownAgent):
		return "agent_not_found", err.Error()
	case errors.Is(err, acd.ErrBadState), errors.Is(err, acd.ErrNotLoggedIn), errors.Is(err, acd.ErrBadCommand):
		return "state_conflict", err.Error()
	default:
		return "acd_unavailable", err.Error()
	}
}
