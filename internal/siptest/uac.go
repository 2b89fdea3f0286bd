package siptest

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

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/hotline12345/hotline/media"
)

// ErrClosed is returned by a UAC's methods after Close.
var ErrClosed = errors.New("siptest: UAC closed")

// Options configure a UAC. The zero value calls from 127.0.0.1 as 13800138000
// without credentials.
type Options struct {
	// LocalIP is the address the UAC binds (port 0) and names in Via, From and
	// Contact; default 127.0.0.1.
	LocalIP string
	// User is the user part of the From URI; default 13800138000.
	User string
	// Username and Password answer 401 challenges (MD5 or SHA-256, whichever the
	// first WWW-Authenticate names).
	Username, Password string
	// Logger receives sipgo's logs; nil discards them.
	Logger *slog.Logger
}

// UAC is a SIP user agent client on one UDP socket. Its methods are safe for
// concurrent use.
type UAC struct {
	target netip.AddrPort
	opts   Options
	conn   net.PacketConn
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	dua    *sipgo.DialogUA
	wg     sync.WaitGroup

	mu     sync.Mutex
	calls  map[string]*Call // by Call-ID
	closed bool
}

// New binds a UAC to LocalIP:0 that sends its requests to target (the engine's SIP
// address).
func New(target netip.AddrPort, o Options) (*UAC, error) {
	if o.LocalIP == "" {
		o.LocalIP = "127.0.0.1"
	}
	if o.User == "" {
		o.User = "13800138000"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(o.LocalIP, "0"))
	if err != nil {
		return nil, fmt.Errorf("siptest: listen: %w", err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("siptest"), sipgo.WithUserAgentHostname(o.LocalIP),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(o.Logger)),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(o.Logger)))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("siptest: %w", err)
	}
	u := &UAC{target: target, opts: o, conn: conn, ua: ua, calls: map[string]*Call{}}
	fail := func(err error) (*UAC, error) {
		ua.Close()
		conn.Close()
		return nil, fmt.Errorf("siptest: %w", err)
	}
	if u.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(o.Logger)); err != nil {
		return fail(err)
	}
	if u.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(o.Logger), sipgo.WithClientHostname(o.LocalIP), sipgo.WithClientPort(port)); err != nil {
		return fail(err)
	}
	u.dua = &sipgo.DialogUA{Client: u.client, ContactHDR: sipmsg.ContactHeader{
		Address: sipmsg.Uri{Scheme: "sip", User: o.User, Host: o.LocalIP, Port: port},
	}}
	u.srv.OnBye(u.onBye)
	u.srv.OnAck(func(*sipmsg.Request, sipmsg.ServerTransaction) {})
	u.wg.Go(func() { _ = u.srv.ServeUDP(conn) })
	return u, nil
}

// Addr is the UAC's SIP address.
func (u *UAC) Addr() netip.AddrPort {
	return u.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close ends the UAC without hanging up its calls (use Call.Hangup first).
func (u *UAC) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()
	u.ua.Close()
	err := u.conn.Close()
	u.wg.Wait()
	return err
}

// Request builds an out-of-dialog request of method to number at the target, with
// From (a new tag), To and a new Call-ID; sipgo adds Via, CSeq and Max-Forwards
// when it is sent.
func (u *UAC) Request(method sipmsg.RequestMethod, number string) *sipmsg.Request {
	uri := sipmsg.Uri{Scheme: "sip", User: number, Host: u.target.Addr().String(), Port: int(u.target.Port())}
	req := sipmsg.NewRequest(method, uri)
	from := &sipmsg.FromHeader{
		DisplayName: "citizen",
		Address:     sipmsg.Uri{Scheme: "sip", User: u.opts.User, Host: u.opts.LocalIP, Port: int(u.Addr().Port())},
		Params:      sipmsg.NewParams(),
	}
	from.Params.Add("tag", uuid.NewString()[:8])
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: number, Host: u.target.Addr().String(), Port: int(u.target.Port())}}
	callID := sipmsg.CallIDHeader(uuid.NewString())
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	return req
}

// Do sends an out-of-dialog request (OPTIONS ...) and returns its final response.
func (u *UAC) Do(ctx context.Context, req *sipmsg.Request) (*sipmsg.Response, error) {
	if err := u.check(); err != nil {
		return nil, err
	}
	return u.client.Do(ctx, req)
}

func (u *UAC) check() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	return nil
}

// Call is one call the UAC placed and the engine answered.
type Call struct {
	// Answer is the SDP of the 200 OK.
	Answer []byte
	// Response is the 200 OK.
	Response *sipmsg.Response
	// Responses lists the status codes received for the INVITE, in order (100, 401,
	// 100, 180, 200 ...).
	Responses []int

	u    *UAC
	dlg  *sipgo.DialogClientSession
	id   string
	done chan struct{}
	once sync.Once
}

// StatusError is the final non-2xx response to an INVITE.
type StatusError struct {
	Response  *sipmsg.Response
	Responses []int // every status code received, as in Call.Responses
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("siptest: INVITE answered %d %s", e.Response.StatusCode, e.Response.Reason)
}

// StatusCode returns the status of a *StatusError in err's chain, or 0.
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Response.StatusCode
	}
	return 0
}

