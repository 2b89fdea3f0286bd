package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
	"github.com/prometheus/client_golang/prometheus"
)

func serve(t *testing.T, ready func() error) (*httptest.Server, *store.CallView) {
	t.Helper()
	calls := store.NewCallView(100)
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i, ev := range []event.Event{
		{Type: event.CallCreated, Call: "a", Caller: "13800000001", Dialled: "12345"},
		{Type: event.CallAnswered, Call: "a", Codec: "PCMA"},
		{Type: event.MenuInput, Call: "a", Node: "main", Digits: "2", Via: event.ViaRFC4733},
		{Type: event.MenuRouted, Call: "a", Queue: "business", Skill: "business-environment", Priority: 5, Language: "zh"},
		{Type: event.CallCreated, Call: "b", Caller: "13800000002", Dialled: "12345"},
		{Type: event.CallEnded, Call: "b", Side: event.SideCaller, Cause: "caller cancelled", Code: 487},
	} {
		ev.Seq, ev.Time = uint64(i+1), t0.Add(time.Duration(i)*time.Second)
		calls.Apply(&ev)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_test_total", Help: "x"}))
	srv := httptest.NewServer(Handler(Options{Calls: calls, Ready: ready, Gatherer: reg}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestCalls(t *testing.T) {
	srv, _ := serve(t, nil)
	code, body := get(t, srv.URL+"/api/v1/calls")
	if code != 200 {
		t.Fatalf("code %d: %s", code, body)
	}
	var out struct {
		Calls  []store.CallRecord `json:"calls"`
		Active int                `json:"active"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Calls) != 2 || out.Active != 1 {
		t.Fatalf("calls %d active %d: %s", len(out.Calls), out.Active, body)
	}
	a := out.Calls[1]
	if a.ID != "a" || a.State != store.StateRouted || a.Digits != "2" || a.Route == nil || a.Route.Queue != "business" {
		t.Fatalf("call a: %+v", a)
	}
	if b := out.Calls[0]; b.ID != "b" || b.Side != "caller" || b.Code != 487 {
		t.Fatalf("call b: %+v", b)
	}

	code, body = get(t, srv.URL+"/api/v1/calls?state=active")
	if code != 200 || !strings.Contains(body, `"id": "a"`) || strings.Contains(body, `"id": "b"`) {
		t.Fatalf("active filter: %d %s", code, body)
	}
	code, body = get(t, srv.URL+"/api/v1/calls/a")
	if code != 200 || !strings.Contains(body, `"queue": "business"`) {
		t.Fatalf("one call: %d %s", code, body)
	}
}

func TestErrorsAreJSONWithStableCodes(t *testing.T) {
	srv, _ := serve(t, nil)
	for _, tt := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/calls?limit=0", 400, "bad_limit"},
		{"/api/v1/calls?limit=x", 400, "bad_limit"},
		{"/api/v1/calls?state=flying", 400, "bad_state"},
		{"/api/v1/calls/nope", 404, "call_not_found"},
		{"/api/v1/nothing", 404, "not_found"},
	} {
		status, body := get(t, srv.URL+tt.path)
		var e struct {
			Error Error `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("%s: not JSON: %s", tt.path, body)
		}
		if status != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tt.path, status, e.Error, tt.status, tt.code)
		}
	}
}

func TestProbesAndMetrics(t *testing.T) {
	var notReady error
	srv, _ := serve(t, func() error { return notReady })
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	notReady = errors.New("standby site")
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "standby site") {
		t.Errorf("readyz when not ready: %d %s", code, body)
	}
	if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "hotline_test_total") {
		t.Errorf("metrics: %d %s", code, body)
	}
}
