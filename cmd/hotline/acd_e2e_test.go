package main

// The ACD walk from outside: a citizen dials 12345 and presses 1, the routed call
// joins the general queue, the engine rings a SIP seat (SIPp registered as one of
// the backup agents 2001-2050) and bridges the two legs. Each test checks what the
// peers saw (SIP messages, RTP) and what the REST API says about the call, the
// queue and the agents.
//
// A seat is two SIPp runs on the same local port: register.xml (from sip/testdata)
// registers it and exits, then the answering scenario takes the offer on that port
// (one SIPp process cannot register and then be called). The seats register once
// the caller has pressed 1: the desk prompts that play before the call is routed
// (about 7 s) leave them plenty of time, and the seat scenarios' INVITE timeouts
// start late enough.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// labPassword is the demo agents' shared password (README, start-up banner).
const labPassword = "hotline-lab"

// acdConfig makes the registrar challenge with MD5 only: SIPp 3.6.1 knows no
// SHA-256 and answers the first challenge it gets.
const acdConfig = `
sip:
  registrar:
    algorithms: [MD5]
survey:
  post_call: false # these tests end calls from the agent's side; the survey has its own
`

// seatSIPpDir holds the agent-phone scenarios of the sip package's tests.
var seatSIPpDir = filepath.Join("..", "..", "sip", "testdata", "sipp")

// seat is one SIP seat (a backup agent's phone) played by SIPp.
type seat struct {
	t    *testing.T
	e    *engine
	id   string
	port int // the UDP port it registers from and is called on
}

func newSeat(t *testing.T, e *engine, id string) *seat {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return &seat{t: t, e: e, id: id, port: port}
}

// register registers the seat (digest auth with the lab password, expiry 300 s) and
// waits until the API shows the agent logged in and ready.
func (s *seat) register() {
	s.t.Helper()
	r := s.run(filepath.Join(seatSIPpDir, "register.xml"),
		map[string]string{"EXPIRES": "300", "UNREG_BEGIN": "<!--", "UNREG_END": "-->"},
		"-au", s.id, "-ap", labPassword)
	r.mustPass()
	s.e.waitAgent(s.id, "ready after REGISTER", 5*time.Second, func(a agentStat) bool { return a.State == "ready" })
}

// answer runs seat_answer.xml: the phone answers with its RTP at mediaPort and then
// either waits for the engine's BYE (talk 0) or hangs up itself after talk.
func (s *seat) answer(mediaPort int, talk time.Duration) *sippRun {
	s.t.Helper()
	repl := map[string]string{"AGENT": s.id, "MEDIA_PORT": strconv.Itoa(mediaPort), "TALK_MS": strconv.Itoa(int(talk / time.Millisecond))}
	engineBye, phoneBye := "", "<!--"
	if talk > 0 {
		engineBye, phoneBye = "<!--", ""
	}
	repl["ENGINE_BYE_BEGIN"], repl["ENGINE_BYE_END"] = engineBye, strings.Replace(engineBye, "<!--", "-->", 1)
	repl["PHONE_BYE_BEGIN"], repl["PHONE_BYE_END"] = phoneBye, strings.Replace(phoneBye, "<!--", "-->", 1)
	return s.run(filepath.Join(sippDir, "seat_answer.xml"), repl)
}

// reject runs agent_reject.xml: the phone rings and refuses with code.
func (s *seat) reject(code int, reason string) *sippRun {
	s.t.Helper()
	return s.run(filepath.Join(seatSIPpDir, "agent_reject.xml"), map[string]string{"CODE": strconv.Itoa(code), "REASON": reason})
}

// ring runs agent_ring.xml: the phone rings until the engine CANCELs (200, 487,
// ACK), for at most 15 s.
func (s *seat) ring() *sippRun {
	s.t.Helper()
	return s.run(filepath.Join(seatSIPpDir, "agent_ring.xml"), nil)
}

