package media_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

const dtmfPT = 101

var loopback = netip.MustParseAddr("127.0.0.1")

// frames is a Source of n full packets filled with b. It counts its Next calls.
type frames struct {
	mu    sync.Mutex
	n     int // -1: endless
	b     byte
	calls int
}

func (f *frames) Next(_ media.Codec, dst []byte) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.n == 0 {
		return 0, false
	}
	if f.n > 0 {
		f.n--
	}
	for i := range dst {
		dst[i] = f.b
	}
	return len(dst), true
}

func (f *frames) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// rig is a session on a port-0 pool plus a test peer named in its SDP.
type rig struct {
	pool    *media.PortPool
	s       *media.Session
	peer    *mediatest.Peer
	metrics *media.Metrics
	reg     *prometheus.Registry
}

func newPeer(t *testing.T) *mediatest.Peer {
	t.Helper()
	p, err := mediatest.NewPeer(media.PCMU, dtmfPT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newRig starts a session whose SDP names a fresh peer (unless cfg.Remote is set
// to something else by edit) and points the peer at the session.
func newRig(t *testing.T, edit func(*media.SessionConfig, *mediatest.Peer)) *rig {
	t.Helper()
	pool, err := media.NewPortPool(loopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Listen()
	if err != nil {
		t.Fatal(err)
	}
	peer := newPeer(t)
	reg := prometheus.NewRegistry()
	m := media.NewMetrics(reg)
	cfg := media.SessionConfig{Codec: media.PCMU, DTMF: dtmfPT, Remote: peer.Addr(), Metrics: m}
	if edit != nil {
		edit(&cfg, peer)
	}
	s := media.NewSession(conn, pool, cfg)
	t.Cleanup(func() { s.Close() })
	peer.SetRemote(s.LocalAddr())
	return &rig{pool: pool, s: s, peer: peer, metrics: m, reg: reg}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond for up to 3 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkContinuous requires one SSRC, payload type pt, sequence numbers advancing
// by one between consecutive packets, and timestamps by one packet, except where
// the pacer fell behind and skipped frames (Stats.Skipped): there the timestamp
// advances by whole packets and the marker is set. It returns the frames skipped.
func checkContinuous(t *testing.T, pkts []mediatest.Packet, pt uint8) (skipped int) {
	t.Helper()
	for i, p := range pkts {
		if p.Header.PayloadType != pt {
			t.Fatalf("packet %d: payload type %d, want %d", i, p.Header.PayloadType, pt)
		}
		if len(p.Payload) != 160 {
			t.Fatalf("packet %d: %d payload bytes, want 160", i, len(p.Payload))
		}
		if i == 0 {
			continue
		}
		q := pkts[i-1]
		if p.Header.SSRC != q.Header.SSRC {
			t.Fatalf("packet %d: SSRC changed", i)
		}
		if p.Header.SequenceNumber != q.Header.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, p.Header.SequenceNumber, q.Header.SequenceNumber)
		}
		d := p.Header.Timestamp - q.Header.Timestamp
		if d == 0 || d%160 != 0 || d > 160 && !p.Header.Marker {
			t.Fatalf("packet %d: ts %d after %d (marker %v)", i, p.Header.Timestamp, q.Header.Timestamp, p.Header.Marker)
		}
		skipped += int(d/160) - 1
	}
	return skipped
}

func fillByte(p mediatest.Packet) byte {
	if len(p.Payload) == 0 {
		return 0
	}
	return p.Payload[0]
}

func TestSessionStreamAcrossPlays(t *testing.T) {
	r := newRig(t, nil)
	r.s.Start()
	ctx := ctxTimeout(t, 5*time.Second)
	if err := r.peer.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}
	a, b := &frames{n: 5, b: 0x11}, &frames{n: 5, b: 0x22}
	if err := r.s.Play(ctx, a); err != nil {
		t.Fatalf("Play a: %v", err)
	}
	if err := r.s.Play(ctx, b); err != nil {
		t.Fatalf("Play b: %v", err)
	}
	n := r.peer.Count()
	if err := r.peer.WaitFor(ctx, n+5); err != nil {
		t.Fatal(err)
	}
	pkts := r.peer.Packets()
	if skipped := checkContinuous(t, pkts, media.PCMU.PayloadType); uint64(skipped) > r.s.Stats().Skipped {
		t.Errorf("timestamps skip %d frames, the pacer skipped %d", skipped, r.s.Stats().Skipped)
	}

	var got []byte // the run-length sequence of payload kinds
	for i, p := range pkts {
		if !bytes.Equal(p.Payload, bytes.Repeat(p.Payload[:1], len(p.Payload))) {
			t.Fatalf("packet %d: mixed payload", i)
		}
		fb := fillByte(p)
		if len(got) == 0 || got[len(got)-1] != fb {
			got = append(got, fb)
		}
		newSpurt := i == 0 || (fb != 0xFF && fillByte(pkts[i-1]) == 0xFF) ||
			p.Header.Timestamp-pkts[i-1].Header.Timestamp > 160 // after frames skipped under load
		if p.Header.Marker != newSpurt {
			t.Errorf("packet %d (%#x after %#x): marker %v", i, fb, fillByte(pkts[max(i-1, 0)]), p.Header.Marker)
		}
	}
	// Silence, clip a, maybe silence between, clip b, silence.
	if !slices.Equal(got, []byte{0xFF, 0x11, 0x22, 0xFF}) && !slices.Equal(got, []byte{0xFF, 0x11, 0xFF, 0x22, 0xFF}) {
		t.Errorf("payload runs %x", got)
	}
	for _, kind := range []byte{0x11, 0x22} {
		c := 0
		for _, p := range pkts {
			if fillByte(p) == kind {
				c++
			}
		}
		if c != 5 {
			t.Errorf("%d packets of %#x, want 5", c, kind)
		}
	}
	// About 50 packets/s: the median gap between arrivals is near 20 ms (broad
	// bounds: this is a pacing smoke check, not a timing benchmark).
	var gaps []time.Duration
	for i := 1; i < len(pkts); i++ {
		gaps = append(gaps, pkts[i].At.Sub(pkts[i-1].At))
	}
	slices.Sort(gaps)
	if med := gaps[len(gaps)/2]; med < 10*time.Millisecond || med > 40*time.Millisecond {
		t.Errorf("median inter-arrival %v, want about 20ms", med)
	}
	// The counters move just after the send returns, so the peer may be ahead.
	waitUntil(t, "send counters", func() bool { return r.s.Stats().PacketsOut >= uint64(len(pkts)) })
	if st := r.s.Stats(); st.PacketsOut < uint64(len(pkts)) || st.BytesOut < uint64(len(pkts)*172) {
		t.Errorf("stats %+v, peer saw %d packets", st, len(pkts))
	}
	if got := metric(t, r, "hotline_rtp_packets_sent_total"); got < float64(len(pkts)) {
		t.Errorf("sent metric %v < %d", got, len(pkts))
	}
}

// metric sums the values of the counters named name on r's registry whose labels
// include the given name, value pairs.
func metric(t *testing.T, r *rig, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue metrics
				}
			}
			v += m.GetCounter().GetValue()
		}
	}
	return v
}

