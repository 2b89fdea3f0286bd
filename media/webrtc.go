package media

// The agent's browser leg (DESIGN.md "Persistent agent media"): one WebRTC
// PeerConnection per logged-in agent, answered by the engine as an ICE-lite peer
// on one UDP port shared by all agents, kept open across calls. A call is switched
// into it by Bridge: the caller's packets are renumbered into the Peer's one
// outgoing stream (its own SSRC, sequence numbers and timestamps) and written as
// they come, with their G.711 payload untouched when the browser negotiated the
// caller's codec; the browser's packets (audio and RFC 4733 telephone-events from
// its keypad) are forwarded to the caller's session on the Peer's reader
// goroutine. Only PCMU, PCMA and telephone-event are negotiated: Chrome offers
// Opus first and accepts G.711, so nothing is transcoded. DTLS-SRTP is always on
// (pion does it; WebRTC requires it).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/zaf/g711"
)

// WebRTCConfig configures the engine's WebRTC side.
type WebRTCConfig struct {
	// Listen is the UDP address every agent's ICE and media traffic uses (one
	// firewall rule): "0.0.0.0:3478", or "127.0.0.1:0" for a lab on one machine.
	Listen string
	// PublicIPs, when set, are advertised to browsers instead of the listen
	// address (a 1:1 NAT in front of the engine).
	PublicIPs []string
	// Loopback lets 127.0.0.0/8 and ::1 be advertised (a lab or a test on one
	// machine); without it loopback addresses are never candidates.
	Loopback bool
	// Disconnected and Failed are how long without a packet from the browser a
	// connection is marked disconnected and failed (defaults 4 s and 15 s).
	Disconnected, Failed time.Duration
	// ReadBuffer is the shared socket's receive buffer in bytes (default 4 MiB;
	// the kernel caps it at net.core.rmem_max).
	ReadBuffer int
	// Metrics counts peers and forwarded packets; nil counts nothing.
	Metrics *Metrics
	// Logger receives pion's warnings; nil discards them.
	Logger *slog.Logger
}

// WebRTC answers agents' browsers. Create one per engine with NewWebRTC.
type WebRTC struct {
	api     *webrtc.API
	conn    *net.UDPConn
	mux     ice.UDPMux
	metrics *Metrics
	log     *slog.Logger
}

// NewWebRTC opens the shared ICE UDP port and prepares the codecs (PCMU, PCMA,
// telephone-event) every agent's connection negotiates.
func NewWebRTC(cfg WebRTCConfig) (*WebRTC, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Disconnected <= 0 {
		cfg.Disconnected = 4 * time.Second
	}
	if cfg.Failed <= cfg.Disconnected {
		cfg.Failed = max(15*time.Second, cfg.Disconnected+time.Second)
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("media: webrtc listen %q: %w", cfg.Listen, err)
	}
	var me webrtc.MediaEngine
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 101},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("media: webrtc codecs: %w", err)
		}
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("media: webrtc listen: %w", err)
	}
	// Every agent's media comes through this one socket: the kernel's default
	// receive buffer (about 200 KiB) overflowed at 250 calls in a burst.
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = 4 << 20
	}
	if err := conn.SetReadBuffer(cfg.ReadBuffer); err != nil {
		cfg.Logger.Warn("webrtc: receive buffer not set", "bytes", cfg.ReadBuffer, "error", err)
	}
	var se webrtc.SettingEngine
	se.SetLite(true)
	mux := webrtc.NewICEUDPMux(nil, conn)
	se.SetICEUDPMux(mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(cfg.Disconnected, cfg.Failed, time.Second)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	if ip := ua.IP; ip != nil && !ip.IsUnspecified() {
		// Bound to one address: advertise only that one.
		se.SetIPFilter(func(c net.IP) bool { return c.Equal(ip) })
	}
	if ip4 := ua.IP.To4(); ip4 != nil || ua.IP == nil {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP6})
	}
	if len(cfg.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("media: webrtc public addresses: %w", err)
		}
	}
	// An empty interceptor registry: without one pion installs its defaults
	// (NACK, RTCP reports, stats, TWCC), which cost goroutines and work per packet
	// that G.711 audio to a browser does not need (measured in BENCHMARKS.md 6).
	w := &WebRTC{
		api: webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se),
			webrtc.WithInterceptorRegistry(&interceptor.Registry{})),
		conn:    conn,
		mux:     mux,
		metrics: cfg.Metrics,
		log:     cfg.Logger,
	}
	return w, nil
}

const mimeTelephoneEvent = "audio/telephone-event"