// run starts SIPp with the scenario file (its {{KEY}}s replaced) on the seat's port,
// as user s.id, against the engine; it is killed in t.Cleanup if it still runs.
func (s *seat) run(file string, replace map[string]string, extra ...string) *sippRun {
	t := s.t
	t.Helper()
	bin := requireTool(t, "sipp", "sip-tester")
	tmpl, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(tmpl)
	for k, v := range replace {
		text = strings.ReplaceAll(text, "{{"+k+"}}", v)
	}
	if i := strings.Index(text, "{{"); i >= 0 {
		t.Fatalf("scenario %s: template key left unreplaced near %q", file, text[i:min(len(text), i+20)])
	}
	dir := t.TempDir()
	scen := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(scen, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &sippRun{t: t, dir: dir, out: &lockedBuffer{}, done: make(chan struct{}), MediaPort: freeMediaPort(t, "127.0.0.1")}
	args := []string{
		"-sf", scen, "-s", s.id, "-i", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(r.MediaPort), "-m", "1", "-l", "1", "-nostdin",
		"-timeout", "40s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		"-watchdog_minor_maxtriggers", "100000", "-watchdog_major_maxtriggers", "100000",
	}
	args = append(args, extra...)
	args = append(args, s.e.sip.String())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	r.cmd = exec.CommandContext(ctx, bin, args...)
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.WaitDelay = 2 * time.Second
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("sipp: %v", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("seat %s, %s:%s", s.id, filepath.Base(file), r.logs())
		}
	})
	return r
}

// waitEnd waits at most d for SIPp to finish and fails the test unless it passed.
func (r *sippRun) waitEnd(what string, d time.Duration) {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.t.Fatalf("SIPp (%s) still runs after %v; %s", what, d, r.logs())
	}
	if code := r.wait(); code != 0 {
		r.t.Fatalf("SIPp (%s) exited with %d (%v); %s", what, code, r.err, r.logs())
	}
}

// queueStat is one queue of GET /api/v1/queues.
type queueStat struct {
	Name      string `json:"name"`
	Waiting   int    `json:"waiting"`
	Offered   int    `json:"offered"`
	Answered  int    `json:"answered"`
	Abandoned int    `json:"abandoned"`
}

// agentStat is one agent of GET /api/v1/agents.
type agentStat struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Calls    int    `json:"calls"`
	Missed   int    `json:"missed"`
	Rejected int    `json:"rejected"`
}

func (e *engine) getJSON(path string, v any) error {
	code, body, err := e.get(path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w: %s", path, err, body)
	}
	return nil
}

// queueStats returns GET /api/v1/queues by queue name.
func (e *engine) queueStats() (map[string]queueStat, error) {
	var out struct {
		Queues []queueStat `json:"queues"`
	}
	if err := e.getJSON("/api/v1/queues", &out); err != nil {
		return nil, err
	}
	m := map[string]queueStat{}
	for _, q := range out.Queues {
		m[q.Name] = q
	}
	return m, nil
}

// agentStats returns GET /api/v1/agents by agent id, and the count by state.
func (e *engine) agentStats() (map[string]agentStat, map[string]int, error) {
	var out struct {
		Agents  []agentStat    `json:"agents"`
		ByState map[string]int `json:"by_state"`
	}
	if err := e.getJSON("/api/v1/agents", &out); err != nil {
		return nil, nil, err
	}
	m := map[string]agentStat{}
	for _, a := range out.Agents {
		m[a.ID] = a
	}
	return m, out.ByState, nil
}

