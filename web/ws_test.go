package web

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
	"go.uber.org/goleak"
)

type fakeACD struct {
	mu   sync.Mutex
	cmds []acd.Command
}

func (f *fakeACD) Do(_ context.Context, c acd.Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, c)
	return nil
}

func (f *fakeACD) Stats(context.Context) (acd.Stats, error) {
	return acd.Stats{Agents: map[string]acd.AgentStats{"1001": {State: acd.NotReady, Reason: "meal"}}}, nil
}

func (f *fakeACD) commands() []acd.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]acd.Command(nil), f.cmds...)
}

type wsEnv struct {
	srv    *httptest.Server
	st     *store.Store
	acd    *fakeACD
	hub    *wsHub
	tokens map[string]string
}

// smallBufListener shrinks the server side's socket send buffer, so that a client
// that does not read blocks the server's writes after a few kilobytes.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func newWSEnv(t *testing.T, cfg wsConfig, small bool) *wsEnv {
	t.Helper()
	st, err := store.New(store.NewMemory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sessions := NewSessions(accounts{"1001": "pw", "1002": "pw", "9001": "boss"}, nil, time.Hour)
	e := &wsEnv{st: st, acd: &fakeACD{}, tokens: map[string]string{}}
	for _, id := range []string{"1001", "1002", "9001"} {
		pw := map[bool]string{true: "boss", false: "pw"}[id == "9001"]
		sess, ok, _ := sessions.Login(id, pw, "127.0.0.1")
		if !ok {
			t.Fatal("login", id)
		}
		e.tokens[id] = sess.Token
	}
	cfg.created = func(h *wsHub) { e.hub = h }
	h := Handler(Options{Calls: st.Calls(), ACD: e.acd, Sessions: sessions, Events: st, ws: cfg})
	e.srv = httptest.NewUnstartedServer(h)
	if small {
		e.srv.Listener = smallBufListener{e.srv.Listener}
	}
	e.srv.Start()
	t.Cleanup(func() { e.srv.Close(); _ = st.Close() })
	return e
}

func (e *wsEnv) url(agent, token string, since int) string {
	u := strings.Replace(e.srv.URL, "http", "ws", 1) + "/api/v1/agents/" + agent + "/ws?token=" + token
	if since >= 0 {
		u += "&since=" + strconv.Itoa(since)
	}
	return u
}

func (e *wsEnv) dial(t *testing.T, agent string, since int) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.url(agent, e.tokens[agent], since), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func (e *wsEnv) append(t *testing.T, evs ...event.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := e.st.Append(context.Background(), &ev); err != nil {
			t.Fatal(err)
		}
	}
}

func readMsg(t *testing.T, c *websocket.Conn) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m Message
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
		t.Fatalf("bad frame %v %q", typ, data)
	}
	return m
}

func expect(t *testing.T, c *websocket.Conn, want ...Message) {
	t.Helper()
	for _, w := range want {
		m := readMsg(t, c)
		m.Time, m.Since = time.Time{}, time.Time{}
		if m != w {
			t.Fatalf("got %+v, want %+v", m, w)
		}
	}
}

func TestAgentWSAuth(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last: after the server closes
	e := newWSEnv(t, wsConfig{}, false)
	for _, tc := range []struct {
		name, agent, token string
		want               int
	}{
		{"no token", "1001", "", 401},
		{"bad token", "1001", "nope", 401},
		{"other agent", "1002", e.tokens["1001"], 403},
		{"own stream", "1001", e.tokens["1001"], 101},
		{"supervisor", "1002", e.tokens["9001"], 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, e.url(tc.agent, tc.token, -1), nil)
			if res == nil || res.StatusCode != tc.want {
				t.Fatalf("status %v, err %v, want %d", res, err, tc.want)
			}
			if c != nil {
				// Without since, the first message is the current state.
				if m := readMsg(t, c); m.Type != MsgResync || m.Seq != 0 {
					t.Fatalf("first message %+v", m)
				}
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
		})
	}
	// A foreign Origin is refused (same host only by default).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, e.url("1001", e.tokens["1001"], 0),
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", res, err)
	}
}

