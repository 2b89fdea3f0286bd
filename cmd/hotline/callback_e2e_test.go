package main

// Callbacks and fixed-URI seats from outside. A SIPp citizen waiting in the general
// queue presses 1 to be called back: the engine confirms, hangs up and keeps the
// request's place. When a seat logs in the matcher offers it the request: the seat
// rings first, then the engine calls the citizen through the trunk's outbound
// address (a SIPp phone listening there) and bridges the two; the outbound call is
// listed as "<id>-cb". A seat can also be a fixed SIP URI that never registers: the
// agent logs in through the API and the engine calls the URI.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// callbackCitizen is the number queue_callback.xml calls from (its From user).
const callbackCitizen = "13800138000"

// reserveUDPPort binds a UDP port on 127.0.0.1 and returns it with a function that
// frees it: a port a SIPp phone binds much later (the citizen's, on the trunk's
// outbound address) is held until then, so that no other test's peer takes it.
func reserveUDPPort(t *testing.T) (int, func()) {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().(*net.UDPAddr).Port, func() { c.Close() }
}

// callbackConfig is acdConfig with a trunk whose outbound address (where callbacks
// are dialled) is a SIPp phone of the test on 127.0.0.1:port.
func callbackConfig(port int) string {
	return fmt.Sprintf(`
sip:
  trunks:
    - {name: local, networks: [127.0.0.0/8], outbound: "127.0.0.1:%d"}
  registrar:
    algorithms: [MD5]
`, port)
}

// phone is a SIPp run of callback_phone.xml and the RTP peer its SDP answer names.
type phone struct {
	*sippRun
	rtp *mediatest.Peer
	log string // the -trace_logs file: "engine rtp port N"
}

// answerCallback runs callback_phone.xml on s's port: the phone answers with its RTP
// at a new Go peer and then either waits for the engine's BYE (talk 0) or hangs up
// itself after talk.
func (s *seat) answerCallback(talk time.Duration) *phone {
	s.t.Helper()
	rtpPeer := newPeer(s.t, media.PCMA, 101)
	repl := map[string]string{"USER": s.id, "MEDIA_PORT": strconv.Itoa(int(rtpPeer.Addr().Port())), "TALK_MS": strconv.Itoa(int(talk / time.Millisecond))}
	engineBye, phoneBye := "", "<!--"
	if talk > 0 {
		engineBye, phoneBye = "<!--", ""
	}
	repl["ENGINE_BYE_BEGIN"], repl["ENGINE_BYE_END"] = engineBye, strings.Replace(engineBye, "<!--", "-->", 1)
	repl["PHONE_BYE_BEGIN"], repl["PHONE_BYE_END"] = phoneBye, strings.Replace(phoneBye, "<!--", "-->", 1)
	log := filepath.Join(s.t.TempDir(), "sipp.log")
	r := s.run(filepath.Join(sippDir, "callback_phone.xml"), repl, "-trace_logs", "-log_file", log)
	return &phone{sippRun: r, rtp: rtpPeer, log: log}
}

var engineRTPPort = regexp.MustCompile(`engine rtp port ([0-9]+)`)

