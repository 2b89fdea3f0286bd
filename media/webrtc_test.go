package media_test

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

// agentPeer connects a mediatest.Browser to a WebRTC answerer on 127.0.0.1 and
// returns both, connected.
func agentPeer(t *testing.T, ctx context.Context, m *media.Metrics) (*media.WebRTC, *media.Peer, *mediatest.Browser, chan media.PeerState) {
	return agentPeerWith(t, ctx, media.WebRTCConfig{Listen: "127.0.0.1:0", Loopback: true, Metrics: m})
}

func agentPeerWith(t *testing.T, ctx context.Context, cfg media.WebRTCConfig) (*media.WebRTC, *media.Peer, *mediatest.Browser, chan media.PeerState) {
	t.Helper()
	w, err := media.NewWebRTC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	b, err := mediatest.NewBrowser()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	offer, err := b.Offer(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan media.PeerState, 16)
	p, answer, err := w.Accept(ctx, offer, nil, func(s media.PeerState) {
		select {
		case states <- s:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := b.Answer(answer); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, ctx, p, media.PeerConnected)
	return w, p, b, states
}

func waitState(t *testing.T, ctx context.Context, p *media.Peer, want media.PeerState) {
	t.Helper()
	for p.State() != want {
		select {
		case <-ctx.Done():
			t.Fatalf("peer state %v, want %v", p.State(), want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func sine(hz float64) *media.Clip {
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return media.NewClip("tone", pcm)
}

// waitTone waits until the packets received after since carry hz (share > 0.8 over
// at least n packets).
func waitTone(t *testing.T, ctx context.Context, what string, get func() []mediatest.Packet, hz float64, n int) {
	t.Helper()
	for {
		pk := get()
		audio := pk[:0:0]
		for _, p := range pk {
			if p.Header.PayloadType == 0 || p.Header.PayloadType == 8 {
				audio = append(audio, p)
			}
		}
		if len(audio) >= n {
			if share := mediatest.ToneShare(audio[len(audio)-n:], hz); share > 0.8 {
				return
			}
		}
		select {
		case <-ctx.Done():
			share := 0.0
			if len(audio) > 0 {
				share = mediatest.ToneShare(audio, hz)
			}
			t.Fatalf("%s: %d audio packets, share of %.0f Hz %.2f", what, len(audio), hz, share)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestPeerBridgedToSession: a caller's RTP session bridged into an agent's WebRTC
// connection carries a tone both ways, with the caller's PCMU payload untouched
// on the browser side and the browser's on the caller side; the caller's RFC 4733
// digit reaches the browser as a telephone-event with the negotiated payload type;
// SetSending(false) (hold) stops what reaches the browser; a PCMA caller's audio
// is converted to what the browser negotiated.
func TestPeerBridgedToSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	m := media.NewMetrics(reg)
	_, peer, browser, _ := agentPeer(t, ctx, m)
	caller := newBridgeLeg(t, media.PCMU, 101, m, nil)
	caller.s.Start()

	var tapped [2]atomic.Int64 // caller's audio, agent's audio
	caller.s.TapPackets(func(c media.Codec, _, _ uint32, p []byte) {
		if c == media.PCMU && len(p) == 160 {
			tapped[0].Add(1)
		}
	})
	peer.TapPackets(func(c media.Codec, _, _ uint32, p []byte) {
		if c == media.PCMU && len(p) == 160 {
			tapped[1].Add(1)
		}
	})
	br, err := media.Bridge(caller.s, peer)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	sctx, scancel := context.WithCancel(pctx)
	streamed := make(chan struct{})
	go func() { defer close(streamed); caller.peer.Stream(sctx, sine(1000).Loop()) }()
	go browser.Play(pctx, sine(440).Loop())

	waitTone(t, ctx, "caller's 1 kHz at the browser", func() []mediatest.Packet { return browser.Received(start) }, 1000, 25)
	waitTone(t, ctx, "browser's 440 Hz at the caller", caller.peer.Packets, 440, 25)
	if tapped[0].Load() < 25 || tapped[1].Load() < 25 {
		t.Fatalf("taps saw %d caller and %d agent packets", tapped[0].Load(), tapped[1].Load())
	}
	scancel()
	<-streamed

	// The caller's digit arrives as a telephone-event of the browser's payload type
	// (mediatest.Browser registers 126).
	if err := caller.peer.SendDigit(ctx, '5', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for ev := false; !ev; {
		for _, p := range browser.Received(start) {
			if p.Header.PayloadType == 126 && len(p.Payload) >= 4 && p.Payload[0] == 5 {
				ev = true
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("the caller's digit did not reach the browser")
		case <-time.After(20 * time.Millisecond):
		}
	}
	// One outgoing stream: one SSRC, sequence numbers without a gap.
	var ssrc uint32
	var last uint16
	for i, p := range browser.Received(start) {
		if i > 0 && (p.Header.SSRC != ssrc || p.Header.SequenceNumber != last+1) && p.Header.SequenceNumber-last > 3 {
			t.Fatalf("packet %d: ssrc %x seq %d after ssrc %x seq %d", i, p.Header.SSRC, p.Header.SequenceNumber, ssrc, last)
		}
		ssrc, last = p.Header.SSRC, p.Header.SequenceNumber
	}

	go caller.peer.Stream(pctx, sine(1000).Loop())
	// Hold: nothing more reaches the browser.
	peer.SetSending(false)
	time.Sleep(100 * time.Millisecond)
	held := time.Now()
	time.Sleep(300 * time.Millisecond)
	if n := len(browser.Received(held)); n > 0 {
		t.Fatalf("%d packets reached the browser on hold", n)
	}
	peer.SetSending(true)
	resumed := time.Now()
	waitTone(t, ctx, "after resume", func() []mediatest.Packet { return browser.Received(resumed) }, 1000, 10)
	br.Close()
	pcancel()

	st := peer.Stats()
	if st.PacketsIn == 0 || st.PacketsOut == 0 || st.Transcoded != 0 {
		t.Fatalf("peer stats %+v", st)
	}
	if got := testutil.ToFloat64(m.PeerGauge()); got != 1 {
		t.Fatalf("hotline_webrtc_peers = %v, want 1", got)
	}

	// A PCMA caller: the browser negotiated both laws, so the payload goes through
	// as A-law, untouched.
	pcma := newBridgeLeg(t, media.PCMA, 101, m, nil)
	pcma.s.Start()
	if _, err := media.Bridge(pcma.s, peer); err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	go pcma.peer.Stream(actx, sine(1000).Loop())
	at := time.Now()
	waitTone(t, ctx, "PCMA caller at the browser", func() []mediatest.Packet { return browser.Received(at) }, 1000, 25)
	for _, p := range browser.Received(at) {
		if p.Header.PayloadType == 0 {
			t.Fatal("an A-law caller's packet reached the browser as u-law")
		}
	}
	acancel()
	peer.Close()
	if got := testutil.ToFloat64(m.PeerGauge()); got != 0 {
		t.Fatalf("hotline_webrtc_peers = %v after Close, want 0", got)
	}
	select {
	case <-pcma.s.Done():
		t.Fatal("closing the agent's peer ended the caller's session")
	default:
	}
}

// TestPeerICERestart: the browser's ICE-restart offer is answered on the same Peer
// and media keeps flowing into it.
func TestPeerICERestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, peer, browser, _ := agentPeer(t, ctx, nil)
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	caller.s.Start()
	if _, err := media.Bridge(caller.s, peer); err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	go caller.peer.Stream(pctx, sine(1000).Loop())
	offer, err := browser.Offer(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := peer.Renegotiate(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := browser.Answer(answer); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	waitTone(t, ctx, "after the ICE restart", func() []mediatest.Packet { return browser.Received(after) }, 1000, 25)
}

// TestAcceptRefusesBadOffers: not SDP, and an offer with no G.711.
func TestAcceptRefusesBadOffers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := media.NewWebRTC(media.WebRTCConfig{Listen: "127.0.0.1:0", Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, offer := range []string{"", "hello", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=mid:0\r\na=sendrecv\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\n"} {
		if p, _, err := w.Accept(ctx, offer, nil, nil); err == nil {
			p.Close()
			t.Errorf("offer %.20q accepted", offer)
		}
	}
}

// TestPeerDropsAndComesBack: the browser's network goes away (its sockets send
// nothing): the Peer goes disconnected after the configured time; the network
// comes back and an ICE restart brings the Peer back to connected, with the
// bridge in place carrying audio again.
func TestPeerDropsAndComesBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, peer, browser, states := agentPeerWith(t, ctx, media.WebRTCConfig{Listen: "127.0.0.1:0", Loopback: true,
		Disconnected: 600 * time.Millisecond, Failed: 1500 * time.Millisecond})
	caller := newBridgeLeg(t, media.PCMU, 101, nil, nil)
	caller.s.Start()
	if _, err := media.Bridge(caller.s, peer); err != nil {
		t.Fatal(err)
	}
	browser.Pause(true)
	for down := false; !down; {
		select {
		case s := <-states:
			down = s == media.PeerDisconnected || s == media.PeerFailed
		case <-ctx.Done():
			t.Fatalf("the peer stayed %v while the browser sent nothing", peer.State())
		}
	}
	browser.Pause(false)
	offer, err := browser.Offer(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := peer.Renegotiate(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := browser.Answer(answer); err != nil {
		t.Fatal(err)
	}
	waitState(t, ctx, peer, media.PeerConnected)
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	go caller.peer.Stream(pctx, sine(1000).Loop())
	after := time.Now()
	waitTone(t, ctx, "audio after the network came back", func() []mediatest.Packet { return browser.Received(after) }, 1000, 25)
}
