package media

// Bridging: two legs joined so that what one receives goes out on the other
// (DESIGN.md "Media without transcoding").
//
// Forwarding happens on the reader goroutine of the leg that receives: after a
// packet is accepted (latched source, expected payload type, not a duplicate) the
// reader hands it to its PacketWriter, which for a Session renumbers it into the
// Session's own outgoing stream and sends it, all inline: no channel hop and no
// allocation per packet. Each outgoing stream stays one RTP stream (RFC 3550
// section 5.1) across the switches prompt -> bridged -> unbridged:
//
//   - one SSRC, the session's own, for paced and forwarded packets alike;
//   - at the first forwarded packet after a switch (bridge start, a Play or a
//     hold that suppressed forwarding, a new source SSRC, a source sequence jump)
//     the writer takes offsets: out = in + offset for sequence number and
//     timestamp, the sequence number continuing the stream and the timestamp
//     continuing it by the time elapsed since the last packet sent. That packet
//     carries the marker bit. Later packets keep the source's deltas, so a packet
//     lost before the bridge is still a gap in sequence and timestamp, and a
//     reordered packet is still reordered; a late packet older than the switch
//     is dropped (its number would fall inside the earlier part of the stream);
//   - when the pacer sends again (a Play while bridged, or after unbridging) its
//     timestamp continues from the last packet sent by the time elapsed since,
//     and its first packet carries the marker bit.
//
// While a session is in a bridge its pacer sends nothing of its own (no silence
// between forwarded packets); it still ticks, for the RTP timeout. A Play started
// while bridged takes precedence over forwarding into that session until it ends
// (the caller hears hold audio while the agent holds); a Play running when the
// bridge starts is ended (it returns ErrPlayPreempted). While a session does not
// send (Update with sends false: hold) nothing is forwarded into it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

var (
	// ErrBridgeSelf is returned by Bridge when asked to bridge a session to itself.
	ErrBridgeSelf = errors.New("media: cannot bridge a session to itself")
	// ErrAlreadyBridged is returned by Bridge when a session is in another bridge.
	ErrAlreadyBridged = errors.New("media: session already in a bridge")
	// ErrNotBridged is returned by Session.WritePacket when the session is in no
	// bridge: its outgoing stream belongs to its pacer.
	ErrNotBridged = errors.New("media: session not in a bridge")
)

// PacketWriter is where a bridge forwards the RTP packets a leg receives: the
// sending side of the other leg. WritePacket sends p on the writer's own outgoing
// stream: its own SSRC, sequence numbers and timestamps continuing that stream, its
// own negotiated payload types (converting G.711 u-law and A-law when p.Codec is
// not the writer's codec, dropping telephone-events when it negotiated none).
//
// WritePacket is called on the receiving leg's reader goroutine, one call at a
// time per receiving leg; it must not block for long, must not keep p, its header
// or its payload after it returns, and must not call back into the bridge. A
// packet it decides not to send (hold, a prompt playing) is not an error. *Session
// implements it; the WebRTC agent leg will too.
type PacketWriter interface {
	WritePacket(p *Packet) error
}

var _ PacketWriter = (*Session)(nil)

// Packet is one received RTP packet as handed to a PacketWriter. It and what it
// points to belong to the receiving leg and are reused for its next packet.
type Packet struct {
	// Header is the header as received: the source's SSRC, sequence number,
	// timestamp, marker bit and payload type (the receiving leg's negotiation).
	Header *rtp.Header
	// Payload is the audio or telephone-event payload, without RTP padding.
	Payload []byte
	// Codec is the audio codec negotiated on the receiving leg: the encoding of
	// Payload when Event is false.
	Codec Codec
	// Event is true for an RFC 4733 telephone-event, false for audio.
	Event bool
}

// Leg is one side of a bridge: a *Session (RTP) or a *Peer (an agent's WebRTC
// connection). Only this package implements it.
type Leg interface {
	PacketWriter
	// attach puts the leg in br; it fails when the leg has ended or is in
	// another bridge.
	attach(br *Bridged) error
	// detach takes the leg out of br (if it is in it).
	detach(br *Bridged)
	// forwardTo sets where the leg's reader forwards what it receives; nil stops
	// it, and no write to the previous writer is in progress once it returns.
	forwardTo(w PacketWriter)
	// TapPackets sets a tap on the audio the leg receives (a recorder).
	TapPackets(fn PacketTap)
}

var (
	_ Leg = (*Session)(nil)
	_ Leg = (*Peer)(nil)
)

// Bridged is a bridge between two legs made by Bridge. Its methods are safe
// for concurrent use.
type Bridged struct {
	a, b Leg
	done chan struct{}

	mu    sync.Mutex // held while the bridge is set up and torn down
	ended bool
}

