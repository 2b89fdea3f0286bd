package main

// Follow-up calls (回访) with retries: a dispatched work order closed through the
// signed status API leads to calls to the citizen's phone (SIPp on the trunk's
// outbound address); busy and unavailable are retried after tickets.followup's
// retry_after, up to its attempts.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// followUpLab is an engine whose follow-up calls go to a phone the test plays on
// the trunk's outbound address, with a webhook receiver for the sinks' events.
type followUpLab struct {
	e        *engine
	rc       *receiver
	secret   []byte
	outbound int    // the citizen's phone's port
	release  func() // frees outbound for the phone
}

// startFollowUpLab starts the engine with follow-up calls at any hour, attempts
// tries retry apart, a webhook sink and the post-call survey off.
func startFollowUpLab(t *testing.T, attempts int, retry time.Duration) *followUpLab {
	t.Helper()
	l := &followUpLab{secret: []byte("follow-up-secret")}
	l.rc = &receiver{t: t, secret: l.secret, keys: map[string]int{}}
	srv := httptest.NewServer(l.rc)
	t.Cleanup(srv.Close)
	l.outbound, l.release = reserveUDPPort(t)
	cfg := callbackConfig(l.outbound) + fmt.Sprintf(`
hooks:
  - {type: webhook, url: %q, secret: %q, timeout: 2s}
tickets:
  departments: [housing, transport]
  followup: {hours: "00:00-24:00", attempts: %d, retry_after: %s}
survey:
  post_call: false
`, srv.URL, string(l.secret), attempts, retry)
	l.e = startEngine(t, engineOptions{Config: cfg})
	return l
}

// dispatchedOrder has agent 1022 take a call and make a complaint work order
// dispatched to housing, which the department takes (signed status update).
func (l *followUpLab) dispatchedOrder(ctx context.Context, t *testing.T) ticket.WorkOrder {
	t.Helper()
	e := l.e
	webrtcAgent(ctx, t, e, "1022", agentsim.Options{})
	call, _ := pressOne(ctx, t, e, media.Silence(time.Minute))
	rec := e.waitCall("connected to 1022", 20*time.Second, func(c store.CallRecord) bool { return c.Agent == "1022" && c.State == "connected" })
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" })
	code, body, err := e.post("/api/v1/tickets", e.login("1022"), `{"call": "`+rec.ID+`", "category": "complaint", "district": "Xuhui",
		"address": "1 Road", "summary": "the street light is out", "disposition": "dispatched", "department": "housing"}`)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var wo ticket.WorkOrder
	if err := json.Unmarshal(body, &wo); err != nil {
		t.Fatal(err)
	}
	if code, _, b := signedStatus(t, e, wo.ID, l.secret, `{"status": "dispatched", "department": "housing"}`, time.Now()); code != http.StatusOK {
		t.Fatalf("dispatched: %d %s", code, b)
	}
	return wo
}

// close has the department reply and close the work order, which starts the
// follow-up calls at once.
func (l *followUpLab) close(t *testing.T, id string) {
	t.Helper()
	for i, st := range []string{"replied", "closed"} {
		// Distinct timestamps: the replay guard refuses a repeated signature.
		if code, _, b := signedStatus(t, l.e, id, l.secret, `{"status": "`+st+`"}`, time.Now().Add(time.Duration(i+1)*time.Millisecond)); code != http.StatusOK {
			t.Fatalf("%s: %d %s", st, code, b)
		}
	}
}

// phone is the citizen's phone on the trunk's outbound address.
func (l *followUpLab) phone(t *testing.T) *seat {
	return &seat{t: t, e: l.e, id: callbackCitizen, port: l.outbound}
}

