package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// newUAC makes a Go test UAC calling e, closed in t.Cleanup.
func newUAC(t *testing.T, e *engine, o siptest.Options) *siptest.UAC {
	t.Helper()
	var u *siptest.UAC
	var err error
	if e.ns != nil { // its socket in the engine's namespace
		err = e.ns.do(func() error { u, err = siptest.New(e.sip, o); return err })
	} else {
		u, err = siptest.New(e.sip, o)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// newPeer makes an RTP peer on 127.0.0.1, closed in t.Cleanup.
func newPeer(t *testing.T, codec media.Codec, dtmfPT uint8) *mediatest.Peer {
	t.Helper()
	p, err := mediatest.NewPeer(codec, dtmfPT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial places a call to 12345 from peer with the given codecs (in that order) and
// telephone-event 101, and points the peer at the engine's RTP address.
func dial(ctx context.Context, t *testing.T, u *siptest.UAC, peer *mediatest.Peer, codecs ...media.Codec) *siptest.Call {
	t.Helper()
	c, err := u.Invite(ctx, "12345", siptest.Offer(peer.Addr(), 1, "", 101, codecs...))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	remote, err := c.RemoteMedia()
	if err != nil {
		t.Fatalf("the answer: %v\n%s", err, c.Answer)
	}
	peer.SetRemote(remote)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Hangup(ctx)
	})
	return c
}

// TestUACMedia checks the RTP a caller receives: PCMA when offered first, about 50
// packets a second, one SSRC, continuous sequence numbers and timestamps (+160 per
// packet) across the welcome prompt (cut short by a digit), the desk prompts and
// the hold audio, the marker bit on the first packet; nothing while the caller holds
// (a=sendonly, answered a=recvonly), and the same stream after the resume. Packets
// from a foreign source are dropped and counted, and that source is sent nothing.
func TestUACMedia(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	u := newUAC(t, e, siptest.Options{})
	peer := newPeer(t, media.PCMA, 101)
	call := dial(ctx, t, u, peer, media.PCMA, media.PCMU)

	ans, err := media.ParseSDP(call.Answer)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Formats) == 0 || ans.Formats[0].PayloadType != media.PCMA.PayloadType {
		t.Fatalf("the answer does not put PCMA first:\n%s", call.Answer)
	}
	engineRTP, _ := call.RemoteMedia()

	// The caller sends audio (so the engine latches on it), presses 2 in the welcome
	// prompt, and goes on sending silence.
	sendCtx, stopSending := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() {
		if err := peer.Stream(sendCtx, media.Silence(300*time.Millisecond)); err != nil {
			sent <- err
			return
		}
		if err := peer.SendDigit(sendCtx, '2', 100*time.Millisecond); err != nil {
			sent <- err
			return
		}
		sent <- peer.Stream(sendCtx, media.Silence(time.Minute))
	}()
	defer func() {
		stopSending()
		<-sent
	}()

	// A foreign source sends 20 packets to the engine's RTP port after the engine
	// has latched on the caller: all dropped, none answered.
	if err := peer.WaitFor(ctx, 10); err != nil {
		t.Fatal(err)
	}
	foreign := newPeer(t, media.PCMA, 0)
	foreign.SetRemote(engineRTP)
	for i := range 20 {
		h := rtp.Header{PayloadType: 8, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 0xf0f0f0f0}
		if err := foreign.SendRTP(h, make([]byte, 160)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The menu routes the call after "connecting" and the desk prompt; then the hold
	// audio plays. Look at 1.5 s of it too.
	e.onlyCall("routed", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	time.Sleep(1500 * time.Millisecond)

	if got := e.metric("hotline_rtp_packets_dropped_total", `reason="foreign_source"`); got != 20 {
		t.Errorf(`hotline_rtp_packets_dropped_total{reason="foreign_source"} = %v, want 20`, got)
	}
	if n := foreign.Count(); n != 0 {
		t.Errorf("the foreign source received %d packets, want none", n)
	}

	pkts := peer.Packets()
	checkStream(t, pkts, engineRTP, media.PCMA.PayloadType)
	if !pkts[0].Header.Marker {
		t.Errorf("the first packet has no marker bit")
	}
	// The rate, over 2 s in the middle of the call (the desk prompts).
	from := pkts[0].At.Add(3 * time.Second)
	n := 0
	for _, p := range pkts {
		if !p.At.Before(from) && p.At.Before(from.Add(2*time.Second)) {
			n++
		}
	}
	if n < 90 || n > 110 {
		t.Errorf("%d packets in 2 s, want about 100 (45-55 per second)", n)
	}

	// Hold: the caller sends a=sendonly; the answer is a=recvonly and the engine
	// stops sending.
	res, err := call.Reinvite(ctx, siptest.Offer(peer.Addr(), 2, "sendonly", 101, media.PCMA))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("hold re-INVITE: %v %v", res, err)
	}
	if body := string(res.Body()); !strings.Contains(body, "a=recvonly") {
		t.Errorf("the answer to a=sendonly is not a=recvonly:\n%s", body)
	}
	e.waitCall("held", 5*time.Second, func(c store.CallRecord) bool { return c.Held && c.State == store.StateRouted })
	time.Sleep(200 * time.Millisecond) // packets already on their way
	before := peer.Count()
	time.Sleep(time.Second)
	if got := peer.Count() - before; got > 0 {
		t.Errorf("the engine sent %d packets while the caller held", got)
	}

	// Resume: sendrecv again; the same stream goes on.
	res, err = call.Reinvite(ctx, siptest.Offer(peer.Addr(), 3, "sendrecv", 101, media.PCMA))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("resume re-INVITE: %v %v", res, err)
	}
	for _, a := range []string{"a=recvonly", "a=sendonly", "a=inactive"} {
		if strings.Contains(string(res.Body()), a) {
			t.Errorf("the answer to the resume says %s:\n%s", a, res.Body())
		}
	}
	e.waitCall("resumed", 5*time.Second, func(c store.CallRecord) bool { return !c.Held && c.State == store.StateRouted })
	if err := peer.WaitFor(ctx, before+25); err != nil {
		t.Fatalf("no audio after the resume: %v", err)
	}
	all := peer.Packets()
	checkStream(t, all, engineRTP, media.PCMA.PayloadType)
	if first := all[before]; !first.Header.Marker {
		t.Errorf("the first packet after the hold has no marker bit (a new talk spurt)")
	}

	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	checkCallerHungUp(t, e.waitCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded }))
}