func TestSessionLatching(t *testing.T) {
	tests := []struct {
		name      string
		latch     media.LatchMode
		sdpRemote bool // the SDP names the good peer
	}{
		{name: "sdp", latch: media.LatchSDP, sdpRemote: true},
		{name: "first behind NAT, SDP unknown", latch: media.LatchFirst},
		{name: "first with SDP address", latch: media.LatchFirst, sdpRemote: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(c *media.SessionConfig, _ *mediatest.Peer) {
				c.Latch = tt.latch
				if !tt.sdpRemote {
					c.Remote = netip.AddrPort{}
				}
			})
			good := r.peer
			intruder := newPeer(t)
			intruder.SetRemote(r.s.LocalAddr())
			r.s.Start()
			ctx := ctxTimeout(t, 5*time.Second)
			pkt := func(seq uint16) rtp.Header {
				return rtp.Header{PayloadType: 0, SequenceNumber: seq, SSRC: 1}
			}
			silence := bytes.Repeat([]byte{0xFF}, 160)

			if tt.latch == media.LatchSDP {
				// The intruder comes first and is refused although it is on the same host.
				for i := range 3 {
					if err := intruder.SendRTP(pkt(uint16(i)), silence); err != nil {
						t.Fatal(err)
					}
				}
				waitUntil(t, "3 foreign packets", func() bool { return r.s.Stats().Foreign == 3 })
				if src := r.s.Stats().Source; src.IsValid() {
					t.Fatalf("latched to %v", src)
				}
			}
			if !tt.sdpRemote {
				// Nowhere to send before a packet arrives.
				time.Sleep(60 * time.Millisecond)
				if r.s.Stats().PacketsOut != 0 || good.Count() != 0 || intruder.Count() != 0 {
					t.Fatalf("sent before latching: %+v", r.s.Stats())
				}
			}
			for i := range 3 {
				if err := good.SendRTP(pkt(uint16(100+i)), silence); err != nil {
					t.Fatal(err)
				}
			}
			waitUntil(t, "latch", func() bool { return r.s.Stats().Source == good.Addr() })
			foreignBefore := r.s.Stats().Foreign
			for i := range 5 {
				if err := intruder.SendRTP(pkt(uint16(200+i)), silence); err != nil {
					t.Fatal(err)
				}
			}
			waitUntil(t, "5 more foreign", func() bool { return r.s.Stats().Foreign == foreignBefore+5 })
			if err := good.WaitFor(ctx, 5); err != nil {
				t.Fatal(err)
			}
			if st := r.s.Stats(); st.PacketsIn != 3 || st.Source != good.Addr() {
				t.Errorf("stats %+v, want 3 packets in from %v", st, good.Addr())
			}
			if got := metric(t, r, "hotline_rtp_packets_dropped_total", "reason", "foreign_source"); got != float64(r.s.Stats().Foreign) {
				t.Errorf("foreign metric %v, stats %d", got, r.s.Stats().Foreign)
			}
			r.s.Close()
			if n := intruder.Count(); n != 0 {
				t.Errorf("intruder received %d packets", n)
			}
			for _, p := range good.Packets() {
				if p.From != r.s.LocalAddr() {
					t.Errorf("packet from %v, want %v", p.From, r.s.LocalAddr())
				}
			}
		})
	}
}

