package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/prometheus/client_golang/prometheus"
)

// Handler serves inbound calls. ServeCall runs on its own goroutine for the whole life
// of the call: it must answer or reject the call and return when the call has ended.
// The call's Context ends when the caller hangs up.
type Handler interface {
	// Admit is asked before any dialog state exists whether the dialled number is
	// served. It returns 0 to accept or a final status (404 ...) to reject.
	Admit(trunk *Trunk, dialled string) int
	ServeCall(c *Call)
}

// CancelRecorder is implemented by a Handler that wants to know of calls cancelled
// before their dialog could be set up (the CANCEL overtook the INVITE's handling):
// ServeCall is not called for those.
type CancelRecorder interface {
	CancelledEarly(trunk *Trunk, caller, dialled, transport string)
}

// Server is the SIP endpoint of the engine.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler Handler
	auth    *authenticator
	metrics *Metrics
	clock   clock.Clock

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	// dialogUA per transport, so the Contact we send names the transport it came on.
	dialogUA map[string]*sipgo.DialogUA

	mu    sync.Mutex
	calls map[string]*Call // by dialog ID (Call-ID, local tag, remote tag)
	// agents holds the registrar and the outbound legs to SIP seats (outbound.go).
	agents agentSide

	active    atomic.Int64
	accepting atomic.Bool

	udpConn   net.PacketConn
	tcpLn     net.Listener
	addr      netip.AddrPort
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Options are the collaborators of a Server.
type Options struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Clock times nonces and session timers; nil means the real clock.
	Clock clock.Clock
}

// NewServer validates cfg and builds a server; Listen starts it.
func NewServer(cfg Config, h Handler, o Options) (*Server, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("sip config: %w", errors.Join(fieldErrs(errs)...))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	s := &Server{
		cfg:     cfg,
		log:     o.Logger,
		handler: h,
		clock:   o.Clock,
		calls:   make(map[string]*Call),
		metrics: NewMetrics(o.Registry),
	}
	s.auth = newAuthenticator(cfg.Realm, cfg.Trunks, o.Clock.Now)
	s.accepting.Store(true)
	return s, nil
}

func fieldErrs(fe []FieldError) []error {
	out := make([]error, len(fe))
	for i := range fe {
		out[i] = fe[i]
	}
	return out
}

// Listen binds the UDP and TCP sockets and starts serving. With port 0 both transports
// get the same free port. It returns when the sockets are bound.
func (s *Server) Listen(ctx context.Context) error {
	host, port, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sip listen %q: %w", s.cfg.Listen, err)
	}
	wantUDP, wantTCP := has(s.cfg.Transports, "udp"), has(s.cfg.Transports, "tcp")
	for attempt := 0; ; attempt++ {
		err = s.bind(host, port, wantUDP, wantTCP)
		if err == nil || port != "0" || attempt == 20 {
			break
		}
	}
	if err != nil {
		return err
	}
	// sipgo logs parse failures of outside input at Error level with the whole
	// message; we report those ourselves (400 + a metric), so its own logs go to Debug.
	sipgoLog := slog.New(levelShift{s.log.Handler()})
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(s.cfg.UserAgent),
		sipgo.WithUserAgentHostname(s.addr.Addr().String()),
		sipgo.WithUserAgentTransportLayerOptions(
			sipmsg.WithTransportLayerLogger(sipgoLog),
			sipmsg.WithTransportLayerReadFilter(s.readFilter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(sipgoLog)),
	)
	if err != nil {
		return err
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipgoLog)); err != nil {
		return err
	}
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipgoLog), sipgo.WithClientHostname(s.addr.Addr().String()), sipgo.WithClientPort(int(s.addr.Port()))); err != nil {
		return err
	}
	s.dialogUA = make(map[string]*sipgo.DialogUA)
	for _, tr := range []string{"udp", "tcp"} {
		contact := sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "hotline", Host: s.addr.Addr().String(), Port: int(s.addr.Port())}}
		if tr == "tcp" {
			contact.Address.UriParams = sipmsg.NewParams()
			contact.Address.UriParams.Add("transport", "tcp")
		}
		s.dialogUA[tr] = &sipgo.DialogUA{Client: s.client, ContactHDR: contact}
		s.dialogUA[tr+"-nat"] = &sipgo.DialogUA{Client: s.client, ContactHDR: contact, RewriteContact: true}
	}
	s.srv.OnInvite(s.guard(s.outbound(s.onInvite)))
	s.srv.OnAck(s.guard(s.outbound(s.onAck)))
	s.srv.OnBye(s.guard(s.outbound(s.onBye)))
	s.srv.OnCancel(s.guard(s.onCancel))
	s.srv.OnOptions(s.guard(s.outbound(s.onOptions)))
	s.srv.OnInfo(s.guard(s.outbound(s.onInfo)))
	s.srv.OnUpdate(s.guard(s.outbound(s.onUpdate)))
	s.srv.OnRegister(s.guard(s.onRegister))
	s.srv.OnNoRoute(s.guard(s.onNoRoute))
	if s.udpConn != nil {
		s.wg.Go(func() { _ = s.srv.ServeUDP(s.udpConn) })
	}
	if s.tcpLn != nil {
		s.wg.Go(func() { _ = s.srv.ServeTCP(s.tcpLn) })
	}
	return nil
}