// checkStream checks packets form one continuous RTP stream from the engine: source
// from, payload type pt, one SSRC, sequence numbers +1 each, timestamps +160 each
// (more after a pause only when the packet opens a new talk spurt: marker set).
func checkStream(t *testing.T, pkts []mediatest.Packet, from netip.AddrPort, pt uint8) {
	t.Helper()
	if len(pkts) < 2 {
		t.Fatalf("only %d packets received", len(pkts))
	}
	bad := 0
	report := func(format string, a ...any) {
		if bad++; bad <= 5 {
			t.Errorf(format, a...)
		}
	}
	for i, p := range pkts {
		h := p.Header
		if p.From != from {
			report("packet %d from %v, want %v", i, p.From, from)
		}
		if h.PayloadType != pt || len(p.Payload) != 160 {
			report("packet %d: payload type %d, %d bytes; want %d, 160 bytes", i, h.PayloadType, len(p.Payload), pt)
		}
		if i == 0 {
			continue
		}
		prev := pkts[i-1].Header
		if h.SSRC != prev.SSRC {
			report("packet %d: SSRC changed %08x -> %08x", i, prev.SSRC, h.SSRC)
		}
		if h.SequenceNumber != prev.SequenceNumber+1 {
			report("packet %d: sequence number %d after %d", i, h.SequenceNumber, prev.SequenceNumber)
		}
		d := h.Timestamp - prev.Timestamp
		if d != 160 && (!h.Marker || d == 0 || d%160 != 0) {
			report("packet %d: timestamp +%d (marker %v), want +160", i, d, h.Marker)
		}
	}
	if bad > 5 {
		t.Errorf("... %d problems in all, in %d packets", bad, len(pkts))
	}
}

// TestUACDigestSHA256: a trunk that accepts only SHA-256 digests (RFC 8760); SIPp
// 3.6.1 speaks only MD5, so the Go UAC (sipgo's digest client) covers it.
func TestUACDigestSHA256(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: `
sip:
  trunks:
    - {name: carrier, username: user, password: secret, algorithms: [SHA-256]}
`})

	wrong := newUAC(t, e, siptest.Options{Username: "user", Password: "wrong"})
	_, err := wrong.Invite(ctx, "12345", siptest.Offer(netip.MustParseAddrPort("127.0.0.1:4000"), 1, "", 101, media.PCMU))
	if siptest.StatusCode(err) != 401 {
		t.Errorf("wrong password: %v, want 401", err)
	}
	expectNoCalls(t, e)

	u := newUAC(t, e, siptest.Options{Username: "user", Password: "secret"})
	peer := newPeer(t, media.PCMU, 101)
	call := dial(ctx, t, u, peer, media.PCMU)
	if len(call.Responses) == 0 || call.Responses[0] != 401 {
		t.Errorf("responses %v: want a 401 challenge first", call.Responses)
	}
	c := e.onlyCall("in the menu", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateIVR })
	if c.Trunk != "carrier" {
		t.Errorf("trunk = %q, want carrier", c.Trunk)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	checkCallerHungUp(t, e.waitCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded }))
}

// TestMalformedRequests: a garbage datagram and a broken INVITE over raw UDP; the
// INVITE gets 400, and the engine goes on serving a normal call.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(e.sip))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	if _, err := conn.Write([]byte("\x00\x01\x02 this is not SIP at all \xff\xfe\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// No Call-ID, a CSeq that is not a number.
	broken := "INVITE sip:12345@" + e.sip.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-broken-1;rport\r\n" +
		"From: <sip:13800138000@127.0.0.1>;tag=b1\r\n" +
		"To: <sip:12345@127.0.0.1>\r\n" +
		"CSeq: one INVITE\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(broken)); err != nil {
		t.Fatal(err)
	}
	// The garbage may be answered too (400, without a Via to name): read until the
	// response to the INVITE, the one with its branch.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no response to the broken INVITE: %v", err)
		}
		got := string(buf[:n])
		if !strings.Contains(got, "z9hG4bK-broken-1") {
			continue
		}
		if !strings.HasPrefix(got, "SIP/2.0 400 ") {
			t.Errorf("response to the broken INVITE:\n%s\nwant 400", got)
		}
		break
	}
	if got := e.metric("hotline_sip_malformed_total"); got < 2 {
		t.Errorf("hotline_sip_malformed_total = %v, want 2", got)
	}

	u := newUAC(t, e, siptest.Options{})
	peer := newPeer(t, media.PCMU, 101)
	call := dial(ctx, t, u, peer, media.PCMU)
	if err := peer.WaitFor(ctx, 25); err != nil {
		t.Fatalf("no prompt audio on the call after the malformed requests: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	checkCallerHungUp(t, e.onlyCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded }))
}
