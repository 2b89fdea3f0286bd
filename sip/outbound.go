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
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// agentSide is the server's state for SIP seats: the registrar and the outbound
// dialogs (registrar.go, outbound.go).
type agentSide struct {
	mu        sync.Mutex
	registrar *Registrar
	dialogs   map[string]*OutboundCall // by Call-ID and our (From) tag
	wg        sync.WaitGroup           // goroutines finishing abandoned INVITEs
}

// Why an outbound INVITE failed. A *DialError wraps one of these (errors.Is).
var (
	// ErrBusy: 486 Busy Here or 600 Busy Everywhere.
	ErrBusy = errors.New("sip: callee busy")
	// ErrDeclined: 603 Decline (the agent rejected the offer).
	ErrDeclined = errors.New("sip: callee declined")
	// ErrNoAnswer: the ring timeout passed (we sent CANCEL), or 408/480.
	ErrNoAnswer = errors.New("sip: no answer")
	// ErrDialRejected: any other final response of 300 or above.
	ErrDialRejected = errors.New("sip: call rejected")
	// ErrUnreachable: no response at all (timer B) or a transport error.
	ErrUnreachable = errors.New("sip: callee unreachable")
	// ErrWithdrawn: Dial's context ended while the phone rang; we sent CANCEL.
	ErrWithdrawn = errors.New("sip: offer withdrawn (CANCEL)")
	// ErrNotListening: Dial before Listen, or after Close.
	ErrNotListening = errors.New("sip: server not listening")
	// ErrBadTarget: the target URI or transport cannot be used.
	ErrBadTarget = errors.New("sip: bad dial target")
)

// DialError is a failed outbound INVITE: the final status (0 when there was none) and
// the class of failure.
type DialError struct {
	Code   int
	Reason string
	// Err is ErrBusy, ErrDeclined, ErrNoAnswer, ErrDialRejected, ErrUnreachable or
	// ErrWithdrawn.
	Err error
	// Cause is the underlying error, if any (the context's cause for ErrWithdrawn,
	// the transaction's error for ErrUnreachable).
	Cause error
}

