package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
)

// TestRTPTimeoutEndsCall: a caller whose RTP stops is hung up by the engine after
// media.rtp_timeout, with a cause that says so; while it holds, the timeout waits.
func TestRTPTimeoutEndsCall(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{Config: "media:\n  rtp_timeout: 2s\n"})
	u := newUAC(t, e, siptest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A caller that holds (sendonly) right away and sends nothing: not ended while held.
	peer := newPeer(t, media.PCMU, 101)
	held := dial(ctx, t, u, peer, media.PCMU)
	if res, err := held.Reinvite(ctx, siptest.Offer(peer.Addr(), 2, "sendonly", 101, media.PCMU)); err != nil || res.StatusCode != 200 {
		t.Fatalf("hold: %v %v", res, err)
	}
	// A caller that sends nothing at all: ended after about 2 s.
	silent := dial(ctx, t, u, newPeer(t, media.PCMU, 101), media.PCMU)
	select {
	case <-silent.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the silent call was not ended by the engine")
	}
	rec := e.waitCall("ended by RTP timeout", 5*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateEnded
	})
	if rec.Side != "engine" || rec.Code != 408 || !strings.Contains(rec.Cause, "no RTP") {
		t.Errorf("ended call: side %q code %d cause %q; want engine, 408, no RTP", rec.Side, rec.Code, rec.Cause)
	}
	select {
	case <-held.Done():
		t.Fatal("the held call was ended: the RTP timeout must pause while the caller holds")
	case <-time.After(3 * time.Second):
	}
}
