package media

// Supervision of a bridged call: listen, whisper, barge (issue 6).
//
// A Monitor puts itself between the two legs of a Bridged call by replacing
// each leg's forwarding target (what its reader hands accepted packets to) with
// a tee of its own, and takes the supervisor's leg into a bridge of its own (so
// that the leg's pacer sends nothing and its reader hands packets to the
// monitor). Mixing happens only where two voices meet (DESIGN.md "decode only
// where needed"):
//
//	mode     caller (a) hears    agent (b) hears        supervisor hears
//	Listen   b, forwarded        a, forwarded           mix(a, b)
//	Whisper  b, forwarded        mix(a, supervisor)     mix(a, b)
//	Barge    mix(b, supervisor)  mix(a, supervisor)     mix(a, b)
//
// A forwarded direction is the bridge's plain forwarding (the payload
// untouched, renumbered by the receiving leg's WritePacket). For the mixes, the
// tees decode each source's audio into a small jitter buffer (at most two
// frames: a late packet is used at the next tick, a missing one is silence, a
// packet older than the last one queued is dropped), and one goroutine per
// monitor ticks every 20 ms on absolute deadlines: it takes one frame from each
// buffer, sums where needed with clipping, encodes in the destination's codec
// and writes the frame into the destination's outgoing stream through its
// WritePacket. Each mixed output is a stream of its own (its own SSRC,
// sequence numbers and timestamps advancing 160 per tick even when nothing was
// written), so the destination's renumbering treats the switch between
// forwarded and mixed audio like any other source switch: one continuous
// outgoing stream, the marker bit on the first packet after a switch.
//
// RFC 4733 events from the caller and the agent keep reaching the other side:
// forwarded as they are in a forwarded direction, and put on the mixed
// stream's timeline in a mixed one (all packets of one event share one
// timestamp there). The supervisor's events go nowhere, and the supervisor's
// audio is not even decoded in Listen.
//
// Locks, outermost first: the call bridge's mu, the supervisor bridge's mu, a
// leg's fwdMu (a reader handing a packet to a tee), Monitor.mu, a leg's own mu
// (in WritePacket). Nothing that holds Monitor.mu calls forwardTo.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// MonitorMode is what a supervisor does on a bridged call.
type MonitorMode uint8

// The modes of a Monitor.
const (
	Listen  MonitorMode = iota + 1 // the supervisor hears the caller and the agent; nobody hears the supervisor
	Whisper                        // the supervisor hears both; the agent hears the caller and the supervisor; the caller hears only the agent
	Barge                          // three-way: everyone hears the other two
)

// String returns "listen", "whisper" or "barge".
func (m MonitorMode) String() string {
	switch m {
	case Listen:
		return "listen"
	case Whisper:
		return "whisper"
	case Barge:
		return "barge"
	}
	return fmt.Sprintf("MonitorMode(%d)", uint8(m))
}

func (m MonitorMode) valid() bool { return m >= Listen && m <= Barge }

var (
	// ErrBridgeEnded is returned by Bridged.Monitor when the bridge has ended.
	ErrBridgeEnded = errors.New("media: bridge has ended")
	// ErrAlreadyMonitored is returned by Bridged.Monitor when a supervisor is
	// already on the call.
	ErrAlreadyMonitored = errors.New("media: call already monitored")
	// ErrMonitorEnded is returned by Monitor.SetMode once the monitor has ended.
	ErrMonitorEnded = errors.New("media: monitor has ended")
	// ErrBadMonitorMode is returned for a MonitorMode that is not Listen,
	// Whisper or Barge.
	ErrBadMonitorMode = errors.New("media: unknown monitor mode")
)

// Mixer constants: 8 kHz G.711, 20 ms frames.
const (
	mixFrame    = 160                   // samples per mixed frame
	mixPTime    = 20 * time.Millisecond // mixing interval
	mixMaxDepth = 2 * mixFrame          // jitter buffer depth kept, in samples (two frames)
	mixRing     = 2048                  // jitter buffer capacity in samples (a power of two)
	mixBehind   = 3                     // ticks late before the mixer skips ahead
)

// The sources and destinations of a monitored call.
const (
	srcCaller = iota // the bridge's a
	srcAgent         // the bridge's b
	srcSup           // the supervisor
	nSrc
)