// waitQueue polls GET /api/v1/queues until queue name satisfies ok, for at most d.
func (e *engine) waitQueue(name, what string, d time.Duration, ok func(queueStat) bool) queueStat {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		qs, err := e.queueStats()
		if err == nil && ok(qs[name]) {
			return qs[name]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("queue %s not %s within %v: %+v (error %v)", name, what, d, qs[name], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAgent polls GET /api/v1/agents until agent id satisfies ok, for at most d.
func (e *engine) waitAgent(id, what string, d time.Duration, ok func(agentStat) bool) agentStat {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		as, _, err := e.agentStats()
		if err == nil && ok(as[id]) {
			return as[id]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("agent %s not %s within %v: %+v (error %v)", id, what, d, as[id], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends a JSON body to the API with an optional bearer token.
func (e *engine) post(path, token, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes(), err
}

// pressOne dials 12345 from a Go UAC with a PCMU RTP peer, sends 300 ms of silence
// and the digit 1 (RFC 4733) in the welcome prompt, and then streams then (nil:
// silence) until the test ends. It waits until the API shows the digit.
func pressOne(ctx context.Context, t *testing.T, e *engine, then media.Source) (*siptest.Call, *mediatest.Peer) {
	t.Helper()
	u := newUAC(t, e, siptest.Options{})
	peer := newPeer(t, media.PCMU, 101)
	call := dial(ctx, t, u, peer, media.PCMU)
	if then == nil {
		then = media.Silence(time.Minute)
	}
	sendCtx, stop := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() {
		if err := peer.Stream(sendCtx, media.Silence(300*time.Millisecond)); err != nil {
			sent <- err
			return
		}
		if err := peer.SendDigit(sendCtx, '1', 100*time.Millisecond); err != nil {
			sent <- err
			return
		}
		sent <- peer.Stream(sendCtx, then)
	}()
	t.Cleanup(func() {
		stop()
		<-sent
	})
	e.waitCall("with the digit 1", 10*time.Second, func(c store.CallRecord) bool { return c.Digits == "1" })
	return call, peer
}

// tone returns one second of a sine at hz (so that it loops on a packet boundary)
// and the set of its 20 ms PCMU frames, to recognise it at the other end of a
// bridge that forwards without transcoding.
func tone(hz float64) (*media.Clip, map[string]bool) { return toneIn(media.PCMU, hz) }

// toneIn is tone with the frames encoded in codec.
func toneIn(codec media.Codec, hz float64) (*media.Clip, map[string]bool) {
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	clip := media.NewClip(fmt.Sprintf("tone%.0f", hz), pcm)
	frames := map[string]bool{}
	p := clip.Payload(codec)
	for i := 0; i+160 <= len(p); i += 160 {
		frames[string(p[i:i+160])] = true
	}
	return clip, frames
}

// countFrames counts the packets of peer with a payload in frames (and, when from is
// valid, sent from it).
func countFrames(peer *mediatest.Peer, frames map[string]bool, from netip.AddrPort) int {
	n := 0
	for _, p := range peer.Packets() {
		if frames[string(p.Payload)] && (!from.IsValid() || p.From == from) {
			n++
		}
	}
	return n
}

// waitFrames waits until countFrames reaches n, for at most d.
func waitFrames(t *testing.T, what string, peer *mediatest.Peer, frames map[string]bool, from netip.AddrPort, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for countFrames(peer, frames, from) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d packets of the tone within %v (%d packets in all)", what, countFrames(peer, frames, from), n, d, peer.Count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestACDAnswer: seat 2001 registers and answers; the caller presses 1 and is
// connected to 2001. Audio flows both ways through the bridge unchanged (PCMU on
// both legs: no transcoding): the caller's tone reaches the agent's RTP port, the
// agent's tone and its RFC 4733 digit reach the caller, from the engine's address.
// The caller's hang-up ends the agent's leg with BYE; the API shows the call
// answered by 2001, the queue's answered count and the agent in wrap-up.
func TestACDAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	callerTone, callerFrames := tone(400)
	agentTone, agentFrames := tone(1000)
	agentRTP := newPeer(t, media.PCMU, 101)

	call, caller := pressOne(ctx, t, e, callerTone.Loop())
	engineRTP, _ := call.RemoteMedia()
	s := newSeat(t, e, "2001")
	s.register()
	phone := s.answer(int(agentRTP.Addr().Port()), 0)

	c := e.waitCall("connected", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateConnected })
	if c.Agent != "2001" || c.Connected.IsZero() || c.Route == nil || c.Route.Queue != "general" {
		t.Errorf("connected call: agent %q connected %v route %+v; want agent 2001 from the general queue", c.Agent, c.Connected, c.Route)
	}
	e.waitAgent("2001", "on a call", 5*time.Second, func(a agentStat) bool { return a.State == "on-call" })

	// Caller -> agent: the caller's tone arrives at the agent's RTP port.
	waitFrames(t, "caller to agent", agentRTP, callerFrames, netip.AddrPort{}, 25, 5*time.Second)
	engineAgentSide := agentRTP.Packets()[0].From
	for _, p := range agentRTP.Packets() {
		if p.From != engineAgentSide || p.Header.PayloadType != media.PCMU.PayloadType {
			t.Fatalf("the agent received a packet from %v with payload type %d, want all from %v, PCMU", p.From, p.Header.PayloadType, engineAgentSide)
		}
	}

	// Agent -> caller: the agent talks back (to where the engine's packets come
	// from) and presses 5.
	agentRTP.SetRemote(engineAgentSide)
	talked := make(chan error, 1)
	go func() {
		if err := agentRTP.Stream(ctx, agentTone.Source()); err != nil {
			talked <- err
			return
		}
		if err := agentRTP.SendDigit(ctx, '5', 160*time.Millisecond); err != nil {
			talked <- err
			return
		}
		talked <- agentRTP.Stream(ctx, media.Silence(200*time.Millisecond))
	}()
	waitFrames(t, "agent to caller", caller, agentFrames, engineRTP, 40, 5*time.Second)
	if err := <-talked; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		events := 0
		for _, p := range caller.Packets() {
			if p.Header.PayloadType == 101 && len(p.Payload) == media.EventSize && p.Payload[0] == 5 && p.From == engineRTP {
				events++
			}
		}
		if events >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's digit 5 did not reach the caller as telephone-events (%d packets)", events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// One outgoing stream to the caller: the hold audio and the bridged audio share
	// the engine's SSRC.
	for _, p := range caller.Packets() {
		if p.From == engineRTP && p.Header.SSRC != caller.Packets()[0].Header.SSRC {
			t.Fatalf("the engine's stream to the caller changed SSRC %08x -> %08x", caller.Packets()[0].Header.SSRC, p.Header.SSRC)
		}
	}

	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	phone.waitEnd("agent 2001 gets BYE", 10*time.Second)
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	if ended.Agent != "2001" {
		t.Errorf("ended call: agent %q, want 2001", ended.Agent)
	}
	e.waitQueue("general", "answered once", 5*time.Second, func(q queueStat) bool { return q.Answered == 1 && q.Waiting == 0 && q.Abandoned == 0 })
	a := e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	if a.Calls != 1 || a.Missed != 0 || a.Rejected != 0 {
		t.Errorf("agent 2001: %+v, want 1 call, none missed or rejected", a)
	}
	if got := e.metric("hotline_calls_total", `result="answered"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="answered"} = %v, want 1`, got)
	}
	if got := e.metric("hotline_rtp_packets_transcoded_total"); got != 0 {
		t.Errorf("hotline_rtp_packets_transcoded_total = %v, want 0 (PCMU on both legs)", got)
	}
	if got := e.metric("hotline_rtp_packets_forwarded_total"); got < 65 {
		t.Errorf("hotline_rtp_packets_forwarded_total = %v, want at least the 65 tone and event packets", got)
	}
}

// TestACDDecline: seat 2001 (ready first: the longest idle) declines with 486; the
// call goes back to its place and is offered to 2002, who answers and later hangs
// up, which ends the caller's leg too. 2001 is not-ready "rejected".
func TestACDDecline(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	call, _ := pressOne(ctx, t, e, nil)
	s1, s2 := newSeat(t, e, "2001"), newSeat(t, e, "2002")
	s1.register()
	s2.register()
	agentRTP := newPeer(t, media.PCMU, 101)
	busy := s1.reject(486, "Busy Here")
	phone := s2.answer(int(agentRTP.Addr().Port()), 2*time.Second)

	c := e.waitCall("connected", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateConnected })
	if c.Agent != "2002" {
		t.Errorf("the call was answered by %q, want 2002", c.Agent)
	}
	busy.waitEnd("agent 2001 declines", 5*time.Second)
	a := e.waitAgent("2001", `not-ready "rejected"`, 5*time.Second, func(a agentStat) bool { return a.State == "not-ready" })
	if a.Reason != "rejected" || a.Rejected != 1 || a.Calls != 0 {
		t.Errorf("agent 2001: %+v, want not-ready rejected, 1 rejected, no call", a)
	}

	// The agent hangs up: the engine ends the caller's leg, after the post-call
	// survey (which this caller leaves unanswered).
	select {
	case <-call.Done():
	case <-time.After(25 * time.Second):
		t.Fatal("the agent's BYE did not end the caller's leg")
	}
	phone.waitEnd("agent 2002 answers and hangs up", 5*time.Second)
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	if ended.Side != "agent" || ended.Agent != "2002" {
		t.Errorf("ended call: side %q agent %q cause %q; want ended by agent 2002", ended.Side, ended.Agent, ended.Cause)
	}
	e.waitQueue("general", "answered once", 5*time.Second, func(q queueStat) bool { return q.Answered == 1 && q.Waiting == 0 })
	a = e.waitAgent("2002", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	if a.Calls != 1 {
		t.Errorf("agent 2002: %+v, want 1 call", a)
	}
}

// ringConfig is acdConfig with the six default desks ringing an agent for 3 s.
const ringConfig = acdConfig + `
queues:
  - {name: general,   skill: call-taking,            hold: [music], ring_timeout: 3s}
  - {name: business,  skill: business-environment,   hold: [music], ring_timeout: 3s}
  - {name: talent,    skill: talent-policy,          hold: [music], ring_timeout: 3s}
  - {name: household, skill: household-registration, hold: [music], ring_timeout: 3s}
  - {name: followup,  skill: follow-up,              hold: [music], ring_timeout: 3s}
  - {name: foreign,   skill: foreign-language,       hold: [music], ring_timeout: 3s}
`

// TestACDRingTimeout: a SIPp caller presses 1; seat 2001 rings and never answers.
// After the queue's ring timeout (3 s) the engine CANCELs, 2001 is not-ready
// "missed" and the call waits in the queue again; the caller's hang-up then counts
// as abandoned.
func TestACDRingTimeout(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{Config: ringConfig})
	// The caller hangs up 17.5 s after the answer: routed at about 8.5 s, missed
	// 3 s later.
	caller := startSIPp(t, e, sippCall{Scenario: "menu_rfc4733.xml", Replace: map[string]string{"DIGIT": "1"},
		Args: []string{"-d", "16000"}})
	e.waitCall("with the digit 1", 10*time.Second, func(c store.CallRecord) bool { return c.Digits == "1" })
	s := newSeat(t, e, "2001")
	s.register()
	phone := s.ring()

	e.waitAgent("2001", "ringing", routedTimeout, func(a agentStat) bool { return a.State == "reserved" })
	phone.waitEnd("agent 2001 rings until CANCEL", 10*time.Second)
	a := e.waitAgent("2001", `not-ready "missed"`, 5*time.Second, func(a agentStat) bool { return a.State == "not-ready" })
	if a.Reason != "missed" || a.Missed != 1 || a.Calls != 0 {
		t.Errorf("agent 2001: %+v, want not-ready missed, 1 missed", a)
	}
	q := e.waitQueue("general", "waiting again", 5*time.Second, func(q queueStat) bool { return q.Waiting == 1 })
	if q.Answered != 0 || q.Abandoned != 0 {
		t.Errorf("queue general: %+v, want nothing answered or abandoned yet", q)
	}
	if !caller.stillRunning() {
		t.Fatalf("the caller hung up before the check; %s", caller.logs())
	}
	caller.mustPass()
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	if ended.Agent != "" || !ended.Connected.IsZero() {
		t.Errorf("the ended call was connected to %q", ended.Agent)
	}
	e.waitQueue("general", "abandoned", 5*time.Second, func(q queueStat) bool { return q.Waiting == 0 && q.Abandoned == 1 })
	if got := e.metric("hotline_calls_total", `result="abandoned_in_queue"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="abandoned_in_queue"} = %v, want 1`, got)
	}
}

// TestACDRingTimeoutNextAgent: seat 2001 rings out and the call is offered at once
// to 2002, who answers: the new offer, made while the first phone is being
// cancelled, must not be lost.
func TestACDRingTimeoutNextAgent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: ringConfig})
	call, _ := pressOne(ctx, t, e, nil)
	s1, s2 := newSeat(t, e, "2001"), newSeat(t, e, "2002")
	s1.register()
	s2.register()
	agentRTP := newPeer(t, media.PCMU, 101)
	ringing := s1.ring()
	phone := s2.answer(int(agentRTP.Addr().Port()), 0)

	c := e.waitCall("connected", routedTimeout+5*time.Second, func(c store.CallRecord) bool { return c.State == store.StateConnected })
	if c.Agent != "2002" {
		t.Errorf("the call was answered by %q, want 2002", c.Agent)
	}
	ringing.waitEnd("agent 2001 rings until CANCEL", 5*time.Second)
	a := e.waitAgent("2001", `not-ready "missed"`, 5*time.Second, func(a agentStat) bool { return a.State == "not-ready" })
	if a.Reason != "missed" || a.Missed != 1 {
		t.Errorf("agent 2001: %+v, want not-ready missed", a)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	phone.waitEnd("agent 2002 answers, gets BYE", 10*time.Second)
	e.waitQueue("general", "answered once", 5*time.Second, func(q queueStat) bool { return q.Answered == 1 && q.Waiting == 0 })
}

