package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
)

// TestSupervisorPageInChromium: supervisor 9001 logs in to /supervisor in headless
// Chromium. Two callers wait in the general queue with no agent: the wallboard
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

	pressOne(ctx, t, e, media.Silence(time.Minute))
	pressOne(ctx, t, e, media.Silence(time.Minute))
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
	for _, want := range []string{`action=move`, `action=state`} {
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