// Monitor is a supervisor on a bridged call, made by Bridged.Monitor. Its
// methods are safe for concurrent use.
type Monitor struct {
	br    *Bridged // the call
	supBr *Bridged // holds the supervisor's leg
	legs  [nSrc]Leg
	tees  [nSrc]monitorTee

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	done     chan struct{} // closed when the monitor has ended

	mu    sync.Mutex // guards what follows
	mode  MonitorMode
	ended bool
	jb    [nSrc]jitterBuffer
	out   [nSrc]mixStream // the mixed stream into each leg
	pcm   [nSrc][mixFrame]int16
	mixed [mixFrame]int16
	dec   [maxPacket]int16
	enc   [mixFrame]byte
	pkt   Packet
	hdr   rtp.Header
}

// Monitor joins the supervisor's leg sup to the call bridged by br (a is the
// caller, b the agent, as given to Bridge) in mode. It fails with
// ErrBridgeEnded when br has ended, with ErrAlreadyMonitored when another
// supervisor is on the call, with ErrAlreadyBridged when sup is in a bridge or
// monitors another call (or is a leg of this one), and with ErrSessionClosed
// when sup has ended.
//
// The monitor ends with Close, when the bridge ends, or when sup ends (Close
// or RTP timeout for a Session, Close for a Peer): the call then goes back to
// plain forwarding between a and b, and sup, if it is still open, to what it
// does outside a bridge (a Session paces silence, a Peer sends nothing).
func (br *Bridged) Monitor(sup Leg, mode MonitorMode) (*Monitor, error) {
	m, err := br.monitor(sup, mode)
	if err != nil {
		return nil, err
	}
	go m.run()
	return m, nil
}

// monitor sets the monitor up without starting its mixer goroutine.
func (br *Bridged) monitor(sup Leg, mode MonitorMode) (*Monitor, error) {
	if !mode.valid() {
		return nil, fmt.Errorf("media: monitor: %w: %d", ErrBadMonitorMode, mode)
	}
	if sup == nil {
		return nil, errors.New("media: monitor: no supervisor leg")
	}
	m := &Monitor{
		br:   br,
		legs: [nSrc]Leg{br.a, br.b, sup},
		stop: make(chan struct{}),
		done: make(chan struct{}),
		mode: mode,
	}
	m.supBr = &Bridged{a: sup, b: noLeg{}, done: make(chan struct{})}
	for i := range m.tees {
		m.tees[i] = monitorTee{m: m, src: i}
	}
	for i := range m.out {
		m.out[i] = mixStream{ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32()}
	}

	br.mu.Lock()
	defer br.mu.Unlock()
	if br.ended {
		return nil, fmt.Errorf("media: monitor: %w", ErrBridgeEnded)
	}
	if _, ok := forwardTarget(br.a).(*monitorTee); ok {
		return nil, fmt.Errorf("media: monitor: %w", ErrAlreadyMonitored)
	}
	m.supBr.mu.Lock()
	err := sup.attach(m.supBr)
	if err != nil {
		m.supBr.abort()
	}
	m.supBr.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("media: monitor: supervisor's leg: %w", err)
	}
	sup.forwardTo(&m.tees[srcSup])
	br.a.forwardTo(&m.tees[srcCaller])
	br.b.forwardTo(&m.tees[srcAgent])
	return m, nil
}

// SetMode switches the mode in place: the supervisor stays on the call and the
// streams continue (the first packet after a switch carries the marker bit).
// It returns ErrMonitorEnded once the monitor has ended.
func (m *Monitor) SetMode(mode MonitorMode) error {
	if !mode.valid() {
		return fmt.Errorf("media: monitor: %w: %d", ErrBadMonitorMode, mode)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return ErrMonitorEnded
	}
	if mode == m.mode {
		return nil
	}
	if (m.mode == Listen) != (mode == Listen) {
		// The supervisor's audio starts or stops being heard: start from an
		// empty buffer rather than from what was queued before.
		m.jb[srcSup].reset()
	}
	m.mode = mode
	return nil
}

// Mode returns the current mode.
func (m *Monitor) Mode() MonitorMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode
}

// Close takes the supervisor out: the call goes back to plain forwarding
// between a and b and the supervisor's leg to what it does outside a bridge.
// It waits for the monitor to end, is idempotent and returns nil.
func (m *Monitor) Close() error {
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
	return nil
}

