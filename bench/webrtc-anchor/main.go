// Command webrtc-anchor is the anchor of bench/webrtc.sh (issue 4): what a bridged
// SIP<->WebRTC call costs when it is built from bare parts, measured on the same
// machine in the same run as the engine (../shared/bench/README.md, "a bare Go relay
// leg + one pion SRTP end").
//
// It has two anchor roles, run as two processes so that the server's CPU can be read
// from /proc alone, and a helper role (agents):
//
//	webrtc-anchor serve [-rcvbuf BYTES]          # the measured side; prints "http http://127.0.0.1:PORT"
//	webrtc-anchor load -server URL -calls 250 -idle 30s -duration 90s
//	webrtc-anchor agents -engine URL -first 1001 -n 250 -hold 30s
//
// One anchor call in the serve process is:
//   - a bare Go relay leg: two UDP sockets on 127.0.0.1 and a goroutine per socket that
//     reads each datagram and writes it, untouched, out of the other socket to the far
//     end (no parsing, no renumbering);
//   - one pion/webrtc v4 audio PeerConnection, answered with the engine's own settings
//     (ICE-lite on one UDP port shared by every call through an ICE UDP mux, mDNS off,
//     loopback candidates, PCMU/PCMA/telephone-event only, webrtc.NewAPI without an
//     interceptor registry as the engine calls it, so pion's default interceptors run
//     in both; RTCP of the sender and receiver drained): a goroutine reads each SRTP
//     packet the peer sends (decrypt, parse) and writes it back on the
//     PeerConnection's own outgoing track (marshal, encrypt, send), so it receives and
//     sends 50 packets/s.
//
// The load process is everything else and is not measured: per call two UDP sockets
// that send 50 packets/s each (172 bytes: a 12-byte RTP header and 160 bytes of
// payload) into the two relay sockets and count what comes out of the other one, and
// a pion PeerConnection (a "browser": full ICE, loopback only) that sends 50 PCMU
// packets/s and counts the echoes. One pacing goroutine sends every call's packets
// each 20 ms. The load sets up every call, keeps them connected but silent for -idle
// (the anchor's counterpart of agents logged in with no call), then sends for
// -duration, prints the packets sent and received per direction, and exits; it
// prints "phase idle UNIX" and "phase send UNIX" as it enters each phase so that a
// script can place its measurement windows.
//
// The agents role is not part of the anchor: it logs -n simulated agents
// (internal/agentsim, the simulator `hotline demo` uses) into a running engine, lets
// them sit ready with their media connected and no call for -hold (it prints "phase
// idle UNIX" once all are in), and logs them out; bench/webrtc.sh measures the
// engine's idle cost with its agents logged in this way, since `hotline demo` starts
// its callers as soon as its agents are in.
//
// The serve process answers POST /calls (one call: the load's two relay addresses and
// its SDP offer; the reply has the relay's two addresses and the SDP answer) and GET
// /metrics (go_goroutines and its packet counters in the Prometheus text format). It
// binds 127.0.0.1 only and runs until SIGINT or SIGTERM.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/hotline12345/hotline/internal/agentsim"
)

const (
	ptime       = 20 * time.Millisecond
	payloadSize = 160 // 20 ms of G.711 at 8 kHz; with the 12-byte header 172 bytes
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: webrtc-anchor serve [-http ADDR] | load -server URL -calls K -idle D -duration D | agents -engine URL -first ID -n N -hold D")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "load":
		err = load(ctx, os.Args[2:])
	case "agents":
		err = agents(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown role %q (want serve, load or agents)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webrtc-anchor:", err)
		os.Exit(1)
	}
}

// codecs registers what the engine negotiates: PCMU, PCMA and telephone-event.
func codecs(tePT webrtc.PayloadType) (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: tePT},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("registering %s: %w", c.MimeType, err)
		}
	}
	return me, nil
}

// ---- serve: the measured side ----

type server struct {
	api   *webrtc.API
	relay atomic.Uint64 // datagrams the relay legs forwarded
	in    atomic.Uint64 // SRTP packets received by the PeerConnections
	out   atomic.Uint64 // SRTP packets sent by the PeerConnections
	calls atomic.Int64

	mu    sync.Mutex
	close []io.Closer
}