func TestAgentWSOrderResumeResync(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last: after the server closes
	e := newWSEnv(t, wsConfig{ring: 4}, false)
	c := e.dial(t, "1001", 0)
	e.append(t,
		event.Event{Type: event.CallCreated, Call: "c1", Caller: "13800000001"},
		event.Event{Type: event.OfferMade, Call: "c1", Agent: "1001", Queue: "q", Pool: "primary"},
		event.Event{Type: event.OfferMade, Call: "c1", Agent: "1002", Queue: "q", Pool: "primary"},
		event.Event{Type: event.OfferAccepted, Call: "c1", Agent: "1001", Queue: "q"},
		event.Event{Type: event.OfferWithdrawn, Call: "c1", Agent: "1002", Queue: "q", Reason: "answered-elsewhere"},
		event.Event{Type: event.CallConnected, Call: "c1", Agent: "1001"},
		event.Event{Type: event.CallEnded, Call: "c1", Side: event.SideCaller, Cause: "bye"},
	)
	expect(t, c,
		Message{Seq: 1, Type: MsgOffer, Call: "c1", Queue: "q", Pool: "primary", Caller: "13800000001"},
		Message{Seq: 2, Type: MsgOfferAccepted, Call: "c1", Queue: "q"},
		Message{Seq: 3, Type: MsgCallConnected, Call: "c1"},
		Message{Seq: 4, Type: MsgCallEnded, Call: "c1", Side: "caller", Cause: "bye"},
	)
	_ = c.Close(websocket.StatusNormalClosure, "")

	// 1002 was offered the call, then withdrawn: it hears nothing of the call after that.
	c2 := e.dial(t, "1002", 0)
	expect(t, c2,
		Message{Seq: 1, Type: MsgOffer, Call: "c1", Queue: "q", Pool: "primary", Caller: "13800000001"},
		Message{Seq: 2, Type: MsgOfferWithdrawn, Call: "c1", Queue: "q", Reason: "answered-elsewhere"},
	)
	e.append(t, event.Event{Type: event.AgentState, Agent: "1002", State: "ready"})
	expect(t, c2, Message{Seq: 3, Type: MsgState, State: "ready"})

	// Resume after 2: 3 and 4 again, then live.
	c = e.dial(t, "1001", 2)
	expect(t, c,
		Message{Seq: 3, Type: MsgCallConnected, Call: "c1"},
		Message{Seq: 4, Type: MsgCallEnded, Call: "c1", Side: "caller", Cause: "bye"})
	e.append(t, event.Event{Type: event.AgentState, Agent: "1001", State: "wrap-up"})
	expect(t, c, Message{Seq: 5, Type: MsgState, State: "wrap-up"})
	_ = c.Close(websocket.StatusNormalClosure, "")

	// The ring keeps 4 (now 4..7): since=2 (3 is gone) or ahead of the stream gets a
	// resync with the state from the ACD, then live messages.
	e.append(t, event.Event{Type: event.AgentState, Agent: "1001", State: "ready"},
		event.Event{Type: event.AgentState, Agent: "1001", State: "not-ready", Reason: "meal"})
	for _, since := range []int{2, 99, -1} {
		c = e.dial(t, "1001", since)
		expect(t, c, Message{Seq: 7, Type: MsgResync, State: "not-ready", Reason: "meal"})
		_ = c.Close(websocket.StatusNormalClosure, "")
	}
	c = e.dial(t, "1001", 2)
	expect(t, c, Message{Seq: 7, Type: MsgResync, State: "not-ready", Reason: "meal"})
	e.append(t, event.Event{Type: event.AgentLogout, Agent: "1001", Reason: "logout"})
	expect(t, c, Message{Seq: 8, Type: MsgLogout, Reason: "logout"})
	_ = c.Close(websocket.StatusNormalClosure, "")
}

func TestAgentWSClientFrames(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last: after the server closes
	e := newWSEnv(t, wsConfig{}, false)
	c := e.dial(t, "1001", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		frame string
		code  string // "" = accepted, no reply
	}{
		{`{"type":"state","state":"not-ready","reason":"break"}`, ""},
		{`not json`, "bad_request"},
		{`{"type":"state","state":"ready","extra":1}`, "bad_request"},
		{`{"type":"dance"}`, "unknown_type"},
		{`{"type":"state","state":"on-call"}`, "bad_state"},
		{`{"type":"state","state":"ready"}`, ""},
	} {
		if err := c.Write(ctx, websocket.MessageText, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		if tc.code != "" {
			if m := readMsg(t, c); m.Type != MsgError || m.Code != tc.code || m.Message == "" || m.Seq != 0 {
				t.Fatalf("%s: reply %+v, want error %s", tc.frame, m, tc.code)
			}
		}
	}
	if err := c.Write(ctx, websocket.MessageBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, c); m.Code != "bad_frame" {
		t.Fatalf("binary frame: %+v", m)
	}
	want := []acd.Command{
		{Kind: acd.CmdSetState, Agent: "1001", State: acd.NotReady, Reason: "break"},
		{Kind: acd.CmdSetState, Agent: "1001", State: acd.Ready},
	}
	if got := e.acd.commands(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ACD got %+v, want %+v", got, want)
	}
	// Still up: events flow after the bad frames.
	e.append(t, event.Event{Type: event.AgentState, Agent: "1001", State: "ready"})
	expect(t, c, Message{Seq: 1, Type: MsgState, State: "ready"})

	// A frame over 32 KiB closes the socket.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"state","reason":"`+strings.Repeat("x", wsReadLimit)+`"}`)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("after an oversized frame: %v", err)
	}
}

func TestAgentWSSlowClientCutOff(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last: after the server closes
	e := newWSEnv(t, wsConfig{buffer: 8, writeTimeout: 300 * time.Millisecond}, true)
	slow := e.dial(t, "1001", 0) // never reads
	reason := strings.Repeat("r", 512)
	const n = 2000
	for range n {
		e.append(t, event.Event{Type: event.AgentState, Agent: "1001", State: "not-ready", Reason: reason})
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.hub.connections("1001") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow client is still attached")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The slow client's stream ends: some buffered messages, then an error.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for got := 0; err == nil; got++ {
		_, _, err = slow.Read(ctx)
		if got > n {
			t.Fatal("the slow client got every message")
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the slow client was not disconnected")
	}
	// The hub and the store keep working: a new client resumes.
	c := e.dial(t, "1001", n-1)
	expect(t, c, Message{Seq: n, Type: MsgState, State: "not-ready", Reason: reason})
	e.append(t, event.Event{Type: event.AgentState, Agent: "1001", State: "ready"})
	expect(t, c, Message{Seq: n + 1, Type: MsgState, State: "ready"})
	_ = c.Close(websocket.StatusNormalClosure, "")
}
