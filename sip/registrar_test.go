package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/icholy/digest"
)

const labPassword = "lab-secret"

// seats is a Credentials lookup for agents 2001-2003 with labPassword.
func seats(realm string) Credentials {
	return func(user, alg string) (string, bool) {
		if user != "2001" && user != "2002" && user != "2003" {
			return "", false
		}
		ha1, err := HA1(alg, user, realm, labPassword)
		return ha1, err == nil
	}
}

// reachLog records OnReachable calls.
type reachLog struct {
	mu    sync.Mutex
	notes []string
	ch    chan string
}

func newReachLog() *reachLog { return &reachLog{ch: make(chan string, 64)} }

func (l *reachLog) note(user string, up bool) {
	s := user + "-"
	if up {
		s = user + "+"
	}
	l.mu.Lock()
	l.notes = append(l.notes, s)
	l.mu.Unlock()
	l.ch <- s
}

func (l *reachLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.notes...)
}

// regFixture is a server with a registrar on a fake clock, and a sipgo client.
type regFixture struct {
	t     *testing.T
	srv   *Server
	reg   *Registrar
	clk   *clock.Fake
	reach *reachLog
	cli   *sipgo.Client
}

func newRegFixture(t *testing.T, mod func(*RegistrarConfig)) *regFixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	cfg := DefaultRegistrar()
	if mod != nil {
		mod(&cfg)
	}
	f := &regFixture{t: t, clk: clk, reach: newReachLog()}
	reg, err := NewRegistrar(cfg, seats(cfg.Realm), RegistrarOptions{Clock: clk, OnReachable: f.reach.note})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	srv, err := NewServer(loopConfig(), &fakeHandler{}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetRegistrar(reg)
	if err := srv.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv, f.reg = srv, reg
	f.cli = newClient(t)
	return f
}

// newClient is a sipgo client on loopback that plays the phone.
func newClient(t *testing.T) *sipgo.Client {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// reg describes one REGISTER.
type reg struct {
	user     string // AoR user (To); default 2001
	authUser string // digest username; default user
	password string // default labPassword; "-" sends no credentials
	alg      string // challenge to answer: "SHA-256" (default) or "MD5"
	callID   string // default "reg-<user>"
	cseq     uint32
	contacts []string // Contact header values
	expires  string   // Expires header, "" for none
}

// send sends the REGISTER (answering the 401 unless password is "-") and returns the
// final response.
func (f *regFixture) send(r reg) *sipmsg.Response {
	f.t.Helper()
	if r.user == "" {
		r.user = "2001"
	}
	if r.authUser == "" {
		r.authUser = r.user
	}
	if r.password == "" {
		r.password = labPassword
	}
	if r.alg == "" {
		r.alg = "SHA-256"
	}
	if r.callID == "" {
		r.callID = "reg-" + r.user
	}
	if r.cseq == 0 {
		r.cseq = 1
	}
	res := f.do(f.build(r, r.cseq, ""))
	if res.StatusCode != 401 || r.password == "-" {
		return res
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			f.t.Fatalf("bad challenge %q: %v", h.Value(), err)
		}
		if strings.EqualFold(c.Algorithm, r.alg) {
			chal = c
		}
	}
	if chal == nil {
		f.t.Fatalf("no %s challenge in %v", r.alg, res.GetHeaders("WWW-Authenticate"))
	}
	return f.do(f.build(r, r.cseq+1, f.answer(chal, r.authUser, r.password)))
}

func (f *regFixture) answer(chal *digest.Challenge, user, password string) string {
	f.t.Helper()
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + f.srv.Addr().String(), Username: user, Password: password, Count: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	return cred.String()
}

