package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// Call is the inbound leg of one call: the UAS side of an INVITE dialog. Its methods
// may be called from the handler's goroutine; the server delivers in-dialog requests
// (ACK, BYE, INFO, re-INVITE, UPDATE) on its own goroutines and the Call hands them
// over through channels and the re-offer callback.
type Call struct {
	// ID is the engine's id for the call: short, unique, used in logs, events and the API.
	ID string
	// CallID is the SIP Call-ID.
	CallID string
	// Caller is the user part of the From URI (the citizen's number); CallerName its
	// display name.
	Caller, CallerName string
	// Dialled is the user part of the Request-URI (12345).
	Dialled string
	// Trunk is the trunk that admitted the call.
	Trunk *Trunk
	// Transport is "udp" or "tcp".
	Transport string
	// Source is where the INVITE came from.
	Source netip.AddrPort
	// Offer is the SDP of the INVITE; nil for a delayed offer (RFC 3261 13.2.1).
	Offer []byte
	// Log is the server's logger with the call's id attached.
	Log *slog.Logger

	srv *Server
	req *sipmsg.Request
	tx  sipmsg.ServerTransaction
	dlg *sipgo.DialogServerSession

	ctx    context.Context
	cancel context.CancelCauseFunc
	digits chan Digit
	acks   map[uint32]chan struct{} // by CSeq: closed when that INVITE's ACK comes (under mu)

	mu        sync.Mutex
	answered  bool
	ended     bool
	ackBody   []byte
	reoffer   func(offer []byte) ([]byte, error)
	reinvite  bool // a re-INVITE is being answered (491 for another)
	timer     *sessionTimer
	stopWatch func() bool
}

func newCall(s *Server, req *sipmsg.Request, tx sipmsg.ServerTransaction, dlg *sipgo.DialogServerSession, trunk *Trunk, dialled string) *Call {
	c := &Call{
		ID:        newID(),
		Dialled:   dialled,
		Trunk:     trunk,
		Transport: strings.ToLower(req.Transport()),
		Offer:     req.Body(),
		srv:       s,
		req:       req,
		tx:        tx,
		dlg:       dlg,
		digits:    make(chan Digit, 16),
		acks:      make(map[uint32]chan struct{}),
	}
	if len(c.Offer) == 0 {
		c.Offer = nil
	}
	if h := req.CallID(); h != nil {
		c.CallID = h.Value()
	}
	if f := req.From(); f != nil {
		c.Caller = f.Address.User
		c.CallerName = f.DisplayName
	}
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		c.Source = ap
	}
	c.Log = s.log.With("call_id", c.ID)
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	// The dialog's context ends on CANCEL and on transaction failure before the ACK.
	// The dialog's context ends on CANCEL and when the INVITE transaction ends before
	// sipgo saw the dialog established. Once we have answered, only our own handlers
	// end the call (readBye, the ACK timeout, the session timer): sipgo may end the
	// dialog's context with no cause when the transaction terminates a moment before
	// the ACK is read, which must not end a good call.
	c.stopWatch = context.AfterFunc(dlg.Context(), func() {
		cause := context.Cause(dlg.Context())
		switch {
		case errors.Is(cause, sipmsg.ErrTransactionCanceled):
			c.end(ErrCanceled)
		case c.isAnswered():
		case cause == nil || errors.Is(cause, context.Canceled):
			c.end(ErrTransaction)
		default:
			c.end(fmt.Errorf("%w: %w", ErrTransaction, cause))
		}
	})
	if se, ok := sessionExpires(req); ok {
		c.timer = newSessionTimer(c, se, s.cfg.MinSE, supports(req, "timer"), refresherParam(req))
	}
	return c
}

// newID returns a short random call id (12 hex digits of a UUID v4).
func newID() string {
	u := uuid.New()
	const hexd = "0123456789abcdef"
	b := make([]byte, 12)
	for i := range 6 {
		b[2*i] = hexd[u[i]>>4]
		b[2*i+1] = hexd[u[i]&15]
	}
	return string(b)
}

