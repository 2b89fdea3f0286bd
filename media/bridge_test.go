package media_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

// bleg is one bridged leg: a started-later session, the peer its SDP names, and
// a tap counting the samples the session received.
type bleg struct {
	s    *media.Session
	peer *mediatest.Peer
	pool *media.PortPool

	mu     sync.Mutex
	tapped int
}

func newBridgeLeg(t *testing.T, codec media.Codec, dtmf uint8, m *media.Metrics, edit func(*media.SessionConfig)) *bleg {
	t.Helper()
	pool, err := media.NewPortPool(loopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Listen()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := mediatest.NewPeer(codec, dtmf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	cfg := media.SessionConfig{Codec: codec, DTMF: dtmf, Remote: peer.Addr(), Metrics: m}
	if edit != nil {
		edit(&cfg)
	}
	l := &bleg{s: media.NewSession(conn, pool, cfg), peer: peer, pool: pool}
	t.Cleanup(func() { l.s.Close() })
	peer.SetRemote(l.s.LocalAddr())
	l.s.Tap(func(pcm []int16) {
		l.mu.Lock()
		l.tapped += len(pcm)
		l.mu.Unlock()
	})
	return l
}

func (l *bleg) Tapped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tapped
}

// startPair starts both legs and waits until each peer has heard its session, so
// that each outgoing stream is established (SSRC, numbering) before a bridge.
func startPair(t *testing.T, ctx context.Context, a, b *bleg) {
	t.Helper()
	a.s.Start()
	b.s.Start()
	for _, l := range []*bleg{a, b} {
		if err := l.peer.WaitFor(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
}

// settle lets packets in flight arrive, then returns the last packet the peer
// received and forgets them all.
func settle(t *testing.T, p *mediatest.Peer) mediatest.Packet {
	t.Helper()
	time.Sleep(40 * time.Millisecond)
	pkts := p.Packets()
	p.Reset()
	if len(pkts) == 0 {
		t.Fatal("peer received nothing before the switch")
	}
	return pkts[len(pkts)-1]
}

// quiet requires that the peer receives nothing more than n packets in 60 ms.
func quiet(t *testing.T, p *mediatest.Peer, n int, what string) {
	t.Helper()
	time.Sleep(60 * time.Millisecond)
	if got := p.Count(); got != n {
		t.Errorf("%s: peer received %d packets, want exactly %d", what, got, n)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := 0.0
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	return 0
}

// closeEnough reports whether two G.711-decoded samples agree within the
// quantisation of one law converted to the other.
func closeEnough(got, want int16) bool {
	d, w := int(got)-int(want), int(want)
	if d < 0 {
		d = -d
	}
	if w < 0 {
		w = -w
	}
	return d <= w/16+16
}

// checkForwarded checks the packets a peer received from its bridged session:
// its payload type, the session's SSRC as before the bridge, sequence numbers
// continuing the stream by one, timestamps by one packet, a marker on the first
// only, and payloads equal to sent (converted when the codecs differ).
func checkForwarded(t *testing.T, pkts []mediatest.Packet, before mediatest.Packet, to, from media.Codec, sent []byte) {
	t.Helper()
	if len(pkts)*160 != len(sent) {
		t.Fatalf("%d packets, want %d", len(pkts), len(sent)/160)
	}
	prev := before.Header
	for i, p := range pkts {
		h := p.Header
		if h.PayloadType != to.PayloadType || h.SSRC != before.Header.SSRC {
			t.Fatalf("packet %d: pt %d ssrc %x, want %d and the stream's %x", i, h.PayloadType, h.SSRC, to.PayloadType, before.Header.SSRC)
		}
		if h.SequenceNumber != prev.SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d", i, h.SequenceNumber, prev.SequenceNumber)
		}
		switch d := int32(h.Timestamp - prev.Timestamp); {
		case d <= 0:
			t.Errorf("packet %d: ts %d after %d", i, h.Timestamp, prev.Timestamp)
		case i > 0 && d != 160:
			t.Errorf("packet %d: ts advanced %d, want 160", i, d)
		}
		if h.Marker != (i == 0) {
			t.Errorf("packet %d: marker %v", i, h.Marker)
		}
		prev = h
		want := sent[i*160 : (i+1)*160]
		if to == from {
			if !bytes.Equal(p.Payload, want) {
				t.Errorf("packet %d: payload changed without transcoding", i)
			}
			continue
		}
		gotPCM, wantPCM := make([]int16, 160), make([]int16, 160)
		media.DecodeFrame(to, gotPCM, p.Payload)
		media.DecodeFrame(from, wantPCM, want)
		for j := range gotPCM {
			if !closeEnough(gotPCM[j], wantPCM[j]) {
				t.Fatalf("packet %d sample %d: %d, want %d", i, j, gotPCM[j], wantPCM[j])
			}
		}
	}
}

func TestBridgeForwardsBothWays(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	tests := []struct {
		name       string
		a, b       media.Codec
		transcoded bool
	}{
		{name: "same codec", a: media.PCMU, b: media.PCMU},
		{name: "u-law caller, A-law agent", a: media.PCMU, b: media.PCMA, transcoded: true},
		{name: "A-law caller, u-law agent", a: media.PCMA, b: media.PCMU, transcoded: true},
		{name: "both A-law", a: media.PCMA, b: media.PCMA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each subtest has its own sessions and peers
			reg := prometheus.NewRegistry()
			m := media.NewMetrics(reg)
			a := newBridgeLeg(t, tt.a, 101, m, nil)
			b := newBridgeLeg(t, tt.b, 96, m, nil)
			ctx := ctxTimeout(t, 5*time.Second)
			startPair(t, ctx, a, b)
			br, err := media.Bridge(a.s, b.s)
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			lastA, lastB := settle(t, a.peer), settle(t, b.peer)
			quiet(t, b.peer, 0, "bridged, nothing to forward")

			// 200 ms of different audio each way at once.
			toneA := media.NewClip("a", media.GenerateDTMF('1', 200*time.Millisecond, 0.5))
			toneB := media.NewClip("b", media.GenerateDTMF('9', 200*time.Millisecond, 0.3))
			errs := make(chan error, 2)
			go func() { errs <- a.peer.Stream(ctx, toneA.Source()) }()
			go func() { errs <- b.peer.Stream(ctx, toneB.Source()) }()
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range []*bleg{a, b} {
				if err := l.peer.WaitFor(ctx, 10); err != nil {
					t.Fatal(err)
				}
			}
			quiet(t, b.peer, 10, "a to b")
			quiet(t, a.peer, 10, "b to a")
			checkForwarded(t, b.peer.Packets(), lastB, tt.b, tt.a, toneA.Payload(tt.a))
			checkForwarded(t, a.peer.Packets(), lastA, tt.a, tt.b, toneB.Payload(tt.b))

			// Each session still decoded what it received for its tap (the recorder).
			waitUntil(t, "taps", func() bool { return a.Tapped() == 1600 && b.Tapped() == 1600 })
			wantTrans := uint64(0)
			if tt.transcoded {
				wantTrans = 10
			}
			for _, l := range []*bleg{a, b} {
				if st := l.s.Stats(); st.Forwarded != 10 || st.Transcoded != wantTrans {
					t.Errorf("stats forwarded %d transcoded %d, want 10 and %d", st.Forwarded, st.Transcoded, wantTrans)
				}
			}
			if got := counter(t, reg, "hotline_rtp_packets_forwarded_total"); got != 20 {
				t.Errorf("forwarded metric %v, want 20", got)
			}
			if got := counter(t, reg, "hotline_rtp_packets_transcoded_total"); got != 2*float64(wantTrans) {
				t.Errorf("transcoded metric %v, want %d", got, 2*wantTrans)
			}
		})
	}
}

func TestBridgeDTMF(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	tests := []struct {
		name   string
		callee uint8 // the caller's telephone-event payload type
		want   int   // event packets the caller's peer receives
	}{
		{name: "payload type remapped", callee: 96, want: 5},
		{name: "same payload type", callee: 101, want: 5},
		{name: "caller without telephone-event", callee: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each subtest has its own sessions and peers
			agent := newBridgeLeg(t, media.PCMU, 101, nil, nil)
			caller := newBridgeLeg(t, media.PCMA, tt.callee, nil, nil)
			ctx := ctxTimeout(t, 5*time.Second)
			startPair(t, ctx, agent, caller)
			br, err := media.Bridge(agent.s, caller.s)
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			last := settle(t, caller.peer)

			// 60 ms: two updates and three end packets.
			if err := agent.peer.SendDigit(ctx, '5', 60*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-agent.s.Digits():
				if d.Key != '5' {
					t.Errorf("agent's session saw digit %q", d.Key)
				}
			case <-ctx.Done():
				t.Fatal("digit not delivered on the agent's session")
			}
			if tt.want > 0 {
				if err := caller.peer.WaitFor(ctx, tt.want); err != nil {
					t.Fatal(err)
				}
			}
			quiet(t, caller.peer, tt.want, "events")
			var dec media.EventDecoder
			var keys []byte
			for i, p := range caller.peer.Packets() {
				h := p.Header
				if h.PayloadType != tt.callee || h.SSRC != last.Header.SSRC || h.SequenceNumber != last.Header.SequenceNumber+uint16(i)+1 {
					t.Errorf("packet %d: pt %d ssrc %x seq %d", i, h.PayloadType, h.SSRC, h.SequenceNumber)
				}
				if h.Marker != (i == 0) {
					t.Errorf("packet %d: marker %v", i, h.Marker)
				}
				if int32(h.Timestamp-last.Header.Timestamp) < 160 {
					t.Errorf("packet %d: event ts %d does not continue the stream after %d", i, h.Timestamp, last.Header.Timestamp)
				}
				d, ok, err := dec.Decode(h.Timestamp, p.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					keys = append(keys, d.Key)
				}
			}
			if tt.want > 0 && string(keys) != "5" {
				t.Errorf("caller's peer decoded %q, want \"5\"", keys)
			}
		})
	}
}

// TestBridgeRenumbering sends hand-made packets into one leg and checks how the
// other leg renumbers them: offsets from the first packet, gaps and reordering
// kept, a packet older than the switch dropped, a new source SSRC a new switch.
func TestBridgeRenumbering(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	a := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	b := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	ctx := ctxTimeout(t, 5*time.Second)
	startPair(t, ctx, a, b)
	br, err := media.Bridge(a.s, b.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	settle(t, b.peer)

	steps := []struct {
		name     string
		ssrc     uint32
		seq      uint16
		ts       uint32
		marker   bool
		dropped  bool
		switched bool   // offsets taken anew: marker, seq continues by one
		seq0     uint16 // with switched false: out seq minus the first out packet's
	}{
		{name: "first", ssrc: 1, seq: 1000, ts: 5000, switched: true},
		{name: "next", ssrc: 1, seq: 1001, ts: 5160, seq0: 1},
		{name: "after a loss", ssrc: 1, seq: 1003, ts: 5480, seq0: 3},
		{name: "the late one", ssrc: 1, seq: 1002, ts: 5320, seq0: 2},
		{name: "older than the switch", ssrc: 1, seq: 999, ts: 4840, dropped: true},
		{name: "talk spurt", ssrc: 1, seq: 1004, ts: 5640, marker: true, seq0: 4},
		{name: "new source", ssrc: 2, seq: 7, ts: 90000, switched: true},
	}
	payload := bytes.Repeat([]byte{0x55}, 160)
	want := 0
	for _, st := range steps {
		h := rtp.Header{PayloadType: 0, SSRC: st.ssrc, SequenceNumber: st.seq, Timestamp: st.ts, Marker: st.marker}
		if err := a.peer.SendRTP(h, payload); err != nil {
			t.Fatal(err)
		}
		if !st.dropped {
			want++
		}
	}
	if err := b.peer.WaitFor(ctx, want); err != nil {
		t.Fatal(err)
	}
	quiet(t, b.peer, want, "renumbered")
	pkts := b.peer.Packets()
	first := pkts[0].Header
	var prev rtp.Header
	i := 0
	for _, st := range steps {
		if st.dropped {
			continue
		}
		h := pkts[i].Header
		i++
		switch {
		case st.switched:
			if i > 1 && (h.SequenceNumber != prev.SequenceNumber+1 || int32(h.Timestamp-prev.Timestamp) < 160) {
				t.Errorf("%s: seq %d ts %d after seq %d ts %d", st.name, h.SequenceNumber, h.Timestamp, prev.SequenceNumber, prev.Timestamp)
			}
			if !h.Marker {
				t.Errorf("%s: no marker", st.name)
			}
		default:
			if h.SequenceNumber-first.SequenceNumber != st.seq0 || h.Timestamp-first.Timestamp != st.ts-steps[0].ts {
				t.Errorf("%s: seq +%d ts +%d, want +%d and +%d", st.name, h.SequenceNumber-first.SequenceNumber,
					h.Timestamp-first.Timestamp, st.seq0, st.ts-steps[0].ts)
			}
			if h.Marker != st.marker {
				t.Errorf("%s: marker %v", st.name, h.Marker)
			}
		}
		if int16(h.SequenceNumber-prev.SequenceNumber) > 0 || i == 1 {
			prev = h
		}
	}
}

// TestBridgeContinuity follows the caller's outgoing stream through a prompt, the
// bridge, a pause with nothing to forward, the unbridge and another prompt: one
// SSRC, sequence numbers by one, timestamps increasing and counting the pause,
// markers at each switch, and no silence from the pacer while bridged.
func TestBridgeContinuity(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	const pause = 200 * time.Millisecond
	agent := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	ctx := ctxTimeout(t, 5*time.Second)
	startPair(t, ctx, agent, caller)

	prompt := &frames{n: -1, b: 0x11}
	played := make(chan error, 1)
	go func() { played <- caller.s.Play(ctx, prompt) }()
	waitUntil(t, "prompt", func() bool { return prompt.Calls() >= 3 })
	br, err := media.Bridge(agent.s, caller.s)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-played; !errors.Is(err, media.ErrPlayPreempted) {
		t.Errorf("Play across Bridge = %v, want ErrPlayPreempted", err)
	}
	n := caller.peer.Count()
	if err := agent.peer.Stream(ctx, &frames{n: 10, b: 0x22}); err != nil {
		t.Fatal(err)
	}
	if err := caller.peer.WaitFor(ctx, n+10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause) // bridged with nothing to forward: nothing goes out
	br.Close()
	if err := caller.s.Play(ctx, &frames{n: 5, b: 0x33}); err != nil {
		t.Fatal(err)
	}
	n = caller.peer.Count()
	if err := caller.peer.WaitFor(ctx, n+2); err != nil {
		t.Fatal(err)
	}

	pkts := caller.peer.Packets()
	runs := map[byte][2]int{} // fill byte: first and last index
	for i, p := range pkts {
		fb := fillByte(p)
		r, ok := runs[fb]
		if !ok {
			r[0] = i
		}
		r[1] = i
		runs[fb] = r
		if i == 0 {
			continue
		}
		q := pkts[i-1].Header
		h := p.Header
		if h.SSRC != q.SSRC || h.SequenceNumber != q.SequenceNumber+1 || int32(h.Timestamp-q.Timestamp) <= 0 {
			t.Fatalf("packet %d (%#x after %#x): ssrc %x seq %d ts %d after ssrc %x seq %d ts %d", i, fb, fillByte(pkts[i-1]),
				h.SSRC, h.SequenceNumber, h.Timestamp, q.SSRC, q.SequenceNumber, q.Timestamp)
		}
	}
	fwd, ok := runs[0x22]
	if !ok || fwd[1]-fwd[0] != 9 {
		t.Fatalf("forwarded run %v, want 10 packets in a row", fwd)
	}
	// Markers at each switch (the first packet, the prompt, the bridge, the
	// unbridge, the second prompt) and nowhere else, but where the pacer fell
	// behind and skipped frames.
	marked := map[int]bool{0: true, runs[0x11][0]: true, fwd[0]: true, fwd[1] + 1: true, runs[0x33][0]: true}
	for i := 1; i < len(pkts); i++ {
		h, q := pkts[i].Header, pkts[i-1].Header
		if h.Marker != marked[i] && (marked[i] || h.Timestamp-q.Timestamp == 160) {
			t.Errorf("packet %d (%#x after %#x): marker %v", i, fillByte(pkts[i]), fillByte(pkts[i-1]), h.Marker)
		}
	}
	if fillByte(pkts[fwd[0]-1]) != 0x11 {
		t.Errorf("packet before the first forwarded one is %#x, want the prompt's last", fillByte(pkts[fwd[0]-1]))
	}
	if _, ok := runs[0x33]; !ok || runs[0x33][0] <= fwd[1] {
		t.Errorf("second prompt %v not after the bridge %v", runs[0x33], fwd)
	}
	// After the unbridge the timestamp accounts for the pause.
	last, next := pkts[fwd[1]].Header, pkts[fwd[1]+1].Header
	gap := time.Duration(next.Timestamp-last.Timestamp) * time.Second / 8000
	if gap < pause-40*time.Millisecond || gap > pause+time.Second {
		t.Errorf("timestamp advanced %v over a pause of at least %v", gap, pause)
	}
	if !next.Marker {
		t.Error("no marker on the first packet after the unbridge")
	}
}

func TestBridgeEndsWhenASessionEnds(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	tests := []struct {
		name    string
		timeout time.Duration
	}{
		{name: "hang-up"},
		{name: "rtp timeout", timeout: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each subtest has its own sessions and peers
			agent := newBridgeLeg(t, media.PCMU, 101, nil, func(c *media.SessionConfig) { c.Timeout = tt.timeout })
			caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
			ctx := ctxTimeout(t, 5*time.Second)
			startPair(t, ctx, agent, caller)
			br, err := media.Bridge(agent.s, caller.s)
			if err != nil {
				t.Fatal(err)
			}
			last := settle(t, caller.peer)
			if tt.timeout == 0 {
				agent.s.Close()
			}
			select {
			case <-br.Done():
			case <-ctx.Done():
				t.Fatal("bridge did not end with the agent's session")
			}
			if tt.timeout > 0 && !errors.Is(agent.s.Err(), media.ErrRTPTimeout) {
				t.Errorf("agent Err = %v", agent.s.Err())
			}
			// The caller keeps going: pacing again, continuing its stream.
			if err := caller.peer.WaitFor(ctx, 3); err != nil {
				t.Fatal(err)
			}
			select {
			case <-caller.s.Done():
				t.Fatal("caller's session ended with the agent's")
			default:
			}
			first := caller.peer.Packets()[0].Header
			if first.SSRC != last.Header.SSRC || first.SequenceNumber != last.Header.SequenceNumber+1 || !first.Marker {
				t.Errorf("after the bridge: ssrc %x seq %d marker %v, before: ssrc %x seq %d",
					first.SSRC, first.SequenceNumber, first.Marker, last.Header.SSRC, last.Header.SequenceNumber)
			}
			if err := br.Close(); err != nil {
				t.Errorf("Close after the end = %v", err)
			}
			// The caller can be bridged again (to the next agent).
			next := newBridgeLeg(t, media.PCMU, 101, nil, nil)
			next.s.Start()
			br2, err := media.Bridge(caller.s, next.s)
			if err != nil {
				t.Fatalf("Bridge to the next agent: %v", err)
			}
			br2.Close()
		})
	}
}

func TestBridgeHoldStopsForwarding(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	agent := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	ctx := ctxTimeout(t, 5*time.Second)
	startPair(t, ctx, agent, caller)
	br, err := media.Bridge(agent.s, caller.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	settle(t, caller.peer)
	if err := agent.peer.Stream(ctx, &frames{n: 3, b: 0x22}); err != nil {
		t.Fatal(err)
	}
	if err := caller.peer.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}

	// The caller's side holds (re-INVITE sendonly from the caller): nothing
	// forwarded toward it, and its pacer stays silent too.
	caller.s.Update(caller.peer.Addr(), media.PCMU, 101, false, true)
	if err := agent.peer.Stream(ctx, &frames{n: 5, b: 0x33}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "agent's audio received", func() bool { return agent.s.Stats().PacketsIn == 8 })
	quiet(t, caller.peer, 3, "on hold")

	caller.s.Update(caller.peer.Addr(), media.PCMU, 101, true, true)
	if err := agent.peer.Stream(ctx, &frames{n: 4, b: 0x44}); err != nil {
		t.Fatal(err)
	}
	if err := caller.peer.WaitFor(ctx, 7); err != nil {
		t.Fatal(err)
	}
	quiet(t, caller.peer, 7, "resumed")
	pkts := caller.peer.Packets()
	for i, p := range pkts {
		want := byte(0x22)
		if i >= 3 {
			want = 0x44
		}
		if fillByte(p) != want {
			t.Errorf("packet %d: %#x, want %#x", i, fillByte(p), want)
		}
		if i > 0 && p.Header.SequenceNumber != pkts[i-1].Header.SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d", i, p.Header.SequenceNumber, pkts[i-1].Header.SequenceNumber)
		}
		if p.Header.Marker != (i == 0 || i == 3) {
			t.Errorf("packet %d: marker %v", i, p.Header.Marker)
		}
	}
	if d := time.Duration(pkts[3].Header.Timestamp-pkts[2].Header.Timestamp) * time.Second / 8000; d < 100*time.Millisecond {
		t.Errorf("timestamp advanced %v over a hold of about 100ms", d)
	}
}

