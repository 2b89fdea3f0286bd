package main

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/recording"
	"github.com/hotline12345/hotline/store"
)

// TestSupervisorListenWhisperBarge: a caller (1 kHz) talks to agent 1020 (440 Hz);
// supervisor 9001's browser (600 Hz) joins the call. Listen: the supervisor hears
// both, nobody hears the supervisor. Whisper: the agent hears the supervisor and
// the caller; the caller never hears the supervisor. Barge: the caller hears the
// supervisor too. Leave: the call is back to plain forwarding (the agent's PCMU
// frames reach the caller byte for byte). Each step is in the audit log.
func TestSupervisorListenWhisperBarge(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	agent := webrtcAgent(ctx, t, e, "1020", agentsim.Options{})
	sup, err := agentsim.Login(ctx, agentsim.Options{Base: e.http, Password: labPassword, Supervisor: true}, "9001")
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go sup.Browser().Play(pctx, agentsim.Tone(600).Loop())

	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	rec := e.waitCall("connected to 1020", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1020" && c.State == "connected" })

	// shares of the tones in what b received over the last second
	last := func(b *mediatest.Browser) []mediatest.Packet { return b.Received(time.Now().Add(-time.Second)) }
	callerLast := func() []mediatest.Packet {
		var out []mediatest.Packet
		for _, p := range peer.Packets() {
			if p.At.After(time.Now().Add(-time.Second)) {
				out = append(out, p)
			}
		}
		return out
	}
	settle := func() { time.Sleep(1500 * time.Millisecond) }
	want := func(what string, pk []mediatest.Packet, hz float64, present bool) {
		t.Helper()
		s := mediatest.ToneShare(pk, hz)
		if present && s < 0.15 || !present && s > 0.05 {
			t.Errorf("%s: share of %.0f Hz %.2f over %d packets (want it %s)", what, hz, s, len(pk), map[bool]string{true: "there", false: "absent"}[present])
		}
	}
	monitor := func(mode string) {
		t.Helper()
		if err := sup.Post(ctx, "/api/v1/supervisors/9001/monitor", map[string]string{"call": rec.ID, "mode": mode}, nil); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		settle()
	}

	listenAt := time.Now()
	monitor("listen")
	want("listen: the supervisor hears the caller", last(sup.Browser()), 1000, true)
	want("listen: the supervisor hears the agent", last(sup.Browser()), 440, true)
	want("listen: the caller does not hear the supervisor", callerLast(), 600, false)
	want("listen: the agent does not hear the supervisor", last(agent.Browser()), 600, false)

	monitor("whisper")
	want("whisper: the agent hears the supervisor", last(agent.Browser()), 600, true)
	want("whisper: the agent hears the caller", last(agent.Browser()), 1000, true)
	want("whisper: the caller does not hear the supervisor", callerLast(), 600, false)
	want("whisper: the caller hears the agent", callerLast(), 440, true)

	bargeAt := time.Now()
	monitor("barge")
	want("barge: the caller hears the supervisor", callerLast(), 600, true)
	want("barge: the caller hears the agent", callerLast(), 440, true)
	want("barge: the agent hears the supervisor", last(agent.Browser()), 600, true)

	monitor("leave")
	peer.Reset()
	waitFrames(t, "plain forwarding after the supervisor left", peer, frames440, netip.AddrPort{}, 25, 5*time.Second)
	want("leave: the caller no longer hears the supervisor", callerLast(), 600, false)
	for _, mode := range []string{"listen", "whisper", "barge", "leave"} {
		waitLog(t, e, "action="+mode, time.Second)
	}

	// The recording: the barging supervisor speaks for the centre (the right
	// channel holds 600 Hz then); listening, they are not in it.
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	admin := e.login("admin")
	r := e.recordingOf(rec.ID, admin, store.RecComplete, 10*time.Second)
	_, _, wav := e.getAuth("/api/v1/recordings/"+r.ID+"/audio", admin)
	_, right, err := recording.ReadStereo(bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	at := func(w time.Time) int { return int(w.Sub(r.Start) * 8000 / time.Second) }
	if i := at(listenAt) + 4000; i+4000 <= len(right) {
		if s := share(right[i:i+4000], 600); s > 0.05 {
			t.Errorf("the listening supervisor is in the recording (share of 600 Hz %.2f)", s)
		}
	}
	if i := at(bargeAt) + 6000; i+4000 > len(right) {
		t.Fatalf("the barge is not in the recording (%d of %d samples)", i, len(right))
	} else if s := share(right[i:i+4000], 600); s < 0.15 {
		t.Errorf("the barging supervisor is not on the recording's right channel (share of 600 Hz %.2f)", s)
	}
}
