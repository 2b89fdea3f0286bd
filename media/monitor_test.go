package media_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

// The tones of a monitored call: the caller plays 1 kHz, the agent 440 Hz, the
// supervisor 600 Hz.
const (
	callerHz = 1000
	agentHz  = 440
	supHz    = 600
)

// audioOnly keeps the G.711 packets received at or after since.
func audioOnly(pk []mediatest.Packet, since time.Time) []mediatest.Packet {
	var out []mediatest.Packet
	for _, p := range pk {
		if !p.At.Before(since) && (p.Header.PayloadType == 0 || p.Header.PayloadType == 8) {
			out = append(out, p)
		}
	}
	return out
}

// shares is the share of hz in each window of 4 packets (80 ms): short windows,
// so that a silent frame inserted by the jitter buffer (which shifts a tone's
// phase) does not cancel a tone that is there.
func shares(pk []mediatest.Packet, hz float64) []float64 {
	var out []float64
	for i := 0; i+4 <= len(pk); i += 4 {
		out = append(out, mediatest.ToneShare(pk[i:i+4], hz))
	}
	return out
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// hears waits until the last n audio packets received after since carry every
// tone of present (mean share over the windows > 0.2: two equal tones share
// the power about half and half) and no tone of absent (no window above 0.05).
func hears(t *testing.T, ctx context.Context, what string, get func() []mediatest.Packet, since time.Time, present, absent []float64) {
	t.Helper()
	const n = 24
	for {
		pk := audioOnly(get(), since)
		ok := len(pk) >= n
		var report string
		if len(pk) >= n {
			pk = pk[len(pk)-n:]
		}
		for _, hz := range present {
			s := mean(shares(pk, hz))
			report += fmt.Sprintf(" %.0f Hz: mean %.2f;", hz, s)
			ok = ok && s > 0.2
		}
		for _, hz := range absent {
			s := maxOf(shares(pk, hz))
			report += fmt.Sprintf(" %.0f Hz: max %.2f;", hz, s)
			ok = ok && s < 0.05
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d audio packets;%s want %v present, %v absent", what, len(pk), report, present, absent)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// never requires that no window of the audio packets received in [from, to)
// carries hz.
func never(t *testing.T, what string, pk []mediatest.Packet, from, to time.Time, hz float64) {
	t.Helper()
	var in []mediatest.Packet
	for _, p := range audioOnly(pk, from) {
		if p.At.Before(to) {
			in = append(in, p)
		}
	}
	if len(in) < 20 {
		t.Fatalf("%s: only %d audio packets to check", what, len(in))
	}
	if s := maxOf(shares(in, hz)); s >= 0.05 {
		t.Errorf("%s: %.0f Hz heard (share %.2f in one window of %d packets)", what, hz, s, len(in))
	}
}

// sineFrames is the set of the 50 PCMU frames a looped sine(hz) is cut into: what
// its player sends.
func sineFrames(hz float64) map[string]bool {
	src := sine(hz).Loop()
	set := make(map[string]bool)
	buf := make([]byte, 160)
	for range 50 {
		n, _ := src.Next(media.PCMU, buf)
		set[string(buf[:n])] = true
	}
	return set
}

// untouched requires that the audio packets received after since are all, byte
// for byte, frames the other side's player sent (plain forwarding, no mixing).
func untouched(t *testing.T, ctx context.Context, what string, get func() []mediatest.Packet, since time.Time, set map[string]bool) {
	t.Helper()
	for {
		pk := audioOnly(get(), since)
		if len(pk) >= 25 {
			for i, p := range pk {
				if p.Header.PayloadType != 0 || !set[string(p.Payload)] {
					t.Fatalf("%s: packet %d of %d (pt %d) is not one of the sender's frames", what, i, len(pk), p.Header.PayloadType)
				}
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d audio packets", what, len(pk))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// players runs the tone players of a test until stop is called.
type players struct {
	cancel context.CancelFunc
	ctx    context.Context
	wg     sync.WaitGroup
}

func newPlayers(ctx context.Context) *players {
	p := &players{}
	p.ctx, p.cancel = context.WithCancel(ctx)
	return p
}

func (p *players) run(f func(ctx context.Context)) {
	p.wg.Add(1)
	go func() { defer p.wg.Done(); f(p.ctx) }()
}

func (p *players) stop() { p.cancel(); p.wg.Wait() }

func streamTone(peer *mediatest.Peer, hz float64) func(context.Context) {
	return func(ctx context.Context) { _ = peer.Stream(ctx, sine(hz).Loop()) }
}

func playTone(b *mediatest.Browser, hz float64) func(context.Context) {
	return func(ctx context.Context) { _ = b.Play(ctx, sine(hz).Loop()) }
}

// TestMonitorModes: a caller (RTP session, 1 kHz) bridged to an agent (WebRTC,
// 440 Hz), a supervisor (WebRTC, 600 Hz) listening, whispering, barging in and
// back to listening, then leaving: in Listen the supervisor hears both and
// nobody hears the supervisor; in Whisper the agent hears the caller and the
// supervisor and the caller never hears the supervisor; in Barge everyone hears
// the other two; after Close each side gets the other's bytes untouched again
// and the supervisor nothing.
func TestMonitorModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	_, agent, agentB, _ := agentPeer(t, ctx, nil)
	_, sup, supB, _ := agentPeer(t, ctx, nil)
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	caller.s.Start()
	br, err := media.Bridge(caller.s, agent)
	if err != nil {
		t.Fatal(err)
	}
	pl := newPlayers(ctx)
	defer pl.stop()
	pl.run(streamTone(caller.peer, callerHz))
	pl.run(playTone(agentB, agentHz))
	pl.run(playTone(supB, supHz))

	atCaller := caller.peer.Packets
	atAgent := func() []mediatest.Packet { return agentB.Received(time.Time{}) }
	atSup := func() []mediatest.Packet { return supB.Received(time.Time{}) }
	hears(t, ctx, "caller before the monitor", atCaller, time.Now(), []float64{agentHz}, []float64{callerHz, supHz})

	m, err := br.Monitor(sup, media.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t0 := time.Now()
	hears(t, ctx, "listen: supervisor", atSup, t0, []float64{callerHz, agentHz}, []float64{supHz})
	hears(t, ctx, "listen: caller", atCaller, t0, []float64{agentHz}, []float64{callerHz, supHz})
	hears(t, ctx, "listen: agent", atAgent, t0, []float64{callerHz}, []float64{agentHz, supHz})
	if m.Mode() != media.Listen {
		t.Fatalf("mode %v", m.Mode())
	}

	if err := m.SetMode(media.Whisper); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now().Add(60 * time.Millisecond)
	hears(t, ctx, "whisper: agent", atAgent, t1, []float64{callerHz, supHz}, []float64{agentHz})
	hears(t, ctx, "whisper: supervisor", atSup, t1, []float64{callerHz, agentHz}, []float64{supHz})
	hears(t, ctx, "whisper: caller", atCaller, t1, []float64{agentHz}, []float64{callerHz, supHz})
	if m.Mode() != media.Whisper {
		t.Fatalf("mode %v", m.Mode())
	}

	t2 := time.Now()
	if err := m.SetMode(media.Barge); err != nil {
		t.Fatal(err)
	}
	never(t, "caller in listen and whisper", atCaller(), t0, t2, supHz)
	t2 = t2.Add(60 * time.Millisecond)
	hears(t, ctx, "barge: caller", atCaller, t2, []float64{agentHz, supHz}, []float64{callerHz})
	hears(t, ctx, "barge: agent", atAgent, t2, []float64{callerHz, supHz}, []float64{agentHz})
	hears(t, ctx, "barge: supervisor", atSup, t2, []float64{callerHz, agentHz}, []float64{supHz})

	if err := m.SetMode(media.Listen); err != nil {
		t.Fatal(err)
	}
	t3 := time.Now().Add(60 * time.Millisecond)
	hears(t, ctx, "listen again: caller", atCaller, t3, []float64{agentHz}, []float64{callerHz, supHz})
	hears(t, ctx, "listen again: agent", atAgent, t3, []float64{callerHz}, []float64{agentHz, supHz})
	hears(t, ctx, "listen again: supervisor", atSup, t3, []float64{callerHz, agentHz}, []float64{supHz})
	never(t, "caller back in listen", atCaller(), t3, time.Now(), supHz)

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.SetMode(media.Barge); !errors.Is(err, media.ErrMonitorEnded) {
		t.Fatalf("SetMode after Close: %v", err)
	}
	t4 := time.Now().Add(60 * time.Millisecond)
	untouched(t, ctx, "after Close: caller", atCaller, t4, sineFrames(agentHz))
	untouched(t, ctx, "after Close: agent", atAgent, t4, sineFrames(callerHz))
	if n := len(supB.Received(t4)); n > 0 {
		t.Fatalf("the supervisor received %d packets after Close", n)
	}
	select {
	case <-br.Done():
		t.Fatal("closing the monitor ended the bridge")
	default:
	}
}

// TestMonitorEnds: the supervisor's leg closing ends the monitor and the call
// goes on with plain forwarding; the bridge ending ends the monitor and frees
// the supervisor's leg for another call.
func TestMonitorEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	agent := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	startPair(t, ctx, caller, agent)
	br, err := media.Bridge(caller.s, agent.s)
	if err != nil {
		t.Fatal(err)
	}
	pl := newPlayers(ctx)
	defer pl.stop()
	pl.run(streamTone(caller.peer, callerHz))
	pl.run(streamTone(agent.peer, agentHz))

	t.Run("supervisor leaves", func(t *testing.T) {
		_, sup, supB, _ := agentPeer(t, ctx, nil)
		spl := newPlayers(ctx)
		defer spl.stop()
		spl.run(playTone(supB, supHz))
		m, err := br.Monitor(sup, media.Barge)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().Add(60 * time.Millisecond)
		hears(t, ctx, "barge: caller", caller.peer.Packets, t0, []float64{agentHz, supHz}, []float64{callerHz})
		sup.Close()
		select {
		case <-m.Done():
		case <-ctx.Done():
			t.Fatal("the monitor did not end with the supervisor's leg")
		}
		select {
		case <-br.Done():
			t.Fatal("the supervisor leaving ended the call")
		default:
		}
		t1 := time.Now().Add(60 * time.Millisecond)
		untouched(t, ctx, "caller after the supervisor left", caller.peer.Packets, t1, sineFrames(agentHz))
		untouched(t, ctx, "agent after the supervisor left", agent.peer.Packets, t1, sineFrames(callerHz))
	})

	t.Run("bridge ends", func(t *testing.T) {
		sup := newBridgeLeg(t, media.PCMU, 101, nil, nil)
		sup.s.Start()
		m, err := br.Monitor(sup.s, media.Listen)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().Add(60 * time.Millisecond)
		hears(t, ctx, "listen: supervisor", sup.peer.Packets, t0, []float64{callerHz, agentHz}, nil)
		br.Close()
		select {
		case <-m.Done():
		case <-ctx.Done():
			t.Fatal("the monitor did not end with the bridge")
		}
		// The supervisor's leg is free again: it can be bridged or monitor
		// another call.
		other := newBridgeLeg(t, media.PCMU, 101, nil, nil)
		br2, err := media.Bridge(caller.s, other.s)
		if err != nil {
			t.Fatal(err)
		}
		defer br2.Close()
		m2, err := br2.Monitor(sup.s, media.Listen)
		if err != nil {
			t.Fatalf("monitor another call after the bridge ended: %v", err)
		}
		m2.Close()
	})
}

// TestMonitorEventsAndNumbering (RTP legs only): in Barge, the agent's RFC 4733
// digit reaches the caller as one event (one timestamp for all its packets)
// and the supervisor's digit reaches nobody; the mixed stream the caller gets
// is one stream: one SSRC, consecutive audio packets 160 timestamps apart.
// In Listen the agent's digit is forwarded as before.
func TestMonitorEventsAndNumbering(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	agent := newBridgeLeg(t, media.PCMA, 96, nil, nil)
	sup := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	startPair(t, ctx, caller, agent)
	sup.s.Start()
	br, err := media.Bridge(caller.s, agent.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	m, err := br.Monitor(sup.s, media.Barge)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pl := newPlayers(ctx)
	defer pl.stop()
	pl.run(streamTone(caller.peer, callerHz))
	time.Sleep(100 * time.Millisecond)
	start := time.Now()

	events := func(p *mediatest.Peer, key byte) []mediatest.Packet {
		var out []mediatest.Packet
		for _, pk := range p.Packets() {
			if pk.Header.PayloadType == 101 && len(pk.Payload) >= 4 && pk.Payload[0] == key && !pk.At.Before(start) {
				out = append(out, pk)
			}
		}
		return out
	}
	// The supervisor's digit goes first: once the agent's has reached the
	// caller, the supervisor's has long been through the engine.
	if err := sup.peer.SendDigit(ctx, '9', 120*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := agent.peer.SendDigit(ctx, '7', 120*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitEnd := func(key byte) {
		t.Helper()
		for {
			for _, p := range events(caller.peer, key) {
				if p.Payload[1]&0x80 != 0 {
					return
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the end of digit %d did not reach the caller", key)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitEnd(7)
	ev := events(caller.peer, 7)
	if len(ev) < 4 {
		t.Fatalf("the caller got %d packets of the agent's digit", len(ev))
	}
	for _, p := range ev {
		if p.Header.Timestamp != ev[0].Header.Timestamp {
			t.Fatalf("the agent's digit reached the caller with timestamps %d and %d", ev[0].Header.Timestamp, p.Header.Timestamp)
		}
	}
	if n := len(events(caller.peer, 9)); n > 0 {
		t.Fatalf("the caller got %d packets of the supervisor's digit", n)
	}
	for _, p := range agent.peer.Packets() {
		if p.Header.PayloadType == 96 && !p.At.Before(start) {
			t.Fatalf("the agent got a telephone-event (key %d)", p.Payload[0])
		}
	}

	// One stream at the caller: one SSRC, and audio packets one sequence number
	// apart are one frame apart.
	for len(audioOnly(caller.peer.Packets(), start)) < 25 {
		select {
		case <-ctx.Done():
			t.Fatal("the caller gets no mixed audio")
		case <-time.After(20 * time.Millisecond):
		}
	}
	pk := caller.peer.Packets()
	var checked int
	for i := 1; i < len(pk); i++ {
		p, q := pk[i-1], pk[i]
		if q.At.Before(start) {
			continue
		}
		if q.Header.SSRC != p.Header.SSRC {
			t.Fatalf("packet %d: SSRC %x after %x", i, q.Header.SSRC, p.Header.SSRC)
		}
		if p.Header.PayloadType == 0 && q.Header.PayloadType == 0 && q.Header.SequenceNumber == p.Header.SequenceNumber+1 {
			// A frame apart, or whole frames when the mixer skipped ticks
			// (a stalled machine).
			if d := q.Header.Timestamp - p.Header.Timestamp; d == 0 || d%160 != 0 || d > 50*160 {
				t.Errorf("packets %d, %d: timestamps %d apart", i-1, i, d)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("only %d consecutive audio packets at the caller", checked)
	}

	// Listen: the agent's digit is forwarded as before.
	if err := m.SetMode(media.Listen); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := agent.peer.SendDigit(ctx, '3', 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitEnd(3)
}

// TestMonitorErrors: the refusals of Bridged.Monitor and SetMode.
func TestMonitorErrors(t *testing.T) {
	leg := func() *media.Session { return newBridgeLeg(t, media.PCMU, 101, nil, nil).s }
	a, b, c, d := leg(), leg(), leg(), leg()
	br, err := media.Bridge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	br2, err := media.Bridge(c, d)
	if err != nil {
		t.Fatal(err)
	}
	sup := leg()
	if _, err := br.Monitor(sup, 0); !errors.Is(err, media.ErrBadMonitorMode) {
		t.Errorf("mode 0: %v", err)
	}
	if _, err := br.Monitor(a, media.Listen); !errors.Is(err, media.ErrAlreadyBridged) {
		t.Errorf("a leg of the call as supervisor: %v", err)
	}
	if _, err := br.Monitor(c, media.Listen); !errors.Is(err, media.ErrAlreadyBridged) {
		t.Errorf("a leg of another call as supervisor: %v", err)
	}
	m, err := br.Monitor(sup, media.Whisper)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := br.Monitor(leg(), media.Listen); !errors.Is(err, media.ErrAlreadyMonitored) {
		t.Errorf("a second supervisor: %v", err)
	}
	if _, err := br2.Monitor(sup, media.Listen); !errors.Is(err, media.ErrAlreadyBridged) {
		t.Errorf("a supervisor monitoring another call: %v", err)
	}
	if err := m.SetMode(9); !errors.Is(err, media.ErrBadMonitorMode) {
		t.Errorf("SetMode(9): %v", err)
	}
	if m.Mode() != media.Whisper {
		t.Errorf("mode %v after a refused SetMode", m.Mode())
	}
	m.Close()
	closed := leg()
	closed.Close()
	if _, err := br.Monitor(closed, media.Listen); !errors.Is(err, media.ErrSessionClosed) {
		t.Errorf("a closed supervisor leg: %v", err)
	}
	br.Close()
	br2.Close()
	if _, err := br.Monitor(leg(), media.Listen); !errors.Is(err, media.ErrBridgeEnded) {
		t.Errorf("an ended bridge: %v", err)
	}
	if got := fmt.Sprint(media.Listen, media.Whisper, media.Barge); got != "listen whisper barge" {
		t.Errorf("mode names %q", got)
	}
}

// TestMonitorSupervisorSessionEnds: a supervisor on an RTP leg (a SIP phone)
// hanging up ends the monitor; the call stays bridged.
func TestMonitorSupervisorSessionEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	b := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	sup := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	br, err := media.Bridge(a.s, b.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	m, err := br.Monitor(sup.s, media.Barge)
	if err != nil {
		t.Fatal(err)
	}
	sup.s.Close()
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("the monitor did not end with the supervisor's session")
	}
	select {
	case <-br.Done():
		t.Fatal("the supervisor hanging up ended the call")
	default:
	}
}