func (f *regFixture) build(r reg, cseq uint32, authz string) *sipmsg.Request {
	addr := f.srv.Addr()
	req := sipmsg.NewRequest(sipmsg.REGISTER, sipmsg.Uri{Scheme: "sip", Host: addr.Addr().String(), Port: int(addr.Port())})
	aor := sipmsg.Uri{Scheme: "sip", User: r.user, Host: addr.Addr().String()}
	from := &sipmsg.FromHeader{Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", "t"+r.callID)
	req.AppendHeader(from)
	req.AppendHeader(&sipmsg.ToHeader{Address: aor, Params: sipmsg.NewParams()})
	cid := sipmsg.CallIDHeader(r.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: cseq, MethodName: sipmsg.REGISTER})
	for _, c := range r.contacts {
		req.AppendHeader(sipmsg.NewHeader("Contact", c))
	}
	if r.expires != "" {
		req.AppendHeader(sipmsg.NewHeader("Expires", r.expires))
	}
	if authz != "" {
		req.AppendHeader(sipmsg.NewHeader("Authorization", authz))
	}
	req.SetBody(nil)
	return req
}

func (f *regFixture) do(req *sipmsg.Request) *sipmsg.Response {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.cli.Do(ctx, req)
	if err != nil {
		f.t.Fatalf("REGISTER: %v", err)
	}
	return res
}

// contactExpiries maps each Contact of a 200 to its expires parameter.
func contactExpiries(t *testing.T, res *sipmsg.Response) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range res.GetHeaders("Contact") {
		var u sipmsg.Uri
		var p sipmsg.HeaderParams
		if _, err := sipmsg.ParseAddressValue(h.Value(), &u, &p); err != nil {
			t.Fatalf("contact %q: %v", h.Value(), err)
		}
		v, _ := p.Get("expires")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("contact %q: no expires", h.Value())
		}
		out[u.String()] = n
	}
	return out
}

func wantStatus(t *testing.T, res *sipmsg.Response, code int) {
	t.Helper()
	if res.StatusCode != code {
		t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, code)
	}
}

func TestHA1AgreesWithTrunkDigest(t *testing.T) {
	a := newAuthenticator("hotline", nil, time.Now)
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			chal := &digest.Challenge{Realm: "hotline", Nonce: a.nonce(netip.MustParseAddr("127.0.0.1")), Algorithm: alg, QOP: []string{"auth"}}
			cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:hotline", Username: "2001", Password: labPassword, Count: 3})
			if err != nil {
				t.Fatal(err)
			}
			ha1, err := HA1(alg, "2001", "hotline", labPassword)
			if err != nil {
				t.Fatal(err)
			}
			if !a.validResponse(cred, "REGISTER", labPassword, []string{alg}) {
				t.Fatal("the trunk check refuses a right answer")
			}
			if !validResponseHA1(cred, "REGISTER", ha1, alg) {
				t.Fatal("the HA1 check refuses a right answer")
			}
			bad, _ := HA1(alg, "2001", "hotline", "other")
			if validResponseHA1(cred, "REGISTER", bad, alg) {
				t.Fatal("the HA1 check accepts a wrong password")
			}
		})
	}
	if _, err := HA1("SHA-512-256", "u", "r", "p"); err == nil {
		t.Fatal("HA1 accepted an unknown algorithm")
	}
}

func TestRegistrarConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*RegistrarConfig)
		want string // a path with a problem, "" for none
	}{
		{"defaults", func(*RegistrarConfig) {}, ""},
		{"zero fills defaults", func(c *RegistrarConfig) { *c = RegistrarConfig{} }, ""},
		{"max below min", func(c *RegistrarConfig) { c.MaxExpires = 30 * time.Second }, "max_expires"},
		{"bad algorithm", func(c *RegistrarConfig) { c.Algorithms = []string{"SHA-1"} }, "algorithms.0"},
		{"negative cap", func(c *RegistrarConfig) { c.MaxBindings = -1 }, "max_bindings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultRegistrar()
			tt.mod(&c)
			errs := c.Validate()
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected problems: %v", errs)
				}
				if c.MinExpires == 0 || c.MaxBindings == 0 || len(c.Algorithms) == 0 {
					t.Fatalf("defaults not filled: %+v", c)
				}
				return
			}
			for _, e := range errs {
				if e.Path == tt.want {
					return
				}
			}
			t.Fatalf("no problem at %s in %v", tt.want, errs)
		})
	}
}

