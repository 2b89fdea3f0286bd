package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
)

// TestJournalSurvivesKill9: a call in the menu with a digit pressed (SIP INFO), the
// engine killed with SIGKILL, a new engine on the same data folder: the call record
// is there as last journaled, then ended by the new engine as lost (the call itself
// died with the process). The second engine then stops cleanly on SIGTERM.
func TestJournalSurvivesKill9(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := t.TempDir()
	e := startEngine(t, engineOptions{Data: data})
	u := newUAC(t, e, siptest.Options{})
	peer := newPeer(t, media.PCMU, 101)
	call := dial(ctx, t, u, peer, media.PCMU)
	res, err := call.Request(ctx, sipmsg.INFO, "application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INFO: %v %v", res, err)
	}
	// 5 leads to the follow-up node, which waits for a work-order number: the call
	// stays in the menu.
	before := e.onlyCall("with the digit, at the follow-up node", 10*time.Second, func(c store.CallRecord) bool {
		return c.Digits == "5" && len(c.Inputs) == 1 && len(c.Path) > 0 && c.Path[len(c.Path)-1] == "followup"
	})
	e.kill()
	if e.err == nil {
		t.Fatalf("the engine exited cleanly on SIGKILL?")
	}

	again := startEngine(t, engineOptions{Data: data})
	after := again.onlyCall("from the journal", 5*time.Second, func(c store.CallRecord) bool { return c.ID == before.ID })
	// Everything journaled before the kill is there.
	if after.Digits != before.Digits || after.Caller != before.Caller || after.Codec != before.Codec ||
		!after.Start.Equal(before.Start) || !after.Answer.Equal(before.Answer) ||
		!slices.Equal(after.Path, before.Path) || len(after.Inputs) != 1 || after.Inputs[0].Via != "info" {
		t.Errorf("after kill -9 and restart:\n got %+v\nwant %+v", after, before)
	}
	// The call itself did not survive the process: the new engine ends it in the
	// log, so it does not stay live for ever.
	if before.State != store.StateIVR || after.State != store.StateEnded || after.Side != "engine" || !strings.Contains(after.Cause, "restart") {
		t.Errorf("state %q before, %q (side %q, cause %q) after the restart; want ivr, then ended by the engine because of the restart",
			before.State, after.State, after.Side, after.Cause)
	}
	if got := again.metric("hotline_calls_total", `result="lost"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="lost"} = %v, want 1`, got)
	}
	if code := again.stop(syscall.SIGTERM, 15*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestSIGTERMDrains: on SIGTERM the engine takes no new calls (503, /readyz fails),
// lets the call in progress go on until the caller hangs up, then exits with 0.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	u := newUAC(t, e, siptest.Options{})
	peer := newPeer(t, media.PCMU, 101)
	call := dial(ctx, t, u, peer, media.PCMU)
	e.onlyCall("in the menu", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateIVR })

	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _, err := e.get("/readyz")
		if err == nil && code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d (%v) 5 s after SIGTERM", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	late := newUAC(t, e, siptest.Options{})
	_, err := late.Invite(ctx, "12345", siptest.Offer(peer.Addr(), 1, "", 101, media.PCMU))
	if siptest.StatusCode(err) != 503 {
		t.Errorf("INVITE while draining: %v, want 503", err)
	}
	select {
	case <-e.done:
		t.Fatalf("the engine exited while a call was in progress (drain 5s): %v", e.err)
	case <-call.Done():
		t.Fatalf("the engine hung up the call in progress at once")
	case <-time.After(time.Second):
	}
	if err := peer.WaitFor(ctx, peer.Count()+10); err != nil {
		t.Errorf("no audio on the call while draining: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.done:
	case <-time.After(4 * time.Second):
		t.Fatalf("the engine did not exit after its last call ended")
	}
	if e.err != nil {
		t.Errorf("exit after SIGTERM: %v (stderr:\n%s)", e.err, lastLines(e.stderr.String(), 20))
	}
}
