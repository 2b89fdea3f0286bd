package media

import (
	"context"
	"errors"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline12345/hotline/event"
)

var (
	// ErrRTPTimeout ends a session that received no RTP within SessionConfig.Timeout.
	ErrRTPTimeout = errors.New("media: no RTP received within the timeout")
	// ErrSessionClosed is returned by Play when the session ends while it plays.
	ErrSessionClosed = errors.New("media: session closed")
	// ErrPlayPreempted is returned by Play when another Play replaced its source,
	// or when Bridge put the session in a bridge.
	ErrPlayPreempted = errors.New("media: play replaced by another")
)

// digitBuffer is the capacity of the Digits channel.
const digitBuffer = 32

// maxPacket is the largest datagram read or written (an Ethernet MTU).
const maxPacket = 1500

// rtpHeaderSize is the size of the RTP header the session sends (no CSRC, no
// extension), RFC 3550 section 5.1.
const rtpHeaderSize = 12

// LatchMode says which source address a session accepts RTP from: symmetric RTP
// (RFC 4961) with strict latching to one source.
type LatchMode uint8

const (
	// LatchSDP accepts RTP only from the address (host and port) the SDP named, and
	// latches to it with its first packet.
	LatchSDP LatchMode = iota
	// LatchFirst latches to the source of the first valid packet from anywhere (a
	// trunk behind NAT whose SDP names an address it cannot be reached at), then
	// accepts only that source.
	LatchFirst
)

// SessionConfig is the negotiated shape of one RTP leg.
type SessionConfig struct {
	Codec   Codec          // the audio codec to send and accept
	DTMF    uint8          // telephone-event payload type from the SDP; 0 = none
	PTime   time.Duration  // packetisation interval; 0 means DefaultPTime
	Remote  netip.AddrPort // the peer's address from the SDP; may be invalid (zero) until known
	Latch   LatchMode      // which source RTP is accepted from
	Inband  bool           // run the in-band DTMF detector on received audio
	Timeout time.Duration  // no RTP for this long ends the session with ErrRTPTimeout; 0 = never
	Metrics *Metrics       // may be nil
	Logger  *slog.Logger   // may be nil
}

// Stats are the counters of one session.
type Stats struct {
	PacketsIn     uint64         // packets accepted (audio and telephone-event)
	PacketsOut    uint64         // packets sent
	BytesIn       uint64         // bytes of the accepted packets, RTP header included
	BytesOut      uint64         // bytes sent, RTP header included
	Lost          uint64         // packets missing from the received sequence numbers
	Foreign       uint64         // packets dropped because they came from another source
	Late          uint64         // packets that arrived after a later one (reordered)
	Malformed     uint64         // packets dropped as unparseable
	WrongPayload  uint64         // packets dropped for an unexpected payload type
	DigitsDropped uint64         // digits lost because nobody read Digits in time
	Skipped       uint64         // frames not sent because the pacer fell behind (timestamps still advanced)
	Forwarded     uint64         // packets sent that a bridge forwarded from another leg (counted in PacketsOut too)
	Transcoded    uint64         // forwarded audio packets converted between u-law and A-law
	Source        netip.AddrPort // the latched source; invalid until latched
}

