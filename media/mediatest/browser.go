package mediatest

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"github.com/zaf/g711"

	"github.com/hotline12345/hotline/media"
)

// Browser is a WebRTC client that stands in for an agent's browser: it offers one
// sendrecv audio track (PCMU, PCMA, telephone-event), sends what Play gives it and
// records every RTP packet it receives. It gathers only loopback candidates and
// never uses mDNS, so it talks to an engine on 127.0.0.1 and nothing else. Its
// methods are safe for concurrent use; Close it at the end.
type Browser struct {
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	paused *atomic.Bool // its sockets send nothing: a network that went away

	mu        sync.Mutex
	received  []Packet
	connected chan struct{}
	once      sync.Once
	seq       uint16
	ts        uint32
}

// NewBrowser creates a Browser; Offer starts the connection.
func NewBrowser() (*Browser, error) {
	var me webrtc.MediaEngine
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: 126},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	paused := new(atomic.Bool)
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	se.SetNet(pausableNet{Net: std, paused: paused})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "mic", "browser")
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	b := &Browser{pc: pc, track: track, paused: paused, connected: make(chan struct{})}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			b.once.Do(func() { close(b.connected) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			buf := make([]byte, 1500)
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				var p rtp.Packet
				if p.Unmarshal(buf[:n]) != nil {
					continue
				}
				b.mu.Lock()
				b.received = append(b.received, Packet{Header: p.Header, Payload: append([]byte(nil), p.Payload...), At: time.Now()})
				b.mu.Unlock()
			}
		}()
	})
	return b, nil
}

// Offer returns the SDP offer to hand to the engine, its candidates gathered; with
// restart true it is an ICE restart of a connection already up.
func (b *Browser) Offer(ctx context.Context, restart bool) (string, error) {
	off, err := b.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(off); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return b.pc.LocalDescription().SDP, nil
}

// Answer applies the engine's SDP answer.
func (b *Browser) Answer(sdp string) error {
	return b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// WaitConnected waits until ICE and DTLS are up.
func (b *Browser) WaitConnected(ctx context.Context) error {
	select {
	case <-b.connected:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mediatest: browser not connected: %w", ctx.Err())
	}
}

// Play sends src as PCMU, one packet every PTime, until it ends or ctx does.
func (b *Browser) Play(ctx context.Context, src media.Source) error {
	frame := make([]byte, 160)
	t := time.NewTicker(PTime)
	defer t.Stop()
	for {
		n, ok := src.Next(media.PCMU, frame)
		if n == 0 {
			return nil
		}
		b.mu.Lock()
		b.seq++
		b.ts += uint32(n)
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: b.seq, Timestamp: b.ts}, Payload: frame[:n]}
		b.mu.Unlock()
		if err := b.track.WriteRTP(p); err != nil {
			return err
		}
		if !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Received returns a copy of the packets received after since.
func (b *Browser) Received(since time.Time) []Packet {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Packet
	for _, p := range b.received {
		if !p.At.Before(since) {
			out = append(out, p)
		}
	}
	return out
}

// Pause makes the Browser's sockets send nothing (on) or send again (off), as when
// its network goes away and comes back; nothing is closed.
func (b *Browser) Pause(on bool) { b.paused.Store(on) }

// Close ends the connection.
func (b *Browser) Close() error { return b.pc.Close() }

// ToneShare is the share of the power of the G.711 audio packets at hz (Goertzel
// over all of them): near 1 for a pure tone at hz, near 0 for silence or another
// tone. Packets of payload type 0 are u-law, 8 A-law; others are skipped.
func ToneShare(pkts []Packet, hz float64) float64 {
	var s1, s2, total float64
	coeff := 2 * math.Cos(2*math.Pi*hz/8000)
	n := 0
	for _, p := range pkts {
		for _, c := range p.Payload {
			var x float64
			switch p.Header.PayloadType {
			case 0:
				x = float64(g711.DecodeUlawFrame(c))
			case 8:
				x = float64(g711.DecodeAlawFrame(c))
			default:
				continue
			}
			total += x * x
			s0 := x + coeff*s1 - s2
			s2, s1 = s1, s0
			n++
		}
	}
	if n == 0 || total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(n) * total)
}

// pausableNet is the operating system's network whose UDP sockets drop what they
// send while paused.
type pausableNet struct {
	*stdnet.Net
	paused *atomic.Bool
}

func (n pausableNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return pausableConn{UDPConn: c, paused: n.paused}, nil
}

func (n pausableNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return pausablePacketConn{PacketConn: c, paused: n.paused}, nil
}

type pausableConn struct {
	transport.UDPConn
	paused *atomic.Bool
}

func (c pausableConn) WriteTo(b []byte, a net.Addr) (int, error) {
	if c.paused.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, a)
}

func (c pausableConn) WriteToUDP(b []byte, a *net.UDPAddr) (int, error) {
	if c.paused.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDP(b, a)
}

func (c pausableConn) Write(b []byte) (int, error) {
	if c.paused.Load() {
		return len(b), nil
	}
	return c.UDPConn.Write(b)
}

type pausablePacketConn struct {
	net.PacketConn
	paused *atomic.Bool
}

func (c pausablePacketConn) WriteTo(b []byte, a net.Addr) (int, error) {
	if c.paused.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, a)
}