// Context ends when the call ends, for whatever reason; context.Cause says which
// (ErrRemoteBye, ErrCanceled, ErrSessionExpired, ErrShutdown ...).
func (c *Call) Context() context.Context { return c.ctx }

// Digits delivers the key presses the caller sent as SIP INFO.
func (c *Call) Digits() <-chan Digit { return c.digits }

// OnReoffer sets the function that answers a re-INVITE or UPDATE with SDP: it gets
// the new offer (nil for an offer-less re-INVITE, in which case it returns an offer)
// and returns the answer. An error whose text starts with a 3-digit SIP status
// (see RejectError) chooses the response; any other error gives 488.
func (c *Call) OnReoffer(fn func(offer []byte) ([]byte, error)) {
	c.mu.Lock()
	c.reoffer = fn
	c.mu.Unlock()
}

// RejectError carries the SIP status with which an offer is refused.
type RejectError struct {
	Code   int
	Reason string
	Err    error
}

func (e *RejectError) Error() string {
	return strconv.Itoa(e.Code) + " " + e.Reason + ": " + e.Err.Error()
}
func (e *RejectError) Unwrap() error { return e.Err }

// end ends the call's context with cause; the first cause wins.
func (c *Call) end(cause error) {
	c.cancel(cause)
}

// Ringing sends 180 Ringing.
func (c *Call) Ringing() error {
	if c.isAnswered() {
		return ErrAnswered
	}
	if c.ctx.Err() != nil {
		return context.Cause(c.ctx) // cancelled already: a 180 now would follow the 487
	}
	c.srv.metrics.response(180)
	return c.dlg.Respond(180, "Ringing", nil)
}

// Reject ends an unanswered call with a final status (404, 486, 488, 503 ...).
// Headers may be added (Retry-After, Reason ...).
func (c *Call) Reject(code int, reason string, hdrs ...sipmsg.Header) error {
	if c.isAnswered() {
		return ErrAnswered
	}
	if reason == "" {
		reason = reasonPhrase(code)
	}
	c.srv.metrics.response(code)
	err := c.dlg.Respond(code, reason, nil, hdrs...)
	c.end(fmt.Errorf("sip: rejected with %d %s", code, reason))
	return err
}

func (c *Call) isAnswered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// Answer sends 200 OK with sdp and waits for the ACK, retransmitting the 2xx over UDP
// (RFC 3261 13.3.1.4). For a delayed offer, sdp is our offer and the returned bytes
// are the answer from the ACK. It returns the call's cause if the caller hung up or
// cancelled first.
func (c *Call) Answer(sdp []byte) ([]byte, error) {
	select {
	case <-c.tx.Done():
		c.end(ErrCanceled)
		return nil, context.Cause(c.ctx)
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	default:
	}
	res := sipmsg.NewSDPResponseFromRequest(c.dlg.InviteRequest, sdp)
	c.addCommon(res)
	if c.timer != nil {
		c.timer.addHeaders(res)
	}
	c.mu.Lock()
	c.answered = true
	c.dlg.InviteResponse = res
	c.mu.Unlock()
	c.srv.metrics.response(200)
	cseq := c.req.CSeq().SeqNo
	acked := c.expectAck(cseq)
	if err := c.tx.Respond(res); err != nil {
		c.end(fmt.Errorf("%w: %w", ErrTransaction, err))
		return nil, context.Cause(c.ctx)
	}
	if err := c.waitAck(c.tx, res, cseq, acked); err != nil {
		return nil, err
	}
	// The ACK ends the INVITE transaction's use: left alone, sipgo keeps it (and the
	// whole request and response) for Timer L, 32 s after the 2xx, which at 1,500
	// calls/s held over half a gigabyte.
	c.tx.Terminate()
	if c.timer != nil {
		c.timer.start()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ackBody, nil
}

// expectAck returns a channel closed when the ACK for the INVITE with cseq arrives.
// Call it before sending the 2xx, so that an ACK racing the send is not missed.
func (c *Call) expectAck(cseq uint32) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.acks[cseq]
	if !ok {
		ch = make(chan struct{})
		c.acks[cseq] = ch
	}
	return ch
}