// Bridge joins a and b: from now on every audio packet and telephone-event that
// one session accepts is forwarded, on its reader goroutine, out of the other (see
// Session.WritePacket), and neither session's pacer sends anything of its own
// unless a Play is started on it, which then takes precedence over forwarding into
// that session until it ends. A Play running on either session when Bridge is
// called ends with ErrPlayPreempted. While a session does not send (Update with
// sends false: hold) nothing is forwarded into it. Taps, in-band detection and Digits keep
// working on both sessions: a recorder tapping both sees both directions, and a
// digit is both delivered on Digits and forwarded as an event.
//
// The bridge ends with Close (both sessions go back to pacing) or when either
// session ends (Close or RTP timeout): the other session then goes back to pacing
// and keeps running; whether to hang it up is the call flow's decision. Bridge
// fails with ErrBridgeSelf when a == b, with ErrSessionClosed when either session
// has ended and with ErrAlreadyBridged when either is in another bridge. Sessions
// need not be started yet.
func Bridge(a, b Leg) (*Bridged, error) {
	if a == b {
		return nil, ErrBridgeSelf
	}
	br := &Bridged{a: a, b: b, done: make(chan struct{})}
	br.mu.Lock()
	defer br.mu.Unlock()
	if err := a.attach(br); err != nil {
		br.abort()
		return nil, fmt.Errorf("media: bridge: %w", err)
	}
	if err := b.attach(br); err != nil {
		a.detach(br)
		br.abort()
		return nil, fmt.Errorf("media: bridge: %w", err)
	}
	a.forwardTo(b)
	b.forwardTo(a)
	return br, nil
}

// abort marks a bridge that was never set up as ended. Called with mu held.
func (br *Bridged) abort() {
	br.ended = true
	close(br.done)
}

// Close ends the bridge: nothing is forwarded once it returns and both sessions
// go back to pacing (silence or their Play), with timestamps that account for the
// time bridged and a marker bit. It is idempotent and returns nil.
func (br *Bridged) Close() error {
	br.end()
	return nil
}

// Done is closed when the bridge has ended, by Close or because a session ended.
func (br *Bridged) Done() <-chan struct{} { return br.done }

// end tears the bridge down once. It must be called with no session lock held.
func (br *Bridged) end() {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.ended {
		return
	}
	br.ended = true
	// First stop the readers (waiting for a write in progress), then give the
	// outgoing streams back to the pacers.
	br.a.forwardTo(nil)
	br.b.forwardTo(nil)
	br.a.detach(br)
	br.b.detach(br)
	close(br.done)
}

// fwdState maps one source's sequence numbers and timestamps into the session's
// outgoing stream. Guarded by Session.mu.
type fwdState struct {
	anchored bool   // offsets are valid for ssrc
	ssrc     uint32 // the source's SSRC
	first    uint16 // source sequence number of the packet the offsets were taken at
	max      uint16 // highest source sequence number forwarded
	seqOff   uint16
	tsOff    uint32
}

// place maps the source packet h into the outgoing stream: it returns the
// packet's sequence number and timestamp there and its marker bit, or ok false
// for a late packet from before the last switch (to be dropped). At a switch (not
// anchored yet, a new source SSRC, a sequence jump) it takes new offsets so that
// h continues the stream at next (the stream's next sequence number) and resume
// (the timestamp of a packet sent now), with the marker bit set.
func (f *fwdState) place(h *rtp.Header, next uint16, resume uint32) (seq uint16, ts uint32, marker, ok bool) {
	marker = h.Marker
	d := int(int16(h.SequenceNumber - f.max))
	switch {
	case !f.anchored || h.SSRC != f.ssrc || d >= maxDropout || d <= -maxMisorder:
		*f = fwdState{
			anchored: true,
			ssrc:     h.SSRC,
			first:    h.SequenceNumber,
			max:      h.SequenceNumber,
			seqOff:   next - h.SequenceNumber,
			tsOff:    resume - h.Timestamp,
		}
		marker = true
	case int16(h.SequenceNumber-f.first) < 0:
		return 0, 0, false, false
	case d > 0:
		f.max = h.SequenceNumber
	}
	return h.SequenceNumber + f.seqOff, h.Timestamp + f.tsOff, marker, true
}

// sentMark is the newest packet sent on a session's outgoing stream, by the pacer
// or by forwarding: where the next sender continues from. Guarded by Session.mu.
type sentMark struct {
	ok   bool
	ts   uint32        // its timestamp
	span uint32        // the samples it covers (an event: its duration so far)
	at   time.Duration // when it was current, on the pacer's clock
}

// attach puts s in br: its outgoing stream now carries forwarded packets and a
// running Play ends.
func (s *Session) attach(br *Bridged) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrSessionClosed
	case s.bridge != nil:
		return ErrAlreadyBridged
	}
	s.bridge = br
	s.fwd.anchored = false
	if pl := s.play; pl != nil {
		pl.err = ErrPlayPreempted
		close(pl.done)
		s.play = nil
	}
	return nil
}

// detach takes s out of br: the pacer owns the outgoing stream again and
// continues it from the last packet sent.
func (s *Session) detach(br *Bridged) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bridge == br {
		s.bridge = nil
		s.fwd.anchored = false
		s.sentLast, s.talking = false, false
		s.resync = true
	}
}

// forwardTo sets where s's reader forwards accepted packets; nil stops it. When
// it returns, no write to the previous writer is in progress.
func (s *Session) forwardTo(w PacketWriter) {
	s.fwdMu.Lock()
	s.fwdTo = w
	s.fwdMu.Unlock()
}

