package main

// Blind transfer to an agent and to an outside number, from outside: a Go UAC
// caller is connected to SIP seat 2001 (SIPp) as in TestAgentHoldResumeTransfer,
// and agent 2001 transfers the call through POST /api/v1/agents/2001/call.

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
	"github.com/zaf/g711"
)

// TestAgentTransferToAgent: 2001 transfers the caller to seat 2002 (registered and
// ready): 2001 gets BYE and goes to wrap-up, 2002's phone rings and answers, the
// caller and 2002 hear each other, and the call record names 2002. Transfers to an
// agent who is not ready, to oneself, or to a number without an outbound trunk are
// refused and leave the call with 2001.
func TestAgentTransferToAgent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	c := connect(ctx, t, e)
	// 2002 registers once the call is with 2001, so the ACD does not offer it the
	// call first.
	s2 := newSeat(t, e, "2002")
	s2.register()
	rtp2 := newPeer(t, media.PCMU, 101)
	phone2 := s2.answer(int(rtp2.Addr().Port()), 0)
	tok := e.login("2001")

	e.callOp(tok, "2001", `{"op": "transfer", "agent": "2003"}`, http.StatusConflict) // logged out
	e.callOp(tok, "2001", `{"op": "transfer", "agent": "2001"}`, http.StatusBadRequest)
	e.callOp(tok, "2001", `{"op": "transfer", "number": "13900000000"}`, http.StatusConflict) // no outbound trunk
	e.callOp(tok, "2001", `{"op": "transfer", "agent": "2002", "queue": "general"}`, http.StatusBadRequest)
	if r := e.waitCall("still with 2001", time.Second, func(r store.CallRecord) bool { return r.Agent == "2001" }); r.State != store.StateConnected {
		t.Fatalf("a refused transfer changed the call: %+v", r)
	}

	e.callOp(tok, "2001", `{"op": "transfer", "agent": "2002"}`, http.StatusOK)
	c.phone.waitEnd("agent 2001 gets BYE at the transfer", 10*time.Second)
	e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	e.waitCall("connected to 2002", 10*time.Second, func(r store.CallRecord) bool {
		return r.State == store.StateConnected && r.Agent == "2002"
	})
	e.waitAgent("2002", "on the call", 5*time.Second, func(a agentStat) bool { return a.State == "on-call" })

	waitFrames(t, "caller to 2002", rtp2, c.callerFrames, netip.AddrPort{}, 25, 5*time.Second)
	rtp2.SetRemote(rtp2.Packets()[0].From)
	voice, frames := tone(700)
	sendCtx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- rtp2.Stream(sendCtx, voice.Loop()) }()
	defer func() {
		stop()
		<-sent
	}()
	waitFrames(t, "2002 to the caller", c.caller, frames, c.engineRTP, 25, 5*time.Second)

	if err := c.call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	phone2.waitEnd("agent 2002 gets BYE when the caller hangs up", 10*time.Second)
	ended := e.waitCall("ended", 10*time.Second, func(r store.CallRecord) bool { return r.State == store.StateEnded })
	if ended.Agent != "2002" || ended.Side != "caller" {
		t.Errorf("ended call: agent %q side %q cause %q; want 2002, ended by the caller", ended.Agent, ended.Side, ended.Cause)
	}
	a := e.waitAgent("2002", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	if a.Calls != 1 || a.Missed != 0 || a.Rejected != 0 {
		t.Errorf("agent 2002: %+v, want 1 call", a)
	}
	// Answered twice in general: by 2001, then (the transfer) by 2002.
	e.waitQueue("general", "answered twice", 5*time.Second, func(q queueStat) bool {
		return q.Answered == 2 && q.Waiting == 0 && q.Abandoned == 0
	})
}

// TestAgentTransferToNumber: 2001 transfers the caller to 13900000000: 2001 gets BYE
// and goes to wrap-up, the engine dials sip:13900000000@<trunk outbound> (a SIPp
// phone there answers with PCMA), and the caller and the number hear each other
// through the transcoding bridge until the caller hangs up.
func TestAgentTransferToNumber(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	outbound, release := reserveUDPPort(t)
	e := startEngine(t, engineOptions{Config: callbackConfig(outbound)})
	c := connect(ctx, t, e)
	release()
	const number = "13900000000"
	far := (&seat{t: t, e: e, id: number, port: outbound}).answerCallback(0)
	tok := e.login("2001")

	e.callOp(tok, "2001", `{"op": "transfer", "number": "139 0000"}`, http.StatusBadRequest)
	e.callOp(tok, "2001", `{"op": "transfer", "number": "`+number+`"}`, http.StatusOK)
	c.phone.waitEnd("agent 2001 gets BYE at the transfer", 10*time.Second)
	e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })

	// The caller's PCMU tone reaches the number as PCMA, converted sample by sample.
	alaw := map[string]bool{}
	for f := range c.callerFrames {
		b := []byte(f)
		for i := range b {
			b[i] = g711.Ulaw2AlawFrame(b[i])
		}
		alaw[string(b)] = true
	}
	waitFrames(t, "caller to the number", far.rtp, alaw, netip.AddrPort{}, 25, 10*time.Second)
	if got := countFrames(far.rtp, c.agentFrames, netip.AddrPort{}); got != 0 {
		t.Errorf("the number got %d packets of agent 2001's voice", got)
	}
	voice, frames := toneIn(media.PCMA, 700)
	ulaw := map[string]bool{}
	for f := range frames {
		b := []byte(f)
		for i := range b {
			b[i] = g711.Alaw2UlawFrame(b[i])
		}
		ulaw[string(b)] = true
	}
	far.rtp.SetRemote(far.engineRTP(time.Second))
	sendCtx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- far.rtp.Stream(sendCtx, voice.Loop()) }()
	defer func() {
		stop()
		<-sent
	}()
	waitFrames(t, "the number to the caller", c.caller, ulaw, c.engineRTP, 25, 5*time.Second)

	if err := c.call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	far.waitEnd("the number gets BYE when the caller hangs up", 10*time.Second)
	ended := e.waitCall("ended", 10*time.Second, func(r store.CallRecord) bool { return r.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	e.waitQueue("general", "answered once", 5*time.Second, func(q queueStat) bool {
		return q.Answered == 1 && q.Waiting == 0 && q.Abandoned == 0
	})
}