func (e *DialError) Error() string {
	s := e.Err.Error()
	if e.Code != 0 {
		s += " (" + strconv.Itoa(e.Code) + " " + e.Reason + ")"
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap gives the class and the cause.
func (e *DialError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

func classify(res *sipmsg.Response) *DialError {
	e := &DialError{Code: res.StatusCode, Reason: res.Reason, Err: ErrDialRejected}
	switch res.StatusCode {
	case 486, 600:
		e.Err = ErrBusy
	case 603:
		e.Err = ErrDeclined
	case 408, 480:
		e.Err = ErrNoAnswer
	}
	return e
}

// Target says where an outbound INVITE goes.
type Target struct {
	// URI is the Request-URI: a registered contact or a fixed SIP URI.
	URI string
	// Destination is host:port to send to instead of the URI's host (the source of a
	// registration, which also reaches phones behind NAT; a trunk's address for a
	// fixed URI). In-dialog requests then go where the 200 came from. Empty: the URI.
	Destination string
	// Transport is "udp" or "tcp"; empty means the URI's transport parameter, else udp.
	Transport string
}

// Progress is a provisional response to an outbound INVITE.
type Progress struct {
	Code   int    // 180, 183 ...
	Reason string // "Ringing", "Session Progress" ...
	SDP    []byte // early media answer of a 183, if any
}

// DialOptions shape an outbound INVITE.
type DialOptions struct {
	// From is the user part of our From URI (e.g. the caller's number, shown on the
	// agent's phone); empty means "hotline". FromName is its display name.
	From, FromName string
	// RingTimeout is how long the phone may ring; then we CANCEL and Dial returns
	// ErrNoAnswer. It runs on the server's clock from the moment the INVITE is sent.
	// 0 means no timeout of our own (the context or timer B ends the attempt).
	RingTimeout time.Duration
	// OnProgress is called on Dial's goroutine for each new provisional status
	// (repeats of the same status, as carriers send 183 every few seconds, are
	// reported once).
	OnProgress func(Progress)
	// Headers are added to the INVITE (Alert-Info, a call reference ...).
	Headers []sipmsg.Header
}

// OutboundCall is an answered outbound leg: the UAC side of an INVITE dialog, to an
// agent's SIP phone. Its methods are safe for concurrent use; the server delivers
// the phone's in-dialog requests (BYE, INFO) on its own goroutines.
type OutboundCall struct {
	// ID is the engine's id for the leg (logs, events).
	ID string
	// CallID is the SIP Call-ID.
	CallID string
	// Target is where the INVITE was sent.
	Target Target
	// Answer is the SDP of the 200 (or nil if the 200 had none).
	Answer []byte
	// Remote is where the 200 came from.
	Remote netip.AddrPort
	// Log is the server's logger with the leg's id attached.
	Log *slog.Logger

	srv       *Server
	invite    *sipmsg.Request
	transport string // "UDP" or "TCP"
	localTag  string
	key       string

	ctx    context.Context
	cancel context.CancelCauseFunc
	digits chan Digit

	mu        sync.Mutex
	answered  bool
	ended     bool
	remoteTag string
	ok        *sipmsg.Response // the 2xx
	cseq      uint32           // last CSeq we used
	dest      string           // destination of in-dialog requests, "" for the remote target
	tx        sipmsg.ClientTransaction
}

// Context ends when the leg ends; context.Cause says why (ErrRemoteBye when the agent
// hung up, ErrShutdown, or the engine's own hang-up).
func (oc *OutboundCall) Context() context.Context { return oc.ctx }

// Digits delivers the key presses the agent's phone sent as SIP INFO.
func (oc *OutboundCall) Digits() <-chan Digit { return oc.digits }

// Dial sends an INVITE with sdpOffer to target and waits for the outcome: it returns
// the answered leg (we have sent the ACK), or a *DialError. Provisional responses go
// to opts.OnProgress. When ctx ends while the phone rings (the caller hung up,
// another agent answered), or opts.RingTimeout passes, Dial sends CANCEL and returns
// at once with ErrWithdrawn or ErrNoAnswer; the CANCEL is completed in the
// background (and a 200 that crosses it is ACKed and ended with BYE, RFC 3261 9.1).
// Responses are read off the transaction directly, so any number of repeated or
// reordered provisional responses is fine.
func (s *Server) Dial(ctx context.Context, target Target, sdpOffer []byte, opts DialOptions) (*OutboundCall, error) {
	if s.client == nil {
		return nil, ErrNotListening
	}
	var uri sipmsg.Uri
	if err := sipmsg.ParseUri(target.URI, &uri); err != nil || uri.Host == "" || (uri.Scheme != "sip" && uri.Scheme != "") {
		return nil, fmt.Errorf("%w: URI %q", ErrBadTarget, clip(target.URI))
	}
	tr := strings.ToLower(target.Transport)
	if tr == "" && uri.UriParams != nil {
		tr, _ = uri.UriParams.Get("transport")
		tr = strings.ToLower(tr)
	}
	if tr == "" {
		tr = "udp"
	}
	if !has(s.cfg.Transports, tr) {
		return nil, fmt.Errorf("%w: transport %q not served", ErrBadTarget, tr)
	}
	if target.Destination != "" {
		if _, err := netip.ParseAddrPort(target.Destination); err != nil {
			return nil, fmt.Errorf("%w: destination %q: %w", ErrBadTarget, clip(target.Destination), err)
		}
	}
	oc := &OutboundCall{
		ID:        newID(),
		CallID:    uuid.NewString(),
		Target:    target,
		srv:       s,
		transport: strings.ToUpper(tr),
		localTag:  sipmsg.GenerateTagN(16),
		digits:    make(chan Digit, 16),
		cseq:      1,
	}
	oc.Log = s.log.With("call_id", oc.ID, "sip_call_id", oc.CallID)
	oc.ctx, oc.cancel = context.WithCancelCause(context.Background())
	oc.key = oc.CallID + "\x00" + oc.localTag
	req := oc.buildInvite(uri, sdpOffer, opts)

	s.agents.mu.Lock()
	if s.agents.dialogs == nil {
		s.agents.dialogs = make(map[string]*OutboundCall)
	}
	if len(s.agents.dialogs) >= s.cfg.MaxCalls {
		s.agents.mu.Unlock()
		return nil, &DialError{Err: ErrUnreachable, Cause: errors.New("too many outbound legs")}
	}
	s.agents.dialogs[oc.key] = oc
	s.agents.mu.Unlock()

	tx, err := s.client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		oc.forget()
		oc.cancel(ErrEnded)
		return nil, &DialError{Err: ErrUnreachable, Cause: err}
	}
	oc.mu.Lock()
	oc.tx = tx
	oc.mu.Unlock()
	var ring <-chan time.Time
	if opts.RingTimeout > 0 {
		t := s.clock.NewTimer(opts.RingTimeout)
		defer t.Stop()
		ring = t.C()
	}
	provisional := false
	lastCode := 0
	for {
		select {
		case res := <-tx.Responses():
			switch {
			case res.StatusCode < 200:
				if res.StatusCode == 100 {
					continue
				}
				provisional = true
				if res.StatusCode != lastCode && opts.OnProgress != nil {
					lastCode = res.StatusCode
					p := Progress{Code: res.StatusCode, Reason: res.Reason}
					if len(res.Body()) > 0 {
						p.SDP = res.Body()
					}
					opts.OnProgress(p)
				}
			case res.StatusCode < 300:
				if err := oc.confirm(res); err != nil {
					oc.end(err)
					oc.close()
					return nil, &DialError{Code: res.StatusCode, Reason: res.Reason, Err: ErrUnreachable, Cause: err}
				}
				oc.Log.Info("outbound leg answered", "target", target.URI)
				return oc, nil
			default:
				// The transaction ACKs a non-2xx final response itself.
				oc.forget()
				oc.cancel(ErrEnded)
				tx.Terminate()
				return nil, classify(res)
			}
		case <-tx.Done():
			oc.forget()
			oc.cancel(ErrEnded)
			return nil, &DialError{Err: ErrUnreachable, Cause: tx.Err()}
		case <-ring:
			oc.abandon(tx, provisional)
			return nil, &DialError{Err: ErrNoAnswer, Reason: "ring timeout"}
		case <-ctx.Done():
			oc.abandon(tx, provisional)
			return nil, &DialError{Err: ErrWithdrawn, Cause: context.Cause(ctx)}
		}
	}
}

func (oc *OutboundCall) buildInvite(uri sipmsg.Uri, sdp []byte, opts DialOptions) *sipmsg.Request {
	s := oc.srv
	req := sipmsg.NewRequest(sipmsg.INVITE, uri)
	fromUser := opts.From
	if fromUser == "" {
		fromUser = "hotline"
	}
	from := &sipmsg.FromHeader{DisplayName: opts.FromName, Address: sipmsg.Uri{Scheme: "sip", User: fromUser, Host: s.addr.Addr().String()}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", oc.localTag)
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: uri.User, Host: uri.Host, Port: uri.Port}, Params: sipmsg.NewParams()}
	callID := sipmsg.CallIDHeader(oc.CallID)
	maxFwd := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: 1, MethodName: sipmsg.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(oc.contact())
	req.AppendHeader(allowHeader())
	req.AppendHeader(sipmsg.NewHeader("User-Agent", s.cfg.UserAgent))
	for _, h := range opts.Headers {
		req.AppendHeader(h)
	}
	if len(sdp) > 0 {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(sdp)
	} else {
		req.SetBody(nil)
	}
	req.SetTransport(oc.transport)
	if oc.Target.Destination != "" {
		req.SetDestination(oc.Target.Destination)
	}
	oc.pin(req)
	oc.invite = req
	return req
}

// pin makes a UDP request leave from the server's listening socket, so that the phone
// sees the same address as in our Via and Contact, and replies reach the listener.
// (sipgo's ephemeral client sockets are reference counted per request and get
// closed early when several requests share one.)
func (oc *OutboundCall) pin(req *sipmsg.Request) {
	if oc.transport != "UDP" || oc.srv.udpConn == nil {
		return
	}
	a, ok := oc.srv.udpConn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return
	}
	laddr := sipmsg.Addr{IP: a.IP, Port: a.Port}
	// Right after Listen the listener may not be in sipgo's pool yet; then sipgo
	// would try to bind the same port again, so leave the choice to it.
	if _, err := oc.srv.ua.TransportLayer().GetConnection("udp", laddr.String()); err == nil {
		req.Laddr = laddr
	}
}