// forward hands the packet in s.pkt to the bridge's writer, if any. Reader
// goroutine only.
func (s *Session) forward(codec Codec, event bool) {
	s.fwdMu.Lock()
	if w := s.fwdTo; w != nil {
		s.fwdPkt = Packet{Header: &s.pkt.Header, Payload: s.pkt.Payload, Codec: codec, Event: event}
		// A failed write is the writer's to count; the source keeps receiving.
		_ = w.WritePacket(&s.fwdPkt)
		s.fwdPkt = Packet{}
	}
	s.fwdMu.Unlock()
}

// WritePacket implements PacketWriter: it sends p, which the other leg of s's
// bridge received, on s's outgoing stream, with s's SSRC, s's payload type (the
// codec's, or the telephone-event type; an event is dropped when s negotiated
// none) and audio converted between u-law and A-law when p.Codec differs from s's
// codec. Packets go out as they come, without repacketising or reordering.
//
// Sequence numbers and timestamps are renumbered by offsets taken at the first
// packet after a switch (the bridge starting; a Play, a hold or a missing
// destination having suppressed forwarding; a new source SSRC; a source sequence
// jump): that packet continues s's stream by one sequence number and by the time
// elapsed since s's last packet, and carries the marker bit. Later packets keep
// the source's deltas, so loss stays a gap and reordering stays reordering; a
// late packet from before the switch is dropped.
//
// Nothing is sent, and nil returned, while s does not send (hold), has no
// destination yet, or plays a Play. It returns ErrNotBridged when s is in no
// bridge, ErrSessionClosed after s ended, and the socket's error when the send
// fails. It allocates nothing when it succeeds.
func (s *Session) WritePacket(p *Packet) error {
	h := p.Header
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrSessionClosed
	case s.bridge == nil:
		s.mu.Unlock()
		return ErrNotBridged
	}
	dst := s.destination()
	if !s.sends || !dst.IsValid() || s.play != nil {
		s.fwd.anchored = false // forwarding resumes as a new talk spurt
		s.mu.Unlock()
		return nil
	}

	body := s.sendBuf[rtpHeaderSize:]
	var (
		n          int
		pt         uint8
		span       uint32
		transcoded bool
	)
	if p.Event {
		if s.dtmfPT == 0 || len(p.Payload) < EventSize {
			s.mu.Unlock()
			return nil
		}
		pt = s.dtmfPT
		n = copy(body, p.Payload)
		span = uint32(binary.BigEndian.Uint16(p.Payload[2:4]))
	} else {
		pt = s.codec.PayloadType
		n = min(len(body), len(p.Payload))
		switch from, to := isALaw(p.Codec), isALaw(s.codec); {
		case from == to:
			copy(body, p.Payload[:n])
		case to:
			for i, b := range p.Payload[:n] {
				body[i] = g711.Ulaw2AlawFrame(b)
			}
			transcoded = true
		default:
			for i, b := range p.Payload[:n] {
				body[i] = g711.Alaw2UlawFrame(b)
			}
			transcoded = true
		}
		span = uint32(n)
	}

	now := s.pacer.now()
	seq, ts, marker, ok := s.fwd.place(h, s.seq, s.resumeTS(now))
	if !ok {
		s.mu.Unlock()
		return nil // older than the switch: its number belongs to the earlier stream
	}
	out := rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           s.ssrc,
	}
	if _, err := out.MarshalTo(s.sendBuf); err != nil { // cannot fail: the buffer is large enough
		s.mu.Unlock()
		return fmt.Errorf("media: forward: %w", err)
	}
	if int16(out.SequenceNumber-s.seq) >= 0 {
		s.seq = out.SequenceNumber + 1
	}
	if !s.last.ok || int32(out.Timestamp+span-(s.last.ts+s.last.span)) > 0 {
		s.last = sentMark{ok: true, ts: out.Timestamp, span: span, at: now}
	}
	// The pacer's next packet (a Play, or after unbridging) continues from here.
	s.sentLast, s.talking = false, false
	s.resync = true
	pkt := s.sendBuf[:rtpHeaderSize+n]
	_, err := s.conn.WriteToUDPAddrPort(pkt, dst)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("media: forward: %w", err)
	}
	s.packetsOut.Add(1)
	s.bytesOut.Add(uint64(len(pkt)))
	s.forwarded.Add(1)
	if transcoded {
		s.transcoded.Add(1)
	}
	s.metrics.packetForwarded(transcoded)
	return nil
}

// resumeTS is the timestamp for a packet sent at now by a sender that takes the
// stream over: the last packet's timestamp advanced by the time since it (at least
// by the samples it covered). Before anything was sent it is the pacer's next
// timestamp. Called with mu held.
func (s *Session) resumeTS(now time.Duration) uint32 {
	if !s.last.ok {
		return s.ts
	}
	elapsed := uint32(max(0, now-s.last.at) * time.Duration(s.codec.ClockRate) / time.Second)
	return s.last.ts + max(elapsed, s.last.span)
}
