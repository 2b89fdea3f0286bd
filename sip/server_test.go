package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// cannedSDP is the answer fakeHandler gives.
const cannedSDP = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

// admission is what fakeHandler.Admit was asked.
type admitCall struct{ trunk, dialled string }

// fakeHandler admits only the number 12345 (and answers it with cannedSDP);
// every other number gets 404. It records each Admit.
type fakeHandler struct {
	mu     sync.Mutex
	admits []admitCall
}

func (h *fakeHandler) Admit(t *Trunk, dialled string) int {
	h.mu.Lock()
	h.admits = append(h.admits, admitCall{t.Name, dialled})
	h.mu.Unlock()
	if dialled != "12345" {
		return 404
	}
	return 0
}

func (h *fakeHandler) ServeCall(c *Call) {
	if _, err := c.Answer([]byte(cannedSDP)); err != nil {
		return
	}
	<-c.Context().Done()
}

func (h *fakeHandler) seen() []admitCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]admitCall(nil), h.admits...)
}

// loopConfig is a server on a free loopback port whose one trunk admits 127.0.0.0/8.
func loopConfig() Config {
	cfg := Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Trunks = []Trunk{{Name: "loop", Networks: []string{"127.0.0.0/8"}}}
	return cfg
}

func listenLoop(t *testing.T, cfg Config, h Handler, o Options) *Server {
	t.Helper()
	srv, err := NewServer(cfg, h, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// udpPeer is a raw UDP socket on 127.0.0.1 that talks to the server.
type udpPeer struct {
	t    *testing.T
	conn net.PacketConn
	to   net.Addr
}

func newUDPPeer(t *testing.T, srv *Server) *udpPeer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpPeer{t: t, conn: conn, to: net.UDPAddrFromAddrPort(srv.Addr())}
}

func (p *udpPeer) send(data []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteTo(data, p.to); err != nil {
		p.t.Fatal(err)
	}
}

// final reads responses until a final one arrives or wait passes; nil means none.
func (p *udpPeer) final(wait time.Duration) *sipmsg.Response {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65535)
	for {
		if err := p.conn.SetReadDeadline(deadline); err != nil {
			p.t.Fatal(err)
		}
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			p.t.Fatal(err)
		}
		res := parseResponse(p.t, buf[:n])
		if res.StatusCode >= 200 {
			return res
		}
	}
}

func parseResponse(t *testing.T, data []byte) *sipmsg.Response {
	t.Helper()
	msg, err := sipmsg.ParseMessage(data)
	if err != nil {
		t.Fatalf("server sent something sipgo cannot parse: %v\n%s", err, data)
	}
	res, ok := msg.(*sipmsg.Response)
	if !ok {
		t.Fatalf("server sent a request where a response was due:\n%s", data)
	}
	return res
}

// withRport adds ";rport" to the first hop of the first Via header, so that the
// server answers to the port we sent from (RFC 3581) and not to 5060. Without it,
// RFC 3261 18.2.2 sends UDP responses to the Via port, where nobody listens in a test.
func withRport(msg []byte) []byte {
	head, _, _ := cutHead(msg)
	for off := 0; off < len(head); {
		line, rest := nextHeader(head[off:])
		next := len(head) - len(rest)
		name, _, ok := bytes.Cut(line, []byte{':'})
		if ok && headerID(trimLWS(name)) == hVia && off > 0 {
			if bytes.Contains(line, []byte("rport")) {
				return msg
			}
			at := off + len(line)
			if i := bytes.IndexByte(line, ','); i >= 0 {
				at = off + i
			}
			out := make([]byte, 0, len(msg)+6)
			out = append(append(append(out, msg[:at]...), ";rport"...), msg[at:]...)
			return out
		}
		off = next
	}
	return msg
}

// optionsMsg is a plain OPTIONS probe from a peer at from.
func optionsMsg(from net.Addr, transport, callID string) []byte {
	return fmt.Appendf(nil, "OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=p1\r\n"+
		"To: <sip:12345@127.0.0.1>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: 1 OPTIONS\r\n"+
		"Content-Length: 0\r\n\r\n", transport, from, callID, callID)
}

// probeOK checks that a plain OPTIONS over UDP still gets 200.
func probeOK(t *testing.T, srv *Server) {
	t.Helper()
	p := newUDPPeer(t, srv)
	p.send(optionsMsg(p.conn.LocalAddr(), "UDP", fmt.Sprintf("probe-%d", time.Now().UnixNano())))
	res := p.final(2 * time.Second)
	if res == nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS after the test: got %v, want 200", res)
	}
}

func TestUnknownAndUnservedMethods(t *testing.T) {
	srv := listenLoop(t, loopConfig(), &fakeHandler{}, Options{})
	tests := []struct {
		method string
		want   int
	}{
		{"OPTIONS", 200},
		{"REGISTER", 405}, // a SIP method we do not serve
		{"SUBSCRIBE", 405},
		{"FROBNICATE", 501}, // no RFC defines it
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			p := newUDPPeer(t, srv)
			msg := strings.ReplaceAll(string(optionsMsg(p.conn.LocalAddr(), "UDP", "m-"+tt.method)), "OPTIONS", tt.method)
			p.send([]byte(msg))
			res := p.final(2 * time.Second)
			if res == nil {
				t.Fatal("no response")
			}
			if res.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			if tt.want != 200 && res.GetHeader("Allow") == nil {
				t.Fatalf("%d without Allow", tt.want)
			}
		})
	}
}

func TestMalformedFloodLeavesNoState(t *testing.T) {
	srv := listenLoop(t, loopConfig(), &fakeHandler{}, Options{})
	probeOK(t, srv) // warm up sipgo's goroutines before counting
	before := runtime.NumGoroutine()

	var bad [][]byte
	for _, name := range []string{"badinv01", "insuf", "clerr", "ncl", "badvers", "unkscm", "bigcode", "scalarlg", "ltgtruri", "mcl01"} {
		data, err := os.ReadFile("testdata/rfc4475/" + name + ".dat")
		if err != nil {
			t.Fatal(err)
		}
		bad = append(bad, withRport(data))
	}
	bad = append(bad, []byte("\x00\x01garbage"), []byte("INVITE"), []byte("SIP/2.0 200\r\n\r\n"))

	p := newUDPPeer(t, srv)
	const flood = 3000
	answered := make(chan int)
	go func() { // drain the answers so the socket buffer never fills
		n := 0
		buf := make([]byte, 65535)
		for {
			_ = p.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := p.conn.ReadFrom(buf); err != nil {
				answered <- n
				return
			}
			n++
		}
	}()
	for i := range flood {
		p.send(bad[i%len(bad)])
		if i%200 == 0 {
			time.Sleep(time.Millisecond) // stay under the loopback socket buffer
		}
	}
	n := <-answered
	if n == 0 {
		t.Fatal("the flood of malformed requests got no answer at all")
	}
	t.Logf("%d malformed datagrams, %d answers", flood, n)

	probeOK(t, srv)
	if a := srv.Active(); a != 0 {
		t.Fatalf("Active() = %d after malformed datagrams, want 0", a)
	}
	// Let short-lived goroutines (the OPTIONS transactions) finish.
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after <= before+10 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after > before+10 {
		t.Fatalf("goroutines grew from %d to %d", before, after)
	}
}
