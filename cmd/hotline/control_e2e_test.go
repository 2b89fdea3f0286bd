package main

// The agent's call control from outside: a Go UAC caller is connected to SIP seat
// 2001 (SIPp) as in TestACDAnswer, and the agent acts on the call through
// POST /api/v1/agents/2001/call: hold and resume (the caller hears the queue's
// music, the agent silence), blind transfer to another queue, hang-up.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// login logs agent in with the lab password and returns the token.
func (e *engine) login(agent string) string {
	e.t.Helper()
	code, body, err := e.post("/api/v1/login", "", `{"agent": "`+agent+`", "password": "`+labPassword+`"}`)
	if err != nil || code != http.StatusOK {
		e.t.Fatalf("login %s: %d %s %v", agent, code, body, err)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		e.t.Fatalf("login %s: no token in %s (%v)", agent, body, err)
	}
	return out.Token
}

// callOp posts an operation on agent's call and checks the status code.
func (e *engine) callOp(token, agent, body string, want int) {
	e.t.Helper()
	code, out, err := e.post("/api/v1/agents/"+agent+"/call", token, body)
	if err != nil || code != want {
		e.t.Fatalf("POST call %s: %d %s %v, want %d", body, code, out, err, want)
	}
}

// connected is a caller connected to seat 2001, both sides streaming a tone.
type connected struct {
	call      interface{ Hangup(context.Context) error }
	done      <-chan struct{}
	caller    *mediatest.Peer // the citizen's RTP
	agentRTP  *mediatest.Peer // the seat's RTP
	engineRTP netip.AddrPort  // where the engine sends to the caller from
	phone     *sippRun
	callerFrames,
	agentFrames map[string]bool
}

// connect dials, presses 1, has seat 2001 answer (and wait for the engine's BYE),
// and has the agent stream a tone back until ctx ends.
func connect(ctx context.Context, t *testing.T, e *engine) *connected {
	t.Helper()
	callerTone, callerFrames := tone(400)
	agentTone, agentFrames := tone(1000)
	agentRTP := newPeer(t, media.PCMU, 101)
	call, caller := pressOne(ctx, t, e, callerTone.Loop())
	engineRTP, _ := call.RemoteMedia()
	s := newSeat(t, e, "2001")
	s.register()
	phone := s.answer(int(agentRTP.Addr().Port()), 0)
	e.waitCall("connected", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateConnected && c.Agent == "2001" })
	waitFrames(t, "caller to agent", agentRTP, callerFrames, netip.AddrPort{}, 25, 5*time.Second)
	agentRTP.SetRemote(agentRTP.Packets()[0].From)
	sendCtx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- agentRTP.Stream(sendCtx, agentTone.Loop()) }()
	t.Cleanup(func() {
		stop()
		<-sent
	})
	waitFrames(t, "agent to caller", caller, agentFrames, engineRTP, 25, 5*time.Second)
	return &connected{call: call, done: call.Done(), caller: caller, agentRTP: agentRTP, engineRTP: engineRTP,
		phone: phone, callerFrames: callerFrames, agentFrames: agentFrames}
}

// since returns the packets of peer after the first n (sent from `from` when valid).
func since(peer *mediatest.Peer, n int, from netip.AddrPort) []mediatest.Packet {
	var out []mediatest.Packet
	for _, p := range peer.Packets()[n:] {
		if !from.IsValid() || p.From == from {
			out = append(out, p)
		}
	}
	return out
}

