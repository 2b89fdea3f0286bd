package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
)

// put sends a PUT with a JSON body and a token.
func (e *engine) put(path, token, body string) (int, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, e.http+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestRunTimeConfiguration: a supervisor shortens the general queue's ring timeout
// through the API and it takes effect at once (an agent who lets an offer ring is
// not-ready "missed" after 3 s, not the default 15); an agent's skills change while
// they are logged out, not while logged in; bad settings are refused; the changes
// are in the log and apply again after a restart.
func TestRunTimeConfiguration(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := t.TempDir()
	e := startEngine(t, engineOptions{Data: data})
	admin := e.login("admin")
	if code, body := e.put("/api/v1/queues/general", e.login("1001"), `{"ring_timeout": "3s"}`); code != http.StatusForbidden {
		t.Fatalf("an agent changing a queue: %d %s", code, body)
	}
	for _, bad := range []string{`{"ring_timeuot": "3s"}`, `{"skill": "expert"}`, `{"strategy": "loudest"}`, `{"ring_timeout": "soon"}`} {
		if code, body := e.put("/api/v1/queues/general", admin, bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s, want 400", bad, code, body)
		}
	}
	code, body := e.put("/api/v1/queues/general", admin, `{"ring_timeout": "3s", "service_level": {"percent": 90, "within": "15s"}}`)
	var q struct {
		RingTimeout float64 `json:"ring_timeout_seconds"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &q) != nil || q.RingTimeout != 3 {
		t.Fatalf("PUT ring_timeout: %d %s", code, body)
	}

	// An agent who never answers: missed after the new 3 s.
	webrtcAgent(ctx, t, e, "1032", agentsim.Options{AnswerAfter: time.Hour})
	pressOne(ctx, t, e, media.Silence(time.Minute))
	waitAgentState(t, e, "1032", "reserved", 20*time.Second)
	start := time.Now()
	waitAgentState(t, e, "1032", "not-ready", 8*time.Second)
	t.Logf("the offer rang %v before it counted as missed", time.Since(start).Round(100*time.Millisecond))

	// Skills: not while logged in; a logged-out agent's change is accepted.
	if code, body := e.put("/api/v1/agents/1032/config", admin, `{"skills": {"expert": 8}}`); code != http.StatusConflict {
		t.Errorf("changing a logged-in agent: %d %s, want 409", code, body)
	}
	if code, body := e.put("/api/v1/agents/1033/config", admin, `{"skills": {"juggling": 8}}`); code != http.StatusBadRequest {
		t.Errorf("an unknown skill: %d %s, want 400", code, body)
	}
	if code, body := e.put("/api/v1/agents/1033/config", admin, `{"pool": "backup", "skills": {"expert": 8, "call-taking": 2}}`); code != http.StatusOK {
		t.Fatalf("changing a logged-out agent: %d %s", code, body)
	}
	waitLog(t, e, `action=configure-agent`, 2*time.Second)
	// The supervisor's directory and wallboard show the new pool and skills at once.
	_, _, dir := e.getAuth("/api/v1/directory", admin)
	var d struct {
		Agents []struct {
			ID     string         `json:"id"`
			Pool   string         `json:"pool"`
			Skills map[string]int `json:"skills"`
		} `json:"agents"`
	}
	if err := json.Unmarshal(dir, &d); err != nil {
		t.Fatalf("directory: %v: %s", err, dir)
	}
	found := false
	for _, a := range d.Agents {
		if a.ID == "1033" {
			found = true
			if a.Pool != "backup" || a.Skills["expert"] != 8 || a.Skills["call-taking"] != 2 {
				t.Errorf("1033 in the directory after the change: %+v", a)
			}
		}
	}
	if !found {
		t.Errorf("1033 is not in the directory: %s", dir)
	}
	wb := firstWallboard(ctx, t, e, "admin", admin)
	for _, a := range wb.Agents {
		if a.ID == "1033" && (a.Pool != "backup" || a.Skills["expert"] != 8) {
			t.Errorf("1033 on the wallboard after the change: %+v", a)
		}
	}

	// After a restart the queue's change is still there.
	e.kill()
	e2 := startEngine(t, engineOptions{Data: data})
	code, body = e2.put("/api/v1/queues/general", e2.login("admin"), `{}`)
	if code != http.StatusOK || json.Unmarshal(body, &q) != nil || q.RingTimeout != 3 {
		t.Fatalf("after the restart: %d %s, want ring_timeout_seconds 3", code, body)
	}
}

// wallboardSnapshot is what a test reads of a wallboard snapshot.
type wallboardSnapshot struct {
	Type   string `json:"type"`
	Agents []struct {
		ID     string         `json:"id"`
		Pool   string         `json:"pool"`
		Skills map[string]int `json:"skills"`
	} `json:"agents"`
}

// firstWallboard reads the first wallboard snapshot supervisor sup gets.
func firstWallboard(ctx context.Context, t *testing.T, e *engine, sup, token string) wallboardSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.http, "http") + "/api/v1/supervisors/" + sup + "/ws?token=" + token
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("wallboard websocket: %v", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20) // a snapshot lists every agent
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("wallboard websocket: %v", err)
		}
		var wb wallboardSnapshot
		if json.Unmarshal(msg, &wb) == nil && wb.Type == "wallboard" {
			return wb
		}
	}
}