// Session is one RTP leg on one UDP socket: it paces outgoing audio every ptime and
// reads incoming RTP on one goroutine, passing audio to the tap and the in-band
// detector and telephone-events to the Digits channel. In a bridge (see Bridge) its
// reader also forwards what it accepts to the other leg, and its outgoing stream
// carries what the other leg forwards (WritePacket). Its methods are safe for
// concurrent use.
type Session struct {
	conn    *net.UDPConn
	pool    *PortPool
	ptime   time.Duration
	samples int // per packet
	inband  bool
	timeout time.Duration
	latch   LatchMode
	metrics *Metrics
	log     *slog.Logger
	pacer   *pacer
	local   netip.AddrPort

	digits   chan Digit
	done     chan struct{} // closed when the session has ended
	stopped  chan struct{} // closed when the session starts to end
	readerWG sync.WaitGroup
	start    sync.Once
	doneOnce sync.Once

	tap      atomic.Pointer[func(pcm []int16)]
	ptaps    atomic.Pointer[[]*PacketTap] // copy on write, under tapMu
	tapMu    sync.Mutex
	mainTap  *PacketTap   // the one TapPackets set
	lastRecv atomic.Int64 // pacer time of the last accepted packet, ns

	// Guarded by mu: the pacer's tick, the reader's look at the addresses, Update.
	mu       sync.Mutex
	closed   bool
	started  bool
	err      error
	codec    Codec
	dtmfPT   uint8
	remote   netip.AddrPort // from the SDP
	source   netip.AddrPort // latched; valid once latched
	sends    bool
	receives bool
	play     *play
	seq      uint16
	ts       uint32
	ssrc     uint32
	sentLast bool // a packet went out at the previous tick
	talking  bool // that packet came from a Source
	sendBuf  []byte
	bridge   *Bridged // the bridge feeding the outgoing stream; nil: the pacer owns it
	fwd      fwdState // how forwarded packets are renumbered
	last     sentMark // the newest packet sent
	resync   bool     // the pacer's next packet continues from last, not from ts

	// The reader's forwarding target: guarded by fwdMu, which the reader holds
	// while it writes, so that forwardTo(nil) waits for a write in progress.
	fwdMu sync.Mutex
	fwdTo PacketWriter

	pace paceState // owned by the pacer shard

	// Owned by the reader goroutine.
	recvBuf []byte
	pkt     rtp.Packet
	pcm     []int16
	dec     EventDecoder
	loss    lossTracker
	emit    func(Digit)
	det     *InbandDetector
	fwdPkt  Packet

	// Counters, read by Stats.
	packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
	lost, foreign, late                      atomic.Uint64
	malformed, wrongPT, digitsDropped        atomic.Uint64
	skipped, forwarded, transcoded           atomic.Uint64
}

// play is one active Play call.
type play struct {
	src  Source
	done chan struct{} // closed by the pacer when src ends
	err  error
}

// NewSession returns a session on conn. pool, when not nil, gets conn back at
// Close. Nothing is sent or read before Start.
func NewSession(conn *net.UDPConn, pool *PortPool, cfg SessionConfig) *Session {
	if cfg.PTime <= 0 {
		cfg.PTime = DefaultPTime
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		conn:     conn,
		pool:     pool,
		ptime:    cfg.PTime,
		samples:  cfg.Codec.SamplesPer(cfg.PTime),
		inband:   cfg.Inband,
		timeout:  cfg.Timeout,
		latch:    cfg.Latch,
		metrics:  cfg.Metrics,
		pacer:    defaultPacer,
		digits:   make(chan Digit, digitBuffer),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		codec:    cfg.Codec,
		dtmfPT:   cfg.DTMF,
		remote:   unmap(cfg.Remote),
		sends:    true,
		receives: true,
		seq:      uint16(rand.Uint32()),
		ts:       rand.Uint32(),
		ssrc:     rand.Uint32(),
		sendBuf:  make([]byte, maxPacket),
		recvBuf:  make([]byte, maxPacket),
		pcm:      make([]int16, maxPacket),
	}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		s.local = unmap(a.AddrPort())
	}
	s.log = log.With("rtp_local", s.local.String())
	s.emit = func(d Digit) {
		if d.Via == "" {
			d.Via = event.ViaInband
		}
		s.deliver(d)
	}
	if cfg.Inband {
		s.det = NewInbandDetector()
	}
	return s
}

// unmap turns an IPv4-mapped IPv6 address into plain IPv4, so that addresses
// compare equal whichever way the socket reports them.
func unmap(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Start starts reading and pacing. Calling it again, or after Close, does nothing.
func (s *Session) Start() {
	s.start.Do(func() {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.started = true
		s.mu.Unlock()
		s.lastRecv.Store(int64(s.pacer.now()))
		s.readerWG.Add(1)
		go s.readLoop()
		s.pacer.add(s)
	})
}

// LocalAddr is the address the session's socket is bound to.
func (s *Session) LocalAddr() netip.AddrPort { return s.local }

// Digits delivers the DTMF digits received as RFC 4733 telephone-events and, when
// SessionConfig.Inband is set, detected in the audio. It is buffered; when nobody
// reads it, further digits are dropped and counted (Stats.DigitsDropped). It is
// never closed: watch Done as well.
func (s *Session) Digits() <-chan Digit { return s.digits }

// Done is closed when the session has ended, by Close or by the RTP timeout.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is ErrRTPTimeout when the RTP timeout ended the session, and nil otherwise.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Tap sets fn to receive every received audio packet, decoded to 16-bit linear PCM
// (one ptime of audio, usually 20 ms), for recording. fn runs on the reader
// goroutine and must not keep pcm after it returns. nil removes the tap.
func (s *Session) Tap(fn func(pcm []int16)) {
	if fn == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&fn)
}

