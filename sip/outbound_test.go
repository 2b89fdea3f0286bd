package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/hotline12345/hotline/internal/clock"
)

// offerSDP is the engine's offer in the Dial tests.
const offerSDP = "v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"

// sippBin finds SIPp: a missing SIPp fails the test in CI and skips it elsewhere.
func sippBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sipp is not installed (Debian package sip-tester)")
		}
		t.Skip("sipp is not installed (Debian package sip-tester)")
	}
	return bin
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago (SIPp's -p 0
// does not pick a free port).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// freeUDPRange returns a port p such that p to p+n-1 are free on 127.0.0.1 now
// (SIPp's media port and the ones after it that it binds too).
func freeUDPRange(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		p := freeUDPPort(t)
		if p+n > 65535 {
			continue
		}
		var held []net.PacketConn
		ok := true
		for i := range n {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free range of UDP ports")
	return 0
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sippRun is one SIPp process running one call.
type sippRun struct {
	t    *testing.T
	dir  string
	out  *lockedBuf
	done chan struct{}
	err  error
}

// startSIPp runs scenario (from testdata/sipp, with {{KEY}} replaced) on 127.0.0.1:port
// against srv; it is killed in t.Cleanup if still running.
func startSIPp(t *testing.T, srv *Server, scenario string, port int, replace map[string]string, args ...string) *sippRun {
	t.Helper()
	bin := sippBin(t)
	data, err := os.ReadFile(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for k, v := range replace {
		text = strings.ReplaceAll(text, "{{"+k+"}}", v)
	}
	if i := strings.Index(text, "{{"); i >= 0 {
		t.Fatalf("%s: placeholder left near %q", scenario, text[i:min(len(text), i+24)])
	}
	dir := t.TempDir()
	scen := filepath.Join(dir, scenario)
	if err := os.WriteFile(scen, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &sippRun{t: t, dir: dir, out: &lockedBuf{}, done: make(chan struct{})}
	all := []string{
		"-sf", scen, "-i", "127.0.0.1", "-ci", "127.0.0.1", "-p", strconv.Itoa(port),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPRange(t, 4)),
		"-m", "1", "-l", "1", "-nostdin", "-timeout", "20s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		"-watchdog_minor_maxtriggers", "100000", "-watchdog_major_maxtriggers", "100000",
	}
	all = append(all, args...)
	all = append(all, srv.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = r.out, r.out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("sipp: %v", err)
	}
	go func() {
		r.err = cmd.Wait()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	// On a busy machine SIPp takes a while to bind its port: a request sent
	// before would wait for a retransmission, longer than a short ring timeout.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			break // SIPp has it
		}
		c.Close()
		select {
		case <-r.done:
			t.Fatalf("sipp exited at start: %s", r.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return r
}

// wait returns SIPp's exit code (0: the scenario passed).
func (r *sippRun) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(35 * time.Second):
		r.t.Fatal("sipp did not end")
	}
	var ee *exec.ExitError
	switch {
	case r.err == nil:
		return 0
	case errors.As(r.err, &ee):
		return ee.ExitCode()
	}
	return -1
}

func (r *sippRun) mustPass() {
	r.t.Helper()
	if code := r.wait(); code != 0 {
		r.t.Fatalf("sipp exited with %d: %s", code, r.logs())
	}
}

func (r *sippRun) logs() string {
	var b strings.Builder
	for _, f := range []string{"errors.log", "messages.log"} {
		data, _ := os.ReadFile(filepath.Join(r.dir, f))
		lines := strings.Split(string(data), "\n")
		fmt.Fprintf(&b, "\n--- %s:\n%s", f, strings.Join(lines[max(0, len(lines)-80):], "\n"))
	}
	fmt.Fprintf(&b, "\n--- output:\n%s", r.out.String())
	return b.String()
}

// seatServer is a server (real clock) with a registrar that offers MD5 only, as SIPp
// 3.6.1 knows no SHA-256.
func seatServer(t *testing.T) (*Server, *Registrar, *reachLog) {
	t.Helper()
	cfg := DefaultRegistrar()
	cfg.Algorithms = []string{"MD5"}
	reach := newReachLog()
	reg, err := NewRegistrar(cfg, seats(cfg.Realm), RegistrarOptions{OnReachable: reach.note})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	srv, err := NewServer(loopConfig(), &fakeHandler{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetRegistrar(reg)
	if err := srv.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, reg, reach
}

func registerSIPp(t *testing.T, srv *Server, port int, password string, unregister bool) *sippRun {
	t.Helper()
	repl := map[string]string{"EXPIRES": "300", "UNREG_BEGIN": "<!--", "UNREG_END": "-->"}
	if unregister {
		repl["UNREG_BEGIN"], repl["UNREG_END"] = "", ""
	}
	return startSIPp(t, srv, "register.xml", port, repl, "-s", "2001", "-au", "2001", "-ap", password)
}

func nextNote(t *testing.T, l *reachLog) string {
	t.Helper()
	select {
	case n := <-l.ch:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no OnReachable call")
		return ""
	}
}

func TestSIPpRegisters(t *testing.T) {
	t.Run("register", func(t *testing.T) {
		srv, reg, reach := seatServer(t)
		port := freeUDPPort(t)
		registerSIPp(t, srv, port, labPassword, false).mustPass()
		bs := reg.Lookup("2001")
		if len(bs) != 1 {
			t.Fatalf("bindings %v, want 1", bs)
		}
		b := bs[0]
		if b.Contact != fmt.Sprintf("sip:2001@127.0.0.1:%d", port) || int(b.Source.Port()) != port || b.UserAgent != "SIPp seat" {
			t.Fatalf("binding %+v", b)
		}
		if left := time.Until(b.Expires); left < 290*time.Second || left > 300*time.Second {
			t.Fatalf("binding expires in %v, want 300s", left)
		}
		if n := nextNote(t, reach); n != "2001+" {
			t.Fatalf("OnReachable %s, want 2001+", n)
		}
	})
	t.Run("register and unregister", func(t *testing.T) {
		srv, reg, reach := seatServer(t)
		registerSIPp(t, srv, freeUDPPort(t), labPassword, true).mustPass()
		if bs := reg.Lookup("2001"); len(bs) != 0 {
			t.Fatalf("bindings %v after unregistering", bs)
		}
		for _, want := range []string{"2001+", "2001-"} {
			if n := nextNote(t, reach); n != want {
				t.Fatalf("OnReachable %s, want %s", n, want)
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv, reg, _ := seatServer(t)
		r := registerSIPp(t, srv, freeUDPPort(t), "wrong", false)
		if code := r.wait(); code == 0 {
			t.Fatalf("SIPp registered with a wrong password: %s", r.logs())
		}
		if bs := reg.Lookup("2001"); len(bs) != 0 {
			t.Fatalf("bindings %v after a wrong password", bs)
		}
	})
}

// progressLog collects OnProgress calls.
type progressLog struct {
	mu    sync.Mutex
	codes []int
	first chan struct{}
	once  sync.Once
}

func newProgressLog() *progressLog { return &progressLog{first: make(chan struct{})} }

func (p *progressLog) on(pr Progress) {
	p.mu.Lock()
	p.codes = append(p.codes, pr.Code)
	p.mu.Unlock()
	p.once.Do(func() { close(p.first) })
}

func (p *progressLog) all() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.codes...)
}

func TestDialSIPpAgent(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		repl     map[string]string
		viaReg   bool          // dial the registered contact (else a fixed URI)
		ring     time.Duration // ring timeout
		withdraw bool          // cancel Dial's context at the first progress
		wantErr  error         // nil: answered
		wantCode int
		progress []int
		hangup   string // answered: "engine" or "phone" ends the call
	}{
		{name: "answer, engine hangs up", scenario: "agent_answer.xml", viaReg: true,
			repl: map[string]string{"PROVISIONAL": "1", "CODE": "180"}, progress: []int{180}, hangup: "engine"},
		{name: "183 fifteen times, phone hangs up", scenario: "agent_answer.xml",
			repl: map[string]string{"PROVISIONAL": "15", "CODE": "183"}, progress: []int{183}, hangup: "phone"},
		{name: "busy", scenario: "agent_reject.xml", repl: map[string]string{"CODE": "486", "REASON": "Busy Here"},
			wantErr: ErrBusy, wantCode: 486, progress: []int{180}},
		{name: "decline", scenario: "agent_reject.xml", repl: map[string]string{"CODE": "603", "REASON": "Decline"},
			wantErr: ErrDeclined, wantCode: 603, progress: []int{180}},
		{name: "server error", scenario: "agent_reject.xml", repl: map[string]string{"CODE": "500", "REASON": "Server Internal Error"},
			wantErr: ErrDialRejected, wantCode: 500, progress: []int{180}},
		{name: "no answer", scenario: "agent_ring.xml", ring: time.Second, wantErr: ErrNoAnswer, progress: []int{180}},
		{name: "caller hangs up while ringing", scenario: "agent_ring.xml", withdraw: true, wantErr: ErrWithdrawn, progress: []int{180}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reg, _ := seatServer(t)
			port := freeUDPPort(t)
			target := Target{URI: fmt.Sprintf("sip:2001@127.0.0.1:%d", port)}
			if tt.viaReg {
				registerSIPp(t, srv, port, labPassword, false).mustPass()
				bs := reg.Lookup("2001")
				if len(bs) != 1 {
					t.Fatalf("bindings %v", bs)
				}
				target = bs[0].Target()
			}
			repl := map[string]string{}
			for k, v := range tt.repl {
				repl[k] = v
			}
			// agent_answer.xml: keep the hang-up part of the side that ends the call.
			for _, side := range []string{"engine", "phone"} {
				begin, end := "<!--", "-->"
				if side == tt.hangup {
					begin, end = "", ""
				}
				repl[strings.ToUpper(side)+"_BYE_BEGIN"], repl[strings.ToUpper(side)+"_BYE_END"] = begin, end
			}
			phone := startSIPp(t, srv, tt.scenario, port, repl)
			prog := newProgressLog()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			dctx, withdraw := context.WithCancelCause(ctx)
			defer withdraw(nil)
			if tt.withdraw {
				go func() {
					select {
					case <-prog.first:
						withdraw(errors.New("caller hung up"))
					case <-ctx.Done():
					}
				}()
			}
			oc, err := srv.Dial(dctx, target, []byte(offerSDP), DialOptions{From: "13800138000", RingTimeout: tt.ring, OnProgress: prog.on})
			if got := prog.all(); fmt.Sprint(got) != fmt.Sprint(tt.progress) {
				t.Errorf("progress %v, want %v", got, tt.progress)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Dial: %v, want %v", err, tt.wantErr)
				}
				var de *DialError
				if !errors.As(err, &de) || de.Code != tt.wantCode {
					t.Fatalf("Dial: %#v, want code %d", err, tt.wantCode)
				}
				phone.mustPass()
				waitNoOutbound(t, srv)
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v; %s", err, phone.logs())
			}
			if !bytes.Contains(oc.Answer, []byte("PCMA/8000")) || oc.Remote.Port() != uint16(port) {
				t.Fatalf("answer %q from %v", oc.Answer, oc.Remote)
			}
			select {
			case d := <-oc.Digits():
				if d.Key != '5' || d.Duration != 160*time.Millisecond {
					t.Fatalf("digit %+v, want 5 for 160ms", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no INFO digit; %s", phone.logs())
			}
			switch tt.hangup {
			case "engine":
				hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
				defer hcancel()
				if err := oc.Hangup(hctx, 16, "normal clearing"); err != nil {
					t.Fatalf("Hangup: %v", err)
				}
			case "phone":
				select {
				case <-oc.Context().Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the phone's BYE did not end the leg")
				}
				if c := context.Cause(oc.Context()); !errors.Is(c, ErrRemoteBye) {
					t.Fatalf("cause %v, want ErrRemoteBye", c)
				}
				if err := oc.Hangup(ctx, 16, "normal clearing"); !errors.Is(err, ErrEnded) {
					t.Fatalf("Hangup after the phone's BYE: %v, want ErrEnded", err)
				}
			}
			phone.mustPass()
			waitNoOutbound(t, srv)
			if tt.hangup == "engine" && !strings.Contains(readFile(t, phone.dir, "messages.log"), "Reason: Q.850;cause=16") {
				t.Error("the engine's BYE carried no Reason header")
			}
		})
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// waitNoOutbound waits until the server holds no outbound leg and no goroutine
// finishing an abandoned INVITE.
func waitNoOutbound(t *testing.T, srv *Server) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		srv.agents.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatal("CANCEL clean-up goroutines still running")
	}
	srv.agents.mu.Lock()
	n := len(srv.agents.dialogs)
	srv.agents.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d outbound dialogs left", n)
	}
}

// rawPhone is a UDP socket that plays an agent's phone message by message.
type rawPhone struct {
	t    *testing.T
	conn net.PacketConn
}

func newRawPhone(t *testing.T) *rawPhone {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPhone{t: t, conn: c}
}

func (p *rawPhone) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// recv waits for a request with method (skipping retransmissions of others).
func (p *rawPhone) recv(method string) (*sipmsg.Request, net.Addr) {
	p.t.Helper()
	buf := make([]byte, 65535)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = p.conn.SetReadDeadline(deadline)
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			p.t.Fatalf("waiting for %s: %v", method, err)
		}
		msg, err := sipmsg.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			p.t.Fatalf("unparsable message: %v", err)
		}
		if req, ok := msg.(*sipmsg.Request); ok && string(req.Method) == method {
			return req, from
		}
	}
}

func (p *rawPhone) reply(req *sipmsg.Request, to net.Addr, code int, reason string, tag string) {
	p.t.Helper()
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	if tag != "" {
		if _, ok := res.To().Params.Get("tag"); !ok {
			res.To().Params.Add("tag", tag)
		}
	}
	if _, err := p.conn.WriteTo([]byte(res.String()), to); err != nil {
		p.t.Fatal(err)
	}
}

func TestDialRingTimeoutOnClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	srv, err := NewServer(loopConfig(), &fakeHandler{}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	phone := newRawPhone(t)

	type result struct {
		oc  *OutboundCall
		err error
	}
	done := make(chan result, 1)
	armed := clk.TimerCreated()
	go func() {
		oc, err := srv.Dial(context.Background(), Target{URI: fmt.Sprintf("sip:2001@127.0.0.1:%d", phone.port())}, []byte(offerSDP), DialOptions{RingTimeout: 30 * time.Second})
		done <- result{oc, err}
	}()
	inv, from := phone.recv("INVITE")
	if ct := inv.ContentType(); ct == nil || ct.Value() != "application/sdp" || string(inv.Body()) != offerSDP {
		t.Fatalf("INVITE without our offer:\n%s", inv)
	}
	phone.reply(inv, from, 180, "Ringing", "ph1")
	<-armed
	clk.Advance(29 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("Dial ended before the ring timeout: %v", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	clk.Advance(time.Second)
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Dial did not return at the ring timeout")
	}
	if !errors.Is(r.err, ErrNoAnswer) || r.oc != nil {
		t.Fatalf("Dial: %v, want ErrNoAnswer", r.err)
	}
	cancel, from := phone.recv("CANCEL")
	if cancel.CSeq().SeqNo != inv.CSeq().SeqNo || cancel.Via().Params.String() != inv.Via().Params.String() {
		t.Fatalf("CANCEL does not match the INVITE:\n%s", cancel)
	}
	phone.reply(cancel, from, 200, "OK", "")
	phone.reply(inv, from, 487, "Request Terminated", "ph1")
	phone.recv("ACK")
	waitNoOutbound(t, srv)
}

func TestDialCrossedCancelIsEnded(t *testing.T) {
	srv := listenLoop(t, loopConfig(), &fakeHandler{}, Options{})
	phone := newRawPhone(t)
	ctx, withdraw := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := srv.Dial(ctx, Target{URI: fmt.Sprintf("sip:2001@127.0.0.1:%d", phone.port())}, []byte(offerSDP), DialOptions{
			OnProgress: func(Progress) { withdraw() },
		})
		done <- err
	}()
	inv, from := phone.recv("INVITE")
	phone.reply(inv, from, 180, "Ringing", "ph2")
	cancel, from := phone.recv("CANCEL")
	if err := <-done; !errors.Is(err, ErrWithdrawn) {
		t.Fatalf("Dial: %v, want ErrWithdrawn", err)
	}
	// The phone answered before it saw the CANCEL: 200 to the CANCEL, 200 to the
	// INVITE. The engine must ACK that 200 and end the call with BYE.
	phone.reply(cancel, from, 200, "OK", "")
	ok := sipmsg.NewResponseFromRequest(inv, 200, "OK", []byte("v=0\r\n"))
	ok.To().Params.Add("tag", "ph2")
	ok.AppendHeader(sipmsg.NewHeader("Contact", fmt.Sprintf("<sip:2001@127.0.0.1:%d>", phone.port())))
	if _, err := phone.conn.WriteTo([]byte(ok.String()), from); err != nil {
		t.Fatal(err)
	}
	phone.recv("ACK")
	bye, from := phone.recv("BYE")
	if tag, _ := bye.To().Params.Get("tag"); tag != "ph2" {
		t.Fatalf("BYE to tag %q, want ph2", tag)
	}
	phone.reply(bye, from, 200, "OK", "")
	waitNoOutbound(t, srv)
}

func TestDialBadTarget(t *testing.T) {
	srv := listenLoop(t, loopConfig(), &fakeHandler{}, Options{})
	tests := []struct {
		name string
		tg   Target
	}{
		{"no host", Target{URI: "sip:2001@"}},
		{"tel URI", Target{URI: "tel:+8612345"}},
		{"bad destination", Target{URI: "sip:2001@127.0.0.1", Destination: "nowhere"}},
		{"transport not served", Target{URI: "sip:2001@127.0.0.1", Transport: "tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := srv.Dial(context.Background(), tt.tg, nil, DialOptions{})
			if !errors.Is(err, ErrBadTarget) {
				t.Fatalf("Dial: %v, want ErrBadTarget", err)
			}
		})
	}
	var unstarted Server
	if _, err := unstarted.Dial(context.Background(), Target{URI: "sip:a@127.0.0.1"}, nil, DialOptions{}); !errors.Is(err, ErrNotListening) {
		t.Fatalf("Dial before Listen: %v", err)
	}
}