// TestFollowUpBusyThenAnswered: the citizen's phone is busy (486) at the first
// follow-up call; 2 s later the engine calls again, the phone answers and the
// citizen presses 1. The rating lands on the work order and reaches the sinks as
// a follow-up survey.result answered at the second attempt; the busy attempt is
// in the log.
func TestFollowUpBusyThenAnswered(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l := startFollowUpLab(t, 2, 2*time.Second)
	wo := l.dispatchedOrder(ctx, t)

	l.release()
	busy := l.phone(t).reject(486, "Busy Here")
	l.close(t, wo.ID)
	busy.waitEnd("the phone is busy at the first attempt", 20*time.Second)
	// The retry comes retry_after (2 s) after the busy answer: the phone is back
	// on the same port well before.
	citizen := l.phone(t).answerCallback(0)
	waitLog(t, l.e, `msg="follow-up call not answered" site=primary ticket=`+wo.ID, 5*time.Second)
	waitLog(t, l.e, `attempt=1 outcome=busy`, time.Second)

	citizen.rtp.SetRemote(citizen.engineRTP(20 * time.Second))
	time.Sleep(500 * time.Millisecond) // into the introduction
	if err := citizen.rtp.SendDigit(ctx, '1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	l.rc.wait(t, "the follow-up rating reaches the receiver", ticket.TypeSurveyResult, wo.ID, func(ev ticket.Event) bool {
		return ev.Survey != nil && ev.Survey.Kind == ticket.SurveyFollowUp && ev.Survey.Rating == 1
	}, 30*time.Second)
	l.rc.mu.Lock()
	for _, ev := range l.rc.events {
		if ev.Type == ticket.TypeSurveyResult && ev.Survey != nil && ev.Survey.Order == wo.ID &&
			(ev.Survey.Outcome != "answered" || ev.Survey.Attempts != 2) {
			t.Errorf("follow-up result %+v: want answered at attempt 2", *ev.Survey)
		}
		if ev.Type == "followup.unreachable" {
			t.Errorf("followup.unreachable although the citizen answered: %+v", ev)
		}
	}
	l.rc.mu.Unlock()
	code, _, body := l.e.getAuth("/api/v1/tickets/"+wo.ID, l.e.login("1022"))
	var got ticket.WorkOrder
	if err := json.Unmarshal(body, &got); err != nil || got.Rating != 1 || got.Status != "closed" {
		t.Fatalf("work order after the follow-up: %d %s", code, body)
	}
	citizen.waitEnd("the engine hangs up after the thanks", 20*time.Second)
}