// PacketTap sees the audio packets a leg accepts (not telephone-events), as
// received: codec, SSRC, RTP timestamp and payload. It runs on the leg's reader
// goroutine, must not block and must not keep payload after it returns.
type PacketTap func(codec Codec, ssrc, ts uint32, payload []byte)

// TapPackets sets fn to see every audio packet the session accepts (the call's
// recorder), replacing the one it set before; nil removes it. Taps added with
// AddPacketTap stay.
func (s *Session) TapPackets(fn PacketTap) {
	s.tapMu.Lock()
	defer s.tapMu.Unlock()
	if s.mainTap != nil {
		s.removeTap(s.mainTap)
		s.mainTap = nil
	}
	if fn != nil {
		s.mainTap = &fn
		s.addTap(s.mainTap)
	}
}

// AddPacketTap adds fn beside the other taps (a message being recorded while the
// call is) until remove is called.
func (s *Session) AddPacketTap(fn PacketTap) (remove func()) {
	p := &fn
	s.tapMu.Lock()
	s.addTap(p)
	s.tapMu.Unlock()
	return func() {
		s.tapMu.Lock()
		s.removeTap(p)
		s.tapMu.Unlock()
	}
}

// addTap and removeTap replace the tap list. Called with tapMu held.
func (s *Session) addTap(p *PacketTap) {
	var list []*PacketTap
	if old := s.ptaps.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, p)
	s.ptaps.Store(&list)
}

func (s *Session) removeTap(p *PacketTap) {
	old := s.ptaps.Load()
	if old == nil {
		return
	}
	var list []*PacketTap
	for _, q := range *old {
		if q != p {
			list = append(list, q)
		}
	}
	if len(list) == 0 {
		s.ptaps.Store(nil)
		return
	}
	s.ptaps.Store(&list)
}