// engineRTP waits (at most d) until the phone has logged the engine's offer and
// returns the engine's RTP address for this leg.
func (p *phone) engineRTP(d time.Duration) netip.AddrPort {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		data, _ := os.ReadFile(p.log)
		if m := engineRTPPort.FindSubmatch(data); m != nil {
			port, err := strconv.Atoi(string(m[1]))
			if err != nil {
				p.t.Fatal(err)
			}
			return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the phone logged no offer within %v; %s", d, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// registerOffered registers the seat like register, for a seat that a waiting
// request is offered to at once: it waits until the agent is logged in (ready or
// already reserved).
func (s *seat) registerOffered() {
	s.t.Helper()
	r := s.run(filepath.Join(seatSIPpDir, "register.xml"),
		map[string]string{"EXPIRES": "300", "UNREG_BEGIN": "<!--", "UNREG_END": "-->"},
		"-au", s.id, "-ap", labPassword)
	r.mustPass()
	s.e.waitAgent(s.id, "logged in after REGISTER", 5*time.Second, func(a agentStat) bool { return a.State == "ready" || a.State == "reserved" })
}

// sippMessageTime returns when SIPp's message log (-trace_msg) shows the first
// message it sent or received (dir) whose first line starts with start; ok is false
// when there is none. The log heads each message with a dashed line and the wall
// clock time, then "UDP message sent" or "UDP message received".
func sippMessageTime(log, dir, start string) (time.Time, bool) {
	blocks := strings.Split(log, "----------------------------------------------- ")
	for _, b := range blocks {
		lines := strings.SplitN(b, "\n", 5)
		if len(lines) < 4 || !strings.Contains(lines[1], "message "+dir) || !strings.HasPrefix(strings.TrimSpace(lines[3]), start) {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(lines[0]), time.Local)
		if err != nil {
			continue
		}
		return at, true
	}
	return time.Time{}, false
}

// requestCallback starts a SIPp citizen who presses 1 for the general desk, waits
// 9 s in the queue (past the route announcement, which eats keys) and presses 1 for a
// callback; it waits until the engine has hung up on them and returns their record.
func requestCallback(t *testing.T, e *engine) store.CallRecord {
	t.Helper()
	caller := startSIPp(t, e, sippCall{Scenario: "queue_callback.xml", Replace: map[string]string{"DIGIT": "1"},
		Args: []string{"-d", "9000"}})
	caller.mustPass()
	c := e.waitCall("ended by the callback request", 5*time.Second, func(c store.CallRecord) bool {
		return c.Direction != "outbound" && c.State == store.StateEnded
	})
	if c.Side != "engine" || !strings.Contains(c.Cause, "callback") || c.Route == nil || c.Route.Queue != "general" {
		t.Errorf("the caller's call: side %q cause %q route %+v; want ended by the engine for a callback from the general queue", c.Side, c.Cause, c.Route)
	}
	if got := e.metric("hotline_calls_total", `result="callback"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="callback"} = %v, want 1`, got)
	}
	var out struct {
		Queues []struct {
			Name      string `json:"name"`
			Waiting   int    `json:"waiting"`
			Callbacks int    `json:"callbacks"`
		} `json:"queues"`
	}
	if err := e.getJSON("/api/v1/queues", &out); err != nil {
		t.Fatal(err)
	}
	for _, q := range out.Queues {
		if q.Name == "general" && (q.Waiting != 1 || q.Callbacks != 1) {
			t.Errorf("queue general after the request: waiting %d callbacks %d, want 1 and 1 (the request keeps its place)", q.Waiting, q.Callbacks)
		}
	}
	return c
}

// queueCallbacks returns the callbacks waiting in queue name.
func (e *engine) queueCallbacks(name string) (int, error) {
	var out struct {
		Queues []struct {
			Name      string `json:"name"`
			Callbacks int    `json:"callbacks"`
		} `json:"queues"`
	}
	if err := e.getJSON("/api/v1/queues", &out); err != nil {
		return 0, err
	}
	for _, q := range out.Queues {
		if q.Name == name {
			return q.Callbacks, nil
		}
	}
	return 0, fmt.Errorf("no queue %s", name)
}

// TestACDCallback: with no seat logged in, a citizen in the general queue asks to
// be called back: the call ends (result callback) and the request keeps its place.
// Seat 2001 then registers: it rings first and answers, then the engine calls the
// citizen's phone through the trunk and bridges them (the citizen's audio reaches
// the agent unchanged). The citizen hangs up after 3 s: the agent's leg gets BYE,
// "<id>-cb" is an outbound call connected to 2001 and ended by the citizen, the
// queue has answered one call and no callback left, and 2001 is in wrap-up.
func TestACDCallback(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outbound, release := reserveUDPPort(t)
	e := startEngine(t, engineOptions{Config: callbackConfig(outbound)})
	orig := requestCallback(t, e)

	// The seat's port is picked before the citizen's phone starts binding its own.
	s := newSeat(t, e, "2001")
	release()
	citizen := (&seat{t: t, e: e, id: callbackCitizen, port: outbound}).answerCallback(3 * time.Second)
	s.registerOffered()
	agent := s.answerCallback(0)

	cb := e.waitCall("calling back, connected", 15*time.Second, func(c store.CallRecord) bool {
		return c.ID == orig.ID+"-cb" && c.State == store.StateConnected
	})
	if cb.Direction != "outbound" || cb.Agent != "2001" || cb.Caller != callbackCitizen {
		t.Errorf("callback record: direction %q agent %q caller %q; want outbound, 2001, %s", cb.Direction, cb.Agent, cb.Caller, callbackCitizen)
	}
	// The bridge: the citizen talks to the engine's leg; the agent hears it.
	voice, frames := toneIn(media.PCMA, 400)
	citizen.rtp.SetRemote(citizen.engineRTP(time.Second))
	talked := make(chan error, 1)
	go func() { talked <- citizen.rtp.Stream(ctx, voice.Source()) }()
	waitFrames(t, "citizen to agent", agent.rtp, frames, netip.AddrPort{}, 25, 5*time.Second)
	if err := <-talked; err != nil {
		t.Fatal(err)
	}

	citizen.waitEnd("the citizen answers and hangs up", 10*time.Second)
	agent.waitEnd("the agent's leg gets BYE", 10*time.Second)
	// The seat rang first: the engine called the citizen only after the agent's
	// phone had answered (the two SIPps' logs carry the same wall clock).
	answeredAt, ok1 := sippMessageTime(agent.messages(), "sent", "SIP/2.0 200 OK")
	invitedAt, ok2 := sippMessageTime(citizen.messages(), "received", "INVITE sip:"+callbackCitizen+"@127.0.0.1:"+strconv.Itoa(outbound))
	// Each SIPp stamps a message when it logs it, a moment after it sent or read
	// it, and on a busy machine one of them may be descheduled in between: a
	// few milliseconds either way are noise. Invited before the answer, the
	// citizen would be so at the ring, about 200 ms before it.
	const stampNoise = 50 * time.Millisecond
	if !ok1 || !ok2 || invitedAt.Before(answeredAt.Add(-stampNoise)) {
		t.Errorf("the agent answered at %v (%t), the citizen was invited at %v (%t): want the citizen's INVITE, to sip:%s@trunk, after the agent's 200",
			answeredAt, ok1, invitedAt, ok2, callbackCitizen)
	}
	ended := e.waitCall("callback ended", 10*time.Second, func(c store.CallRecord) bool {
		return c.ID == orig.ID+"-cb" && c.State == store.StateEnded
	})
	if ended.Side != "caller" || ended.Agent != "2001" || ended.Connected.IsZero() || ended.Direction != "outbound" {
		t.Errorf("ended callback: side %q agent %q connected %v direction %q cause %q; want ended by the citizen, agent 2001",
			ended.Side, ended.Agent, ended.Connected, ended.Direction, ended.Cause)
	}
	q := e.waitQueue("general", "answered once", 5*time.Second, func(q queueStat) bool { return q.Answered == 1 && q.Waiting == 0 })
	if q.Abandoned != 0 {
		t.Errorf("queue general: %+v, want nothing abandoned", q)
	}
	if n, err := e.queueCallbacks("general"); err != nil || n != 0 {
		t.Errorf("queue general: %d callbacks (%v), want 0", n, err)
	}
	a := e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	if a.Calls != 1 || a.Missed != 0 || a.Rejected != 0 {
		t.Errorf("agent 2001: %+v, want 1 call", a)
	}
	if got := e.metric("hotline_calls_total", `result="answered"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="answered"} = %v, want 1 (the callback)`, got)
	}
}