// Addr is the shared ICE UDP address.
func (w *WebRTC) Addr() netip.AddrPort { return w.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Close closes the shared port; Peers still open stop carrying media.
func (w *WebRTC) Close() error { return w.mux.Close() }

// PeerState is the state of an agent's media connection.
type PeerState uint8

// The states of a Peer, in the order a connection usually goes through them.
const (
	PeerConnecting   PeerState = iota // ICE and DTLS being set up
	PeerConnected                     // media can flow
	PeerDisconnected                  // no packet from the browser for a while; may come back (ICE restart)
	PeerFailed                        // gave up; only an ICE restart can bring it back
	PeerClosed                        // closed for good
)

func (s PeerState) String() string {
	switch s {
	case PeerConnecting:
		return "connecting"
	case PeerConnected:
		return "connected"
	case PeerDisconnected:
		return "disconnected"
	case PeerFailed:
		return "failed"
	case PeerClosed:
		return "closed"
	}
	return fmt.Sprintf("PeerState(%d)", uint8(s))
}

// PeerStats are a Peer's packet counters since it was opened.
type PeerStats struct {
	PacketsIn, PacketsOut uint64 // RTP packets received from and sent to the browser
	EventsIn              uint64 // telephone-events among PacketsIn (the agent's keypad)
	Dropped               uint64 // received packets of no negotiated payload type
	Transcoded            uint64 // sent packets converted between u-law and A-law
}

// Peer is one agent's browser connection. It implements Leg, so Bridge switches a
// caller's session into it; between calls it sends nothing.
type Peer struct {
	pc      *webrtc.PeerConnection
	log     *slog.Logger
	metrics *Metrics
	epoch   time.Time
	onState func(PeerState)
	state   atomic.Uint32
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex // guards the outgoing stream and the bridge
	closed  bool
	bridge  *Bridged
	sending bool
	out     webrtc.TrackLocalWriter // nil until the track is bound
	ssrc    uint32
	txPT    [2]int16 // payload type for PCMU, PCMA; -1: not negotiated
	txTE    uint8    // telephone-event payload type; 0: none
	fwd     fwdState
	seq     uint16
	last    sentMark
	hdr     rtp.Header
	buf     [1500]byte

	fwdMu  sync.Mutex
	fwdTo  PacketWriter
	fwdPkt Packet

	packetsIn, packetsOut, eventsIn, dropped, transcoded atomic.Uint64
	ptap                                                 atomic.Pointer[PacketTap]
}

// Accept answers an agent browser's SDP offer (one audio track, sendrecv) with a
// new Peer and the SDP answer to send back. onState, when not nil, is called (on
// pion's goroutine, never concurrently) at every change of the connection's state.
// ctx bounds the wait for the answer's candidates.
func (w *WebRTC) Accept(ctx context.Context, offer string, log *slog.Logger, onState func(PeerState)) (*Peer, string, error) {
	if log == nil {
		log = w.log
	}
	pc, err := w.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("media: webrtc: %w", err)
	}
	p := &Peer{
		pc: pc, log: log, metrics: w.metrics, epoch: time.Now(), onState: onState,
		done: make(chan struct{}), sending: true, txPT: [2]int16{-1, -1},
		seq: uint16(rand.Uint32()),
	}
	p.last = sentMark{ts: rand.Uint32()}
	pc.OnConnectionStateChange(p.stateChanged)
	pc.OnTrack(func(tr *webrtc.TrackRemote, rc *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		go p.readLoop(tr, rc)
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		_ = pc.Close()
		return nil, "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	sender, err := pc.AddTrack(&peerTrack{p: p})
	if err != nil {
		_ = pc.Close()
		return nil, "", fmt.Errorf("%w: no G.711 audio to send on: %w", ErrBadOffer, err)
	}
	go drainRTCP(sender)
	answer, err := p.answer(ctx)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	w.metrics.peerOpened()
	return p, answer, nil
}

// ErrBadOffer is returned by Accept and Renegotiate for an offer the engine cannot
// answer: not SDP, no audio, no G.711, no DTLS fingerprint.
var ErrBadOffer = errors.New("media: unusable WebRTC offer")

// answer creates and applies the local answer once its candidates are gathered.
func (p *Peer) answer(ctx context.Context) (string, error) {
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("media: webrtc answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("media: webrtc candidates: %w", context.Cause(ctx))
	}
	ld := p.pc.LocalDescription()
	if ld == nil || !strings.Contains(ld.SDP, "a=candidate") {
		return "", errors.New("media: webrtc: no ICE candidate to offer the browser (check webrtc.listen)")
	}
	return ld.SDP, nil
}

// Renegotiate answers a new offer from the same browser: an ICE restart after its
// network changed. The Peer, its track and any bridge it is in stay as they are.
func (p *Peer) Renegotiate(ctx context.Context, offer string) (string, error) {
	if p.State() == PeerClosed {
		return "", ErrSessionClosed
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	p.metrics.iceRestart()
	return p.answer(ctx)
}

// drainRTCP reads and discards the RTCP of a sender or receiver until it closes:
// with the empty interceptor registry nothing uses it, and unread it would fill
// pion's buffers.
func drainRTCP(r interface {
	Read([]byte) (int, interceptor.Attributes, error)
}) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}

// stateChanged maps pion's connection state to PeerState.
func (p *Peer) stateChanged(s webrtc.PeerConnectionState) {
	var ps PeerState
	switch s {
	case webrtc.PeerConnectionStateConnected:
		ps = PeerConnected
	case webrtc.PeerConnectionStateDisconnected:
		ps = PeerDisconnected
	case webrtc.PeerConnectionStateFailed:
		ps = PeerFailed
		p.metrics.peerFailed()
	case webrtc.PeerConnectionStateClosed:
		ps = PeerClosed
	default:
		ps = PeerConnecting
	}
	if PeerState(p.state.Load()) == PeerClosed {
		return
	}
	p.state.Store(uint32(ps))
	p.log.Debug("agent media connection", "state", ps.String())
	if p.onState != nil {
		p.onState(ps)
	}
	if ps == PeerClosed {
		p.Close()
	}
}

// State is the connection's current state.
func (p *Peer) State() PeerState { return PeerState(p.state.Load()) }

// Done is closed when the Peer has been closed.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Stats returns the Peer's counters.
func (p *Peer) Stats() PeerStats {
	return PeerStats{
		PacketsIn: p.packetsIn.Load(), PacketsOut: p.packetsOut.Load(), EventsIn: p.eventsIn.Load(),
		Dropped: p.dropped.Load(), Transcoded: p.transcoded.Load(),
	}
}

// SetSending turns what a bridge forwards into the Peer off (hold: the agent hears
// silence) and on again.
func (p *Peer) SetSending(on bool) {
	p.mu.Lock()
	p.sending = on
	p.fwd.anchored = false
	p.mu.Unlock()
}

// Close ends the connection, and the bridge the Peer is in. Idempotent.
func (p *Peer) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		br := p.bridge
		p.mu.Unlock()
		if br != nil {
			br.end()
		}
		p.state.Store(uint32(PeerClosed))
		_ = p.pc.Close()
		p.metrics.peerClosed()
		close(p.done)
	})
	return nil
}

