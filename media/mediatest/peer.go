package mediatest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline12345/hotline/media"
)

// PTime is the packet interval of everything a Peer sends.
const PTime = 20 * time.Millisecond

// ErrClosed is returned by a Peer's methods after Close.
var ErrClosed = errors.New("mediatest: peer closed")

// Packet is one RTP packet a Peer received.
type Packet struct {
	From    netip.AddrPort
	Header  rtp.Header
	Payload []byte // a copy
	At      time.Time
}

// Peer is an RTP endpoint on 127.0.0.1. It sends to the address set with
// SetRemote, with one SSRC and continuous sequence numbers and timestamps across
// all its sends. It records every datagram it receives that parses as RTP. Its
// methods are safe for concurrent use; Close it at the end of the test.
type Peer struct {
	conn   *net.UDPConn
	codec  media.Codec
	dtmfPT uint8
	done   chan struct{}
	wg     sync.WaitGroup

	sendMu sync.Mutex // one sender at a time: keeps seq/ts continuous
	seq    uint16
	ts     uint32
	ssrc   uint32

	mu       sync.Mutex
	remote   netip.AddrPort
	received []Packet
	changed  chan struct{} // closed and replaced at every received packet
}

// NewPeer binds a Peer to 127.0.0.1:0. codec is what Stream sends; dtmfPT is the
// telephone-event payload type SendDigit uses.
func NewPeer(codec media.Codec, dtmfPT uint8) (*Peer, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return nil, fmt.Errorf("mediatest: listen: %w", err)
	}
	p := &Peer{
		conn:    conn,
		codec:   codec,
		dtmfPT:  dtmfPT,
		done:    make(chan struct{}),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		ssrc:    rand.Uint32(),
		changed: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.read()
	return p, nil
}

// Addr is the Peer's local address.
func (p *Peer) Addr() netip.AddrPort {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetRemote sets where the Peer sends.
func (p *Peer) SetRemote(a netip.AddrPort) {
	p.mu.Lock()
	p.remote = a
	p.mu.Unlock()
}

// SSRC is the synchronisation source of the Peer's packets.
func (p *Peer) SSRC() uint32 { return p.ssrc }

// Close stops the Peer and closes its socket.
func (p *Peer) Close() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	close(p.done)
	err := p.conn.Close()
	p.wg.Wait()
	return err
}

func (p *Peer) read() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		rec := Packet{
			From:    netip.AddrPortFrom(from.Addr().Unmap(), from.Port()),
			Header:  pkt.Header.Clone(),
			Payload: append([]byte(nil), pkt.Payload...),
			At:      time.Now(),
		}
		p.mu.Lock()
		p.received = append(p.received, rec)
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
}

// Packets returns a copy of the packets received so far, in arrival order.
func (p *Peer) Packets() []Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Packet(nil), p.received...)
}

// Count is how many packets the Peer has received.
func (p *Peer) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.received)
}

// Reset forgets the packets received so far.
func (p *Peer) Reset() {
	p.mu.Lock()
	p.received = nil
	p.mu.Unlock()
}

// WaitFor blocks until the Peer has received at least n packets, and returns
// ctx's error if that does not happen before ctx ends.
func (p *Peer) WaitFor(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		got, ch := len(p.received), p.changed
		p.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("mediatest: %d of %d packets: %w", got, n, context.Cause(ctx))
		case <-p.done:
			return ErrClosed
		}
	}
}

// SendRTP sends one packet with header h (used verbatim: the Peer's own sequence
// number and timestamp are not touched) and payload to the remote.
func (p *Peer) SendRTP(h rtp.Header, payload []byte) error {
	h.Version = 2
	buf := make([]byte, h.MarshalSize()+len(payload))
	n, err := h.MarshalTo(buf)
	if err != nil {
		return fmt.Errorf("mediatest: marshal: %w", err)
	}
	copy(buf[n:], payload)
	return p.write(buf)
}

// SendRaw sends b as one datagram to the remote (for malformed-packet tests).
func (p *Peer) SendRaw(b []byte) error { return p.write(b) }

func (p *Peer) write(b []byte) error {
	p.mu.Lock()
	remote := p.remote
	p.mu.Unlock()
	if !remote.IsValid() {
		return errors.New("mediatest: no remote set")
	}
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, remote); err != nil {
		return fmt.Errorf("mediatest: send: %w", err)
	}
	return nil
}

// send sends one packet with the Peer's next sequence number at timestamp ts.
// Called with sendMu held.
func (p *Peer) send(pt uint8, marker bool, ts uint32, payload []byte) error {
	h := rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: p.seq,
		Timestamp:      ts,
		SSRC:           p.ssrc,
	}
	p.seq++
	return p.SendRTP(h, payload)
}

// Stream sends the audio of src in the Peer's codec, one packet every 20 ms on
// absolute deadlines, until src ends (nil) or ctx ends (its cause). The first
// packet carries the marker bit.
func (p *Peer) Stream(ctx context.Context, src media.Source) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	samples := p.codec.SamplesPer(PTime)
	buf := make([]byte, samples)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-p.done:
			return ErrClosed
		case <-timer.C:
		}
		n, ok := src.Next(p.codec, buf)
		if n > 0 {
			for j := n; j < samples; j++ {
				buf[j] = media.SilenceByte(p.codec)
			}
			if err := p.send(p.codec.PayloadType, i == 0, p.ts, buf); err != nil {
				return err
			}
			p.ts += uint32(samples)
		}
		if !ok {
			return nil
		}
		timer.Reset(time.Until(start.Add(time.Duration(i+1) * PTime)))
	}
}

// SendDigit sends key as an RFC 4733 telephone-event lasting d: one packet every
// 20 ms with a growing duration, all with the timestamp of the event's start, the
// first with the marker bit, and the end packet three times (RFC 4733 section
// 2.5.1.4). Afterwards the Peer's timestamp has advanced by d.
func (p *Peer) SendDigit(ctx context.Context, key byte, d time.Duration) error {
	if p.dtmfPT == 0 {
		return errors.New("mediatest: peer has no telephone-event payload type")
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	step := uint16(p.codec.SamplesPer(PTime))
	total := uint16(p.codec.SamplesPer(d))
	total = max(total, step)
	payload := make([]byte, media.EventSize)
	ts := p.ts
	for dur, first := step, true; ; dur += step {
		dur = min(dur, total)
		end := dur == total
		repeats := 1
		if end {
			repeats = 3
		}
		for range repeats {
			if _, err := media.EncodeEvent(payload, key, end, 10, dur); err != nil {
				return fmt.Errorf("mediatest: %w", err)
			}
			if err := p.send(p.dtmfPT, first, ts, payload); err != nil {
				return err
			}
			first = false
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-p.done:
				return ErrClosed
			case <-time.After(PTime):
			}
		}
		if end {
			break
		}
	}
	p.ts += uint32(total)
	return nil
}