// Done is closed when the monitor has ended: by Close, because the bridge
// ended, or because the supervisor's leg ended.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// run is the monitor's goroutine: it mixes every 20 ms until the monitor ends,
// then tears it down.
func (m *Monitor) run() {
	defer m.teardown()
	timer := time.NewTimer(mixPTime)
	defer timer.Stop()
	next := time.Now().Add(mixPTime)
	for {
		select {
		case <-m.stop:
			return
		case <-m.br.done:
			return
		case <-m.supBr.done:
			return
		case <-timer.C:
		}
		skipped := 0
		if late := time.Since(next); late >= mixBehind*mixPTime {
			// Fell behind (a stalled machine): skip the missed ticks rather
			// than burst; the mixed streams' timestamps still advance.
			skipped = int(late / mixPTime)
			next = next.Add(time.Duration(skipped) * mixPTime)
		}
		m.tick(skipped)
		next = next.Add(mixPTime)
		timer.Reset(time.Until(next))
	}
}

// teardown gives the call back to plain forwarding (unless the bridge has
// ended), releases the supervisor's leg and closes done.
func (m *Monitor) teardown() {
	m.mu.Lock()
	m.ended = true
	m.mu.Unlock()
	br := m.br
	br.mu.Lock()
	if !br.ended {
		br.a.forwardTo(br.b)
		br.b.forwardTo(br.a)
	}
	br.mu.Unlock()
	m.supBr.end()
	close(m.done)
}

// tick mixes one frame for every destination the mode mixes into and writes
// it; skipped ticks before it only advance the mixed streams' timestamps.
func (m *Monitor) tick(skipped int) {
	br, sb := m.br, m.supBr
	br.mu.Lock()
	defer br.mu.Unlock()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.out {
		m.out[i].ts += uint32((skipped + 1) * mixFrame)
	}
	if m.ended || br.ended {
		return
	}
	for i := range m.jb {
		for range skipped {
			m.jb[i].pull(m.pcm[i][:])
		}
		m.jb[i].pull(m.pcm[i][:])
	}
	if !sb.ended {
		m.write(srcSup, srcCaller, srcAgent)
	}
	if m.mode != Listen {
		m.write(srcAgent, srcCaller, srcSup)
	}
	if m.mode == Barge {
		m.write(srcCaller, srcAgent, srcSup)
	}
}

// write mixes the frames of sources x and y and writes the mix into leg dst,
// as the frame of the tick that ended at out[dst].ts. Called with mu held.
func (m *Monitor) write(dst, x, y int) {
	mix2(m.mixed[:], m.pcm[x][:], m.pcm[y][:])
	leg := m.legs[dst]
	c := legCodec(leg)
	n := EncodeFrame(c, m.enc[:], m.mixed[:])
	o := &m.out[dst]
	m.hdr = rtp.Header{
		Version:        2,
		PayloadType:    c.PayloadType,
		SequenceNumber: o.seq,
		Timestamp:      o.ts - mixFrame,
		SSRC:           o.ssrc,
	}
	o.seq++
	m.pkt = Packet{Header: &m.hdr, Payload: m.enc[:n], Codec: c}
	// A failed write (the leg ended) is the leg's to report; the monitor ends
	// when the bridge or the supervisor's leg does.
	_ = leg.WritePacket(&m.pkt)
	m.pkt = Packet{}
}

// receive is what the tee of source src does with a packet that leg accepted.
// Called on that leg's reader goroutine.
func (m *Monitor) receive(src int, p *Packet) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return nil
	}
	mode := m.mode
	if src == srcSup {
		// Nobody hears the supervisor in Listen; their events go nowhere.
		if mode != Listen && !p.Event {
			m.push(src, p)
		}
		return nil
	}
	other := srcAgent
	if src == srcAgent {
		other = srcCaller
	}
	// Is the direction into the other leg a mix? The agent's direction is from
	// Whisper on, the caller's only in Barge.
	mixed := (other == srcAgent && mode != Listen) || (other == srcCaller && mode == Barge)
	if p.Event {
		if !mixed {
			return m.legs[other].WritePacket(p)
		}
		return m.writeEvent(other, p)
	}
	m.push(src, p)
	if !mixed {
		return m.legs[other].WritePacket(p)
	}
	return nil
}

// push decodes p's audio into src's jitter buffer. Called with mu held.
func (m *Monitor) push(src int, p *Packet) {
	jb := &m.jb[src]
	h := p.Header
	if d := int16(h.SequenceNumber - jb.seq); jb.started && h.SSRC == jb.ssrc && d <= 0 && d > -maxMisorder {
		return // a duplicate, or older than a packet already queued: out of order
	}
	jb.started, jb.ssrc, jb.seq = true, h.SSRC, h.SequenceNumber
	n := DecodeFrame(p.Codec, m.dec[:], p.Payload)
	jb.push(m.dec[:n])
}

