package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/report"
)

func TestReportsAPI(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	t0 := time.Date(2025, 3, 3, 9, 0, 0, 0, loc)
	live := report.NewLive(report.LiveOptions{Options: report.Options{Location: loc,
		Queues: []report.Queue{{Name: "general"}}}, Now: func() time.Time { return t0.Add(time.Hour) }})
	live.Apply(&event.Event{Type: event.QueueJoined, Call: "c1", Queue: "general", Time: t0})
	live.Apply(&event.Event{Type: event.QueueLeft, Call: "c1", Queue: "general", Reason: "answered", Duration: 10 * time.Second, Time: t0.Add(10 * time.Second)})

	sessions := NewSessions(accounts{"1001": "pw", "9001": "boss"}, nil, time.Hour)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", sessions.handleLogin)
	mux.HandleFunc("GET /api/v1/reports", sessions.requireAuth(reportsHandler(live)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := func(id, pw string) string {
		_, out := post(t, srv.URL+"/api/v1/login", "", `{"agent":"`+id+`","password":"`+pw+`"}`)
		return out["token"].(string)
	}
	get := func(tok, query string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/reports?"+query, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, _ := get("", "from=2025-03-03"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res, _ := get(token("1001", "pw"), "from=2025-03-03"); res.StatusCode != http.StatusForbidden {
		t.Errorf("agent: %d", res.StatusCode)
	}
	boss := token("9001", "boss")
	res, body := get(boss, "from=2025-03-03&to=2025-03-03")
	var rep report.Report
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &rep) != nil || len(rep.Periods) != 1 ||
		rep.Periods[0].Total.Answered != 1 || *rep.Periods[0].Total.ServiceLevel != 1 {
		t.Errorf("json: %d %s", res.StatusCode, body)
	}
	res, body = get(boss, "from=2025-03-03&format=csv")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(body, "queue,2025-03-03,2025-03-03,2025-03-03,general,1,1,1.0000") {
		t.Errorf("csv: %d %s", res.StatusCode, body)
	}
	res, body = get(boss, "from=2025-03-01&to=2025-03-31&period=month&format=html")
	if res.StatusCode != 200 || !strings.Contains(body, `<svg class="chart" id="volume-2025-03"`) {
		t.Errorf("html: %d %.300s", res.StatusCode, body)
	}
	for _, q := range []string{"from=3.3.2025", "from=2025-03-03&period=year", "from=2025-03-03&format=pdf", "from=2020-01-01&to=2025-01-01"} {
		if res, body := get(boss, q); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"code"`) {
			t.Errorf("%s: %d %s", q, res.StatusCode, body)
		}
	}
}