type callRequest struct {
	A, B  string // the load's relay sockets: A sends to the relay's A, B to its B
	Offer string
}

type callReply struct {
	A, B   string // the relay's sockets
	Answer string
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("http", "127.0.0.1:0", "HTTP address for /calls and /metrics (loopback)")
	rcvbuf := fs.Int("rcvbuf", 0, "receive buffer `bytes` of the shared ICE port (0: the kernel's default, as the engine has it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	me, err := codecs(101)
	if err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("ICE port: %w", err)
	}
	if *rcvbuf > 0 {
		if err := conn.SetReadBuffer(*rcvbuf); err != nil {
			return fmt.Errorf("ICE port receive buffer: %w", err)
		}
	}
	var se webrtc.SettingEngine
	se.SetLite(true)
	mux := webrtc.NewICEUDPMux(nil, conn)
	defer func() { _ = mux.Close() }()
	se.SetICEUDPMux(mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(4*time.Second, 15*time.Second, time.Second)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s := &server{api: webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))}
	defer s.shutdown()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	mux2 := http.NewServeMux()
	mux2.HandleFunc("POST /calls", s.handleCall)
	mux2.HandleFunc("GET /metrics", s.handleMetrics)
	hs := &http.Server{Handler: mux2, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("http http://%s\n", ln.Addr())
	fmt.Printf("ice udp %s\n", conn.LocalAddr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return nil
}

func (s *server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.close {
		_ = c.Close()
	}
	s.close = nil
}

func (s *server) keep(c io.Closer) {
	s.mu.Lock()
	s.close = append(s.close, c)
	s.mu.Unlock()
}

func (s *server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(w, "anchor_calls %d\n", s.calls.Load())
	fmt.Fprintf(w, "anchor_relay_packets_forwarded_total %d\n", s.relay.Load())
	fmt.Fprintf(w, "anchor_srtp_packets_received_total %d\n", s.in.Load())
	fmt.Fprintf(w, "anchor_srtp_packets_sent_total %d\n", s.out.Load())
}

func (s *server) handleCall(w http.ResponseWriter, r *http.Request) {
	var req callRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	rep, err := s.newCall(r.Context(), req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}

func (s *server) newCall(ctx context.Context, req callRequest) (callReply, error) {
	farA, err := net.ResolveUDPAddr("udp4", req.A)
	if err != nil {
		return callReply{}, fmt.Errorf("address a: %w", err)
	}
	farB, err := net.ResolveUDPAddr("udp4", req.B)
	if err != nil {
		return callReply{}, fmt.Errorf("address b: %w", err)
	}
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	a, err := net.ListenUDP("udp4", lo)
	if err != nil {
		return callReply{}, fmt.Errorf("relay socket: %w", err)
	}
	b, err := net.ListenUDP("udp4", lo)
	if err != nil {
		_ = a.Close()
		return callReply{}, fmt.Errorf("relay socket: %w", err)
	}
	s.keep(a)
	s.keep(b)
	// The relay leg: what arrives on a goes out of b to the far end b, and back.
	go s.forward(a, b, farB)
	go s.forward(b, a, farA)

	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return callReply{}, fmt.Errorf("peer connection: %w", err)
	}
	s.keep(pc)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "anchor")
	if err != nil {
		return callReply{}, fmt.Errorf("track: %w", err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return callReply{}, fmt.Errorf("add track: %w", err)
	}
	go drainRTCP(sender)
	pc.OnTrack(func(tr *webrtc.TrackRemote, rc *webrtc.RTPReceiver) {
		go drainRTCP(rc)
		go s.echo(tr, track)
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: req.Offer}); err != nil {
		return callReply{}, fmt.Errorf("offer: %w", err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return callReply{}, fmt.Errorf("answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return callReply{}, fmt.Errorf("answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return callReply{}, fmt.Errorf("gathering: %w", ctx.Err())
	}
	s.calls.Add(1)
	return callReply{A: a.LocalAddr().String(), B: b.LocalAddr().String(), Answer: pc.LocalDescription().SDP}, nil
}

// forward is one relay socket's goroutine: every datagram read from in is written
// out of out to far, as it is.
func (s *server) forward(in, out *net.UDPConn, far *net.UDPAddr) {
	buf := make([]byte, 1500)
	for {
		n, _, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if _, err := out.WriteToUDP(buf[:n], far); err == nil {
			s.relay.Add(1)
		}
	}
}

// echo reads the peer's SRTP packets and sends each back on the local track.
func (s *server) echo(tr *webrtc.TrackRemote, track *webrtc.TrackLocalStaticRTP) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		s.in.Add(1)
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		if track.WriteRTP(&p) == nil {
			s.out.Add(1)
		}
	}
}

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

// ---- load: the unmeasured side ----

type loadCall struct {
	a, b     *net.UDPConn // send to the relay's ra and rb
	ra, rb   *net.UDPAddr
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	gotA     atomic.Uint64 // datagrams received on a (sent by b through the relay)
	gotB     atomic.Uint64
	gotSRTP  atomic.Uint64
	sentSRTP uint64
}

func load(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	base := fs.String("server", "", "the serve process's base URL (http://127.0.0.1:PORT)")
	k := fs.Int("calls", 250, "calls to set up")
	idle := fs.Duration("idle", 30*time.Second, "how long the calls stay connected and silent before the media starts")
	dur := fs.Duration("duration", 90*time.Second, "how long media flows")
	par := fs.Int("parallel", 8, "calls set up at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *k <= 0 {
		return errors.New("load: -server and -calls > 0 are required")
	}
	me, err := codecs(126)
	if err != nil {
		return err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))

	calls := make([]*loadCall, *k)
	defer func() {
		for _, c := range calls {
			if c != nil {
				c.close()
			}
		}
	}()
	t0 := time.Now()
	sem := make(chan struct{}, max(1, *par))
	errs := make(chan error, *k)
	var wg sync.WaitGroup
	for i := range calls {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := setUp(ctx, api, *base)
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			calls[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("connected %d calls in %.1fs\n", *k, time.Since(t0).Seconds())
	fmt.Printf("phase idle %d\n", time.Now().Unix())
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*idle):
	}
	fmt.Printf("phase send %d\n", time.Now().Unix())
	sent := pace(ctx, calls, *dur)
	time.Sleep(500 * time.Millisecond) // the last packets arrive
	var ga, gb, gs, ss uint64
	minCall := ^uint64(0)
	for _, c := range calls {
		a, b, s := c.gotA.Load(), c.gotB.Load(), c.gotSRTP.Load()
		ga += a
		gb += b
		gs += s
		ss += c.sentSRTP
		minCall = min(minCall, a, b, s)
	}
	total := sent * uint64(*k)
	loss := func(got uint64) float64 { return 100 * (1 - float64(got)/float64(total)) }
	fmt.Printf("relay a->b: sent %d received %d loss %.3f%%\n", total, gb, loss(gb))
	fmt.Printf("relay b->a: sent %d received %d loss %.3f%%\n", total, ga, loss(ga))
	fmt.Printf("srtp echo: sent %d received %d loss %.3f%%\n", ss, gs, loss(gs))
	fmt.Printf("fewest packets of one call in one direction: %d of %d\n", minCall, sent)
	if minCall == 0 {
		return errors.New("a call carried no packets in one direction")
	}
	return nil
}