func (oc *OutboundCall) contact() sipmsg.Header {
	if dua := oc.srv.dialogUA[strings.ToLower(oc.transport)]; dua != nil {
		return sipmsg.HeaderClone(&dua.ContactHDR)
	}
	return sipmsg.HeaderClone(&oc.srv.dialogUA["udp"].ContactHDR)
}

// confirm takes the 2xx: the dialog is established; send the ACK and keep sending it
// for retransmitted 2xx.
func (oc *OutboundCall) confirm(res *sipmsg.Response) error {
	tag, _ := res.To().Params.Get("tag")
	oc.mu.Lock()
	oc.answered = true
	oc.remoteTag = tag
	oc.ok = res
	if oc.Target.Destination != "" {
		oc.dest = res.Source()
	}
	oc.mu.Unlock()
	if len(res.Body()) > 0 {
		oc.Answer = res.Body()
	}
	if ap, err := netip.ParseAddrPort(res.Source()); err == nil {
		oc.Remote = ap
	}
	ack := oc.inDialog(sipmsg.ACK, 1)
	ack.SetBody(nil)
	if err := oc.srv.client.WriteRequest(ack, sipgo.ClientRequestAddVia); err != nil {
		return fmt.Errorf("sip: ACK: %w", err)
	}
	oc.mu.Lock()
	tx := oc.tx
	oc.mu.Unlock()
	tx.OnRetransmission(func(r *sipmsg.Response) {
		if t, _ := r.To().Params.Get("tag"); r.IsSuccess() && t == tag {
			if err := oc.srv.client.WriteRequest(ack.Clone()); err != nil {
				oc.Log.Debug("ACK retransmission", "error", err)
			}
		}
	})
	return nil
}