func TestSessionRFC4733Digits(t *testing.T) {
	r := newRig(t, nil)
	r.s.Start()
	ctx := ctxTimeout(t, 5*time.Second)
	for _, key := range []byte("1#") {
		if err := r.peer.SendDigit(ctx, key, 60*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	var got []media.Digit
	for len(got) < 2 {
		select {
		case d := <-r.s.Digits():
			got = append(got, d)
		case <-ctx.Done():
			t.Fatalf("digits %v", got)
		}
	}
	select {
	case d := <-r.s.Digits():
		t.Errorf("extra digit %+v (end-packet retransmission reported again?)", d)
	case <-time.After(100 * time.Millisecond):
	}
	for i, key := range []byte("1#") {
		if got[i].Key != key || got[i].Via != event.ViaRFC4733 {
			t.Errorf("digit %d = %+v, want %q via %s", i, got[i], key, event.ViaRFC4733)
		}
	}
	if v := metric(t, r, "hotline_dtmf_events_total", "via", event.ViaRFC4733); v != 2 {
		t.Errorf("dtmf metric = %v, want 2", v)
	}
	// 2 digits x (2 updates + 3 end packets), all accepted, none lost.
	if st := r.s.Stats(); st.PacketsIn != 10 || st.Lost != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSessionDigitsOverflowAreCounted(t *testing.T) {
	r := newRig(t, nil)
	r.s.Start()
	payload := make([]byte, media.EventSize)
	for i := range 40 { // 40 distinct key presses, nobody reads Digits
		if _, err := media.EncodeEvent(payload, '5', true, 10, 160); err != nil {
			t.Fatal(err)
		}
		h := rtp.Header{PayloadType: dtmfPT, SequenceNumber: uint16(i), Timestamp: uint32(i) * 800, SSRC: 9}
		if err := r.peer.SendRTP(h, payload); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "40 packets", func() bool { return r.s.Stats().PacketsIn == 40 })
	if st := r.s.Stats(); st.DigitsDropped != 8 || len(r.s.Digits()) != 32 {
		t.Errorf("dropped %d, buffered %d; want 8 and 32", st.DigitsDropped, len(r.s.Digits()))
	}
}

func TestSessionDropsWrongPayloadAndMalformed(t *testing.T) {
	r := newRig(t, nil)
	r.s.Start()
	silence := bytes.Repeat([]byte{0xD5}, 160)
	if err := r.peer.SendRTP(rtp.Header{PayloadType: 8, SSRC: 1}, silence); err != nil { // PCMA on a PCMU leg
		t.Fatal(err)
	}
	if err := r.peer.SendRaw([]byte{0x80, 0, 1}); err != nil { // too short
		t.Fatal(err)
	}
	if err := r.peer.SendRaw(bytes.Repeat([]byte{0x40}, 20)); err != nil { // RTP version 1
		t.Fatal(err)
	}
	if err := r.peer.SendRTP(rtp.Header{PayloadType: dtmfPT, SSRC: 1, SequenceNumber: 1}, []byte{1}); err != nil { // short event
		t.Fatal(err)
	}
	waitUntil(t, "drops", func() bool {
		st := r.s.Stats()
		return st.WrongPayload == 1 && st.Malformed == 3
	})
	if got := metric(t, r, "hotline_rtp_packets_dropped_total", "reason", "wrong_payload"); got != 1 {
		t.Errorf("wrong_payload metric = %v", got)
	}
	if got := metric(t, r, "hotline_rtp_packets_dropped_total", "reason", "malformed"); got != 3 {
		t.Errorf("malformed metric = %v", got)
	}
}

func TestSessionLossFromSequenceGap(t *testing.T) {
	r := newRig(t, nil)
	r.s.Start()
	payload := bytes.Repeat([]byte{0xFF}, 160)
	var seqs []int // 0-59 without 10-12 (the deliberate gap), 31 before 30 (reordered)
	for seq := range 60 {
		switch {
		case seq >= 10 && seq <= 12:
		case seq == 30:
			seqs = append(seqs, 31, 30)
		case seq == 31:
		default:
			seqs = append(seqs, seq)
		}
	}
	for _, seq := range seqs { // starting near 65535: the count survives the wrap
		h := rtp.Header{PayloadType: 0, SequenceNumber: uint16(65530 + seq), Timestamp: uint32(seq * 160), SSRC: 3}
		if err := r.peer.SendRTP(h, payload); err != nil {
			t.Fatal(err)
		}
	}
	sent := len(seqs)
	waitUntil(t, "all packets", func() bool { return r.s.Stats().PacketsIn == uint64(sent) })
	r.s.Close()
	st := r.s.Stats()
	if st.Lost != 3 || st.Late != 1 {
		t.Errorf("lost %d late %d, want 3 and 1", st.Lost, st.Late)
	}
	if got := metric(t, r, "hotline_rtp_packets_lost_total"); got != 3 {
		t.Errorf("lost metric = %v", got)
	}
	if got := metric(t, r, "hotline_rtp_packets_received_total"); got != float64(sent) {
		t.Errorf("received metric = %v, want %d", got, sent)
	}
}

func TestSessionTimeout(t *testing.T) {
	r := newRig(t, func(c *media.SessionConfig, _ *mediatest.Peer) { c.Timeout = 250 * time.Millisecond })
	r.s.Start()
	ctx := ctxTimeout(t, 5*time.Second)
	// 600 ms of audio from the peer keeps the session alive past its timeout.
	if err := r.peer.Stream(ctx, &frames{n: 30, b: 0xFF}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.s.Done():
		t.Fatal("session ended while RTP was flowing")
	default:
	}
	select {
	case <-r.s.Done():
	case <-ctx.Done():
		t.Fatal("session did not time out")
	}
	if !errors.Is(r.s.Err(), media.ErrRTPTimeout) {
		t.Errorf("Err = %v, want ErrRTPTimeout", r.s.Err())
	}
	if n := r.pool.InUse(); n != 0 {
		t.Errorf("pool InUse = %d after timeout", n)
	}
	if err := r.s.Play(ctx, &frames{n: 1}); !errors.Is(err, media.ErrSessionClosed) {
		t.Errorf("Play after timeout = %v", err)
	}
}

func TestSessionHold(t *testing.T) {
	const timeout = 300 * time.Millisecond
	r := newRig(t, func(c *media.SessionConfig, _ *mediatest.Peer) { c.Timeout = timeout })
	r.s.Start()
	ctx := ctxTimeout(t, 5*time.Second)
	if err := r.peer.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}
	holdAt := time.Now()
	r.s.Update(r.peer.Addr(), media.PCMU, dtmfPT, false, false)
	time.Sleep(40 * time.Millisecond) // a packet may be in flight
	before := r.peer.Count()
	time.Sleep(2 * timeout) // longer than the timeout: paused while on hold
	if n := r.peer.Count(); n != before {
		t.Errorf("%d packets sent on hold", n-before)
	}
	select {
	case <-r.s.Done():
		t.Fatalf("session ended on hold: %v", r.s.Err())
	default:
	}
	// Resume: sequence numbers continue, the timestamp jumped by the time on hold,
	// the first packet is a new talk spurt.
	r.s.Update(r.peer.Addr(), media.PCMU, dtmfPT, true, true)
	resumeAt := time.Now()
	if err := r.peer.WaitFor(ctx, before+2); err != nil {
		t.Fatal(err)
	}
	pkts := r.peer.Packets()
	last, first := pkts[before-1].Header, pkts[before].Header
	if first.SequenceNumber != last.SequenceNumber+1 {
		t.Errorf("seq %d after %d", first.SequenceNumber, last.SequenceNumber)
	}
	held := resumeAt.Sub(holdAt) - 2*media.DefaultPTime // lower bound of what the timestamps must show
	if d := first.Timestamp - last.Timestamp; time.Duration(d)*time.Second/8000 < held {
		t.Errorf("timestamp advanced %d (%v) over a hold of at least %v", d, time.Duration(d)*time.Second/8000, held)
	}
	second := pkts[before+1].Header
	if !first.Marker || second.Marker && second.Timestamp-first.Timestamp == 160 {
		t.Errorf("markers after resume: %v %v, want true false", first.Marker, second.Marker)
	}
	// The timeout runs again from the resume: no RTP comes, so the session ends.
	select {
	case <-r.s.Done():
	case <-ctx.Done():
		t.Fatal("no timeout after resume")
	}
	if !errors.Is(r.s.Err(), media.ErrRTPTimeout) {
		t.Errorf("Err = %v", r.s.Err())
	}
}

func TestSessionPlayCancel(t *testing.T) {
	r := newRig(t, nil)
	r.s.Start()
	src := &frames{n: -1, b: 0x33}
	errStop := errors.New("caller pressed a key")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.s.Play(ctx, src) }()
	waitUntil(t, "audio", func() bool { return src.Calls() >= 3 })
	cancel(errStop)
	if err := <-done; !errors.Is(err, errStop) {
		t.Fatalf("Play = %v, want the cause", err)
	}
	calls := src.Calls()
	time.Sleep(60 * time.Millisecond)
	if src.Calls() != calls {
		t.Errorf("source used after Play returned")
	}
	// A second Play preempts a running one.
	first := &frames{n: -1, b: 0x44}
	done1 := make(chan error, 1)
	go func() { done1 <- r.s.Play(context.Background(), first) }()
	waitUntil(t, "first play", func() bool { return first.Calls() >= 1 })
	if err := r.s.Play(context.Background(), &frames{n: 2, b: 0x55}); err != nil {
		t.Fatal(err)
	}
	if err := <-done1; !errors.Is(err, media.ErrPlayPreempted) {
		t.Errorf("preempted Play = %v", err)
	}
	// Close ends a running Play.
	go func() { done1 <- r.s.Play(context.Background(), &frames{n: -1}) }()
	time.Sleep(30 * time.Millisecond)
	r.s.Close()
	if err := <-done1; !errors.Is(err, media.ErrSessionClosed) {
		t.Errorf("Play across Close = %v", err)
	}
}

func TestSessionTap(t *testing.T) {
	r := newRig(t, nil)
	var mu sync.Mutex
	var samples []int16
	r.s.Tap(func(pcm []int16) {
		mu.Lock()
		samples = append(samples, pcm...)
		mu.Unlock()
	})
	r.s.Start()
	ctx := ctxTimeout(t, 5*time.Second)
	if err := r.peer.Stream(ctx, &frames{n: 3, b: 0x00}); err != nil { // u-law 0x00: loudest negative
		t.Fatal(err)
	}
	waitUntil(t, "tap", func() bool { mu.Lock(); defer mu.Unlock(); return len(samples) == 480 })
	r.s.Tap(nil)
	mu.Lock()
	if samples[0] >= -30000 {
		t.Errorf("sample %d, want u-law 0x00 decoded (about -32124)", samples[0])
	}
	mu.Unlock()
}

func TestSessionClose(t *testing.T) {
	r := newRig(t, nil)
	if r.pool.InUse() != 1 {
		t.Fatalf("InUse = %d", r.pool.InUse())
	}
	r.s.Start()
	ctx := ctxTimeout(t, 5*time.Second)
	if err := r.peer.WaitFor(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	select {
	case <-r.s.Done():
	default:
		t.Fatal("Done not closed")
	}
	if r.s.Err() != nil || r.pool.InUse() != 0 {
		t.Errorf("Err %v, InUse %d", r.s.Err(), r.pool.InUse())
	}
	time.Sleep(40 * time.Millisecond)
	n := r.peer.Count()
	time.Sleep(60 * time.Millisecond)
	if r.peer.Count() != n {
		t.Error("packets sent after Close")
	}
	r.s.Start() // after Close: nothing happens
}

func TestSessionCloseWithoutStart(t *testing.T) {
	r := newRig(t, nil)
	r.s.Close()
	<-r.s.Done()
	if r.pool.InUse() != 0 {
		t.Errorf("InUse = %d", r.pool.InUse())
	}
}

func TestSessionInbandDigits(t *testing.T) {
	tests := []struct {
		name   string
		inband bool
		want   string
	}{
		{name: "detector on", inband: true, want: "59"},
		{name: "detector off", inband: false, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(c *media.SessionConfig, _ *mediatest.Peer) {
				c.DTMF = 0 // a trunk without telephone-event
				c.Inband = tt.inband
			})
			r.s.Start()
			ctx := ctxTimeout(t, 5*time.Second)
			tone := func(k byte) media.Source {
				return media.NewClip(string(k), media.GenerateDTMF(k, 100*time.Millisecond, 0.3)).Source()
			}
			src := media.Sequence(media.Silence(40*time.Millisecond), tone('5'),
				media.Silence(80*time.Millisecond), tone('9'), media.Silence(60*time.Millisecond))
			if err := r.peer.Stream(ctx, src); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "all audio", func() bool { return r.s.Stats().PacketsIn >= 19 })
			var got []byte
		collect:
			for {
				select {
				case d := <-r.s.Digits():
					if d.Via != event.ViaInband {
						t.Errorf("digit %+v not via %s", d, event.ViaInband)
					}
					got = append(got, d.Key)
				case <-time.After(100 * time.Millisecond):
					break collect
				}
			}
			if string(got) != tt.want {
				t.Errorf("digits %q, want %q", got, tt.want)
			}
			if v := metric(t, r, "hotline_dtmf_events_total", "via", event.ViaInband); v != float64(len(tt.want)) {
				t.Errorf("inband metric %v", v)
			}
		})
	}
}