// TestACDCallerHangsUpWhileRinging: the caller hangs up while 2001's phone rings:
// the phone gets CANCEL (200, 487, ACK), 2001 is ready again, the queue counts one
// abandoned call and nobody is left reserved.
func TestACDCallerHangsUpWhileRinging(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	call, _ := pressOne(ctx, t, e, nil)
	s := newSeat(t, e, "2001")
	s.register()
	phone := s.ring()
	e.waitAgent("2001", "ringing", routedTimeout, func(a agentStat) bool { return a.State == "reserved" })

	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	phone.waitEnd("agent 2001 gets CANCEL", 10*time.Second)
	if !strings.Contains(phone.messages(), "CANCEL sip:") {
		t.Errorf("the agent's phone saw no CANCEL:\n%s", phone.messages())
	}
	a := e.waitAgent("2001", "ready again", 5*time.Second, func(a agentStat) bool { return a.State == "ready" })
	if a.Missed != 0 || a.Rejected != 0 || a.Calls != 0 {
		t.Errorf("agent 2001: %+v, want no call, none missed or rejected", a)
	}
	e.waitQueue("general", "abandoned", 5*time.Second, func(q queueStat) bool { return q.Abandoned == 1 && q.Waiting == 0 && q.Answered == 0 })
	_, byState, err := e.agentStats()
	if err != nil {
		t.Fatal(err)
	}
	if byState["reserved"] != 0 || byState["on-call"] != 0 {
		t.Errorf("agents by state %v: someone is stuck reserved or on a call", byState)
	}
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	if ended.Agent != "" {
		t.Errorf("the call abandoned while ringing records agent %q", ended.Agent)
	}
	if got := e.metric("hotline_calls_total", `result="abandoned_in_queue"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="abandoned_in_queue"} = %v, want 1`, got)
	}
	if got := e.metric("hotline_calls_active"); got != 0 {
		t.Errorf("hotline_calls_active = %v after the call, want 0", got)
	}
}