func (s *Server) bind(host, port string, wantUDP, wantTCP bool) error {
	var udp net.PacketConn
	var err error
	if wantUDP {
		udp, err = net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("sip listen udp: %w", err)
		}
		port = strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
	}
	var tcp net.Listener
	if wantTCP {
		tcp, err = net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			if udp != nil {
				udp.Close()
			}
			return fmt.Errorf("sip listen tcp: %w", err)
		}
	}
	s.udpConn, s.tcpLn = udp, tcp
	if udp != nil {
		s.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	} else {
		s.addr = tcp.Addr().(*net.TCPAddr).AddrPort()
	}
	s.addr = netip.AddrPortFrom(s.addr.Addr().Unmap(), s.addr.Port())
	return nil
}

// Addr is the bound address (the same port for UDP and TCP).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// SetAccepting switches the server between taking new calls and refusing them with
// 503 (and OPTIONS with 503), as a standby site does.
func (s *Server) SetAccepting(ok bool) { s.accepting.Store(ok) }

// Active is the number of calls between INVITE and their end.
func (s *Server) Active() int { return int(s.active.Load()) }

// Close ends every call in progress (their context ends with ErrShutdown, and their
// owners send BYE), waits up to two seconds for them to finish, then stops listening
// and closes the transport and transaction layers.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown is Close with the wait for calls bounded by ctx instead.
func (s *Server) Shutdown(ctx context.Context) error {
	s.accepting.Store(false)
	s.mu.Lock()
	for _, c := range s.calls {
		c.end(ErrShutdown)
	}
	s.mu.Unlock()
	s.endOutbound(ErrShutdown)
	for s.active.Load() > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.closeOnce.Do(func() {
		if s.ua != nil {
			s.ua.Close()
		}
		if s.udpConn != nil {
			s.udpConn.Close()
		}
		if s.tcpLn != nil {
			s.tcpLn.Close()
		}
	})
	s.wg.Wait()
	return nil
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// respond sends a final or provisional response outside a dialog, adding a To tag to
// final responses as RFC 3261 8.2.6.2 requires.
func (s *Server) respond(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, reason string, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	res.SipVersion = "SIP/2.0" // not the request's: a 505 to SIP/7.0 is still SIP/2.0
	if code >= 200 {
		if to := res.To(); to != nil && to.Params != nil {
			if _, ok := to.Params.Get("tag"); !ok {
				to.Params.Add("tag", uuid.NewString()[:8])
			}
		}
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.metrics.response(code)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond", "code", code, "error", err)
	}
}

// admitRequest applies the trunk rules. It responds 403/401 itself and returns nil
// when the request is not admitted.
func (s *Server) admitRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction) *Trunk {
	authz := ""
	if h := req.GetHeader("Authorization"); h != nil {
		authz = h.Value()
	}
	trunk, verdict, needs := s.auth.admit(string(req.Method), req.Source(), authz)
	switch verdict {
	case admitted:
		return trunk
	case forbidden:
		s.metrics.rejected("forbidden")
		s.log.Info("sip request from an unknown source", "method", string(req.Method), "source", req.Source())
		s.respond(req, tx, 403, "Forbidden")
	default:
		s.metrics.rejected("unauthorised")
		var hdrs []sipmsg.Header
		for _, c := range s.auth.challenges(req.Source(), needs, verdict == staleNonce) {
			hdrs = append(hdrs, sipmsg.NewHeader("WWW-Authenticate", c))
		}
		s.respond(req, tx, 401, "Unauthorized", hdrs...)
	}
	return nil
}