func TestRegisterBindings(t *testing.T) {
	f := newRegFixture(t, nil)
	const c1, c2 = "sip:2001@127.0.0.1:5071", "sip:2001@127.0.0.1:5072;transport=tcp"

	// Without credentials: one challenge per algorithm, strongest first.
	res := f.send(reg{password: "-", contacts: []string{"<" + c1 + ">"}})
	wantStatus(t, res, 401)
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 2 || !strings.Contains(chals[0].Value(), "SHA-256") || !strings.Contains(chals[1].Value(), "MD5") {
		t.Fatalf("challenges %v, want SHA-256 then MD5", chals)
	}
	if len(f.reg.Lookup("2001")) != 0 {
		t.Fatal("a challenged REGISTER made a binding")
	}

	steps := []struct {
		name string
		r    reg
		code int
		want map[string]int // contacts listed in the 200 with their expiry
	}{
		{"register with Expires", reg{cseq: 1, contacts: []string{"<" + c1 + ">"}, expires: "120"}, 200, map[string]int{c1: 120}},
		{"refresh with contact param, MD5", reg{cseq: 3, alg: "MD5", contacts: []string{"<" + c1 + ">;expires=300"}, expires: "120"}, 200, map[string]int{c1: 300}},
		{"second contact", reg{cseq: 5, contacts: []string{"<" + c2 + ">"}, expires: "600"}, 200, map[string]int{c1: 300, c2: 600}},
		{"too brief", reg{cseq: 7, contacts: []string{"<" + c1 + ">"}, expires: "10"}, 423, nil},
		{"clamped to max", reg{cseq: 9, contacts: []string{"<" + c1 + ">"}, expires: "999999"}, 200, map[string]int{c1: 3600, c2: 600}},
		{"query", reg{cseq: 11}, 200, map[string]int{c1: 3600, c2: 600}},
		{"out of order CSeq", reg{cseq: 2, contacts: []string{"<" + c1 + ">"}, expires: "120"}, 500, nil},
		{"unregister one", reg{cseq: 13, contacts: []string{"<" + c2 + ">"}, expires: "0"}, 200, map[string]int{c1: 3600}},
		{"star without Expires 0", reg{cseq: 15, contacts: []string{"*"}, expires: "60"}, 400, nil},
		{"star", reg{cseq: 17, contacts: []string{"*"}, expires: "0"}, 200, map[string]int{}},
	}
	for _, st := range steps {
		res := f.send(st.r)
		if res.StatusCode != st.code {
			t.Fatalf("%s: got %d %s, want %d", st.name, res.StatusCode, res.Reason, st.code)
		}
		if st.code == 423 {
			if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
				t.Fatalf("%s: Min-Expires %v, want 60", st.name, h)
			}
		}
		if st.want == nil {
			continue
		}
		got := contactExpiries(t, res)
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("%s: 200 lists %v, want %v", st.name, got, st.want)
		}
		if n := len(f.reg.Lookup("2001")); n != len(st.want) {
			t.Fatalf("%s: Lookup has %d bindings, want %d", st.name, n, len(st.want))
		}
	}
	if got := fmt.Sprint(f.reach.all()); got != "[2001+ 2001-]" {
		t.Fatalf("OnReachable calls %s, want [2001+ 2001-]", got)
	}
}

func TestRegisterBindingDetails(t *testing.T) {
	f := newRegFixture(t, nil)
	wantStatus(t, f.send(reg{contacts: []string{"<sip:2001@10.1.2.3:5062>"}, expires: "120"}), 200)
	bs := f.reg.Lookup("2001")
	if len(bs) != 1 {
		t.Fatalf("bindings %v", bs)
	}
	b := bs[0]
	if b.Contact != "sip:2001@10.1.2.3:5062" || b.Transport != "udp" || !b.Source.Addr().IsLoopback() || b.Source.Port() == 0 {
		t.Fatalf("binding %+v", b)
	}
	if want := f.clk.Now().Add(120 * time.Second); !b.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", b.Expires, want)
	}
	tg := b.Target()
	if tg.URI != b.Contact || tg.Destination != b.Source.String() || tg.Transport != "udp" {
		t.Fatalf("target %+v", tg)
	}
}

