package ticket

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
)

const testSecret = "hook-secret"

// receiver is a webhook receiver that verifies signatures, deduplicates by key (409 for
// a key it has), fails the first failFirst requests, and is slow on every slowEvery-th.
type receiver struct {
	t         *testing.T
	mu        sync.Mutex
	failFirst int
	slowEvery int
	down      bool // answer 503 to everything
	requests  int
	keys      map[string]int   // key -> times received with a 2xx/409 answer
	lanes     map[string][]int // work order -> event indexes, in first-arrival order
	bad       []string         // verification failures
	srv       *httptest.Server
}

func newReceiver(t *testing.T, failFirst, slowEvery int) *receiver {
	r := &receiver{t: t, failFirst: failFirst, slowEvery: slowEvery, keys: map[string]int{}, lanes: map[string][]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n := r.requests
	if err := Verify([]byte(testSecret), req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), body, time.Now(), time.Minute); err != nil {
		r.bad = append(r.bad, err.Error())
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.down || n <= r.failFirst {
		r.mu.Unlock()
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	key := req.Header.Get(HeaderIdempotency)
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Key != key {
		r.bad = append(r.bad, fmt.Sprintf("body %s / key %s", body, key))
		r.mu.Unlock()
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	dup := r.keys[key] > 0
	r.keys[key]++
	if !dup && ev.Order != nil {
		i, _ := strconv.Atoi(ev.Order.Summary)
		r.lanes[ev.Order.ID] = append(r.lanes[ev.Order.ID], i)
	}
	slow := r.slowEvery > 0 && n%r.slowEvery == 0
	r.mu.Unlock()
	if dup {
		w.WriteHeader(http.StatusConflict)
		return
	}
	if slow { // longer than the sink's timeout: the sender gives up and retries
		select {
		case <-time.After(300 * time.Millisecond):
		case <-req.Context().Done():
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

func (r *receiver) sink(t *testing.T) Sink {
	s, err := NewSink(SinkConfig{Type: "webhook", Name: "city", URL: r.srv.URL + "/hook", Secret: testSecret, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fastOpts() HooksOptions {
	return HooksOptions{MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: quietLogger()}
}

// orderEvents returns n events for each of orders work orders, interleaved, with the
// per-order index in Summary.
func orderEvents(orders, n int) []Event {
	var evs []Event
	for i := range n {
		for o := range orders {
			w := WorkOrder{ID: fmt.Sprintf("WO20261127-%04d", o+1), Summary: strconv.Itoa(i), Status: StatusOpen}
			typ := TypeUpdated
			if i == 0 {
				typ = TypeCreated
			}
			evs = append(evs, NewEvent(typ, w, time.Now()))
		}
	}
	return evs
}

func (r *receiver) checkAll(t *testing.T, evs []Event) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		t.Fatalf("receiver refused: %v", r.bad)
	}
	for _, ev := range evs {
		if r.keys[ev.Key] == 0 {
			t.Fatalf("event %s never arrived", ev.Key)
		}
	}
	for id, idx := range r.lanes {
		for i, v := range idx {
			if v != i {
				t.Fatalf("order %s: events arrived as %v, want 0,1,2...", id, idx)
			}
		}
	}
}

func TestHooksDeliverEveryEventInOrder(t *testing.T) {
	r := newReceiver(t, 7, 6)
	var mu sync.Mutex
	reports := 0
	opts := fastOpts()
	opts.OnDelivery = func(DeliveryReport) { mu.Lock(); reports++; mu.Unlock() }
	h, err := OpenHooks(t.TempDir(), []Sink{r.sink(t)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	evs := orderEvents(5, 8)
	for _, ev := range evs {
		if err := h.Publish(ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every event", func() bool { return r.unique() == len(evs) && h.Backlog()["city"] == 0 })
	r.checkAll(t, evs)
	r.mu.Lock()
	retried := r.requests - len(evs)
	r.mu.Unlock()
	if retried < 7 {
		t.Fatalf("only %d repeated requests; the receiver failed 7", retried)
	}
	mu.Lock()
	defer mu.Unlock()
	if reports < len(evs)+7 {
		t.Fatalf("%d delivery reports", reports)
	}
	t.Logf("%d events, %d requests (failures, timeouts and 409 repeats included)", len(evs), r.requests)
}

func TestHooksCloseReopenAndCrash(t *testing.T) {
	r := newReceiver(t, 0, 0)
	r.down = true
	dir := t.TempDir()
	h, err := OpenHooks(dir, []Sink{r.sink(t)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	evs := orderEvents(3, 4)
	for _, ev := range evs[:6] {
		if err := h.Publish(ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "some failed attempts", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.requests >= 3 })
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(evs[6]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}

	// Reopen, still down, publish the rest, then "kill -9": stop the goroutines without
	// Close, and leave a torn record at the end of the file as a crash mid-write would.
	h, err = OpenHooks(dir, []Sink{r.sink(t)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Backlog()["city"]; got != 6 {
		t.Fatalf("backlog after reopen %d, want 6", got)
	}
	for _, ev := range evs[6:] {
		if err := h.Publish(ev); err != nil {
			t.Fatal(err)
		}
	}
	h.crash()
	path := filepath.Join(dir, OutboxFile)
	torn, _ := appendRecord(nil, recAck, &outRec{Seq: 1, Sink: "city"})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn[:len(torn)-3]); err != nil {
		t.Fatal(err)
	}
	f.Close()

	r.mu.Lock()
	r.down = false
	r.slowEvery = 4
	r.mu.Unlock()
	h, err = OpenHooks(dir, []Sink{r.sink(t)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	waitFor(t, "every event after the restarts", func() bool { return r.unique() == len(evs) && h.Backlog()["city"] == 0 })
	r.checkAll(t, evs)
}

// TestHooksCrashMidDelivery checks that events acknowledged before a crash are not
// sent again, and events in flight are (with the same key, answered 409).
func TestHooksCrashMidDelivery(t *testing.T) {
	r := newReceiver(t, 0, 1) // every request slow: deliveries are in flight at the crash
	dir := t.TempDir()
	h, err := OpenHooks(dir, []Sink{r.sink(t)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	evs := orderEvents(2, 3)
	for _, ev := range evs {
		if err := h.Publish(ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a delivery in flight", func() bool { return r.unique() >= 1 })
	h.crash()
	r.mu.Lock()
	r.slowEvery = 0
	r.mu.Unlock()
	h, err = OpenHooks(dir, []Sink{r.sink(t)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	waitFor(t, "every event", func() bool { return r.unique() == len(evs) && h.Backlog()["city"] == 0 })
	r.checkAll(t, evs)
}

func TestHooksDeadLetterAndRetry(t *testing.T) {
	r := newReceiver(t, 0, 0)
	r.down = true
	fc := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	opts := HooksOptions{Clock: fc, MinBackoff: time.Minute, MaxBackoff: time.Hour, Logger: quietLogger()}
	s, err := NewSink(SinkConfig{Type: "webhook", Name: "city", URL: r.srv.URL, Secret: testSecret, MaxAge: time.Hour, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenHooks(dir, []Sink{s}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ev := orderEvents(1, 1)[0]
	if err := h.Publish(ev); err != nil {
		t.Fatal(err)
	}
	attempts := func() int { r.mu.Lock(); defer r.mu.Unlock(); return r.requests }
	waitFor(t, "first attempt and its backoff timer", func() bool { return attempts() == 1 && fc.Pending() == 1 })
	fc.Advance(30 * time.Minute) // younger than MaxAge: retried, not dead
	waitFor(t, "second attempt", func() bool { return attempts() == 2 && fc.Pending() == 1 })
	if len(h.DeadLetters()) != 0 {
		t.Fatal("dead before MaxAge")
	}
	fc.Advance(2 * time.Hour)
	waitFor(t, "the dead letter", func() bool { return len(h.DeadLetters()) == 1 })
	dl := h.DeadLetters()[0]
	if dl.Sink != "city" || dl.Event.Key != ev.Key || dl.Attempts != 3 || dl.LastError == "" {
		t.Fatalf("dead letter %+v", dl)
	}
	if fc.Pending() != 0 {
		t.Fatal("a dead letter is still scheduled")
	}
	// The dead letter survives a crash.
	h.crash()
	h, err = OpenHooks(dir, []Sink{s}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if d := h.DeadLetters(); len(d) != 1 || d[0].Attempts != 3 || h.Backlog()["city"] != 1 {
		t.Fatalf("after reopen: %+v", d)
	}
	if err := h.Retry("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Retry unknown: %v", err)
	}
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
	if err := h.Retry(ev.Key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried delivery", func() bool { return r.unique() == 1 && h.Backlog()["city"] == 0 })
	if len(h.DeadLetters()) != 0 {
		t.Fatal("still dead after the retry")
	}
	r.checkAll(t, []Event{ev})
}

func TestFileSinkAndBuiltin(t *testing.T) {
	dir := t.TempDir()
	lines := filepath.Join(dir, "events.jsonl")
	sinks, err := NewSinks([]SinkConfig{{Type: "file", Path: lines}, {Type: "builtin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSinks([]SinkConfig{{Type: "file", Path: lines}, {Type: "file", Path: lines}}); err == nil {
		t.Fatal("duplicate sink names accepted")
	}
	for _, bad := range []SinkConfig{{Type: "smtp"}, {Type: "file"}, {Type: "webhook", URL: "ftp://x", Secret: "s"}, {Type: "webhook", URL: "http://127.0.0.1/"}} {
		if _, err := NewSink(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	h, err := OpenHooks(filepath.Join(dir, "data"), sinks, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	evs := orderEvents(1, 3)
	evs = append(evs, Event{Type: TypeSurveyResult, Survey: &SurveyResult{Kind: SurveyFollowUp, Order: "WO20261127-0001", Rating: 1}})
	for _, ev := range evs {
		if err := h.Publish(ev); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "file and builtin", func() bool { b := h.Backlog(); return b["file"] == 0 && b["builtin"] == 0 })
	f, err := os.Open(lines)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var got []Event
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, ev)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d lines, want %d", len(got), len(evs))
	}
	for i := range evs[:3] { // one lane: in order
		if got[i].Key != evs[i].Key || got[i].Order.Summary != strconv.Itoa(i) {
			t.Fatalf("line %d: %+v", i, got[i])
		}
	}
	if got[3].Survey == nil || got[3].Key == "" || got[3].Time.IsZero() {
		t.Fatalf("survey line: %+v", got[3])
	}
}

func TestOutboxTornAndCorrupt(t *testing.T) {
	live := map[uint64]*entry{}
	for i := 1; i <= 3; i++ {
		ev := orderEvents(1, 1)[0]
		live[uint64(i)] = &entry{seq: uint64(i), ev: ev, slots: map[string]*slot{"a": {}, "b": {state: stateDead, attempts: 2, lastErr: "x"}}}
	}
	snap, err := snapshot(live)
	if err != nil {
		t.Fatal(err)
	}
	full, _, torn, err := readOutbox(bytesReader(snap))
	if err != nil || torn || len(full) != 6 {
		t.Fatalf("full read: %d records, torn %v, %v", len(full), torn, err)
	}
	got, last := replay(full)
	if last != 3 || len(got) != 3 || got[2].slots["b"].state != stateDead || got[2].slots["b"].attempts != 2 {
		t.Fatalf("replay: %d %v", last, got)
	}
	for cut := len(outboxMagic); cut < len(snap); cut += 7 {
		recs, good, _, err := readOutbox(bytesReader(snap[:cut]))
		if err != nil || good > int64(cut) || len(recs) > 6 {
			t.Fatalf("cut at %d: %d records, good %d, %v", cut, len(recs), good, err)
		}
	}
	flip := append([]byte(nil), snap...)
	flip[len(flip)-5] ^= 0xff
	recs, _, torn, err := readOutbox(bytesReader(flip))
	if err != nil || !torn || len(recs) != 5 {
		t.Fatalf("corrupt last record: %d records, torn %v, %v", len(recs), torn, err)
	}
	if _, _, _, err := readOutbox(bytesReader([]byte("not an outbox at all"))); err == nil {
		t.Fatal("a foreign file accepted")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, OutboxFile), []byte("garbage!garbage!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHooks(dir, nil, fastOpts()); err == nil {
		t.Fatal("OpenHooks on a foreign file succeeded")
	}
}