// inDialog builds a request within the dialog (RFC 3261 12.2.1.1) with CSeq seq.
func (oc *OutboundCall) inDialog(method sipmsg.RequestMethod, seq uint32) *sipmsg.Request {
	oc.mu.Lock()
	res, dest := oc.ok, oc.dest
	oc.mu.Unlock()
	target := oc.invite.Recipient
	if c := res.Contact(); c != nil {
		target = *c.Address.Clone()
	}
	req := sipmsg.NewRequest(method, target)
	req.AppendHeader(sipmsg.HeaderClone(oc.invite.From()))
	req.AppendHeader(sipmsg.HeaderClone(res.To()))
	req.AppendHeader(sipmsg.HeaderClone(oc.invite.CallID()))
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: seq, MethodName: method})
	maxFwd := sipmsg.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		req.AppendHeader(sipmsg.NewHeader("Route", rr[i].Value()))
	}
	req.SetTransport(oc.transport)
	if dest != "" {
		req.SetDestination(dest)
	}
	oc.pin(req)
	return req
}

// abandon hands an unanswered INVITE to a goroutine that CANCELs it (after a
// provisional response, RFC 3261 9.1) and cleans up.
func (oc *OutboundCall) abandon(tx sipmsg.ClientTransaction, provisional bool) {
	oc.cancel(ErrWithdrawn)
	s := oc.srv
	s.agents.wg.Go(func() {
		defer oc.forget()
		defer tx.Terminate()
		giveUp := time.NewTimer(64 * sipmsg.T1)
		defer giveUp.Stop()
		canceled := false
		if provisional {
			oc.sendCancel()
			canceled = true
		}
		for {
			select {
			case res := <-tx.Responses():
				switch {
				case res.StatusCode < 200:
					if !canceled && res.StatusCode > 100 {
						oc.sendCancel()
						canceled = true
					}
				case res.StatusCode < 300:
					// The 200 crossed our CANCEL: confirm, then end it.
					if err := oc.confirm(res); err == nil {
						ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
						_ = oc.bye(ctx, "")
						cancel()
					}
					return
				default:
					return // 487 (ACKed by the transaction)
				}
			case <-tx.Done():
				return
			case <-giveUp.C:
				return
			}
		}
	})
}