// readLoop reads the browser's audio track and forwards each packet to the bridge,
// if any. It ends when the track does (the connection closes).
func (p *Peer) readLoop(tr *webrtc.TrackRemote, rc *webrtc.RTPReceiver) {
	go drainRTCP(rc)
	var (
		buf           [1500]byte
		pkt           rtp.Packet
		rxPCMU, rxTE  int = -1, -1
		rxPCMA        int = -1
		paramsChecked bool
	)
	params := func() {
		rxPCMU, rxPCMA, rxTE = -1, -1, -1
		for _, c := range rc.GetParameters().Codecs {
			switch {
			case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU):
				rxPCMU = int(c.PayloadType)
			case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMA):
				rxPCMA = int(c.PayloadType)
			case strings.EqualFold(c.MimeType, mimeTelephoneEvent):
				rxTE = int(c.PayloadType)
			}
		}
		paramsChecked = true
	}
	params()
	for {
		n, _, err := tr.Read(buf[:])
		if err != nil {
			if !errors.Is(err, io.EOF) && p.State() != PeerClosed {
				p.log.Debug("agent media track ended", "error", err)
			}
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			p.dropped.Add(1)
			continue
		}
		p.packetsIn.Add(1)
		p.metrics.packetReceived()
		var codec Codec
		event := false
		switch pt := int(pkt.PayloadType); {
		case pt == rxPCMU:
			codec = PCMU
		case pt == rxPCMA:
			codec = PCMA
		case pt == rxTE && len(pkt.Payload) >= EventSize:
			event = true
			p.eventsIn.Add(1)
		default:
			if !paramsChecked {
				params()
			}
			paramsChecked = false // look again at the next unknown one (renegotiated)
			p.dropped.Add(1)
			continue
		}
		p.fwdMu.Lock()
		if w := p.fwdTo; w != nil {
			p.fwdPkt = Packet{Header: &pkt.Header, Payload: pkt.Payload, Codec: codec, Event: event}
			_ = w.WritePacket(&p.fwdPkt)
			p.fwdPkt = Packet{}
		}
		p.fwdMu.Unlock()
		if tap := p.ptap.Load(); tap != nil && !event {
			(*tap)(codec, pkt.SSRC, pkt.Timestamp, pkt.Payload)
		}
	}
}

// TapPackets sets fn to see every audio packet received from the browser (a
// recorder); nil removes it.
func (p *Peer) TapPackets(fn PacketTap) {
	if fn == nil {
		p.ptap.Store(nil)
		return
	}
	p.ptap.Store(&fn)
}