// TestAgentAPI: an agent logs in with the lab password and changes their own state;
// another agent's state, a bad token and a bad body are refused.
func TestAgentAPI(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{})

	code, body, err := e.post("/api/v1/login", "", `{"agent": "1001", "password": "wrong"}`)
	if err != nil || code != http.StatusUnauthorized {
		t.Errorf("login with a wrong password: %d %s %v, want 401", code, body, err)
	}
	code, body, err = e.post("/api/v1/login", "", `{"agent": "1001", "password": "`+labPassword+`"}`)
	if err != nil || code != http.StatusOK {
		t.Fatalf("login: %d %s %v", code, body, err)
	}
	var login struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &login); err != nil || login.Token == "" {
		t.Fatalf("login answer %s: no token (%v)", body, err)
	}
	tok := login.Token

	steps := []struct {
		name      string
		agent     string
		token     string
		body      string
		wantCode  int
		wantState string // the agent's state in GET /api/v1/agents afterwards ("" = not checked)
		wantWhy   string // and its not-ready reason
	}{
		{"not-ready break", "1001", tok, `{"state": "not-ready", "reason": "break"}`, 200, "not-ready", "break"},
		{"another agent", "1002", tok, `{"state": "ready"}`, 403, "", ""},
		{"bad token", "1001", "not-a-token", `{"state": "ready"}`, 401, "not-ready", "break"},
		{"no token", "1001", "", `{"state": "ready"}`, 401, "not-ready", "break"},
		{"broken JSON", "1001", tok, `{"state": `, 400, "not-ready", "break"},
		{"unknown field", "1001", tok, `{"state": "ready", "mood": "good"}`, 400, "not-ready", "break"},
		{"unknown state", "1001", tok, `{"state": "asleep"}`, 400, "not-ready", "break"},
		{"reserved is not for agents to set", "1001", tok, `{"state": "reserved"}`, 400, "not-ready", "break"},
		{"ready", "1001", tok, `{"state": "ready"}`, 200, "ready", ""},
		{"meal", "1001", tok, `{"state": "not-ready", "reason": "meal"}`, 200, "not-ready", "meal"},
		{"logged out", "1001", tok, `{"state": "logged-out"}`, 200, "logged-out", ""},
		{"ready again", "1001", tok, `{"state": "ready"}`, 200, "ready", ""},
	}
	for _, st := range steps {
		code, body, err := e.post("/api/v1/agents/"+st.agent+"/state", st.token, st.body)
		if err != nil || code != st.wantCode {
			t.Errorf("%s: %d %s %v, want %d", st.name, code, body, err, st.wantCode)
			continue
		}
		if st.wantState == "" {
			continue
		}
		as, _, err := e.agentStats()
		if err != nil {
			t.Fatal(err)
		}
		// A logged-out agent's reason is the ACD's business; a ready one has none.
		if a := as[st.agent]; a.State != st.wantState || (st.wantState != "logged-out" && a.Reason != st.wantWhy) {
			t.Errorf("%s: agent %s is %s %q, want %s %q", st.name, st.agent, a.State, a.Reason, st.wantState, st.wantWhy)
		}
	}
	as, _, err := e.agentStats()
	if err != nil {
		t.Fatal(err)
	}
	if a := as["1002"]; a.State != "logged-out" {
		t.Errorf("agent 1002 is %s, want logged-out (nobody changed it)", a.State)
	}
}