// Invite calls number with the SDP offer sdp (nil for none), answers one digest
// challenge with the configured credentials, waits for the final response and ACKs
// a 2xx. A non-2xx final response is returned as a *StatusError. When ctx ends
// before the answer, the INVITE is cancelled.
func (u *UAC) Invite(ctx context.Context, number string, sdp []byte, hdrs ...sipmsg.Header) (*Call, error) {
	if err := u.check(); err != nil {
		return nil, err
	}
	req := u.Request(sipmsg.INVITE, number)
	if sdp != nil {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(sdp)
	}
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	c := &Call{u: u, id: req.CallID().Value(), done: make(chan struct{})}
	u.mu.Lock()
	u.calls[c.id] = c
	u.mu.Unlock()
	dlg, err := u.dua.WriteInvite(ctx, req)
	if err != nil {
		u.forget(c)
		return nil, fmt.Errorf("siptest: INVITE: %w", err)
	}
	c.dlg = dlg
	var mu sync.Mutex
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: u.opts.Username, Password: u.opts.Password,
		OnResponse: func(res *sipmsg.Response) error {
			mu.Lock()
			c.Responses = append(c.Responses, res.StatusCode)
			mu.Unlock()
			return nil
		},
	})
	if err != nil {
		u.forget(c)
		dlg.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, &StatusError{Response: de.Res, Responses: c.Responses}
		}
		return nil, fmt.Errorf("siptest: INVITE: %w", err)
	}
	c.Response = dlg.InviteResponse
	c.Answer = dlg.InviteResponse.Body()
	if err := dlg.Ack(ctx); err != nil {
		return c, fmt.Errorf("siptest: ACK: %w", err)
	}
	return c, nil
}

func (u *UAC) forget(c *Call) {
	u.mu.Lock()
	delete(u.calls, c.id)
	u.mu.Unlock()
}

func (u *UAC) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	u.mu.Lock()
	c := u.calls[req.CallID().Value()]
	u.mu.Unlock()
	if c == nil || c.dlg == nil {
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = c.dlg.ReadBye(req, tx)
	c.ended()
}

func (c *Call) ended() {
	c.once.Do(func() {
		close(c.done)
		c.u.forget(c)
	})
}

// Done is closed when the call has ended: the engine's BYE, or Hangup.
func (c *Call) Done() <-chan struct{} { return c.done }

// RemoteMedia is the RTP address of the engine's answer.
func (c *Call) RemoteMedia() (netip.AddrPort, error) {
	desc, err := media.ParseSDP(c.Answer)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(desc.Addr, uint16(desc.Port)), nil
}

// Reinvite sends a re-INVITE with sdp inside the dialog, ACKs a 2xx and returns the
// final response (hold and resume, RFC 3264 section 8.4).
func (c *Call) Reinvite(ctx context.Context, sdp []byte) (*sipmsg.Response, error) {
	req := sipmsg.NewRequest(sipmsg.INVITE, c.dlg.InviteResponse.Contact().Address)
	if sdp != nil {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(sdp)
	}
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("siptest: re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return res, nil
	}
	ack := sipmsg.NewRequest(sipmsg.ACK, c.dlg.InviteResponse.Contact().Address)
	ack.AppendHeader(&sipmsg.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sipmsg.ACK})
	if err := c.dlg.WriteRequest(ack); err != nil {
		return res, fmt.Errorf("siptest: ACK of the re-INVITE: %w", err)
	}
	return res, nil
}

// Request sends an in-dialog request (INFO, OPTIONS ...) with an optional body and
// returns the final response.
func (c *Call) Request(ctx context.Context, method sipmsg.RequestMethod, contentType string, body []byte) (*sipmsg.Response, error) {
	req := sipmsg.NewRequest(method, c.dlg.InviteResponse.Contact().Address)
	if body != nil {
		req.AppendHeader(sipmsg.NewHeader("Content-Type", contentType))
		req.SetBody(body)
	}
	return c.dlg.Do(ctx, req)
}

// Hangup sends BYE (nothing if the engine hung up first) and waits for its 200.
func (c *Call) Hangup(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	err := c.dlg.Bye(ctx)
	c.ended()
	if err != nil {
		return fmt.Errorf("siptest: BYE: %w", err)
	}
	return nil
}

// Offer returns an SDP offer for an RTP endpoint at addr: the codecs in order,
// telephone-event at dtmfPT (0: none), ptime 20 and the direction attribute dir
// (sendrecv, sendonly, recvonly, inactive; empty: none). version is the o= line's
// session version, to be raised in every re-offer.
func Offer(addr netip.AddrPort, version int, dir string, dtmfPT uint8, codecs ...media.Codec) []byte {
	var b strings.Builder
	ip := "IP4"
	if addr.Addr().Is6() {
		ip = "IP6"
	}
	fmt.Fprintf(&b, "v=0\r\no=siptest 4242 %d IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n", version, ip, addr.Addr(), ip, addr.Addr())
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", addr.Port())
	for _, c := range codecs {
		b.WriteString(" " + strconv.Itoa(int(c.PayloadType)))
	}
	if dtmfPT != 0 {
		b.WriteString(" " + strconv.Itoa(int(dtmfPT)))
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", c.PayloadType, c.Name, c.ClockRate)
	}
	if dtmfPT != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", dtmfPT, dtmfPT)
	}
	b.WriteString("a=ptime:20\r\n")
	if dir != "" {
		b.WriteString("a=" + dir + "\r\n")
	}
	return []byte(b.String())
}