// TestACDCallbackCitizenNoAnswer: the agent answers the callback but the citizen's
// phone is busy (486): the agent's leg is hung up, "<id>-cb" ends "not answered",
// the result is callback_failed, the request is gone from the queue and 2001 is not
// left on a call.
func TestACDCallbackCitizenNoAnswer(t *testing.T) {
	t.Parallel()
	outbound, release := reserveUDPPort(t)
	e := startEngine(t, engineOptions{Config: callbackConfig(outbound)})
	orig := requestCallback(t, e)

	s := newSeat(t, e, "2001")
	release()
	busy := (&seat{t: t, e: e, id: callbackCitizen, port: outbound}).reject(486, "Busy Here")
	s.registerOffered()
	agent := s.answerCallback(0)

	busy.waitEnd("the citizen's phone is busy", 20*time.Second)
	agent.waitEnd("the agent's leg gets BYE", 10*time.Second)
	ended := e.waitCall("callback ended", 10*time.Second, func(c store.CallRecord) bool {
		return c.ID == orig.ID+"-cb" && c.State == store.StateEnded
	})
	if !strings.Contains(ended.Cause, "not answered") || ended.Direction != "outbound" || !ended.Connected.IsZero() {
		t.Errorf("ended callback: cause %q direction %q connected %v; want an outbound call not answered", ended.Cause, ended.Direction, ended.Connected)
	}
	if got := e.metric("hotline_calls_total", `result="callback_failed"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="callback_failed"} = %v, want 1`, got)
	}
	e.waitQueue("general", "empty", 5*time.Second, func(q queueStat) bool { return q.Waiting == 0 })
	if n, err := e.queueCallbacks("general"); err != nil || n != 0 {
		t.Errorf("queue general: %d callbacks (%v), want 0", n, err)
	}
	a := e.waitAgent("2001", "free again", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" || a.State == "ready" })
	if a.Missed != 0 || a.Rejected != 0 {
		t.Errorf("agent 2001: %+v, want none missed or rejected (the agent answered)", a)
	}
	_, byState, err := e.agentStats()
	if err != nil {
		t.Fatal(err)
	}
	if byState["reserved"] != 0 || byState["on-call"] != 0 {
		t.Errorf("agents by state %v: someone is stuck reserved or on a call", byState)
	}
}