// advanceUntil moves the fake clock a second at a time until OnReachable reports
// want (the expiry goroutine re-arms its timer asynchronously).
func advanceUntil(t *testing.T, f *regFixture, want string) {
	t.Helper()
	for range 200 {
		select {
		case got := <-f.reach.ch:
			if got == want {
				return
			}
			t.Fatalf("OnReachable %s, want %s", got, want)
		case <-time.After(10 * time.Millisecond):
			f.clk.Advance(time.Second)
		}
	}
	t.Fatalf("no %s after 200 s of fake time", want)
}

func TestRegisterExpiry(t *testing.T) {
	f := newRegFixture(t, nil)
	wantStatus(t, f.send(reg{contacts: []string{"<sip:2001@127.0.0.1:5071>"}, expires: "60"}), 200)
	wantStatus(t, f.send(reg{user: "2002", contacts: []string{"<sip:2002@127.0.0.1:5072>"}, expires: "3600"}), 200)
	for _, w := range []string{"2001+", "2002+"} {
		if got := <-f.reach.ch; got != w {
			t.Fatalf("OnReachable %s, want %s", got, w)
		}
	}
	f.clk.Advance(59 * time.Second)
	if len(f.reg.Lookup("2001")) != 1 {
		t.Fatal("binding gone before its expiry")
	}
	advanceUntil(t, f, "2001-")
	if len(f.reg.Lookup("2001")) != 0 || f.reg.Len() != 1 {
		t.Fatalf("after expiry: Lookup %v, Len %d", f.reg.Lookup("2001"), f.reg.Len())
	}
	if len(f.reg.Lookup("2002")) != 1 {
		t.Fatal("the other seat's binding expired too")
	}
}

func TestRegisterAuthFailures(t *testing.T) {
	f := newRegFixture(t, func(c *RegistrarConfig) {
		c.AuthFailures = 3
		c.AuthRefill = 10 * time.Second
	})
	contact := []string{"<sip:2001@127.0.0.1:5071>"}
	tests := []struct {
		name string
		r    reg
		code int
	}{
		{"unknown seat", reg{user: "9999", contacts: contact}, 401},
		{"wrong password", reg{password: "nope", contacts: contact}, 401},
		{"wrong password again", reg{password: "nope", contacts: contact}, 401},
		{"limited", reg{password: "nope", contacts: contact}, 403},
		{"limited even with the right password", reg{contacts: contact}, 403},
	}
	for _, tt := range tests {
		res := f.send(tt.r)
		if res.StatusCode != tt.code {
			t.Fatalf("%s: got %d %s, want %d", tt.name, res.StatusCode, res.Reason, tt.code)
		}
	}
	f.clk.Advance(10 * time.Second)
	wantStatus(t, f.send(reg{contacts: contact}), 200)
	if len(f.reg.Lookup("2001")) != 1 {
		t.Fatal("no binding after the bucket refilled")
	}
}

func TestRegisterForbiddenAndStale(t *testing.T) {
	f := newRegFixture(t, nil)
	contact := []string{"<sip:2001@127.0.0.1:5071>"}
	// Right credentials of 2002 for the address of record of 2001.
	wantStatus(t, f.send(reg{user: "2001", authUser: "2002", contacts: contact}), 403)

	// A right answer to a nonce older than its life: 401 with stale=true.
	res := f.send(reg{password: "-", contacts: contact})
	wantStatus(t, res, 401)
	chal, err := digest.ParseChallenge(res.GetHeaders("WWW-Authenticate")[0].Value())
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(nonceLife + time.Minute)
	res = f.do(f.build(reg{user: "2001", callID: "stale", contacts: contact}, 2, f.answer(chal, "2001", labPassword)))
	wantStatus(t, res, 401)
	if v := res.GetHeader("WWW-Authenticate").Value(); !strings.Contains(strings.ToLower(v), "stale=true") {
		t.Fatalf("challenge %q without stale=true", v)
	}
}