// TestFollowUpUnreachable: nobody can be reached at either attempt (480, then
// 486): the work order gets no rating; the log has a follow-up survey.result
// with the cause; the sinks get the outcome (notified, 2 attempts, no rating)
// and followup.unreachable with the work order, for a notifier such as an SMS
// gateway.
func TestFollowUpUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l := startFollowUpLab(t, 2, 2*time.Second)
	wo := l.dispatchedOrder(ctx, t)

	l.release()
	away := l.phone(t).reject(480, "Temporarily Unavailable")
	l.close(t, wo.ID)
	away.waitEnd("the phone is unavailable at the first attempt", 20*time.Second)
	busy := l.phone(t).reject(486, "Busy Here")
	busy.waitEnd("the phone is busy at the second attempt", 20*time.Second)

	l.rc.wait(t, "followup.unreachable reaches the sink", "followup.unreachable", wo.ID, nil, 20*time.Second)
	l.rc.wait(t, "the outcome reaches the sink", ticket.TypeSurveyResult, wo.ID, func(ev ticket.Event) bool {
		return ev.Survey != nil && ev.Survey.Kind == ticket.SurveyFollowUp
	}, 10*time.Second)
	l.rc.mu.Lock()
	for _, ev := range l.rc.events {
		if ev.Type == ticket.TypeSurveyResult && ev.Survey != nil && ev.Survey.Order == wo.ID &&
			(ev.Survey.Outcome != "notified" || ev.Survey.Attempts != 2 || ev.Survey.Rating != 0) {
			t.Errorf("follow-up result %+v: want notified after 2 attempts, no rating", *ev.Survey)
		}
	}
	l.rc.mu.Unlock()
	for _, want := range []string{`attempt=1 outcome=no-answer`, `attempt=2 outcome=busy`} {
		waitLog(t, l.e, want, time.Second)
	}

	// The outcome in the event log, with the cause.
	var cause string
	if _, err := store.ReadJournal(ctx, l.e.data, func(ev *event.Event) error {
		if ev.Type == event.SurveyResult && ev.File == wo.ID && ev.Reason == "follow-up" {
			if ev.Digits != "" {
				t.Errorf("follow-up survey.result with a rating %q although nobody answered", ev.Digits)
			}
			cause = ev.Cause
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cause, "not reached in 2 attempts") || !strings.Contains(cause, "busy") {
		t.Errorf("follow-up survey.result cause %q, want not reached in 2 attempts (busy)", cause)
	}
	code, _, body := l.e.getAuth("/api/v1/tickets/"+wo.ID, l.e.login("1022"))
	var got ticket.WorkOrder
	if err := json.Unmarshal(body, &got); err != nil || got.Rating != 0 || got.Status != "closed" {
		t.Fatalf("work order after nobody answered: %d %s, want closed with no rating", code, body)
	}
}

// TestSupervisorWorkOrdersCard: the work-order system is down, so the new work
// order's delivery gives up after the sink's max_age (2 s) and is a dead letter.
// Supervisor 9001's page (headless Chromium) lists no overdue work order and,
// within a refresh, the dead letter; once the receiver is back, Retry on the page
// delivers it and the list empties.
func TestSupervisorWorkOrdersCard(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	secret := []byte("card-secret")
	rc := &receiver{t: t, secret: secret, failFirst: 1 << 30, keys: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	e := startEngine(t, engineOptions{Config: fmt.Sprintf(`
hooks:
  - {type: webhook, url: %q, secret: %q, timeout: 1s, max_age: 2s}
tickets:
  departments: [housing]
survey:
  post_call: false
`, srv.URL, string(secret))})
	page := startChromium(t, ctx, writeToneWAV(t, 600, 2*time.Second))
	cdp(t, page, "open /supervisor", chromedp.Navigate(e.http+"/supervisor/"))
	cdp(t, page, "English", chromedp.SetValue("#lang", "en"))
	cdp(t, page, "account", chromedp.SendKeys("#supId", "9001"))
	cdp(t, page, "password", chromedp.SendKeys("#password", labPassword))
	cdp(t, page, "log in", chromedp.Click("#loginBtn"))
	pollSup(t, page, "the work orders loaded", `sup.orders.loads > 0 && sup.orders.error === "" &&
		!document.getElementById("noOverdue").hidden && !document.getElementById("noDead").hidden`, 15*time.Second)

	webrtcAgent(ctx, t, e, "1022", agentsim.Options{})
	call, _ := pressOne(ctx, t, e, media.Silence(time.Minute))
	rec := e.waitCall("connected to 1022", 20*time.Second, func(c store.CallRecord) bool { return c.Agent == "1022" && c.State == "connected" })
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" })
	code, body, err := e.post("/api/v1/tickets", e.login("1022"), `{"call": "`+rec.ID+`", "category": "consultation", "summary": "opening hours", "disposition": "direct"}`)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var wo ticket.WorkOrder
	if err := json.Unmarshal(body, &wo); err != nil {
		t.Fatal(err)
	}
	pollSup(t, page, "the dead letter on the page", `[...document.querySelectorAll('#dead tbody tr')].some(tr =>
		tr.cells[1].textContent === "ticket.created" && tr.cells[2].textContent === "`+wo.ID+`" &&
		tr.querySelector('button[data-action=retry]').textContent === "Retry")`, 25*time.Second)
	artifact(t, "supervisor-work-orders.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))

	// The call's recording.ready went to the same receiver and is dead-lettered
	// too (a moment apart): retry once both are on the page.
	pollSup(t, page, "both dead letters on the page", `[...document.querySelectorAll('#dead tbody tr')].some(tr =>
		tr.cells[1].textContent === "recording.ready") && sup.orders.dead.length === 2`, 25*time.Second)
	rc.mu.Lock()
	rc.failFirst = 0 // the receiver is back
	rc.mu.Unlock()
	cdp(t, page, "retry every dead letter", chromedp.Evaluate[bool](`(() => {
		document.querySelectorAll('#dead button[data-action=retry]').forEach(b => b.click());
		return true; })()`))
	rc.wait(t, "the retried work order reaches the receiver", ticket.TypeCreated, wo.ID, nil, 20*time.Second)
	pollSup(t, page, "the dead letters gone", `sup.orders.dead.length === 0 && !document.getElementById("noDead").hidden`, 15*time.Second)
}