func (p *Peer) attach(br *Bridged) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return ErrSessionClosed
	case p.bridge != nil:
		return ErrAlreadyBridged
	}
	p.bridge = br
	p.fwd.anchored = false
	p.sending = true
	return nil
}

func (p *Peer) detach(br *Bridged) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bridge == br {
		p.bridge = nil
		p.fwd.anchored = false
	}
}

func (p *Peer) forwardTo(w PacketWriter) {
	p.fwdMu.Lock()
	p.fwdTo = w
	p.fwdMu.Unlock()
}

// WritePacket implements PacketWriter: it sends pk, received by the other leg of
// the Peer's bridge, to the browser on the Peer's outgoing stream, renumbered like
// Session.WritePacket does. The payload goes as it is when the browser negotiated
// its codec, converted between u-law and A-law when it negotiated only the other.
// Nothing is sent, and nil returned, while the Peer is held (SetSending false) or
// before its track is bound. It returns ErrNotBridged outside a bridge and
// ErrSessionClosed after Close.
func (p *Peer) WritePacket(pk *Packet) error {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return ErrSessionClosed
	case p.bridge == nil:
		p.mu.Unlock()
		return ErrNotBridged
	case !p.sending || p.out == nil:
		p.fwd.anchored = false
		p.mu.Unlock()
		return nil
	}
	var (
		pt         uint8
		payload    []byte
		span       uint32
		transcoded bool
	)
	if pk.Event {
		if p.txTE == 0 || len(pk.Payload) < EventSize {
			p.mu.Unlock()
			return nil
		}
		pt, payload = p.txTE, pk.Payload
		span = uint32(binary.BigEndian.Uint16(pk.Payload[2:4]))
	} else {
		law := 0
		if isALaw(pk.Codec) {
			law = 1
		}
		switch {
		case p.txPT[law] >= 0:
			pt, payload = uint8(p.txPT[law]), pk.Payload
		case p.txPT[1-law] >= 0:
			pt = uint8(p.txPT[1-law])
			n := min(len(p.buf), len(pk.Payload))
			for i, b := range pk.Payload[:n] {
				if law == 0 {
					p.buf[i] = g711.Ulaw2AlawFrame(b)
				} else {
					p.buf[i] = g711.Alaw2UlawFrame(b)
				}
			}
			payload, transcoded = p.buf[:n], true
		default:
			p.mu.Unlock()
			return nil
		}
		span = uint32(len(payload))
	}
	now := time.Since(p.epoch)
	seq, ts, marker, ok := p.fwd.place(pk.Header, p.seq, p.resumeTS(now))
	if !ok {
		p.mu.Unlock()
		return nil
	}
	p.hdr = rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: p.ssrc}
	if int16(seq-p.seq) >= 0 {
		p.seq = seq + 1
	}
	if !p.last.ok || int32(ts+span-(p.last.ts+p.last.span)) > 0 {
		p.last = sentMark{ok: true, ts: ts, span: span, at: now}
	}
	_, err := p.out.WriteRTP(&p.hdr, payload)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("media: forward to browser: %w", err)
	}
	p.packetsOut.Add(1)
	if transcoded {
		p.transcoded.Add(1)
	}
	p.metrics.packetForwarded(transcoded)
	return nil
}

// resumeTS: the timestamp of a packet sent at now that starts a new talk spurt.
// Called with mu held.
func (p *Peer) resumeTS(now time.Duration) uint32 {
	if !p.last.ok {
		return p.last.ts
	}
	elapsed := uint32(max(0, now-p.last.at) * 8000 / time.Second)
	return p.last.ts + max(elapsed, p.last.span)
}

// peerTrack is the Peer's outgoing audio track: a pass-through that lets the Peer
// write RTP with its own payload types (pion's TrackLocalStaticRTP rewrites every
// packet to one payload type, which would turn telephone-events into noise).
type peerTrack struct{ p *Peer }

func (t *peerTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var first *webrtc.RTPCodecParameters
	p.txPT, p.txTE = [2]int16{-1, -1}, 0
	for _, c := range ctx.CodecParameters() {
		switch {
		case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU):
			p.txPT[0] = int16(c.PayloadType)
		case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMA):
			p.txPT[1] = int16(c.PayloadType)
		case strings.EqualFold(c.MimeType, mimeTelephoneEvent):
			p.txTE = uint8(c.PayloadType)
			continue
		default:
			continue
		}
		if first == nil {
			first = &c
		}
	}
	if first == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	p.out, p.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
	return *first, nil
}

func (t *peerTrack) Unbind(webrtc.TrackLocalContext) error {
	t.p.mu.Lock()
	t.p.out = nil
	t.p.mu.Unlock()
	return nil
}

func (t *peerTrack) ID() string                { return "audio" }
func (t *peerTrack) RID() string               { return "" }
func (t *peerTrack) StreamID() string          { return "hotline" }
func (t *peerTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