// writeEvent puts the telephone-event p on the timeline of the mixed stream
// into leg dst: every packet of one event (one source timestamp) gets the
// timestamp the mixed stream had when the event began. Called with mu held.
func (m *Monitor) writeEvent(dst int, p *Packet) error {
	o := &m.out[dst]
	if !o.evOK || p.Header.SSRC != o.evSSRC || p.Header.Timestamp != o.evSrcTS {
		o.evOK, o.evSSRC, o.evSrcTS, o.evTS = true, p.Header.SSRC, p.Header.Timestamp, o.ts
	}
	m.hdr = rtp.Header{
		Version:        2,
		Marker:         p.Header.Marker,
		PayloadType:    p.Header.PayloadType,
		SequenceNumber: o.seq,
		Timestamp:      o.evTS,
		SSRC:           o.ssrc,
	}
	o.seq++
	m.pkt = Packet{Header: &m.hdr, Payload: p.Payload, Codec: p.Codec, Event: true}
	err := m.legs[dst].WritePacket(&m.pkt)
	m.pkt = Packet{}
	return err
}

// mixStream is the numbering of the mixed stream into one leg: its own SSRC,
// a sequence number per packet written, a timestamp advancing one frame per
// tick. The leg's WritePacket renumbers it into the leg's outgoing stream.
type mixStream struct {
	ssrc uint32
	seq  uint16
	ts   uint32 // the timestamp of the next frame

	evOK    bool // an event has been mapped
	evSSRC  uint32
	evSrcTS uint32 // the source timestamp of the last event
	evTS    uint32 // its timestamp on this stream
}

// jitterBuffer is one source's decoded audio waiting for the mixer: a FIFO of
// samples that keeps at most mixMaxDepth (or one packet and a frame, for long
// packets) by dropping the oldest.
type jitterBuffer struct {
	started bool
	ssrc    uint32
	seq     uint16 // of the newest packet queued
	ring    [mixRing]int16
	head, n int
}

func (j *jitterBuffer) reset() { j.started, j.head, j.n = false, 0, 0 }

// push appends pcm, dropping the oldest samples beyond the depth kept.
func (j *jitterBuffer) push(pcm []int16) {
	if len(pcm) > mixRing-mixFrame {
		pcm = pcm[len(pcm)-(mixRing-mixFrame):]
	}
	for _, s := range pcm {
		j.ring[(j.head+j.n)&(mixRing-1)] = s
		j.n++
	}
	if keep := max(mixMaxDepth, len(pcm)+mixFrame); j.n > keep {
		drop := j.n - keep
		j.head = (j.head + drop) & (mixRing - 1)
		j.n = keep
	}
}

// pull fills dst with the oldest samples, silence where there are none.
func (j *jitterBuffer) pull(dst []int16) {
	k := min(len(dst), j.n)
	for i := range k {
		dst[i] = j.ring[(j.head+i)&(mixRing-1)]
	}
	clear(dst[k:])
	j.head = (j.head + k) & (mixRing - 1)
	j.n -= k
}

// mix2 sets dst to x + y, clipped to the 16-bit range.
func mix2(dst, x, y []int16) {
	for i := range dst {
		dst[i] = clip16(int32(x[i]) + int32(y[i]))
	}
}

func clip16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}

// monitorTee is where a monitored leg's reader hands what it accepts.
type monitorTee struct {
	m   *Monitor
	src int
}

func (t *monitorTee) WritePacket(p *Packet) error { return t.m.receive(t.src, p) }

// legCodec is the codec a mix into l is encoded in: the session's, or the one
// of G.711 the browser negotiated (u-law when both).
func legCodec(l Leg) Codec {
	switch l := l.(type) {
	case *Session:
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.codec
	case *Peer:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.txPT[0] < 0 && l.txPT[1] >= 0 {
			return PCMA
		}
	}
	return PCMU
}

// forwardTarget is where l's reader forwards what it accepts.
func forwardTarget(l Leg) PacketWriter {
	switch l := l.(type) {
	case *Session:
		l.fwdMu.Lock()
		defer l.fwdMu.Unlock()
		return l.fwdTo
	case *Peer:
		l.fwdMu.Lock()
		defer l.fwdMu.Unlock()
		return l.fwdTo
	}
	return nil
}

var _ Leg = noLeg{}

// noLeg is the other side of the bridge that holds a supervisor's leg: it
// receives nothing and sends nothing.
type noLeg struct{}

func (noLeg) WritePacket(*Packet) error { return nil }
func (noLeg) attach(*Bridged) error     { return nil }
func (noLeg) detach(*Bridged)           {}
func (noLeg) forwardTo(PacketWriter)    {}
func (noLeg) TapPackets(PacketTap)      {}