func setUp(ctx context.Context, api *webrtc.API, base string) (*loadCall, error) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	c := &loadCall{}
	var err error
	if c.a, err = net.ListenUDP("udp4", lo); err != nil {
		return nil, err
	}
	if c.b, err = net.ListenUDP("udp4", lo); err != nil {
		c.close()
		return nil, err
	}
	go count(c.a, &c.gotA)
	go count(c.b, &c.gotB)
	if c.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		c.close()
		return nil, err
	}
	c.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "mic", "browser")
	if err != nil {
		c.close()
		return nil, err
	}
	if _, err := c.pc.AddTransceiverFromTrack(c.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		c.close()
		return nil, err
	}
	connected := make(chan struct{})
	var once sync.Once
	c.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	c.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := tr.Read(buf); err != nil {
					return
				}
				c.gotSRTP.Add(1)
			}
		}()
	})
	off, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(off); err != nil {
		c.close()
		return nil, err
	}
	<-gathered
	body, _ := json.Marshal(callRequest{A: c.a.LocalAddr().String(), B: c.b.LocalAddr().String(), Offer: c.pc.LocalDescription().SDP})
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "POST", base+"/calls", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("POST /calls: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		c.close()
		return nil, fmt.Errorf("POST /calls: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var rep callReply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		c.close()
		return nil, fmt.Errorf("POST /calls: %w", err)
	}
	if c.ra, err = net.ResolveUDPAddr("udp4", rep.A); err != nil {
		c.close()
		return nil, err
	}
	if c.rb, err = net.ResolveUDPAddr("udp4", rep.B); err != nil {
		c.close()
		return nil, err
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: rep.Answer}); err != nil {
		c.close()
		return nil, fmt.Errorf("answer: %w", err)
	}
	select {
	case <-connected:
	case <-rctx.Done():
		c.close()
		return nil, fmt.Errorf("not connected: %w", rctx.Err())
	}
	return c, nil
}

