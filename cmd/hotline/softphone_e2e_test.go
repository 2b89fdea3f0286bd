package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
)

// webrtcAgent logs agent id in through the HTTP API with a simulated browser
// (pion) and runs it until the test ends.
func webrtcAgent(ctx context.Context, t *testing.T, e *engine, id string, o agentsim.Options) *agentsim.Agent {
	t.Helper()
	o.Base, o.Password = e.http, labPassword
	a, err := agentsim.Login(ctx, o, id)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		err := <-done
		select {
		case <-e.done: // the test stopped the engine: the agent lost it
		default:
			if err != nil {
				t.Errorf("agent %s: %v", id, err)
			}
		}
		a.Close()
	})
	return a
}

// waitResults waits until agent a has finished n calls.
func waitResults(t *testing.T, a *agentsim.Agent, n int, d time.Duration) []agentsim.CallResult {
	t.Helper()
	deadline := time.Now().Add(d)
	for len(a.Results()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s finished %d of %d calls within %v", a.ID, len(a.Results()), n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return a.Results()
}

// TestWebRTCAgentAnswers: agent 1001 logs in with a WebRTC client (pion, as a
// browser does), goes ready; a caller dials 12345, presses 1 and plays 1 kHz. The
// offer rings on the agent's WebSocket, the agent answers through the API, and
// audio flows both ways through the engine without transcoding: the caller gets
// the agent's 440 Hz PCMU frames byte for byte, the agent hears 1 kHz. The
// caller's hang-up ends the call on the agent's page; the media connection stays
// up for the next call, which is answered on it without a new connection.
func TestWebRTCAgentAnswers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	agent := webrtcAgent(ctx, t, e, "1001", agentsim.Options{AnswerAfter: 200 * time.Millisecond})
	if got := e.metric("hotline_webrtc_peers"); got != 1 {
		t.Fatalf("hotline_webrtc_peers = %v, want 1", got)
	}
	_, frames440 := tone(440)
	toneClip, _ := tone(1000)

	for i := 1; i <= 2; i++ {
		call, peer := pressOne(ctx, t, e, toneClip.Loop())
		waitFrames(t, "the agent's 440 Hz at the caller", peer, frames440, netip.AddrPort{}, 25, 15*time.Second)
		rec := e.waitCall("connected to 1001", 5*time.Second, func(c store.CallRecord) bool {
			return c.Agent == "1001" && c.State == "connected"
		})
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		res := waitResults(t, agent, i, 10*time.Second)[i-1]
		if res.Call != rec.ID || !res.Heard || res.FirstAudio <= 0 {
			t.Fatalf("call %d at the agent: %+v (call %s)", i, res, rec.ID)
		}
		t.Logf("call %d: answer click to the caller's first audio at the agent: %v", i, res.FirstAudio)
		e.waitCall("ended by the caller", 5*time.Second, func(c store.CallRecord) bool {
			return c.ID == rec.ID && c.State == "ended" && c.Side == "caller"
		})
	}
	if got := e.metric("hotline_webrtc_peers"); got != 1 {
		t.Fatalf("hotline_webrtc_peers = %v after two calls, want 1 (one connection kept)", got)
	}
	if got := e.metric("hotline_rtp_packets_transcoded_total"); got != 0 {
		t.Fatalf("%v packets transcoded, want none (PCMU end to end)", got)
	}
}

// TestWebRTCAgentHangsUp: the agent hangs up from the page after a talk time; the
// caller gets BYE and the call ends with side agent.
func TestWebRTCAgentHangsUp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	agent := webrtcAgent(ctx, t, e, "1002", agentsim.Options{TalkFor: 2 * time.Second})
	toneClip, _ := tone(1000)
	call, _ := pressOne(ctx, t, e, toneClip.Loop())
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the caller got no BYE after the agent hung up")
	}
	res := waitResults(t, agent, 1, 10*time.Second)
	if !res[0].Heard {
		t.Fatalf("the agent did not hear the caller: %+v", res[0])
	}
	e.waitCall("ended by the agent", 5*time.Second, func(c store.CallRecord) bool {
		return c.State == "ended" && c.Side == "agent" && c.Agent == "1002"
	})
}

