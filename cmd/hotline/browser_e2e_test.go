package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// writeToneWAV writes d of a sine at hz, 48 kHz 16-bit mono: Chromium's fake
// microphone (it loops the file).
func writeToneWAV(t *testing.T, hz float64, d time.Duration) string {
	t.Helper()
	const rate = 48000
	n := int(d.Seconds() * rate)
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], 2*rate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := range n {
		v := int16(10000 * math.Sin(2*math.Pi*hz*float64(i)/rate))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	f := filepath.Join(t.TempDir(), fmt.Sprintf("tone%.0f.wav", hz))
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// startChromium starts headless Chromium with a fake microphone playing wav and
// returns a browser context; it is killed when the test ends.
func startChromium(t *testing.T, ctx context.Context, wav string) context.Context {
	t.Helper()
	bin := requireTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns,Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// cdp runs one chromedp action and fails the test with what on error.
func cdp[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// poll waits until the page expression is truthy.
func poll(t *testing.T, ctx context.Context, what, expr string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({state: hotline.state, media: hotline.media, checks: hotline.checks, heard: hotline.heardHz, level: hotline.level, errors: hotline.errors, events: hotline.events.slice(-8)})`))
		t.Fatalf("%s (%s) within %v: %v\npage: %s", what, expr, d, err, state)
	}
}

// heard is the share of hz in the caller's audio received after since.
func heard(peer *mediatest.Peer, hz float64, since time.Time) (float64, int) {
	var pk []mediatest.Packet
	for _, p := range peer.Packets() {
		if p.At.After(since) && (p.Header.PayloadType == 0 || p.Header.PayloadType == 8) {
			pk = append(pk, p)
		}
	}
	return mediatest.ToneShare(pk, hz), len(pk)
}

// waitHeard waits until the caller hears hz (share > 0.5 over 25+ packets after since).
func waitHeard(t *testing.T, what string, peer *mediatest.Peer, hz float64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		since := time.Now().Add(-600 * time.Millisecond)
		share, n := heard(peer, hz, since)
		if n >= 25 && share > 0.5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: share of %.0f Hz %.2f over %d packets", what, hz, share, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// artifact saves b as name under $HOTLINE_ARTIFACTS (default bin/artifacts in the
// repository), for a person to look at after the run.
func artifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("HOTLINE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifact %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Logf("artifact %s: %v", name, err)
		return
	}
	t.Logf("artifact: %s", p)
}

// TestAgentPageInChromium drives the agent page in headless Chromium, whose fake
// microphone plays 440 Hz. The agent logs in (the pre-call check passes: the
// microphone, the media connection with its round trip, the WebSocket) and goes
// ready. A caller dials 12345, presses 1 and plays 1 kHz: the page rings with the
// caller's number, desk and menu choices (a screenshot is kept); the test clicks
// answer; the page hears 1 kHz (WebAudio) and the caller hears 440 Hz. Hold: the
// caller stops hearing the agent and the agent the caller; resume brings both back.
// Mute silences the agent. The keypad's 5 reaches the caller as an RFC 4733 event.
// Alt+H (the hang-up shortcut) ends the call: the caller gets BYE. A second call
// is blind-transferred from the page to agent 1006 (a simulated agent playing
// 600 Hz), whom the caller then hears. A third is ended by the caller: the page
// leaves the call. The second call also has a consult from the page (the agent
// hears 1006, the caller holds) that the agent cancels.
func TestAgentPageInChromium(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	page := startChromium(t, ctx, writeToneWAV(t, 440, 10*time.Second))

	cdp(t, page, "open /agent", chromedp.Navigate(e.http+"/agent/"))
	cdp(t, page, "English", chromedp.SetValue("#lang", "en"))
	cdp(t, page, "agent id", chromedp.SendKeys("#agentId", "1005"))
	cdp(t, page, "password", chromedp.SendKeys("#password", labPassword))
	cdp(t, page, "log in", chromedp.Click("#loginBtn"))
	poll(t, page, "pre-call check passed", `hotline.checks.mic === true && hotline.checks.media === true && hotline.checks.signal === true`, 20*time.Second)
	if rtt := cdp(t, page, "rtt", chromedp.Evaluate[float64](`hotline.rtt === null ? -1 : hotline.rtt`)); rtt < 0 {
		t.Error("the pre-call check measured no round trip time")
	}
	cdp(t, page, "ready", chromedp.Click("#readyBtn"))
	poll(t, page, "ready", `hotline.state === "ready"`, 10*time.Second)

	// Call 1: answer, both directions, hold, mute, keypad, Alt+H.
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	poll(t, page, "ringing", `hotline.offer !== null && !document.getElementById("incoming").hidden && document.getElementById("inMenu").textContent.length > 1`, 20*time.Second)
	if got := cdp(t, page, "caller shown", chromedp.Evaluate[string](`document.getElementById("inCaller").textContent + " " + document.getElementById("inQueue").textContent`)); !strings.Contains(got, "general") || !strings.Contains(got, "138") {
		t.Errorf("the ringing alert shows %q, want the caller's number and the desk", got)
	}
	artifact(t, "agent-page-ringing.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))
	clickAt := time.Now()
	cdp(t, page, "answer", chromedp.Click("#answerBtn"))
	poll(t, page, "on call", `hotline.call !== null`, 10*time.Second)
	poll(t, page, "the agent hears 1 kHz", `Math.abs(hotline.heardHz - 1000) < 30`, 10*time.Second)
	waitHeard(t, "the caller hears the agent's 440 Hz", peer, 440, 10*time.Second)
	e.waitCall("connected to 1005", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1005" && c.State == "connected" })
	if ms := cdp(t, page, "first audio", chromedp.Evaluate[float64](`hotline.firstAudioMs === null ? -1 : hotline.firstAudioMs`)); ms < 0 {
		t.Error("the page measured no time from answer to the caller's first audio")
	} else {
		t.Logf("agent page: answer click to the caller's first audio %.0f ms", ms)
	}
	if d, ok := firstToneAfter(peer, 440, clickAt); ok {
		t.Logf("agent page: answer click to the agent's voice at the caller %.0f ms", float64(d)/float64(time.Millisecond))
	}
	artifact(t, "agent-page-on-call.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))

	cdp(t, page, "hold", chromedp.Click("#holdBtn"))
	poll(t, page, "held", `hotline.held === true`, 5*time.Second)
	poll(t, page, "the agent hears nothing on hold", `hotline.heardHz === 0 || Math.abs(hotline.heardHz - 1000) > 30`, 5*time.Second)
	time.Sleep(800 * time.Millisecond)
	if share, _ := heard(peer, 440, time.Now().Add(-500*time.Millisecond)); share > 0.3 {
		t.Errorf("the caller still hears the agent on hold (share %.2f)", share)
	}
	cdp(t, page, "resume", chromedp.Click("#holdBtn"))
	poll(t, page, "resumed", `hotline.held === false`, 5*time.Second)
	poll(t, page, "the agent hears 1 kHz again", `Math.abs(hotline.heardHz - 1000) < 30`, 10*time.Second)
	waitHeard(t, "the caller hears the agent again", peer, 440, 10*time.Second)

	cdp(t, page, "mute", chromedp.Click("#muteBtn"))
	time.Sleep(800 * time.Millisecond)
	if share, _ := heard(peer, 440, time.Now().Add(-400*time.Millisecond)); share > 0.3 {
		t.Errorf("the caller still hears the muted agent (share %.2f)", share)
	}
	cdp(t, page, "unmute", chromedp.Click("#muteBtn"))
	waitHeard(t, "the caller hears the unmuted agent", peer, 440, 10*time.Second)

	poll(t, page, "DTMF sender ready", `hotline.pc.getSenders()[0].dtmf.canInsertDTMF`, 10*time.Second)
	cdp(t, page, "keypad 5", chromedp.Click(`#keypad button:nth-child(5)`))
	deadline := time.Now().Add(5 * time.Second)
	for got := false; !got; {
		for _, p := range peer.Packets() {
			if p.Header.PayloadType == 101 && len(p.Payload) >= 4 && p.Payload[0] == 5 {
				got = true
			}
		}
		if !got && time.Now().After(deadline) {
			t.Fatal("the keypad's 5 did not reach the caller as a telephone-event")
		}
		time.Sleep(50 * time.Millisecond)
	}

	cdp(t, page, "pause the recording", chromedp.Click("#recBtn"))
	poll(t, page, "recording paused", `hotline.recPaused === true && !document.getElementById("recTag").hidden`, 5*time.Second)
	cdp(t, page, "resume the recording", chromedp.Click("#recBtn"))
	poll(t, page, "recording resumed", `hotline.recPaused === false`, 5*time.Second)

	cdp(t, page, "Alt+H", chromedp.KeyEvent("h", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	select {
	case <-call.Done():
	case <-time.After(25 * time.Second): // after the post-call survey, which goes unanswered
		t.Fatal("Alt+H did not hang the caller up")
	}
	poll(t, page, "call left", `hotline.call === null`, 5*time.Second)
	// The after-call form opens: a complaint dispatched to the housing department.
	poll(t, page, "the after-call form", `!document.getElementById("form").hidden && document.getElementById("fDepartment").options.length > 0`, 5*time.Second)
	first := e.waitCall("the first call", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1005" })
	cdp(t, page, "category", chromedp.SetValue("#fCategory", "complaint"))
	cdp(t, page, "summary", chromedp.SendKeys("#fSummary", "the street light is out"))
	cdp(t, page, "dispatched", chromedp.Click(`input[name=disp][value=dispatched]`))
	cdp(t, page, "department", chromedp.SetValue("#fDepartment", "housing"))
	artifact(t, "agent-page-after-call-form.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))
	cdp(t, page, "create the work order", chromedp.Click("#ticketBtn"))
	poll(t, page, "work order created", `hotline.lastTicket && hotline.lastTicket.id.startsWith("WO")`, 10*time.Second)
	poll(t, page, "the work order in the agent's list", `[...document.querySelectorAll("#orderList td")].some(td => td.textContent === hotline.lastTicket.id)`, 10*time.Second)
	code, _, body := e.getAuth("/api/v1/tickets", e.login("1005"))
	var tl struct {
		Tickets []struct {
			ID, Call, Caller, Queue, Recording, Category, Disposition, Department, Status string
		} `json:"tickets"`
	}
	if err := json.Unmarshal(body, &tl); err != nil || code != 200 || len(tl.Tickets) != 1 {
		t.Fatalf("the agent's work orders: %d %s", code, body)
	}
	if w := tl.Tickets[0]; w.Call != first.ID || w.Caller != first.Caller || w.Queue != "general" || w.Recording != first.ID ||
		w.Category != "complaint" || w.Disposition != "dispatched" || w.Department != "housing" || w.Status != "open" {
		t.Errorf("the work order from the form: %+v (call %s)", w, first.ID)
	}
	e.waitCall("ended by the agent", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1005" && c.State == "ended" && c.Side == "agent" })
	poll(t, page, "wrap-up", `hotline.state === "wrap-up"`, 5*time.Second)
	cdp(t, page, "ready after wrap-up", chromedp.Click("#readyBtn"))
	poll(t, page, "ready", `hotline.state === "ready"`, 5*time.Second)

	// Call 2: blind transfer from the page to agent 1006.
	webrtcAgent(ctx, t, e, "1006", agentsim.Options{ToneHz: 600})
	// 1006 logged in after 1005 was ready: both are ready; longest-idle picks 1005?
	// Not necessarily, so make 1006 busy-proof: it is the transfer target, the call
	// must first reach the page. Put 1006 not-ready until the page has the call.
	setAgentState(t, e, "1006", "not-ready")
	_, peer2 := pressOne(ctx, t, e, toneClip.Loop())
	poll(t, page, "second call ringing", `hotline.offer !== null`, 20*time.Second)
	cdp(t, page, "Alt+A", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	poll(t, page, "on the second call", `hotline.call !== null`, 10*time.Second)
	setAgentState(t, e, "1006", "ready")
	// A consult first: the caller holds while 1005 talks to 1006, then 1005 cancels.
	cdp(t, page, "consult kind", chromedp.SetValue("#trKind", "agent"))
	cdp(t, page, "consult target", chromedp.SendKeys("#trTarget", "1006"))
	cdp(t, page, "consult", chromedp.Click("#consultBtn"))
	poll(t, page, "consult connected", `hotline.consult !== null && hotline.consult.state === "connected" && !document.getElementById("completeBtn").disabled`, 10*time.Second)
	poll(t, page, "the agent hears 1006 in the consult", `Math.abs(hotline.heardHz - 600) < 30`, 10*time.Second)
	artifact(t, "agent-page-consult.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))
	cdp(t, page, "cancel the consult", chromedp.Click("#cancelBtn"))
	poll(t, page, "consult over", `hotline.consult === null && document.getElementById("consultBar").hidden`, 10*time.Second)
	waitHeard(t, "the caller hears 1005 again after the consult", peer2, 440, 10*time.Second)
	setAgentState(t, e, "1006", "ready") // out of the consult's wrap-up
	// Then a blind transfer to 1006.
	cdp(t, page, "transfer kind", chromedp.SetValue("#trKind", "agent"))
	cdp(t, page, "transfer target", chromedp.SendKeys("#trTarget", "1006"))
	cdp(t, page, "transfer", chromedp.Click("#transferBtn"))
	poll(t, page, "the transferred call left the page", `hotline.call === null`, 10*time.Second)
	_, frames600 := tone(600)
	waitFrames(t, "the caller hears 1006 after the transfer", peer2, frames600, zeroAddr, 25, 15*time.Second)
	cdp(t, page, "ready after the transfer", chromedp.Click("#readyBtn"))
	poll(t, page, "ready", `hotline.state === "ready"`, 5*time.Second)

	// Call 3: the caller hangs up; the page leaves the call.
	call3, _ := pressOne(ctx, t, e, toneClip.Loop())
	poll(t, page, "third call ringing", `hotline.offer !== null`, 20*time.Second)
	cdp(t, page, "answer the third", chromedp.Click("#answerBtn"))
	poll(t, page, "on the third call", `hotline.call !== null`, 10*time.Second)
	if err := call3.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	poll(t, page, "the caller's hang-up reaches the page", `hotline.call === null && hotline.events.some(e => e.includes("caller"))`, 10*time.Second)
}

var zeroAddr netip.AddrPort

// setAgentState sets agent's state as supervisor 9001 would.
func setAgentState(t *testing.T, e *engine, agent, state string) {
	t.Helper()
	tok := e.login("9001")
	body := `{"state":"` + state + `"}`
	if state == "not-ready" {
		body = `{"state":"not-ready","reason":"meeting"}`
	}
	if code, b, err := e.post("/api/v1/agents/"+agent+"/state", tok, body); err != nil || code != 200 {
		t.Fatalf("set %s %s: %d %s %v", agent, state, code, b, err)
	}
}

// firstToneAfter is how long after since the caller's first packet of a run of five
// carrying hz (share > 0.5) arrived.
func firstToneAfter(peer *mediatest.Peer, hz float64, since time.Time) (time.Duration, bool) {
	var pk []mediatest.Packet
	for _, p := range peer.Packets() {
		if p.At.After(since) && (p.Header.PayloadType == 0 || p.Header.PayloadType == 8) {
			pk = append(pk, p)
		}
	}
	for i := 0; i+5 <= len(pk); i++ {
		if mediatest.ToneShare(pk[i:i+5], hz) > 0.5 {
			return pk[i].At.Sub(since), true
		}
	}
	return 0, false
}