// Play sends the audio of src, one packet every ptime, until src ends (Play
// returns nil) or ctx ends (Play returns context.Cause(ctx)). A Play started while
// another runs replaces it (the other returns ErrPlayPreempted); when the session
// ends Play returns ErrSessionClosed. Once Play has returned, src is not used
// again. Sequence numbers and timestamps continue across sources; the first packet
// of a Play that follows silence carries the marker bit. While the session does not
// send (on hold) the source is still consumed in real time but nothing goes out.
// Between Plays the session sends silence, or, in a bridge, what the other leg
// forwards: a Play on a bridged session takes precedence over forwarding into it
// while it runs (hold audio), and Bridge ends a Play that runs when it starts.
func (s *Session) Play(ctx context.Context, src Source) error {
	p := &play{src: src, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	if old := s.play; old != nil {
		old.err = ErrPlayPreempted
		close(old.done)
	}
	s.play = p
	s.mu.Unlock()

	select {
	case <-p.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return p.err
	case <-ctx.Done():
	case <-s.stopped:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.play == p {
		s.play = nil
	}
	select {
	case <-p.done: // ended (or was replaced) meanwhile
		return p.err
	default:
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	return ErrSessionClosed
}

// Update applies a renegotiation (re-INVITE): the peer's address, the codec, the
// telephone-event payload type and the direction as seen from this side. When
// sends is false nothing is sent (hold); when receives is false the RTP timeout is
// paused, and restarts from zero when receiving resumes. A new valid, specified
// remote address different from the old one drops the latched source, so the
// session latches again under its LatchMode; an invalid or unspecified remote
// (0.0.0.0 hold) keeps the old one. Sequence numbers and timestamps continue.
func (s *Session) Update(remote netip.AddrPort, codec Codec, dtmf uint8, sends, receives bool) {
	remote = unmap(remote)
	s.mu.Lock()
	defer s.mu.Unlock()
	if remote.IsValid() && !remote.Addr().IsUnspecified() && remote != s.remote {
		s.remote = remote
		s.source = netip.AddrPort{}
	}
	s.codec, s.dtmfPT = codec, dtmf
	if n := codec.SamplesPer(s.ptime); n > 0 && rtpHeaderSize+n <= maxPacket {
		s.samples = n
	}
	if receives && !s.receives {
		s.lastRecv.Store(int64(s.pacer.now()))
	}
	s.sends, s.receives = sends, receives
}

// bridgedTickEvery is how many ptimes apart the pacer serves a bridged session
// that plays nothing.
const bridgedTickEvery = 10

// Close ends the session: it stops the goroutines, gives the socket back to the
// pool (or closes it), ends its bridge if it is in one (the other leg goes back to
// pacing and keeps running) and closes Done. It is idempotent and returns nil.
func (s *Session) Close() error {
	s.stop(nil)
	s.readerWG.Wait()
	s.finish()
	return nil
}

// stop marks the session closed (the pacer drops it at its next tick), records
// why, and closes the socket, which ends the reader.
func (s *Session) stop(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed, s.err = true, err
	br := s.bridge
	close(s.stopped)
	s.mu.Unlock()
	if s.pool != nil {
		s.pool.Release(s.conn)
	} else {
		_ = s.conn.Close()
	}
	if br != nil {
		br.end()
	}
}

// finish closes Done once.
func (s *Session) finish() { s.doneOnce.Do(func() { close(s.done) }) }

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	src := s.source
	s.mu.Unlock()
	return Stats{
		PacketsIn:     s.packetsIn.Load(),
		PacketsOut:    s.packetsOut.Load(),
		BytesIn:       s.bytesIn.Load(),
		BytesOut:      s.bytesOut.Load(),
		Lost:          s.lost.Load(),
		Foreign:       s.foreign.Load(),
		Late:          s.late.Load(),
		Malformed:     s.malformed.Load(),
		WrongPayload:  s.wrongPT.Load(),
		DigitsDropped: s.digitsDropped.Load(),
		Skipped:       s.skipped.Load(),
		Forwarded:     s.forwarded.Load(),
		Transcoded:    s.transcoded.Load(),
		Source:        src,
	}
}

// tick is the pacer's call at the session's deadline: it checks the RTP timeout,
// produces one frame and sends it, and sets the next deadline. It reports whether
// the session stays scheduled.
func (s *Session) tick(p *pacer) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	now := p.now()
	if s.timeout > 0 && s.receives && now-time.Duration(s.lastRecv.Load()) > s.timeout {
		s.mu.Unlock()
		s.log.Info("rtp timeout", "timeout", s.timeout)
		s.stop(ErrRTPTimeout)
		return false
	}
	late := now - s.pace.next
	if late >= maxBehind*s.ptime {
		// Fell behind: skip the missed frames rather than burst; the timestamp
		// still reflects the elapsed time.
		missed := late / s.ptime
		s.skipped.Add(uint64(missed))
		s.log.Debug("rtp pacing fell behind, skipping frames", "frames", int64(missed))
		s.ts += uint32(missed) * uint32(s.samples)
		s.pace.next += missed * s.ptime
		late -= missed * s.ptime
		s.sentLast, s.talking = false, false
	}
	s.pace.next += s.ptime

	payload := s.sendBuf[rtpHeaderSize : rtpHeaderSize+s.samples]
	fromSource := false
	if pl := s.play; pl != nil {
		n, ok := pl.src.Next(s.codec, payload)
		n = max(0, min(n, len(payload)))
		if n > 0 {
			fromSource = true
			fill(payload[n:], SilenceByte(s.codec))
		}
		if !ok {
			close(pl.done)
			s.play = nil
		}
	}
	if !fromSource {
		if s.bridge != nil {
			// A bridge feeds the outgoing stream: no silence of the pacer's own
			// goes out between forwarded packets, only a Play. Until one starts the
			// pacer only watches the RTP timeout, so it comes back less often: a
			// bridged call costs the pacer a tenth of a paced one (a Play or the
			// end of the bridge is taken up at the next of these ticks).
			s.sentLast, s.talking = false, false
			s.resync = true
			s.pace.next += (bridgedTickEvery - 1) * s.ptime
			s.mu.Unlock()
			return true
		}
		fill(payload, SilenceByte(s.codec))
	}

	dst := s.destination()
	if !s.sends || !dst.IsValid() {
		s.sentLast, s.talking = false, false
		s.ts += uint32(s.samples)
		s.mu.Unlock()
		return true
	}
	if s.resync {
		// Forwarded packets went out since the pacer's last one: continue from the
		// newest packet sent by the time elapsed since.
		s.ts = s.resumeTS(s.pace.next - s.ptime)
		s.resync = false
	}
	h := rtp.Header{
		Version:        2,
		Marker:         !s.sentLast || (fromSource && !s.talking),
		PayloadType:    s.codec.PayloadType,
		SequenceNumber: s.seq,
		Timestamp:      s.ts,
		SSRC:           s.ssrc,
	}
	if _, err := h.MarshalTo(s.sendBuf); err != nil { // cannot fail: the buffer is large enough
		s.mu.Unlock()
		return true
	}
	s.seq++
	s.last = sentMark{ok: true, ts: s.ts, span: uint32(s.samples), at: s.pace.next - s.ptime}
	s.ts += uint32(s.samples)
	s.sentLast, s.talking = true, fromSource
	s.fwd.anchored = false // forwarding after this packet is a switch
	pkt := s.sendBuf[:rtpHeaderSize+s.samples]
	late = p.now() - (s.pace.next - s.ptime)
	_, err := s.conn.WriteToUDPAddrPort(pkt, dst)
	s.mu.Unlock()
	if err != nil {
		s.log.Debug("rtp send failed", "err", err)
		return true
	}
	s.packetsOut.Add(1)
	s.bytesOut.Add(uint64(len(pkt)))
	s.metrics.packetSent(late)
	return true
}

// destination is where audio goes: the latched source once there is one, else the
// SDP's address (if known). Called with mu held.
func (s *Session) destination() netip.AddrPort {
	if s.source.IsValid() {
		return s.source
	}
	if s.remote.IsValid() && !s.remote.Addr().IsUnspecified() {
		return s.remote
	}
	return netip.AddrPort{}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// readLoop is the session's reader goroutine: one buffer, one packet, all work
// inline.
func (s *Session) readLoop() {
	defer func() {
		if n := s.loss.flush(); n > 0 {
			s.lost.Add(uint64(n))
			s.metrics.packetsLost(n)
		}
		s.readerWG.Done()
		s.finish()
	}()
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(s.recvBuf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.stopped:
				return
			default:
			}
			continue
		}
		s.receive(s.recvBuf[:n], unmap(from))
	}
}

