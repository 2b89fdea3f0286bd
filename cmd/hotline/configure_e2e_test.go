package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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

	// After a restart the queue's change is still there.
	e.kill()
	e2 := startEngine(t, engineOptions{Data: data})
	code, body = e2.put("/api/v1/queues/general", e2.login("admin"), `{}`)
	if code != http.StatusOK || json.Unmarshal(body, &q) != nil || q.RingTimeout != 3 {
		t.Fatalf("after the restart: %d %s, want ring_timeout_seconds 3", code, body)
	}
}