// TestAgentHoldResumeTransfer: the agent holds (the caller gets the queue's music
// instead of the agent's voice and the agent gets silence instead of the caller's),
// resumes (voices again both ways), and transfers the call to the business queue:
// the seat gets BYE and goes to wrap-up, the caller waits in business hearing its
// hold audio, and hangs up there.
func TestAgentHoldResumeTransfer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	c := connect(ctx, t, e)
	tok := e.login("2001")
	other := e.login("2002")
	e.callOp(other, "2001", `{"op": "hold"}`, http.StatusForbidden)
	e.callOp(other, "2002", `{"op": "hold"}`, http.StatusConflict)

	e.callOp(tok, "2001", `{"op": "hold"}`, http.StatusOK)
	e.waitCall("held", 5*time.Second, func(r store.CallRecord) bool { return r.Held })
	e.callOp(tok, "2001", `{"op": "hold"}`, http.StatusOK) // holding a held call does nothing
	// Let packets in flight at the switch arrive, then listen for a second.
	time.Sleep(200 * time.Millisecond)
	nc, na := c.caller.Count(), c.agentRTP.Count()
	time.Sleep(time.Second)
	toCaller, toAgent := since(c.caller, nc, c.engineRTP), since(c.agentRTP, na, netip.AddrPort{})
	if len(toCaller) < 35 || len(toAgent) < 35 {
		t.Fatalf("on hold in 1 s: %d packets to the caller, %d to the agent; want a steady stream to both", len(toCaller), len(toAgent))
	}
	sound := 0
	for _, p := range toCaller {
		if c.agentFrames[string(p.Payload)] {
			t.Fatal("the caller on hold still hears the agent")
		}
		for _, b := range p.Payload {
			if b != 0xff && b != 0x7f {
				sound++
				break
			}
		}
	}
	if sound < len(toCaller)/2 {
		t.Errorf("on hold the caller got %d of %d packets with sound; want the hold music", sound, len(toCaller))
	}
	for _, p := range toAgent {
		if c.callerFrames[string(p.Payload)] {
			t.Fatal("the agent still hears the caller on hold")
		}
	}

	e.callOp(tok, "2001", `{"op": "resume"}`, http.StatusOK)
	e.waitCall("resumed", 5*time.Second, func(r store.CallRecord) bool { return !r.Held })
	before := countFrames(c.caller, c.agentFrames, c.engineRTP)
	waitFrames(t, "agent to caller after resume", c.caller, c.agentFrames, c.engineRTP, before+25, 5*time.Second)
	before = countFrames(c.agentRTP, c.callerFrames, netip.AddrPort{})
	waitFrames(t, "caller to agent after resume", c.agentRTP, c.callerFrames, netip.AddrPort{}, before+25, 5*time.Second)

	e.callOp(tok, "2001", `{"op": "transfer", "queue": "nope"}`, http.StatusBadRequest)
	e.callOp(tok, "2001", `{"op": "transfer", "queue": "business"}`, http.StatusOK)
	c.phone.waitEnd("agent 2001 gets BYE at the transfer", 10*time.Second)
	e.waitQueue("business", "waiting with the transferred call", 5*time.Second, func(q queueStat) bool { return q.Waiting == 1 })
	e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	e.callOp(tok, "2001", `{"op": "hold"}`, http.StatusConflict) // no longer on the call
	select {
	case <-c.done:
		t.Fatal("the transfer ended the caller's leg")
	default:
	}
	nc = c.caller.Count()
	time.Sleep(500 * time.Millisecond)
	if got := len(since(c.caller, nc, c.engineRTP)); got < 15 {
		t.Errorf("the transferred caller got %d packets in 0.5 s; want the hold audio", got)
	}

	if err := c.call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	e.waitQueue("business", "abandoned", 5*time.Second, func(q queueStat) bool { return q.Waiting == 0 && q.Abandoned == 1 })
	e.waitQueue("general", "answered once", 5*time.Second, func(q queueStat) bool { return q.Answered == 1 && q.Waiting == 0 })
}

// TestAgentHangup: the agent hangs up through the API: both legs get BYE and the
// call ends with side agent.
func TestAgentHangup(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	c := connect(ctx, t, e)
	tok := e.login("2001")
	e.callOp(tok, "2001", `{"op": "hangup"}`, http.StatusOK)
	c.phone.waitEnd("agent 2001 gets BYE", 10*time.Second)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the caller's leg did not get BYE")
	}
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	if ended.Side != "agent" || ended.Agent != "2001" {
		t.Errorf("ended call: side %q agent %q cause %q; want ended by agent 2001", ended.Side, ended.Agent, ended.Cause)
	}
	e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	e.callOp(tok, "2001", `{"op": "hangup"}`, http.StatusConflict)
}