func (s *Server) onOptions(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("OPTIONS")
	if req.To() != nil {
		if _, ok := req.To().Params.Get("tag"); ok {
			// In-dialog OPTIONS (a keep-alive): answer if we know the dialog.
			if c := s.match(req); c != nil {
				s.respond(req, tx, 200, "OK", allowHeader())
			} else {
				s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
			}
			return
		}
	}
	if s.admitRequest(req, tx) == nil {
		return
	}
	if !s.accepting.Load() {
		s.respond(req, tx, 503, "Service Unavailable", sipmsg.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds()))))
		return
	}
	s.respond(req, tx, 200, "OK", allowHeader(), sipmsg.NewHeader("Accept", "application/sdp"), sipmsg.NewHeader("Supported", "timer"))
}

func allowHeader() sipmsg.Header {
	return sipmsg.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE")
}

func (s *Server) onNoRoute(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("other")
	if req.IsAck() {
		return
	}
	if !knownMethod(string(req.Method)) {
		s.respond(req, tx, 501, "Not Implemented", allowHeader()) // RFC 3261 8.2.1
		return
	}
	s.respond(req, tx, 405, "Method Not Allowed", allowHeader())
}

func (s *Server) onCancel(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	// The transaction layer matches CANCELs of INVITEs it knows; this one matched none.
	s.metrics.request("CANCEL")
	s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

// match finds the call an in-dialog request belongs to.
func (s *Server) match(req *sipmsg.Request) *Call {
	id, err := sipmsg.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *Server) onAck(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("ACK")
	c := s.match(req)
	if c == nil {
		return // ACK of a non-2xx final response is absorbed by the transaction layer
	}
	c.readAck(req, tx)
}

func (s *Server) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("BYE")
	c := s.match(req)
	if c == nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.readBye(req, tx)
}

func (s *Server) onInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("INFO")
	c := s.match(req)
	if c == nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.readInfo(req, tx)
}

func (s *Server) onUpdate(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("UPDATE")
	c := s.match(req)
	if c == nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.readUpdate(req, tx)
}

func (s *Server) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("INVITE")
	if to := req.To(); to != nil && to.Params != nil {
		if _, ok := to.Params.Get("tag"); ok {
			c := s.match(req)
			if c == nil {
				s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
				return
			}
			c.readReinvite(req, tx)
			return
		}
	}
	trunk := s.admitRequest(req, tx)
	if trunk == nil {
		return
	}
	if !s.accepting.Load() {
		s.metrics.rejected("standby")
		s.respond(req, tx, 503, "Service Unavailable", sipmsg.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds()))))
		return
	}
	if code, reason, hdrs := s.checkInvite(req); code != 0 {
		s.log.Info("INVITE refused", "code", code, "reason", reason, "source", req.Source())
		s.metrics.rejected(strconv.Itoa(code))
		s.respond(req, tx, code, reason, hdrs...)
		return
	}
	dialled := req.Recipient.User
	if dialled == "" && req.To() != nil {
		dialled = req.To().Address.User
	}
	if code := s.handler.Admit(trunk, dialled); code != 0 {
		s.log.Info("INVITE refused", "code", code, "dialled", dialled, "source", req.Source())
		s.metrics.rejected(strconv.Itoa(code))
		s.respond(req, tx, code, reasonPhrase(code))
		return
	}
	if n := s.active.Add(1); n > int64(s.cfg.MaxCalls) {
		s.active.Add(-1)
		s.metrics.rejected("limit")
		s.log.Warn("call limit reached", "max_calls", s.cfg.MaxCalls)
		s.respond(req, tx, 503, "Service Unavailable", sipmsg.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds()))))
		return
	}
	defer s.active.Add(-1)

	s.respond(req, tx, 100, "Trying")
	key := strings.ToLower(req.Transport())
	if trunk.NAT {
		key += "-nat"
	}
	dua := s.dialogUA[key]
	if dua == nil {
		dua = s.dialogUA["udp"]
	}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		cancelled := tx.Done()
		if errors.Is(err, sipmsg.ErrTransactionCanceled) {
			// The CANCEL is there even if the transaction's Done is not closed yet.
			closed := make(chan struct{})
			close(closed)
			cancelled = closed
		}
		select {
		case <-cancelled:
			// A CANCEL overtook us (the transaction layer answered it and sent 487):
			// the caller hung up before the call could start. Let the handler record
			// it if it wants to.
			if cr, ok := s.handler.(CancelRecorder); ok {
				caller := ""
				if f := req.From(); f != nil {
					caller = f.Address.User
				}
				cr.CancelledEarly(trunk, caller, dialled, strings.ToLower(req.Transport()))
			}
		default:
			s.log.Warn("INVITE dialog not set up", "error", err, "source", req.Source())
			s.respond(req, tx, 400, "Bad Request ("+clip(err.Error())+")")
		}
		return
	}
	c := newCall(s, req, tx, dlg, trunk, dialled)
	s.mu.Lock()
	s.calls[dlg.ID] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.calls, dlg.ID)
		s.mu.Unlock()
		c.close()
		if c.isAnswered() {
			// The call is over: sipgo would otherwise keep the answered INVITE's
			// transaction for Timer L (32 s) when the BYE came before the ACK was read.
			tx.Terminate()
		}
	}()
	s.handler.ServeCall(c)
}