// TestBridgePlayTakesPrecedence: while the agent holds, the engine plays hold
// audio to the caller over the bridge; the agent's audio resumes after it.
func TestBridgePlayTakesPrecedence(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	agent := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	ctx := ctxTimeout(t, 5*time.Second)
	startPair(t, ctx, agent, caller)
	br, err := media.Bridge(agent.s, caller.s)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	settle(t, caller.peer)

	talk, stop := context.WithCancel(ctx)
	streamed := make(chan error, 1)
	go func() { streamed <- agent.peer.Stream(talk, &frames{n: -1, b: 0x22}) }()
	if err := caller.peer.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := caller.s.Play(ctx, &frames{n: 5, b: 0x77}); err != nil {
		t.Fatal(err)
	}
	n := caller.peer.Count()
	if err := caller.peer.WaitFor(ctx, n+3); err != nil {
		t.Fatal(err)
	}
	stop()
	<-streamed

	pkts := caller.peer.Packets()
	first, last, count := -1, -1, 0
	for i, p := range pkts {
		switch fillByte(p) {
		case 0x77:
			if first < 0 {
				first = i
			}
			last = i
			count++
		case 0x22:
		default:
			t.Errorf("packet %d: %#x, neither forwarded nor the hold audio", i, fillByte(p))
		}
		if i > 0 && p.Header.SequenceNumber != pkts[i-1].Header.SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d", i, p.Header.SequenceNumber, pkts[i-1].Header.SequenceNumber)
		}
		if i > 0 && int32(p.Header.Timestamp-pkts[i-1].Header.Timestamp) <= 0 {
			t.Errorf("packet %d: ts %d after %d", i, p.Header.Timestamp, pkts[i-1].Header.Timestamp)
		}
	}
	if count != 5 || last-first != 4 {
		t.Fatalf("hold audio: %d packets from %d to %d, want 5 in a row", count, first, last)
	}
	if first == 0 || !pkts[first].Header.Marker || !pkts[last+1].Header.Marker {
		t.Errorf("markers: hold audio %v, forwarding after it %v", pkts[first].Header.Marker, pkts[last+1].Header.Marker)
	}
}