func (oc *OutboundCall) sendCancel() {
	inv := oc.invite
	c := sipmsg.NewRequest(sipmsg.CANCEL, *inv.Recipient.Clone())
	c.AppendHeader(sipmsg.HeaderClone(inv.Via()))
	c.AppendHeader(sipmsg.HeaderClone(inv.From()))
	c.AppendHeader(sipmsg.HeaderClone(inv.To()))
	c.AppendHeader(sipmsg.HeaderClone(inv.CallID()))
	c.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	maxFwd := sipmsg.MaxForwardsHeader(70)
	c.AppendHeader(&maxFwd)
	c.SetBody(nil)
	c.SetTransport(oc.transport)
	c.SetDestination(inv.Destination())
	oc.pin(c)
	keep := func(*sipgo.Client, *sipmsg.Request) error { return nil }
	ctx, cancel := context.WithTimeout(context.Background(), 64*sipmsg.T1)
	defer cancel()
	tx, err := oc.srv.client.TransactionRequest(ctx, c, keep)
	if err != nil {
		oc.Log.Debug("CANCEL", "error", err)
		return
	}
	// The 200 to the CANCEL matters little; the INVITE's 487 ends the attempt. Drain
	// the CANCEL's responses so the transaction never blocks on them.
	s := oc.srv
	s.agents.wg.Go(func() {
		defer tx.Terminate()
		select {
		case <-tx.Responses():
		case <-tx.Done():
		}
	})
}

// Hangup ends the answered leg from our side with BYE, carrying a Reason header
// (RFC 3326) with the Q.850 cause and text. It waits at most until ctx ends for the
// phone's answer. It returns ErrEnded when the leg had already ended (the agent hung
// up). The leg's owner calls it once the leg is over, whoever ended it: it also
// releases the leg.
func (oc *OutboundCall) Hangup(ctx context.Context, q850 int, text string) error {
	if cause := context.Cause(oc.ctx); errors.Is(cause, ErrRemoteBye) {
		oc.close()
		return ErrEnded
	}
	reason := ""
	if q850 > 0 {
		reason = fmt.Sprintf("Q.850;cause=%d;text=%q", q850, text)
	}
	oc.end(fmt.Errorf("sip: ended by the engine: %s", text))
	return oc.bye(ctx, reason)
}

func (oc *OutboundCall) bye(ctx context.Context, reason string) error {
	oc.mu.Lock()
	if oc.ended || !oc.answered {
		oc.mu.Unlock()
		oc.close()
		return ErrEnded
	}
	oc.ended = true
	oc.cseq++
	seq := oc.cseq
	oc.mu.Unlock()
	defer oc.close()
	bye := oc.inDialog(sipmsg.BYE, seq)
	if reason != "" {
		bye.AppendHeader(sipmsg.NewHeader("Reason", reason))
	}
	bye.SetBody(nil)
	tx, err := oc.srv.client.TransactionRequest(ctx, bye, sipgo.ClientRequestAddVia)
	if err != nil {
		return fmt.Errorf("sip: BYE: %w", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode < 200 {
				continue
			}
			if res.StatusCode >= 300 && res.StatusCode != 481 {
				return fmt.Errorf("sip: BYE answered %d %s", res.StatusCode, res.Reason)
			}
			return nil
		case <-tx.Done():
			return fmt.Errorf("sip: BYE: %w", tx.Err())
		case <-ctx.Done():
			return fmt.Errorf("sip: BYE: %w", context.Cause(ctx))
		}
	}
}