// checkInvite applies the checks that need no dialog: body type, required
// extensions, session interval.
func (s *Server) checkInvite(req *sipmsg.Request) (int, string, []sipmsg.Header) {
	if len(req.Body()) > 0 {
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = strings.ToLower(strings.TrimSpace(h.Value()))
		}
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = strings.TrimSpace(ct[:i])
		}
		if ct != "application/sdp" {
			return 415, "Unsupported Media Type", []sipmsg.Header{sipmsg.NewHeader("Accept", "application/sdp")}
		}
	}
	for _, h := range req.GetHeaders("Require") {
		for _, opt := range strings.Split(h.Value(), ",") {
			opt = strings.ToLower(strings.TrimSpace(opt))
			if opt != "" && opt != "timer" {
				return 420, "Bad Extension", []sipmsg.Header{sipmsg.NewHeader("Unsupported", opt)}
			}
		}
	}
	if se, ok := sessionExpires(req); ok && se < s.cfg.MinSE {
		return 422, "Session Interval Too Small", []sipmsg.Header{sipmsg.NewHeader("Min-SE", strconv.Itoa(int(s.cfg.MinSE.Seconds())))}
	}
	return 0, "", nil
}

func reasonPhrase(code int) string {
	switch code {
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

// levelShift lowers sipgo's own log records by one level (Error -> Warn is too loud
// for parse failures of outside input, so everything below Error goes to Debug).
type levelShift struct{ h slog.Handler }

func (l levelShift) Enabled(ctx context.Context, lv slog.Level) bool {
	return l.h.Enabled(ctx, slog.LevelDebug)
}
func (l levelShift) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	r.AddAttrs(slog.String("component", "sipgo"))
	return l.h.Handle(ctx, r)
}
func (l levelShift) WithAttrs(a []slog.Attr) slog.Handler { return levelShift{l.h.WithAttrs(a)} }
func (l levelShift) WithGroup(n string) slog.Handler      { return levelShift{l.h.WithGroup(n)} }

func init() {
	// sipgo refuses to send a UDP message longer than UDPMTUSize-200 bytes (1,300 by
	// default). Our 200 OK copies the carrier's Via and Record-Route headers, and SBCs
	// send INVITEs well past that: a refused 200 would be a call answered in silence.
	// RFC 3261 18.1.1's size rule is for requests we originate, and responses must
	// go back over the transport the request came on, so lift the limit to what a UDP
	// datagram carries; the read buffer (TransportBufferReadSize) is 65,535 already.
	sipmsg.UDPMTUSize = 65535

	// sipgo keeps an answered INVITE's server transaction in the Accepted state for
	// Timer L (64*T1 = 32 s, RFC 6026), and its timer keeps the transaction (request,
	// responses, dialog copies) in memory for that long even after we terminate it at
	// the ACK: at 1,500 calls/s that was most of the engine's 760 MB. We retransmit
	// our 2xx ourselves until the ACK (Call.waitAck), ACKs of 2xx come outside the
	// transaction anyway, and a caller stops retransmitting its INVITE once it has our
	// 100 Trying, so the state only has to outlive the first few 2xx retransmissions.
	sipmsg.Timer_L = 4 * time.Second
}

// guard applies checkMessage to requests that came over a stream transport: the UDP
// read filter sees whole datagrams, but over TCP it sees pieces of the stream, so the
// check runs here on the parsed request instead (the cost of re-serialising it is
// paid by TCP requests only).
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if strings.EqualFold(req.Transport(), "udp") {
			h(req, tx)
			return
		}
		p := checkMessage([]byte(req.String()))
		if p.code == 0 {
			h(req, tx)
			return
		}
		s.metrics.malformed.Inc()
		s.log.Info("malformed SIP request refused", "source", req.Source(), "transport", req.Transport(), "code", p.code, "reason", p.reason)
		if req.IsAck() {
			return
		}
		var hdrs []sipmsg.Header
		if p.extra[0] != "" {
			hdrs = append(hdrs, sipmsg.NewHeader(p.extra[0], p.extra[1]))
		}
		s.respond(req, tx, p.code, p.phrase(), hdrs...)
	}
}