func (c *loadCall) close() {
	if c.a != nil {
		_ = c.a.Close()
	}
	if c.b != nil {
		_ = c.b.Close()
	}
	if c.pc != nil {
		_ = c.pc.Close()
	}
}

func count(conn *net.UDPConn, n *atomic.Uint64) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
		n.Add(1)
	}
}

// pace sends, every 20 ms for d, one 172-byte RTP datagram from each call's a and b
// into the relay and one PCMU packet on its PeerConnection; it returns the number of
// 20-ms periods sent.
func pace(ctx context.Context, calls []*loadCall, d time.Duration) uint64 {
	t := time.NewTicker(ptime)
	defer t.Stop()
	end := time.Now().Add(d)
	var n uint64
	pkt := make([]byte, 12+payloadSize)
	payload := make([]byte, payloadSize)
	for i := range payload {
		payload[i] = 0xff // u-law silence
	}
	copy(pkt[12:], payload)
	pkt[0] = 0x80
	for time.Now().Before(end) {
		seq := uint16(n)
		ts := uint32(n) * payloadSize
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		for i, c := range calls {
			pkt[8], pkt[9], pkt[10], pkt[11] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
			_, _ = c.a.WriteToUDP(pkt, c.ra)
			_, _ = c.b.WriteToUDP(pkt, c.rb)
			p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
			if c.track.WriteRTP(&p) == nil {
				c.sentSRTP++
			}
		}
		n++
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
	}
	return n
}

// ---- agents: the engine's idle baseline with its agents logged in ----

func agents(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agents", flag.ContinueOnError)
	base := fs.String("engine", "", "the engine's HTTP base URL")
	first := fs.Int("first", 1001, "the first agent's id (ids are numbers counted up from it)")
	n := fs.Int("n", 250, "agents to log in")
	password := fs.String("password", "hotline-lab", "the agents' password")
	hold := fs.Duration("hold", 30*time.Second, "how long the agents stay logged in, ready, with no call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *n <= 0 {
		return errors.New("agents: -engine and -n > 0 are required")
	}
	o := agentsim.Options{Base: *base, Password: *password, TalkFor: time.Second}
	as := make([]*agentsim.Agent, *n)
	errs := make([]error, *n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range as {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			as[i], errs[i] = agentsim.Login(lctx, o, fmt.Sprint(*first+i))
		})
	}
	wg.Wait()
	defer func() {
		var cw sync.WaitGroup
		for _, a := range as {
			if a != nil {
				cw.Go(func() { _ = a.Close() })
			}
		}
		cw.Wait()
		fmt.Println("logged out")
	}()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("agents: logging in: %w", err)
	}
	fmt.Printf("logged in %d agents in %.1fs\n", *n, time.Since(t0).Seconds())
	rctx, stop := context.WithCancel(ctx)
	for _, a := range as {
		wg.Go(func() { _ = a.Run(rctx) })
	}
	fmt.Printf("phase idle %d\n", time.Now().Unix())
	select {
	case <-ctx.Done():
	case <-time.After(*hold):
	}
	stop()
	wg.Wait()
	return nil
}
