package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/store"
)

// heldAway waits until the caller has heard neither tone for a while (the hold
// music of a consult).
func heldAway(t *testing.T, peer interface{ Reset() }, check func() (int, int), d time.Duration) {
	t.Helper()
	peer.Reset()
	time.Sleep(d)
	if a, b := check(); a > 3 || b > 3 {
		t.Fatalf("the caller heard the agents during the consult: %d and %d packets of their tones", a, b)
	}
}

// TestConsultTransfer: agent 1017 (440 Hz) talks to a caller (1 kHz) and consults
// agent 1018 (600 Hz): the caller hears hold music meanwhile, not the agents; the
// consult is cancelled and the caller is back with 1017; a second consult is
// completed and the caller talks to 1018, the call record names 1018, and 1017's
// part is over (wrap-up; the simulated agents end theirs at once, so the ACD shows
// them ready again). A consult to an agent who is not ready is refused.
func TestConsultTransfer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	webrtcAgent(ctx, t, e, "1017", agentsim.Options{})
	b := webrtcAgent(ctx, t, e, "1018", agentsim.Options{ToneHz: 600})
	setAgentState(t, e, "1018", "not-ready")
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	_, frames600 := tone(600)
	count := func() (int, int) {
		return countFrames(peer, frames440, netip.AddrPort{}), countFrames(peer, frames600, netip.AddrPort{})
	}
	waitFrames(t, "1017's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	rec := e.waitCall("connected to 1017", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1017" && c.State == "connected" })
	a := e.login("1017")

	e.callOp(a, "1017", `{"op": "consult", "agent": "1018"}`, 409) // not ready
	e.callOp(a, "1017", `{"op": "consult_complete"}`, 409)         // no consult
	setAgentState(t, e, "1018", "ready")

	// Consult, then cancel.
	e.callOp(a, "1017", `{"op": "consult", "agent": "1018"}`, 200)
	waitLog(t, e, "consult connected", 10*time.Second)
	e.callOp(a, "1017", `{"op": "hold"}`, 409) // not during a consult
	heldAway(t, peer, count, time.Second)
	e.callOp(a, "1017", `{"op": "consult_cancel"}`, 200)
	peer.Reset()
	waitFrames(t, "1017 again after the cancelled consult", peer, frames440, netip.AddrPort{}, 25, 10*time.Second)
	if _, n := count(); n > 3 {
		t.Fatalf("the caller heard 1018 after the consult was cancelled (%d packets)", n)
	}
	setAgentState(t, e, "1018", "ready") // out of its wrap-up

	// Consult, then complete.
	e.callOp(a, "1017", `{"op": "consult", "agent": "1018"}`, 200)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := e.post("/api/v1/agents/1017/call", a, `{"op": "consult_complete"}`)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consult_complete: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	peer.Reset()
	waitFrames(t, "1018 after the completed consult", peer, frames600, netip.AddrPort{}, 25, 10*time.Second)
	e.waitCall("with 1018", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.Agent == "1018" && c.State == "connected" })
	// 1017's part is over (wrap-up, which the simulated agent ends at once).
	waitAgentState(t, e, "1017", "ready", 5*time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	res := waitResults(t, b, 2, 15*time.Second) // two consult calls, the second became the call
	if last := res[len(res)-1]; last.Call != rec.ID || !last.Heard {
		t.Fatalf("1018's last call %+v, want the caller's call %s with the caller heard", last, rec.ID)
	}
	waitAgentState(t, e, "1018", "ready", 5*time.Second) // after its wrap-up
	e.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" && c.Agent == "1018" })
}

// waitAgentState waits until the API shows agent in state.
func waitAgentState(t *testing.T, e *engine, agent, state string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := agentState(t, e, agent)
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %s is %q, want %q", agent, got, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentState is agent's state as GET /api/v1/agents shows it.
func agentState(t *testing.T, e *engine, agent string) string {
	t.Helper()
	code, body, err := e.get("/api/v1/agents")
	if err != nil || code != 200 {
		t.Fatalf("agents: %d %v", code, err)
	}
	var list struct {
		Agents []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"agents"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	for _, a := range list.Agents {
		if a.ID == agent {
			return a.State
		}
	}
	return ""
}