// receive handles one datagram from the reader goroutine: accepted packets are
// forwarded to the bridge's writer (if any), then decoded for the tap and the
// in-band detector, or decoded as telephone-events for Digits. It allocates
// nothing.
func (s *Session) receive(b []byte, from netip.AddrPort) {
	s.mu.Lock()
	source, remote := s.source, s.remote
	codec, dtmfPT := s.codec, s.dtmfPT
	s.mu.Unlock()

	switch {
	case source.IsValid():
		if from != source {
			s.drop(dropForeign)
			return
		}
	case s.latch == LatchSDP:
		if !remote.IsValid() || from != remote {
			s.drop(dropForeign)
			return
		}
	}
	// Checked before Unmarshal, whose errors allocate.
	if len(b) < rtpHeaderSize || b[0]>>6 != 2 {
		s.drop(dropMalformed)
		return
	}
	if err := s.pkt.Unmarshal(b); err != nil {
		s.drop(dropMalformed)
		return
	}
	pt := s.pkt.PayloadType
	isDTMF := dtmfPT != 0 && pt == dtmfPT
	if !isDTMF && pt != codec.PayloadType {
		s.drop(dropWrongPT)
		return
	}
	if !source.IsValid() {
		s.latchTo(from)
	}
	s.lastRecv.Store(int64(s.pacer.now()))
	s.packetsIn.Add(1)
	s.bytesIn.Add(uint64(len(b)))
	s.metrics.packetReceived()

	if s.pkt.SSRC != s.loss.ssrc || !s.loss.started {
		s.dec.Reset()
	}
	lost, late, dup := s.loss.push(s.pkt.SSRC, s.pkt.SequenceNumber)
	if lost > 0 {
		s.lost.Add(uint64(lost))
		s.metrics.packetsLost(lost)
	}
	if late {
		s.late.Add(1)
	}

	if isDTMF {
		d, ok, err := s.dec.Decode(s.pkt.Timestamp, s.pkt.Payload)
		if err != nil {
			s.malformed.Add(1)
			s.metrics.dropped(dropMalformed)
			return
		}
		if !dup {
			s.forward(codec, true)
		}
		if ok {
			s.deliver(d)
		}
		return
	}
	if dup {
		return
	}
	s.forward(codec, false)
	if pts := s.ptaps.Load(); pts != nil {
		for _, pt := range *pts {
			(*pt)(codec, s.pkt.SSRC, s.pkt.Timestamp, s.pkt.Payload)
		}
	}
	tap := s.tap.Load()
	if tap == nil && s.det == nil {
		return
	}
	n := DecodeFrame(codec, s.pcm, s.pkt.Payload)
	pcm := s.pcm[:n]
	if s.det != nil {
		s.det.Feed(pcm, s.emit)
	}
	if tap != nil {
		(*tap)(pcm)
	}
}