// TestACDSipURISeat: the only agent, backup 2999, is a fixed SIP URI (a SIPp phone)
// that never registers: it logs in through the API and goes ready; a caller who
// presses 1 is offered to it at once (no primary agent: overflow to backup), the
// engine INVITEs the URI and bridges: the caller's tone reaches the phone's RTP.
func TestACDSipURISeat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	port, release := reserveUDPPort(t)
	e := startEngine(t, engineOptions{Config: acdConfig + fmt.Sprintf(`
agents:
  - id: "2999"
    pool: backup
    skills: {call-taking: 5}
    endpoint: {kind: sip-uri, uri: "sip:2999@127.0.0.1:%d"}
`, port)})
	code, body, err := e.post("/api/v1/login", "", `{"agent": "2999", "password": "`+labPassword+`"}`)
	if err != nil || code != http.StatusOK {
		t.Fatalf("login: %d %s %v", code, body, err)
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &login); err != nil || login.Token == "" {
		t.Fatalf("login answer %s: no token (%v)", body, err)
	}
	if code, body, err := e.post("/api/v1/agents/2999/state", login.Token, `{"state": "ready"}`); err != nil || code != http.StatusOK {
		t.Fatalf("ready: %d %s %v", code, body, err)
	}
	e.waitAgent("2999", "ready", 5*time.Second, func(a agentStat) bool { return a.State == "ready" })

	callerTone, callerFrames := tone(400)
	agentRTP := newPeer(t, media.PCMU, 101)
	call, _ := pressOne(ctx, t, e, callerTone.Loop())
	release()
	uri := &seat{t: t, e: e, id: "2999", port: port}
	ph := uri.answer(int(agentRTP.Addr().Port()), 0)

	c := e.waitCall("connected", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateConnected })
	if c.Agent != "2999" {
		t.Errorf("the call was answered by %q, want 2999", c.Agent)
	}
	waitFrames(t, "caller to the URI seat", agentRTP, callerFrames, netip.AddrPort{}, 25, 5*time.Second)
	if !strings.Contains(ph.messages(), "INVITE sip:2999@127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("the seat's INVITE was not for its URI:\n%s", lastLines(ph.messages(), 30))
	}
	e.waitAgent("2999", "on a call", 5*time.Second, func(a agentStat) bool { return a.State == "on-call" })
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ph.waitEnd("the URI seat gets BYE", 10*time.Second)
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	if ended.Agent != "2999" {
		t.Errorf("ended call: agent %q, want 2999", ended.Agent)
	}
	e.waitAgent("2999", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
}

// TestCallBackAbandoned: a caller gives up while waiting; the supervisor sees the
// call in the abandoned list (number, queue, wait) and puts it on the callback
// list; agent 1035 logs in, answers the callback, and the engine calls the
// citizen's phone through the trunk: "<id>-cb" is connected to 1035.
func TestCallBackAbandoned(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	outbound, release := reserveUDPPort(t)
	e := startEngine(t, engineOptions{Config: callbackConfig(outbound)})
	call, _ := pressOne(ctx, t, e, media.Silence(time.Minute))
	rec := e.waitCall("waiting", 20*time.Second, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	time.Sleep(time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitCall("abandoned", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" })
	admin := e.login("admin")
	code, _, body := e.getAuth("/api/v1/abandoned", admin)
	var list struct {
		Calls []store.CallRecord `json:"calls"`
	}
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Calls) != 1 || list.Calls[0].ID != rec.ID ||
		list.Calls[0].Caller != callbackCitizen || list.Calls[0].Waited < time.Second || list.Calls[0].Route == nil {
		t.Fatalf("abandoned list: %d %s", code, body)
	}
	if code, _, _ := e.getAuth("/api/v1/abandoned", e.login("1001")); code != http.StatusForbidden {
		t.Errorf("an agent reading the abandoned list: %d, want 403", code)
	}
	code2, body2, err := e.post("/api/v1/calls/"+rec.ID+"/callback", admin, "")
	if err != nil || code2 != 200 {
		t.Fatalf("call back: %d %s %v", code2, body2, err)
	}
	if code2, _, _ := e.post("/api/v1/calls/"+rec.ID+"/callback", admin, ""); code2 != http.StatusConflict {
		t.Errorf("calling back twice: %d, want 409", code2)
	}
	release()
	citizen := (&seat{t: t, e: e, id: callbackCitizen, port: outbound}).answerCallback(3 * time.Second)
	webrtcAgent(ctx, t, e, "1035", agentsim.Options{})
	e.waitCall("calling back, connected", 20*time.Second, func(c store.CallRecord) bool {
		return c.ID == rec.ID+"-cb" && c.State == store.StateConnected && c.Agent == "1035"
	})
	citizen.waitEnd("the citizen answers and hangs up", 15*time.Second)
}