// TestWebRTCMediaLost: the agent's browser dies during a call (its connection
// closes). The caller, who had their turn, goes back to the head of the queue and
// is answered by the next agent, whose tone they then hear; the lost agent is
// logged out, and the queue-joined event says why.
func TestWebRTCMediaLost(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	first := webrtcAgent(ctx, t, e, "1003", agentsim.Options{})
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the first agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	// The second agent plays another tone, so the caller can tell who answered.
	_, frames600 := tone(600)
	webrtcAgent(ctx, t, e, "1004", agentsim.Options{ToneHz: 600})
	if err := first.DropMedia(); err != nil {
		t.Fatal(err)
	}
	waitFrames(t, "the second agent's tone after the first was lost", peer, frames600, netip.AddrPort{}, 25, 20*time.Second)
	rec := e.waitCall("connected to 1004", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1004" && c.State == "connected" })
	select {
	case <-call.Done():
		t.Fatal("the caller was hung up")
	default:
	}
	// 1003 is logged out.
	deadline := time.Now().Add(5 * time.Second)
	for {
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
		state := ""
		for _, a := range list.Agents {
			if a.ID == "1003" {
				state = a.State
			}
		}
		if state == "logged-out" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent 1003 is %q, want logged-out", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(e.stderr.String(), "agent media lost during the call") {
		t.Fatalf("no log line names the lost agent media of call %s", rec.ID)
	}
}

// TestSelfSignedHTTPS: with --self-signed the engine serves HTTPS (the agent page
// gets a microphone only in a secure context) with a certificate for 127.0.0.1,
// made at start-up; the agent page and a WebRTC agent work over it.
func TestSelfSignedHTTPS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Args: []string{"--self-signed"}})
	if !strings.HasPrefix(e.http, "https://") {
		t.Fatalf("the engine printed %s, want an https URL", e.http)
	}
	pool := x509.NewCertPool()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.http, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	cert := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get(e.http + "/agent/")
	if err != nil {
		t.Fatalf("the certificate does not verify for %s: %v", e.http, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "agent.js") {
		t.Fatalf("GET /agent/ over HTTPS: %d %.100q", res.StatusCode, body)
	}
	webrtcAgent(ctx, t, e, "1008", agentsim.Options{})
	if got := e.metric("hotline_webrtc_peers"); got != 1 {
		t.Fatalf("hotline_webrtc_peers = %v over HTTPS, want 1", got)
	}
}

// restoreConfig makes a dropped agent connection count as down after 1 s and be
// given up 3 s later.
const restoreConfig = `
webrtc:
  disconnected_after: 1s
  restore_timeout: 3s
`

// TestWebRTCMediaRestored: the agent's network goes away during a call; the engine
// sees the connection down and waits; the network comes back and the page's ICE
// restart restores it within the restore time: the call goes on with the same
// agent, audio both ways.
func TestWebRTCMediaRestored(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: restoreConfig})
	agent := webrtcAgent(ctx, t, e, "1009", agentsim.Options{})
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	agent.PauseMedia(true)
	waitLog(t, e, "agent media connection down", 10*time.Second)
	agent.PauseMedia(false)
	if err := agent.RestartMedia(ctx); err != nil {
		t.Fatal(err)
	}
	waitLog(t, e, "agent media connection restored", 5*time.Second)
	peer.Reset()
	waitFrames(t, "the agent's tone after the restore", peer, frames440, netip.AddrPort{}, 25, 10*time.Second)
	time.Sleep(3 * time.Second) // past the restore time: the call must still be there
	e.waitCall("still with 1009", time.Second, func(c store.CallRecord) bool { return c.Agent == "1009" && c.State == "connected" })
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if res := waitResults(t, agent, 1, 10*time.Second); !res[0].Heard {
		t.Fatalf("the agent did not hear the caller: %+v", res[0])
	}
}

// TestWebRTCMediaNotRestored: the agent's network goes away for good; after the
// restore time the caller goes back to the head of the queue and the next agent
// answers, and the lost agent is logged out.
func TestWebRTCMediaNotRestored(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: restoreConfig})
	first := webrtcAgent(ctx, t, e, "1010", agentsim.Options{})
	toneClip, _ := tone(1000)
	_, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the first agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	_, frames600 := tone(600)
	webrtcAgent(ctx, t, e, "1011", agentsim.Options{ToneHz: 600})
	first.PauseMedia(true)
	waitLog(t, e, "agent media connection down", 10*time.Second)
	waitFrames(t, "the second agent's tone", peer, frames600, netip.AddrPort{}, 25, 15*time.Second)
	waitLog(t, e, "agent media lost during the call", time.Second)
	e.waitCall("with 1011", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1011" && c.State == "connected" })
}

// waitLog waits until the engine's log has a line containing s.
func waitLog(t *testing.T, e *engine, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(e.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the engine's log within %v", s, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostCallSurvey: the agent hangs up; the caller hears the survey and presses
// 2 (basically satisfied): the rating is on the call record with the agent, the
// caller is thanked and hung up, and the call ended on the agent's side.
func TestPostCallSurvey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	agent := webrtcAgent(ctx, t, e, "1021", agentsim.Options{TalkFor: 2 * time.Second})
	call, peer := pressOne(ctx, t, e, media.Silence(2*time.Second))
	waitResults(t, agent, 1, 20*time.Second) // the agent hung up
	time.Sleep(500 * time.Millisecond)       // into the survey prompt
	if err := peer.SendDigit(ctx, '2', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the caller was not hung up after the survey")
	}
	rec := e.waitCall("rated", 5*time.Second, func(c store.CallRecord) bool { return c.State == "ended" && c.Rating == "2" })
	if rec.Side != "agent" || rec.Agent != "1021" {
		t.Fatalf("call %+v: want ended by agent 1021", rec)
	}
	waitLog(t, e, `msg="post-call survey" site=primary call_id=`+rec.ID+` agent_id=1021 rating=2`, time.Second)
}