// latchTo makes from the session's only accepted source, unless another source
// latched meanwhile (Update may have reset it).
func (s *Session) latchTo(from netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.source.IsValid() && !s.closed {
		s.source = from
		s.log.Debug("rtp source latched", "source", from.String())
	}
}

func (s *Session) drop(reason string) {
	switch reason {
	case dropForeign:
		s.foreign.Add(1)
	case dropMalformed:
		s.malformed.Add(1)
	default:
		s.wrongPT.Add(1)
	}
	s.metrics.dropped(reason)
}

// deliver hands d to Digits without blocking the reader.
func (s *Session) deliver(d Digit) {
	select {
	case s.digits <- d:
		s.metrics.DTMF(d.Via)
	default:
		s.digitsDropped.Add(1)
		s.log.Warn("dtmf digit dropped: nobody reads Digits", "key", string(d.Key))
	}
}

// Loss accounting after RFC 3550 appendix A.1, with a window so that reordering
// is not counted as loss: a sequence number is declared lost only when it falls
// lossWindow packets behind the highest one received. A packet arriving after a
// higher one is late; one seen before is a duplicate. A jump of maxDropout or
// more, a step back of maxMisorder or more, or a new SSRC restarts the count.
const (
	lossWindow  = 32
	maxDropout  = 3000
	maxMisorder = 100
)

type lossTracker struct {
	started bool
	ssrc    uint32
	max     uint16 // highest sequence number received
	win     uint32 // bit i: max-i was received
	span    int    // valid bits of win, 1..lossWindow
}

func windowMask(span int) uint32 { return uint32(uint64(1)<<span - 1) }

// push records one packet and returns how many sequence numbers it declared lost,
// whether the packet is late (reordered) and whether it is a duplicate.
func (t *lossTracker) push(ssrc uint32, seq uint16) (lost int, late, dup bool) {
	if !t.started || ssrc != t.ssrc {
		lost = t.flush()
		*t = lossTracker{started: true, ssrc: ssrc, max: seq, win: 1, span: 1}
		return lost, false, false
	}
	d := int(int16(seq - t.max))
	switch {
	case d == 0:
		return 0, false, true
	case d > 0 && d < maxDropout:
		// Old bits shifted out of the window that were never received are lost,
		// and so are new gaps that lie beyond the window at once.
		if d >= lossWindow {
			lost = bits.OnesCount32(windowMask(t.span)&^t.win) + d - lossWindow
			t.win = 1
		} else {
			out := windowMask(t.span) &^ windowMask(lossWindow-d)
			lost = bits.OnesCount32(out &^ t.win)
			t.win = t.win<<d | 1
		}
		t.span = min(lossWindow, t.span+d)
		t.max = seq
		return lost, false, false
	case d < 0 && -d < maxMisorder:
		j := -d
		if j < t.span {
			if t.win&(1<<j) != 0 {
				return 0, false, true
			}
			t.win |= 1 << j
		}
		return 0, true, false
	default:
		lost = t.flush()
		*t = lossTracker{started: true, ssrc: ssrc, max: seq, win: 1, span: 1}
		return lost, false, false
	}
}

// flush returns how many sequence numbers inside the window were never received.
func (t *lossTracker) flush() int {
	if !t.started {
		return 0
	}
	return bits.OnesCount32(windowMask(t.span) &^ t.win)
}
