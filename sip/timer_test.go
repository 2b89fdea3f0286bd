package sip

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/hotline12345/hotline/internal/clock"
)

// answerer is a Handler that answers every call with a fixed SDP and reports the
// cause with which each call ended.
type answerer struct {
	ended chan error
	calls chan *Call
}

func (a *answerer) Admit(*Trunk, string) int { return 0 }

func (a *answerer) ServeCall(c *Call) {
	c.OnReoffer(func(offer []byte) ([]byte, error) { return []byte(testSDP), nil })
	if _, err := c.Answer([]byte(testSDP)); err != nil {
		a.ended <- err
		return
	}
	select {
	case a.calls <- c:
	default:
	}
	<-c.Context().Done()
	cause := context.Cause(c.Context())
	if errors.Is(cause, ErrSessionExpired) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = c.Hangup(ctx, 102, "session timer expired")
	}
	a.ended <- cause
}

const testSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

func startServer(t *testing.T, h Handler, clk clock.Clock) *Server {
	t.Helper()
	cfg := Default()
	cfg.Listen = "127.0.0.1:0"
	srv, err := NewServer(cfg, h, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// dialer is a sipgo UAC on its own UDP port.
func dialer(t *testing.T) (*sipgo.DialogUA, *sipgo.UserAgent) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("timer-test"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	go srv.ServeUDP(conn)
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	if err != nil {
		t.Fatal(err)
	}
	dua := &sipgo.DialogUA{Client: cli, ContactHDR: sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "t", Host: "127.0.0.1", Port: port}}}
	srv.OnBye(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	})
	t.Cleanup(func() { ua.Close(); conn.Close() })
	return dua, ua
}

func invite(t *testing.T, dua *sipgo.DialogUA, srv *Server, hdrs ...sipmsg.Header) *sipgo.DialogClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	to := sipmsg.Uri{Scheme: "sip", User: "12345", Host: srv.Addr().Addr().String(), Port: int(srv.Addr().Port())}
	hdrs = append(hdrs, sipmsg.NewHeader("Content-Type", "application/sdp"))
	sess, err := dua.Invite(ctx, to, []byte(testSDP), hdrs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	return sess
}

func TestSessionTimerExpiresWithoutRefresh(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	h := &answerer{ended: make(chan error, 1), calls: make(chan *Call, 1)}
	srv := startServer(t, h, clk)
	dua, _ := dialer(t)

	armed := clk.TimerCreated()
	sess := invite(t, dua, srv, sipmsg.NewHeader("Session-Expires", "120;refresher=uac"), sipmsg.NewHeader("Supported", "timer"))
	res := sess.InviteResponse
	if h := res.GetHeader("Session-Expires"); h == nil || h.Value() != "120;refresher=uac" {
		t.Fatalf("2xx Session-Expires = %v, want 120;refresher=uac", h)
	}
	if h := res.GetHeader("Require"); h == nil || h.Value() != "timer" {
		t.Fatalf("2xx Require = %v, want timer", h)
	}
	<-h.calls
	<-armed
	// RFC 4028 section 10: the session is torn down at 120 - min(32, 40) = 88 s.
	clk.Advance(87 * time.Second)
	select {
	case err := <-h.ended:
		t.Fatalf("call ended early: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	clk.Advance(2 * time.Second)
	select {
	case err := <-h.ended:
		if !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("cause = %v, want ErrSessionExpired", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call not ended after the session interval")
	}
}

func TestSessionTimerRefreshedByReinvite(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	h := &answerer{ended: make(chan error, 1), calls: make(chan *Call, 1)}
	srv := startServer(t, h, clk)
	dua, _ := dialer(t)
	armed := clk.TimerCreated()
	sess := invite(t, dua, srv, sipmsg.NewHeader("Session-Expires", "90"), sipmsg.NewHeader("Supported", "timer"))
	<-h.calls
	<-armed
	for i := range 3 {
		clk.Advance(50 * time.Second)
		rearmed := clk.TimerCreated()
		req := sipmsg.NewRequest(sipmsg.INVITE, sess.InviteResponse.Contact().Address)
		req.AppendHeader(sipmsg.NewHeader("Session-Expires", "90;refresher=uac"))
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody([]byte(testSDP))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := sess.Do(ctx, req)
		cancel()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("refresh %d: %v %v", i, res, err)
		}
		ack := sipmsg.NewRequest(sipmsg.ACK, sess.InviteResponse.Contact().Address)
		ack.AppendHeader(sipmsg.NewHeader("CSeq", strconv.Itoa(int(res.CSeq().SeqNo))+" ACK"))
		if err := sess.WriteRequest(ack); err != nil {
			t.Fatal(err)
		}
		<-rearmed
	}
	select {
	case err := <-h.ended:
		t.Fatalf("refreshed call ended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-h.ended; !errors.Is(err, ErrRemoteBye) {
		t.Fatalf("cause = %v, want ErrRemoteBye", err)
	}
}

func TestSessionIntervalTooSmall(t *testing.T) {
	h := &answerer{ended: make(chan error, 1), calls: make(chan *Call, 1)}
	srv := startServer(t, h, nil)
	dua, _ := dialer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	to := sipmsg.Uri{Scheme: "sip", User: "12345", Host: "127.0.0.1", Port: int(srv.Addr().Port())}
	sess, err := dua.Invite(ctx, to, []byte(testSDP), sipmsg.NewHeader("Session-Expires", "30"), sipmsg.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{})
	var re *sipgo.ErrDialogResponse
	if !errors.As(err, &re) || re.Res.StatusCode != 422 {
		t.Fatalf("want 422, got %v", err)
	}
	if h := re.Res.GetHeader("Min-SE"); h == nil || h.Value() != "90" {
		t.Fatalf("Min-SE = %v", h)
	}
}