// waitAck retransmits a 2xx over unreliable transports until the ACK with cseq comes.
func (c *Call) waitAck(tx sipmsg.ServerTransaction, res *sipmsg.Response, cseq uint32, acked <-chan struct{}) error {
	defer func() {
		c.mu.Lock()
		delete(c.acks, cseq)
		c.mu.Unlock()
	}()
	reliable := c.Transport != "udp"
	interval := sipmsg.T1
	retx := time.NewTimer(interval)
	defer retx.Stop()
	if reliable {
		retx.Stop()
	}
	giveUp := time.NewTimer(64 * sipmsg.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-acked:
			return nil
		case ack := <-tx.Acks():
			// An ACK that reused the INVITE's branch (RFC 2543 style) matches the
			// transaction and never reaches onAck.
			c.readAck(ack, tx)
			return nil
		case <-retx.C:
			if err := tx.Respond(res); err != nil {
				c.Log.Debug("2xx retransmission", "error", err)
			}
			interval = min(2*interval, sipmsg.T2)
			retx.Reset(interval)
		case <-giveUp.C:
			c.end(ErrNoACK)
			return ErrNoACK
		case <-c.ctx.Done():
			// A BYE can overtake the ACK under load: the call was fine, and is over.
			return context.Cause(c.ctx)
		}
	}
}

func (c *Call) addCommon(res *sipmsg.Response) {
	res.AppendHeader(allowHeader())
	res.AppendHeader(sipmsg.NewHeader("Supported", "timer"))
	if res.Contact() == nil {
		tr := c.Transport
		if c.Trunk != nil && c.Trunk.NAT {
			tr += "-nat"
		}
		if dua := c.srv.dialogUA[tr]; dua != nil {
			res.AppendHeader(sipmsg.HeaderClone(&dua.ContactHDR))
		}
	}
}

// Hangup ends an answered call from our side with BYE, carrying a Reason header
// (RFC 3326) with the Q.850 cause and text. It waits at most until ctx ends.
func (c *Call) Hangup(ctx context.Context, q850 int, text string) error {
	c.mu.Lock()
	if !c.answered || c.ended {
		c.mu.Unlock()
		return ErrEnded
	}
	c.ended = true
	c.mu.Unlock()
	if cause := context.Cause(c.ctx); errors.Is(cause, ErrRemoteBye) || errors.Is(cause, ErrCanceled) {
		return ErrEnded // the caller ended it
	}
	bye := sipmsg.NewRequest(sipmsg.BYE, c.dlg.InviteRequest.Contact().Address)
	bye.AppendHeader(sipmsg.NewHeader("Reason", fmt.Sprintf("Q.850;cause=%d;text=%q", q850, text)))
	c.end(fmt.Errorf("sip: ended by the engine: %s", text))
	err := c.dlg.WriteBye(ctx, bye)
	if err != nil {
		return fmt.Errorf("sip: BYE: %w", err)
	}
	return nil
}

func (c *Call) close() {
	c.stopWatch()
	if c.timer != nil {
		c.timer.stop()
	}
	c.end(ErrEnded)
	c.dlg.Close()
}

func (c *Call) readAck(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	cseq := req.CSeq().SeqNo
	c.mu.Lock()
	if cseq == c.req.CSeq().SeqNo && len(req.Body()) > 0 && c.ackBody == nil {
		c.ackBody = req.Body()
	}
	c.mu.Unlock()
	// The dialog is confirmed before anyone waiting hears of the ACK: Answer then
	// terminates the INVITE transaction, which must find the dialog confirmed.
	_ = c.dlg.ReadAck(req, tx)
	c.mu.Lock()
	if ch, ok := c.acks[cseq]; ok {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	c.mu.Unlock()
}

func (c *Call) readBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	c.srv.metrics.response(200)
	// Answer before ending the call's context: its end lets the call goroutine
	// finish, and when that was the last call of a draining engine the transport
	// closes and the 200 would never leave; the caller would retransmit its BYE
	// into silence until its timer B fires.
	if err := c.dlg.ReadBye(req, tx); err != nil {
		// CSeq lower than the INVITE's: still end the call, answer 200 anyway.
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 200, "OK", nil))
	}
	// Do not keep the BYE transaction for Timer J (32 s): a retransmitted BYE (our
	// 200 was lost) then finds no dialog and gets 481, which ends the caller's side
	// just as well.
	tx.Terminate()
	c.end(ErrRemoteBye)
}