func TestBridgeErrors(t *testing.T) {
	t.Parallel() // sleep-bound: overlaps with the other bridge tests
	a := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	b := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	c := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	closed := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	closed.s.Close()
	pkt := &media.Packet{Header: &rtp.Header{SSRC: 1}, Payload: make([]byte, 160), Codec: media.PCMU}
	if err := a.s.WritePacket(pkt); !errors.Is(err, media.ErrNotBridged) {
		t.Errorf("WritePacket outside a bridge = %v", err)
	}
	br, err := media.Bridge(a.s, b.s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		x, y *media.Session
		want error
	}{
		{name: "self", x: c.s, y: c.s, want: media.ErrBridgeSelf},
		{name: "first already bridged", x: a.s, y: c.s, want: media.ErrAlreadyBridged},
		{name: "second already bridged", x: c.s, y: b.s, want: media.ErrAlreadyBridged},
		{name: "first closed", x: closed.s, y: c.s, want: media.ErrSessionClosed},
		{name: "second closed", x: c.s, y: closed.s, want: media.ErrSessionClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := media.Bridge(tt.x, tt.y); !errors.Is(err, tt.want) || got != nil {
				t.Errorf("Bridge = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	// A failed Bridge left c free.
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	select {
	case <-br.Done():
	default:
		t.Error("Done not closed after Close")
	}
	br2, err := media.Bridge(c.s, a.s)
	if err != nil {
		t.Fatalf("Bridge after the failures: %v", err)
	}
	br2.Close()
	if err := c.s.WritePacket(pkt); !errors.Is(err, media.ErrNotBridged) {
		t.Errorf("WritePacket after the bridge = %v", err)
	}
}