func TestRegisterCaps(t *testing.T) {
	f := newRegFixture(t, func(c *RegistrarConfig) {
		c.MaxBindingsPerUser = 2
		c.MaxBindings = 3
	})
	contact := func(port int) []string { return []string{fmt.Sprintf("<sip:x@127.0.0.1:%d>", port)} }
	wantStatus(t, f.send(reg{cseq: 1, contacts: contact(5001)}), 200)
	f.clk.Advance(time.Second)
	wantStatus(t, f.send(reg{cseq: 3, contacts: contact(5002)}), 200)
	f.clk.Advance(time.Second)
	// A third contact of the same seat replaces its least recently refreshed one.
	res := f.send(reg{cseq: 5, contacts: contact(5003)})
	wantStatus(t, res, 200)
	got := contactExpiries(t, res)
	if _, ok := got["sip:x@127.0.0.1:5001"]; ok || len(got) != 2 {
		t.Fatalf("after the per-seat cap: %v, want 5002 and 5003", got)
	}
	wantStatus(t, f.send(reg{user: "2002", contacts: contact(6001)}), 200)
	// The registrar is full: a new contact of another seat is refused.
	res = f.send(reg{user: "2003", contacts: contact(7001)})
	wantStatus(t, res, 503)
	if res.GetHeader("Retry-After") == nil {
		t.Fatal("503 without Retry-After")
	}
	if f.reg.Len() != 3 {
		t.Fatalf("Len %d, want 3", f.reg.Len())
	}
}

func TestRegisterWithoutRegistrar(t *testing.T) {
	srv := listenLoop(t, loopConfig(), &fakeHandler{}, Options{})
	p := newUDPPeer(t, srv)
	msg := strings.ReplaceAll(string(optionsMsg(p.conn.LocalAddr(), "UDP", "noreg")), "OPTIONS", "REGISTER")
	p.send([]byte(msg))
	res := p.final(2 * time.Second)
	if res == nil || res.StatusCode != 405 {
		t.Fatalf("got %v, want 405", res)
	}
}

func TestFailLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := failLimiter{burst: 2, refill: time.Second, max: 8, m: map[netip.Addr]bucket{}}
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		l.fail(a, now)
		if len(l.m) > l.max {
			t.Fatalf("%d sources kept, max %d", len(l.m), l.max)
		}
	}
	a := netip.MustParseAddr("192.0.2.1")
	l.fail(a, now)
	if l.blocked(a, now) {
		t.Fatal("blocked after one failure with a burst of two")
	}
	l.fail(a, now)
	if !l.blocked(a, now) {
		t.Fatal("not blocked after two failures")
	}
	if l.blocked(a, now.Add(time.Second)) {
		t.Fatal("still blocked after the refill time")
	}
}

// FuzzRegister feeds REGISTER requests from outside to the registrar: it must answer
// every one with a status and never panic, and never bind without valid credentials.
func FuzzRegister(f *testing.F) {
	base := "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1\r\n" +
		"From: <sip:2001@127.0.0.1>;tag=a\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n"
	f.Add(base + "Contact: <sip:2001@127.0.0.1:5099>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n")
	f.Add(base + "Contact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n")
	f.Add(base + "Contact: <sip:a@h>;expires=x, <sip:b@h>;expires=99999999999\r\nContent-Length: 0\r\n\r\n")
	f.Add(base + "Authorization: Digest username=\"2001\", realm=\"hotline\", nonce=\"00\", uri=\"sip:127.0.0.1\", response=\"00\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"x\"\r\nContact: <sip:2001@127.0.0.1:5099>\r\nContent-Length: 0\r\n\r\n")
	f.Add(base + "Require: path\r\nContent-Length: 0\r\n\r\n")
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	reg, err := NewRegistrar(DefaultRegistrar(), seats("hotline"), RegistrarOptions{Clock: clk})
	if err != nil {
		f.Fatal(err)
	}
	defer reg.Close()
	f.Fuzz(func(t *testing.T, raw string) {
		msg, err := sipmsg.ParseMessage([]byte(raw))
		if err != nil {
			return
		}
		req, ok := msg.(*sipmsg.Request)
		if !ok {
			return
		}
		req.SetSource("127.0.0.1:5099")
		res := reg.handle(req)
		if res.code < 200 || res.code > 699 {
			t.Fatalf("status %d", res.code)
		}
		if res.code == 200 && req.GetHeader("Authorization") == nil {
			t.Fatalf("200 without credentials")
		}
		if reg.Len() != 0 {
			t.Fatalf("a binding without valid credentials")
		}
	})
}