func (c *Call) readInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	if len(req.Body()) == 0 {
		// An empty INFO is a keep-alive probe (RFC 6086 section 4.2.2 allows it).
		c.srv.respond(req, tx, 200, "OK")
		return
	}
	d, err := ParseDTMFInfo(ct, req.Body())
	switch {
	case errors.Is(err, ErrUnsupportedInfo):
		c.srv.respond(req, tx, 415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	case err != nil:
		c.Log.Info("bad DTMF INFO", "error", err)
		c.srv.respond(req, tx, 400, "Bad Request (malformed DTMF body)")
		return
	}
	c.srv.respond(req, tx, 200, "OK")
	select {
	case c.digits <- d:
	default:
		c.Log.Warn("INFO digit dropped: nobody is reading digits", "key", string(d.Key))
	}
}

// offerAnswer runs the re-offer callback and maps its error to a status.
func (c *Call) offerAnswer(offer []byte) ([]byte, int, string) {
	c.mu.Lock()
	fn := c.reoffer
	c.mu.Unlock()
	if fn == nil {
		return nil, 488, "Not Acceptable Here"
	}
	ans, err := fn(offer)
	if err != nil {
		var re *RejectError
		if errors.As(err, &re) {
			return nil, re.Code, re.Reason
		}
		return nil, 488, "Not Acceptable Here"
	}
	return ans, 200, "OK"
}

func (c *Call) readReinvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c.mu.Lock()
	if c.reinvite {
		c.mu.Unlock()
		c.srv.respond(req, tx, 491, "Request Pending")
		return
	}
	c.reinvite = true
	c.mu.Unlock()
	done := func() {
		c.mu.Lock()
		c.reinvite = false
		c.mu.Unlock()
	}
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		done()
		c.srv.respond(req, tx, 500, "Server Internal Error", sipmsg.NewHeader("Retry-After", "1"))
		return
	}
	ans, code, reason := c.offerAnswer(req.Body())
	if code != 200 {
		done()
		c.srv.respond(req, tx, code, reason)
		return
	}
	res := sipmsg.NewSDPResponseFromRequest(req, ans)
	c.addCommon(res)
	if c.timer != nil {
		if se, ok := sessionExpires(req); ok {
			c.timer.refresh(se, refresherParam(req))
		} else {
			c.timer.refresh(0, "")
		}
		c.timer.addHeaders(res)
	}
	c.srv.metrics.response(200)
	cseq := req.CSeq().SeqNo
	acked := c.expectAck(cseq)
	// The offer/answer is complete once the 2xx is out, and a new re-INVITE may come
	// as soon as the caller has it: clear the pending mark before sending, or the next
	// one could arrive while this goroutine has not yet run past the send (491).
	done()
	err := tx.Respond(res)
	if err != nil {
		return
	}
	_ = c.waitAck(tx, res, cseq, acked)
}

func (c *Call) readUpdate(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		c.srv.respond(req, tx, 500, "Server Internal Error", sipmsg.NewHeader("Retry-After", "1"))
		return
	}
	var res *sipmsg.Response
	if len(req.Body()) > 0 {
		ans, code, reason := c.offerAnswer(req.Body())
		if code != 200 {
			c.srv.respond(req, tx, code, reason)
			return
		}
		res = sipmsg.NewSDPResponseFromRequest(req, ans)
	} else {
		res = sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	}
	c.addCommon(res)
	if c.timer != nil {
		if se, ok := sessionExpires(req); ok {
			c.timer.refresh(se, refresherParam(req))
		} else {
			c.timer.refresh(0, "")
		}
		c.timer.addHeaders(res)
	}
	c.srv.metrics.response(200)
	_ = tx.Respond(res)
}