// end ends the leg's context with cause; the first cause wins.
func (oc *OutboundCall) end(cause error) { oc.cancel(cause) }

// close forgets the dialog and stops its INVITE transaction.
func (oc *OutboundCall) close() {
	oc.end(ErrEnded)
	oc.forget()
	oc.mu.Lock()
	tx := oc.tx
	oc.mu.Unlock()
	if tx != nil {
		tx.Terminate()
	}
}

func (oc *OutboundCall) forget() {
	s := oc.srv
	s.agents.mu.Lock()
	if s.agents.dialogs[oc.key] == oc {
		delete(s.agents.dialogs, oc.key)
	}
	s.agents.mu.Unlock()
}

// routeOutbound serves an in-dialog request of one of our outbound legs and reports
// whether it was one. The server's handlers call it before looking up inbound calls.
func (s *Server) routeOutbound(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	to, callID := req.To(), req.CallID()
	if to == nil || callID == nil || to.Params == nil {
		return false
	}
	tag, ok := to.Params.Get("tag")
	if !ok {
		return false
	}
	s.agents.mu.Lock()
	oc := s.agents.dialogs[callID.Value()+"\x00"+tag]
	s.agents.mu.Unlock()
	if oc == nil {
		return false
	}
	s.metrics.request(string(req.Method))
	oc.mu.Lock()
	remote := oc.remoteTag
	oc.mu.Unlock()
	if f := req.From(); remote != "" && f != nil {
		if t, _ := f.Params.Get("tag"); t != remote {
			if !req.IsAck() {
				s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
			}
			return true
		}
	}
	switch req.Method {
	case sipmsg.ACK:
		// We never send a 2xx to an INVITE of the phone: nothing to do.
	case sipmsg.BYE:
		oc.end(ErrRemoteBye)
		oc.mu.Lock()
		oc.ended = true
		answered := oc.answered
		oc.mu.Unlock()
		s.respond(req, tx, 200, "OK")
		oc.Log.Info("outbound leg ended by the phone (BYE)")
		if answered {
			// Before the answer is taken (a BYE overtaking the 200), Dial still
			// ACKs the 200 and returns the leg, already ended.
			oc.close()
		}
	case sipmsg.INFO:
		oc.readInfo(req, tx)
	case sipmsg.OPTIONS:
		s.respond(req, tx, 200, "OK", allowHeader())
	case sipmsg.INVITE, sipmsg.UPDATE:
		// Re-offers from the agent's phone (hold) are not supported yet: refusing
		// keeps the session as it was (RFC 3261 14.2).
		s.respond(req, tx, 488, "Not Acceptable Here")
	default:
		s.respond(req, tx, 405, "Method Not Allowed", allowHeader())
	}
	return true
}

func (oc *OutboundCall) readInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s := oc.srv
	if len(req.Body()) == 0 {
		s.respond(req, tx, 200, "OK")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, err := ParseDTMFInfo(ct, req.Body())
	switch {
	case errors.Is(err, ErrUnsupportedInfo):
		s.respond(req, tx, 415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	case err != nil:
		s.respond(req, tx, 400, "Bad Request (malformed DTMF body)")
		return
	}
	s.respond(req, tx, 200, "OK")
	select {
	case oc.digits <- d:
	default:
		oc.Log.Warn("INFO digit dropped: nobody is reading digits", "key", string(d.Key))
	}
}

// endOutbound ends every outbound leg with cause (the server is shutting down); their
// owners send BYE.
func (s *Server) endOutbound(cause error) {
	s.agents.mu.Lock()
	defer s.agents.mu.Unlock()
	for _, oc := range s.agents.dialogs {
		oc.end(cause)
	}
}

// outbound wraps a handler of in-dialog requests so that those of our outbound legs
// are served by routeOutbound and the rest by h.
func (s *Server) outbound(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		if s.routeOutbound(req, tx) {
			return
		}
		h(req, tx)
	}
}
