package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
)

// queueFigures is one queue's figures in GET /api/v1/queues.
type queueFigures struct {
	Name                                          string
	Offered, Answered, Abandoned, Exited, Waiting int
}

func queueOf(t *testing.T, e *engine, name string) queueFigures {
	t.Helper()
	code, body, err := e.get("/api/v1/queues")
	if err != nil || code != 200 {
		t.Fatalf("queues: %d %v", code, err)
	}
	var out struct {
		Queues []queueFigures `json:"queues"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	for _, q := range out.Queues {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("no queue %s in %s", name, body)
	return queueFigures{}
}

// TestCountersSurviveRestart: a day's figures go on across an engine kill: one
// call answered and one waiting when the engine is killed; started again on the
// same data, the general queue still shows the two offered and the one answered,
// and the waiting caller, cut off by the kill, waits on as a callback request (it
// keeps its wait and is not offered again), so offered = answered + abandoned +
// exited + waiting holds, and the metrics say the same.
func TestCountersSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := t.TempDir()
	cfg := "survey: {post_call: false}\n"
	e := startEngine(t, engineOptions{Data: data, Config: cfg})
	agent := webrtcAgent(ctx, t, e, "1030", agentsim.Options{TalkFor: time.Second})
	pressOne(ctx, t, e, media.Silence(time.Minute))
	waitResults(t, agent, 1, 20*time.Second)
	// The simulated agent makes itself ready after its call: only then is a
	// supervisor's not-ready the last word.
	waitAgentState(t, e, "1030", "ready", 10*time.Second)
	setAgentState(t, e, "1030", "not-ready")
	pressOne(ctx, t, e, media.Silence(time.Minute))
	e.waitCall("a second caller waiting", 20*time.Second, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	deadline := time.Now().Add(10 * time.Second)
	for q := queueOf(t, e, "general"); q.Offered != 2 || q.Answered != 1 || q.Waiting != 1; q = queueOf(t, e, "general") {
		if time.Now().After(deadline) {
			t.Fatalf("before the kill: %+v, want 2 offered, 1 answered, 1 waiting", q)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.kill()

	e2 := startEngine(t, engineOptions{Data: data, Config: cfg})
	var q queueFigures
	waitFor(t, 5*time.Second, "the cut-off caller waiting as a callback request", func() bool {
		q = queueOf(t, e2, "general")
		return q.Waiting == 1
	})
	if q.Offered != 2 || q.Answered != 1 || q.Exited != 0 || q.Waiting != 1 {
		t.Fatalf("after the restart: %+v, want 2 offered, 1 answered, 1 waiting (the cut-off caller, to be called back)", q)
	}
	if n, err := e2.queueCallbacks("general"); err != nil || n != 1 {
		t.Errorf("callback requests in general after the restart: %d (%v), want 1", n, err)
	}
	cut := e2.waitCall("the cut-off call ended", 5*time.Second, func(c store.CallRecord) bool {
		return c.Cause == causeRestarted
	})
	if cut.Side != "engine" || cut.State != store.StateEnded {
		t.Errorf("the cut-off call after the restart: %+v", cut)
	}
	if got := e2.metric("hotline_queue_calls_offered_total", `queue="general"`); got != 2 {
		t.Errorf("hotline_queue_calls_offered_total{general} = %v after the restart, want 2", got)
	}
	if got := e2.metric("hotline_queue_calls_answered_total", `queue="general"`); got != 1 {
		t.Errorf("hotline_queue_calls_answered_total{general} = %v after the restart, want 1", got)
	}
}
