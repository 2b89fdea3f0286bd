package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// receiver is the city's work-order system as a test: it checks every webhook's
// signature, fails the first failFirst requests, and keeps each idempotency key's
// event once.
type receiver struct {
	t         *testing.T
	secret    []byte
	failFirst int

	mu       sync.Mutex
	requests int
	keys     map[string]int // deliveries seen per key
	events   []ticket.Event // first delivery of each key, in arrival order
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := ticket.Verify(rc.secret, r.Header.Get(ticket.HeaderTimestamp), r.Header.Get(ticket.HeaderSignature), body, time.Now(), time.Minute); err != nil {
		rc.t.Errorf("webhook with a bad signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.requests <= rc.failFirst || rc.failFirst == 1<<30 {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get(ticket.HeaderIdempotency)
	rc.keys[key]++
	if rc.keys[key] > 1 {
		w.WriteHeader(http.StatusConflict) // already have it
		return
	}
	var ev ticket.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("webhook body: %v", err)
	}
	rc.events = append(rc.events, ev)
	w.WriteHeader(http.StatusOK)
}

// has reports whether an event of typ arrived (for order, when not empty) and how
// many times its key was delivered.
func (rc *receiver) has(typ, order string, match func(ticket.Event) bool) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, ev := range rc.events {
		if ev.Type != typ {
			continue
		}
		if order != "" && (ev.Order == nil || ev.Order.ID != order) && (ev.Survey == nil || ev.Survey.Order != order) {
			continue
		}
		if match == nil || match(ev) {
			return true
		}
	}
	return false
}

