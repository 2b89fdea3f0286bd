package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// TestSupervisorPageInChromium: supervisor 9001 logs in to /supervisor in headless
// Chromium. Two SIPp callers wait in the general queue with no agent: the wallboard
// shows them (waiting 2, the calls listed as waiting) within a second or two. The
// supervisor moves one to the business queue from the page; agent 1101 logs in,
// is offered a call and lets it ring; the supervisor logs it out from the page,
// the agent's state follows and the call waits again. Every action is in the log (supervisor action).
// A screenshot of the wallboard is kept.
func TestSupervisorPageInChromium(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	page := startChromium(t, ctx, writeToneWAV(t, 600, 5*time.Second))
	cdp(t, page, "open /supervisor", chromedp.Navigate(e.http+"/supervisor/"))
	cdp(t, page, "English", chromedp.SetValue("#lang", "en"))
	cdp(t, page, "account", chromedp.SendKeys("#supId", "9001"))
	cdp(t, page, "password", chromedp.SendKeys("#password", labPassword))
	cdp(t, page, "log in", chromedp.Click("#loginBtn"))
	poll(t, page, "first wallboard", `window.sup && sup.board !== null && sup.board.queues.length > 0`, 15*time.Second)
	pollSup(t, page, "monitor audio connected", `sup.media === "connected"`, 15*time.Second)

	// The load: two SIPp citizens press 1 and wait in the general queue for 30 s.
	for range 2 {
		startSIPp(t, e, sippCall{Scenario: "menu_rfc4733.xml", Replace: map[string]string{"DIGIT": "1"},
			Args: []string{"-d", "30000"}, Timeout: 60 * time.Second})
	}
	pollSup(t, page, "two callers waiting on the wallboard", `sup.board.queues.find(q => q.name === "general").waiting === 2 &&
		document.querySelectorAll('#calls tbody tr').length === 2`, 10*time.Second)
	// Move the second caller to the business desk from the page.
	cdp(t, page, "move", chromedp.Evaluate[bool](`(() => {
		const tr = document.querySelectorAll('#calls tbody tr')[1];
		tr.querySelector('select').value = "business";
		tr.querySelector('button[data-action=move]').click();
		return true; })()`))
	pollSup(t, page, "one caller in business", `sup.board.queues.find(q => q.name === "business").waiting === 1 &&
		sup.board.queues.find(q => q.name === "general").waiting === 1`, 10*time.Second)

	// An agent logs in; the supervisor sets it not-ready from the page.
	webrtcAgent(ctx, t, e, "1101", agentsim.Options{AnswerAfter: time.Hour}) // rings, never answers
	pollSup(t, page, "agent 1101 on the wallboard", `document.querySelector('#agents tr[data-agent="1101"]') !== null`, 10*time.Second)
	artifact(t, "supervisor-wallboard.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))
	// 1101 is offered a waiting call and lets it ring: the supervisor logs it out
	// from the page, and the call goes back to wait.
	pollSup(t, page, "1101 ringing", `sup.board.agents.find(a => a.id === "1101").state === "reserved"`, 10*time.Second)
	cdp(t, page, "log out", chromedp.Click(`#agents tr[data-agent="1101"] button[data-action=logout]`))
	pollSup(t, page, "1101 logged out", `sup.board.agents.find(a => a.id === "1101").state === "logged-out"`, 10*time.Second)
	if got := agentState(t, e, "1101"); got != "logged-out" {
		t.Fatalf("agent 1101 is %q after the supervisor logged it out", got)
	}
	pollSup(t, page, "both callers waiting again", `sup.board.queues.reduce((n, q) => n + q.waiting, 0) === 2`, 10*time.Second)
	// Listen and whisper from the page: agent 1102 (440 Hz) answers a caller
	// playing 1 kHz; the supervisor's browser (fake microphone: 600 Hz) listens,
	// hearing both, then whispers: the caller never hears 600 Hz.
	// The SIPp citizens hang up after their 30 s, so that 1102 takes the toned caller.
	pollSup(t, page, "nobody waiting", `sup.board.queues.reduce((n, q) => n + q.waiting, 0) === 0 && sup.board.calls.length === 0`, 40*time.Second)
	webrtcAgent(ctx, t, e, "1102", agentsim.Options{})
	toneClip, _ := tone(1000)
	_, peer := pressOne(ctx, t, e, toneClip.Loop())
	rec := e.waitCall("the toned caller with 1102", 30*time.Second, func(c store.CallRecord) bool {
		return c.Agent == "1102" && c.State == "connected"
	})
	_, frames440 := tone(440)
	waitFrames(t, "the agent's tone at the toned caller", peer, frames440, zeroAddr, 10, 30*time.Second)
	pollSup(t, page, "a connected call on the wallboard", `document.querySelector('#calls button[data-mode=listen]') !== null`, 10*time.Second)
	listenTo := func(mode string) {
		t.Helper()
		_, err := chromedp.Run(page, chromedp.Evaluate[bool](`(() => {
			const rows = [...document.querySelectorAll('#calls tbody tr')].filter(tr => tr.querySelector('button[data-mode=listen]'));
			const tr = rows.find(tr => tr.dataset.call === "`+rec.ID+`") || rows[0];
			tr.querySelector('button[data-mode=`+mode+`]').click();
			return true; })()`))
		if err != nil {
			t.Fatal(err)
		}
	}
	listenTo("listen")
	pollSup(t, page, "the supervisor hears the agent (listen)", `sup.monitoring && sup.monitoring.mode === "listen" && (sup.heard || []).some(h => Math.abs(h - 440) < 30)`, 10*time.Second)
	pollSup(t, page, "the supervisor hears the caller (listen)", `(sup.heard || []).some(h => Math.abs(h - 1000) < 30)`, 10*time.Second)
	listenTo("whisper")
	pollSup(t, page, "whisper on", `sup.monitoring && sup.monitoring.mode === "whisper"`, 5*time.Second)
	time.Sleep(1500 * time.Millisecond)
	var recent []mediatest.Packet
	for _, p := range peer.Packets() {
		if p.At.After(time.Now().Add(-time.Second)) {
			recent = append(recent, p)
		}
	}
	if s := mediatest.ToneShare(recent, 600); s > 0.05 {
		t.Errorf("the caller hears the supervisor's whisper (share of 600 Hz %.2f)", s)
	}
	artifact(t, "supervisor-listening.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))
	listenTo("leave")

	// The metrics and the API agree on today's figures (one fold, one log).
	code, body, err := e.get("/api/v1/queues")
	if err != nil || code != 200 {
		t.Fatalf("queues: %d %v", code, err)
	}
	var qs struct {
		Queues []struct {
			Name              string `json:"name"`
			Offered, Answered int
		} `json:"queues"`
	}
	if err := json.Unmarshal(body, &qs); err != nil {
		t.Fatal(err)
	}
	for _, q := range qs.Queues {
		if got := e.metric("hotline_queue_calls_offered_total", `queue="`+q.Name+`"`); int(got) != q.Offered {
			t.Errorf("queue %s: hotline_queue_calls_offered_total %v, the API says %d", q.Name, got, q.Offered)
		}
	}

	for _, want := range []string{`action=move`, `action=state`, `action=listen`, `action=whisper`} {
		if !strings.Contains(e.stderr.String(), "supervisor action") || !strings.Contains(e.stderr.String(), want) {
			t.Errorf("no supervisor action %q in the log", want)
		}
	}
}

// pollSup is poll with the supervisor page's state in the failure message.
func pollSup(t *testing.T, ctx context.Context, what, expr string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({boards: sup.boards, media: sup.media, errors: sup.errors, queues: sup.board && sup.board.queues.map(q => q.name + ":" + q.waiting), calls: sup.board && sup.board.calls.length})`))
		t.Fatalf("%s (%s) within %v: %v\npage: %s", what, expr, d, err, state)
	}
}