func (rc *receiver) wait(t *testing.T, what, typ, order string, match func(ticket.Event) bool, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !rc.has(typ, order, match) {
		if time.Now().After(deadline) {
			rc.mu.Lock()
			var got []string
			for _, ev := range rc.events {
				got = append(got, ev.Type)
			}
			rc.mu.Unlock()
			t.Fatalf("%s: no %s within %v (got %v)", what, typ, d, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signedStatus posts a status update signed with secret, as the work-order system
// does, and returns the status code.
func signedStatus(t *testing.T, e *engine, id string, secret []byte, body string, ts time.Time) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http+"/api/v1/tickets/"+id+"/status", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(ticket.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(ticket.HeaderSignature, ticket.Sign(secret, ts, []byte(body)))
	res, err := e.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// TestWorkOrderLifecycle: agent 1022 takes a call and fills in the after-call form:
// a complaint dispatched to the housing department. The work order links the
// caller, the queue, the menu path and the recording, and has a deadline. The
// city's system (a webhook receiver that is down for the first deliveries) gets
// ticket.created, recording.ready and every update exactly once per key, signed.
// It answers back with signed status updates (dispatched, replied, closed); a
// forged and a replayed one are refused. Closing the dispatched work order leads
// to a follow-up call to the citizen through the trunk: the citizen's phone
// answers and presses 1, and the rating lands on the work order and at the
// receiver. A caller pressing 5 and keying the number hears its status.
func TestWorkOrderLifecycle(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	secret := []byte("s3cret-of-the-city")
	rc := &receiver{t: t, secret: secret, failFirst: 2, keys: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	outbound, release := reserveUDPPort(t)
	cfg := callbackConfig(outbound) + fmt.Sprintf(`
hooks:
  - {type: webhook, url: %q, secret: %q, timeout: 2s}
tickets:
  departments: [housing, transport]
  followup: {hours: "00:00-24:00", attempts: 1}
survey:
  post_call: false
`, srv.URL, string(secret))
	e := startEngine(t, engineOptions{Config: cfg})
	webrtcAgent(ctx, t, e, "1022", agentsim.Options{})
	call, _ := pressOne(ctx, t, e, media.Silence(time.Minute))
	rec := e.waitCall("connected to 1022", 20*time.Second, func(c store.CallRecord) bool { return c.Agent == "1022" && c.State == "connected" })
	time.Sleep(time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" })

	// The after-call form.
	agentTok := e.login("1022")
	if code, _, body := e.post("/api/v1/tickets", e.login("1023"), `{"call": "`+rec.ID+`", "category": "complaint", "summary": "x", "disposition": "direct"}`); code != http.StatusForbidden {
		t.Fatalf("another agent's work order for the call: %d %s, want 403", code, body)
	}
	code, body, err := e.post("/api/v1/tickets", agentTok, `{"call": "`+rec.ID+`", "category": "complaint", "district": "Xuhui",
		"address": "1 Road", "summary": "the street light is out", "disposition": "dispatched", "department": "housing"}`)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var wo ticket.WorkOrder
	if err := json.Unmarshal(body, &wo); err != nil {
		t.Fatal(err)
	}
	if wo.Caller != rec.Caller || wo.Queue != "general" || wo.Recording != rec.ID || len(wo.MenuPath) == 0 || wo.Deadline.IsZero() || wo.Status != "open" {
		t.Fatalf("work order %+v: want the call's links, a deadline, open", wo)
	}
	rc.wait(t, "the receiver (down at first) gets the work order", ticket.TypeCreated, wo.ID, nil, 20*time.Second)
	rc.wait(t, "the recording's completion reaches the sinks", ticket.TypeRecordingReady, "", nil, 10*time.Second)

	// The department answers back, signed; a forged and a replayed update are refused.
	now := time.Now()
	if code, _, b := signedStatus(t, e, wo.ID, []byte("wrong"), `{"status": "dispatched", "department": "housing"}`, now); code != http.StatusUnauthorized {
		t.Fatalf("forged status update: %d %s, want 401", code, b)
	}
	upd := `{"status": "dispatched", "department": "housing", "by": "housing desk"}`
	if code, _, b := signedStatus(t, e, wo.ID, secret, upd, now); code != http.StatusOK {
		t.Fatalf("dispatched: %d %s", code, b)
	}
	if code, _, _ := signedStatus(t, e, wo.ID, secret, upd, now); code != http.StatusUnauthorized {
		t.Fatalf("replayed status update: %d, want 401", code)
	}
	// The citizen's phone is there before the work order is closed: closing
	// leads to the follow-up call at once (hours 00:00-24:00).
	release()
	citizen := (&seat{t: t, e: e, id: callbackCitizen, port: outbound}).answerCallback(0)
	for _, st := range []string{"replied", "closed"} {
		if code, _, b := signedStatus(t, e, wo.ID, secret, `{"status": "`+st+`"}`, time.Now().Add(time.Duration(len(st))*time.Millisecond)); code != http.StatusOK {
			t.Fatalf("%s: %d %s", st, code, b)
		}
	}
	rc.wait(t, "the receiver gets the closing", ticket.TypeUpdated, wo.ID, func(ev ticket.Event) bool { return ev.Order.Status == "closed" }, 20*time.Second)

	// The follow-up call: the citizen's phone answers and presses 1.
	rtpAt := citizen.engineRTP(20 * time.Second)
	citizen.rtp.SetRemote(rtpAt)
	time.Sleep(500 * time.Millisecond) // into the introduction
	if err := citizen.rtp.SendDigit(ctx, '1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	rc.wait(t, "the follow-up rating reaches the receiver", ticket.TypeSurveyResult, wo.ID, func(ev ticket.Event) bool {
		return ev.Survey != nil && ev.Survey.Kind == "follow-up" && ev.Survey.Rating == 1
	}, 30*time.Second)
	code, _, body = e.getAuth("/api/v1/tickets/"+wo.ID, agentTok)
	if err := json.Unmarshal(body, &wo); err != nil || wo.Rating != 1 || wo.Status != "closed" {
		t.Fatalf("work order after the follow-up: %d %s", code, body)
	}

	// Every key reached the receiver once (409s are its own duplicates).
	rc.mu.Lock()
	for key, n := range rc.keys {
		if n > 1 {
			t.Logf("key %s delivered %d times (answered 409 after the first)", key, n)
		}
	}
	rc.mu.Unlock()

	// A caller presses 5 and keys the work order's number: its status is read back.
	keys(ctx, t, e, "5"+wo.Digits()+"#")
	waitLog(t, e, `msg="work order status read back" site=primary call_id=`, 30*time.Second)
	waitLog(t, e, `ticket=`+wo.ID+` status=closed`, time.Second)
}

// keys dials 12345 from a Go UAC and presses keys (RFC 4733), one after another,
// after 300 ms of silence; then streams silence until the test ends.
func keys(ctx context.Context, t *testing.T, e *engine, keys string) {
	t.Helper()
	u := newUAC(t, e, siptest.Options{})
	peer := newPeer(t, media.PCMU, 101)
	dial(ctx, t, u, peer, media.PCMU)
	sendCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if peer.Stream(sendCtx, media.Silence(300*time.Millisecond)) != nil {
			return
		}
		for i := range len(keys) {
			if peer.SendDigit(sendCtx, keys[i], 100*time.Millisecond) != nil {
				return
			}
			if peer.Stream(sendCtx, media.Silence(100*time.Millisecond)) != nil {
				return
			}
		}
		_ = peer.Stream(sendCtx, media.Silence(time.Minute))
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
}

// TestHookDeliverySurvivesKill: the city's system is down when a work order is
// made; the engine is killed (SIGKILL) with the delivery pending; started again on
// the same data folder, with the system back, it delivers the work order, once.
func TestHookDeliverySurvivesKill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	secret := []byte("another-s3cret")
	rc := &receiver{t: t, secret: secret, failFirst: 1 << 30, keys: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	data := t.TempDir()
	cfg := fmt.Sprintf("hooks:\n  - {type: webhook, url: %q, secret: %q, timeout: 1s}\nsurvey: {post_call: false}\n", srv.URL, string(secret))
	e := startEngine(t, engineOptions{Data: data, Config: cfg})
	webrtcAgent(ctx, t, e, "1034", agentsim.Options{TalkFor: time.Second})
	pressOne(ctx, t, e, media.Silence(time.Minute))
	rec := e.waitCall("ended by the agent", 30*time.Second, func(c store.CallRecord) bool { return c.Agent == "1034" && c.State == "ended" })
	code, body, err := e.post("/api/v1/tickets", e.login("1034"), `{"call": "`+rec.ID+`", "category": "help", "summary": "a fallen tree", "disposition": "direct"}`)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var wo ticket.WorkOrder
	if err := json.Unmarshal(body, &wo); err != nil {
		t.Fatal(err)
	}
	// Attempts are being refused: the delivery is pending.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		n := rc.requests
		rc.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempt reached the receiver")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.kill()
	rc.mu.Lock()
	rc.failFirst = -1 // the city's system is back
	rc.mu.Unlock()
	startEngine(t, engineOptions{Data: data, Config: cfg})
	rc.wait(t, "the pending work order after the restart", ticket.TypeCreated, wo.ID, nil, 30*time.Second)
	time.Sleep(time.Second)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := 0
	for _, ev := range rc.events {
		if ev.Type == ticket.TypeCreated && ev.Order != nil && ev.Order.ID == wo.ID {
			got++
		}
	}
	if got != 1 {
		t.Fatalf("the work order arrived %d times, want once", got)
	}
}
