package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/queue"
	"github.com/hotline12345/hotline/sip"
)

// Dialer places outbound SIP calls (sip.Server).
type Dialer interface {
	Dial(ctx context.Context, target sip.Target, sdpOffer []byte, opts sip.DialOptions) (*sip.OutboundCall, error)
}

// Locator finds where a registered SIP seat is (sip.Registrar).
type Locator interface {
	Lookup(user string) []sip.Binding
}

// Errors of the agent side.
var (
	// ErrNoEndpoint: the agent's endpoint cannot be reached by this engine (a WebRTC
	// seat before the softphone exists, or a SIP seat with no registration).
	ErrNoEndpoint = errors.New("call: agent endpoint not reachable")
	// errAgentHungUp ends a bridged call from the agent's side.
	errAgentHungUp = errors.New("call: agent hung up")
	// errNoAgents: the ACD is not running (no agents configured).
	errNoAgents = errors.New("call: no ACD")
	// errCallbackRequested: the caller pressed 1 to be called back and was hung up.
	errCallbackRequested = errors.New("call: callback requested")
)

// Attach gives the manager the SIP side it offers calls through; call it before the
// SIP server takes calls.
func (m *Manager) Attach(d Dialer, l Locator) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dialer, m.locator = d, l
}

// Act implements acd.Sink: it hands each action to the call it concerns. It runs on
// the matcher's goroutine and never blocks: a call's inbox is buffered, and a full
// one (a stuck call) loses the action with a log line.
func (m *Manager) Act(a acd.Action) {
	m.mu.Lock()
	inbox := m.inbox[a.Call]
	if cb := m.cbInbox[a.Call]; cb != nil || a.Callback {
		inbox = cb
	}
	m.mu.Unlock()
	if a.Kind == acd.ActOffer && a.Callback {
		m.wg.Add(1) // before the goroutine starts, so that Drain cannot miss it
		go m.serveCallback(a)
		return
	}
	if inbox == nil {
		if a.Kind == acd.ActOffer {
			// The call ended between the matcher's decision and now; its hang-up is on
			// its way to the matcher and will withdraw the offer.
			m.log.Debug("offer for a call that has ended", "call_id", a.Call, "agents", a.Agents)
		}
		return
	}
	select {
	case inbox <- a:
	default:
		m.log.Error("ACD action lost: the call is not reading its inbox", "call_id", a.Call, "action", a.Kind)
	}
}

// agentLeg is the agent's side of a call: its SIP dialog and its RTP session, or
// (a WebRTC seat) the agent's media connection, which outlives the call.
type agentLeg struct {
	agent string
	oc    *sip.OutboundCall // SIP seats
	sess  *media.Session    // SIP seats
	phone *softphone        // WebRTC seats
}

// close ends the agent's part: BYE and the RTP session for a SIP seat; nothing for
// a WebRTC seat, whose connection stays for the next call (the page learns the
// call's end from its events).
func (l *agentLeg) close(ctx context.Context, q850 int, text string) {
	if l.phone != nil {
		return
	}
	if err := l.oc.Hangup(ctx, q850, text); err != nil && !errors.Is(err, sip.ErrEnded) {
		l.oc.Log.Debug("agent BYE", "error", err)
	}
	l.sess.Close()
}

// media is the leg a bridge joins.
func (l *agentLeg) media() media.Leg {
	if l.phone != nil {
		return l.phone.peer
	}
	return l.sess
}

// hungUp is closed when the agent's phone hangs up (BYE); a WebRTC agent hangs up
// through Control, so it is nil then.
func (l *agentLeg) hungUp() <-chan struct{} {
	if l.phone != nil {
		return nil
	}
	return l.oc.Context().Done()
}

// lost is closed when the agent's media is gone: RTP timeout of a SIP seat, a
// WebRTC connection not restored in time.
func (l *agentLeg) lost() <-chan struct{} {
	if l.phone != nil {
		return l.phone.lost
	}
	return l.sess.Done()
}

// lostErr says why lost was closed.
func (l *agentLeg) lostErr() error {
	if l.phone != nil {
		return errMediaLost
	}
	return l.sess.Err()
}

// queueCall puts the routed call in its queue, plays the hold audio, rings agents
// as the ACD offers them, and once one answers bridges the caller to them until
// either side hangs up. It returns the cause the call ended with.
func (m *Manager) queueCall(ctx context.Context, c *sip.Call, sess *media.Session, digits <-chan media.Digit, neg media.Negotiated, r ivr.Route, answered *bool) error {
	if m.matcher == nil {
		return errNoAgents
	}
	inbox := make(chan acd.Action, 16)
	m.mu.Lock()
	m.inbox[c.ID] = inbox
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.inbox, c.ID)
		m.mu.Unlock()
		// The end of the call for the ACD: abandoned while waiting or ringing, or the
		// answering agent goes to wrap-up.
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.matcher.Do(hctx, acd.Command{Kind: acd.CmdHangup, Call: c.ID}); err != nil && !errors.Is(err, acd.ErrUnknownCall) {
			c.Log.Warn("ACD hang-up", "error", err)
		}
	}()
	m.recordingOf(c.ID).routed(r.Queue)
	if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdEnqueue, Call: c.ID, Queue: r.Queue, Priority: r.Priority, Caller: c.Caller}); err != nil {
		c.Log.Error("queue refused the call", "queue", r.Queue, "error", err)
		return m.hold(ctx, sess, r)
	}
	stopHold := m.startHold(ctx, c, sess, r)
	defer func() { stopHold() }()
	// later holds the actions ring read while agents rang (the ACD's next offer comes
	// with the withdrawal of the last one, before that phone's Dial has returned):
	// they are handled, in order, before the inbox is read again.
	var later []acd.Action
	handover := m.handoverCh() // closed when a planned switchover hands the waiting callers over
	if c.Caller == "" {
		handover = nil // nobody to call back
	}
	// confirmCallback ends the call of a caller who is now a callback request.
	confirmCallback := func(cause string) error {
		stopHold()
		if clip, ok := m.prompts.Get(r.Language, "callback_confirm"); ok {
			_ = sess.Play(ctx, clip.Source())
		}
		m.hangup(c, 16, cause)
		return errCallbackRequested
	}
	for {
		var a acd.Action
		if len(later) > 0 && ctx.Err() == nil {
			a, later = later[0], later[1:]
		} else {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-handover:
				// A planned switchover: the caller is called back by the other
				// site, from their place in the line.
				handover = nil
				if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdCallback, Call: c.ID, Caller: c.Caller, Reason: "handover"}); err != nil {
					c.Log.Info("switchover: callback refused: the caller waits on", "error", err)
					continue
				}
				c.Log.Info("switchover: the caller will be called back by the other site", "queue", r.Queue)
				return confirmCallback("handed over by callback")
			case d := <-digits:
				if d.Key != '1' || m.callbackVia == "" {
					continue
				}
				if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdCallback, Call: c.ID, Caller: c.Caller}); err != nil {
					c.Log.Info("callback refused", "error", err)
					continue
				}
				c.Log.Info("callback requested: the caller keeps their place", "queue", r.Queue)
				return confirmCallback("callback requested")
			case a = <-inbox:
			}
		}
		switch a.Kind {
		case acd.ActOffer:
			leg, more := m.ring(ctx, partyOf(c), neg, a.Agents, inbox)
			later = append(later, more...)
			if leg == nil {
				continue
			}
			stopHold()
			*answered = true
			var last string // the agent the caller talked to last
			err := m.talk(ctx, c, sess, neg, leg, r, &last)
			if errors.Is(err, errAgentHungUp) && m.cfg.Survey.PostCall && ctx.Err() == nil {
				// The agent's part is over now (wrap-up), not after the survey.
				m.acdHangup(c.ID, c.Log)
				m.emit(c, event.Event{Type: event.CallAgentLeft, Agent: last})
				m.postCallSurvey(ctx, c, sess, digits, r, last)
			}
			var tr *transferred
			if !errors.As(err, &tr) {
				return err
			}
			if ctx.Err() != nil { // the caller hung up meanwhile
				return context.Cause(ctx)
			}
			// A blind transfer: the agent's part is over (wrap-up) and the caller
			// joins the new queue (or rings the named agent, or the number) under
			// the same call id.
			if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdHangup, Call: c.ID}); err != nil && !errors.Is(err, acd.ErrUnknownCall) {
				c.Log.Warn("ACD hang-up before the transfer", "error", err)
			}
			r.Queue = tr.queue
			if tr.number != "" {
				done, err := m.transferOut(ctx, c, sess, neg, r, tr.number)
				if done {
					return err
				}
				c.Log.Info("transfer to a number failed: the caller goes back to the queue", "queue", r.Queue, "error", err)
			}
			enq := acd.Command{Kind: acd.CmdEnqueue, Call: c.ID, Queue: r.Queue, Priority: r.Priority, Caller: c.Caller, Agent: tr.agent,
				Head: tr.head, Reason: tr.reason}
			err = m.matcher.Do(ctx, enq)
			if err != nil && tr.agent != "" && ctx.Err() == nil {
				c.Log.Info("transfer target no longer ready: the caller waits in the queue", "to_agent", tr.agent, "queue", r.Queue, "error", err)
				enq.Agent = ""
				err = m.matcher.Do(ctx, enq)
			}
			if err != nil {
				c.Log.Error("queue refused the transferred call", "queue", r.Queue, "error", err)
				return m.hold(ctx, sess, r)
			}
			stopHold = m.startHold(ctx, c, sess, r)
		case acd.ActMoved:
			stopHold()
			r.Queue = a.Queue
			stopHold = m.startHold(ctx, c, sess, r)
		case acd.ActExit:
			c.Log.Info("call left the queue by rule", "reason", a.Reason)
			stopHold()
			m.hangup(c, 16, "queue: "+a.Reason)
			return fmt.Errorf("left the queue by rule: %s", a.Reason)
		}
	}
}

// transferOut dials number through the callback trunk for a caller whose agent
// transferred them there, with the queue's hold audio meanwhile, and bridges the
// two when it answers. done is false when the number was not reached and the call
// goes on (the caller goes back to the queue); otherwise err is why the call ended
// (errAgentHungUp when the number hung up first).
func (m *Manager) transferOut(ctx context.Context, c *sip.Call, sess *media.Session, neg media.Negotiated, r ivr.Route, number string) (done bool, err error) {
	m.mu.Lock()
	dialer := m.dialer
	m.mu.Unlock()
	if dialer == nil || m.callbackVia == "" {
		return false, ErrNoTrunk
	}
	stopHold := m.startHold(ctx, c, sess, r)
	target := sip.Target{URI: "sip:" + number + "@" + m.callbackVia, Destination: m.callbackVia}
	c.Log.Info("dialling the transfer number", "to_number", Masked(number))
	out, err := m.dialLeg(ctx, dialer, target, neg, sip.DialOptions{From: "12345", FromName: "12345", RingTimeout: 45 * time.Second})
	stopHold()
	if err != nil {
		if ctx.Err() != nil {
			return true, context.Cause(ctx)
		}
		return false, err
	}
	br, err := media.Bridge(sess, out.sess)
	if err != nil {
		out.close(context.Background(), 16, "bridge failed")
		return true, fmt.Errorf("bridge: %w", err)
	}
	defer br.Close()
	defer m.recordingOf(c.ID).agentLeg(out.sess, r.Queue)()
	c.Log.Info("caller connected to the transfer number", "to_number", Masked(number))
	// The call record: talking again (to the outside number, no agent).
	m.emit(c, event.Event{Type: event.CallConnected, Dialled: number})
	select {
	case <-ctx.Done():
		out.close(context.Background(), 16, "caller hung up")
		return true, context.Cause(ctx)
	case <-out.oc.Context().Done():
		out.sess.Close()
		_ = out.oc.Hangup(context.Background(), 16, "")
		return true, errAgentHungUp
	case <-out.sess.Done():
		out.close(context.Background(), 41, "transfer leg RTP timeout")
		return true, fmt.Errorf("transfer leg: %w", out.sess.Err())
	}
}

// startHold plays the queue's hold audio, with the caller's position and estimated
// wait every AnnounceEvery, on its own goroutine until the returned function is
// called (which waits for the audio to stop) or ctx ends.
func (m *Manager) startHold(ctx context.Context, c *sip.Call, sess *media.Session, r ivr.Route) func() {
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.holdLoop(hctx, c, sess, r)
	}()
	return func() {
		cancel()
		<-done
	}
}

// holdLoop plays the hold audio (the queue's prompts once, its last one looping) and,
// every AnnounceEvery, the caller's place in line and estimated wait read out with
// the number prompts.
func (m *Manager) holdLoop(ctx context.Context, c *sip.Call, sess *media.Session, r ivr.Route) {
	q := m.queue(r.Queue)
	first := true
	for ctx.Err() == nil {
		src := m.holdSource(q, r.Language, first)
		first = false
		if src == nil {
			<-ctx.Done()
			return
		}
		if q.AnnounceEvery <= 0 {
			_ = sess.Play(ctx, src)
			return
		}
		pctx, cancel := context.WithTimeout(ctx, q.AnnounceEvery)
		err := sess.Play(pctx, src)
		cancel()
		if ctx.Err() != nil || (err != nil && !errors.Is(err, context.DeadlineExceeded)) {
			return // the call ended, or a bridge took the session over
		}
		pos, ok, err := m.matcher.Position(ctx, c.ID)
		if err != nil || !ok {
			continue
		}
		if ann := m.announcement(r.Language, pos); ann != nil {
			if err := sess.Play(ctx, ann); err != nil {
				return
			}
		}
	}
}

// holdSource is the queue's hold audio: every prompt once, the last looping; after
// the first time only the loop.
func (m *Manager) holdSource(q queue.Config, lang string, first bool) media.Source {
	var srcs []media.Source
	for i, name := range q.Hold {
		clip, ok := m.prompts.Get(lang, name)
		if !ok {
			continue
		}
		switch {
		case i == len(q.Hold)-1:
			srcs = append(srcs, clip.Loop())
		case first:
			srcs = append(srcs, clip.Source())
		}
	}
	if len(srcs) == 0 {
		return nil
	}
	return media.Sequence(srcs...)
}

// announcement reads out the callers ahead and, when known, the wait in minutes
// (rounded up): "there are 3 callers ahead of you; your estimated wait is 2 minutes".
func (m *Manager) announcement(lang string, pos acd.Position) media.Source {
	names := []string{"queue_position"}
	names = append(names, ivr.SayNumber(lang, int64(max(0, pos.Place-1)))...)
	names = append(names, "queue_position_after")
	if pos.Estimate > 0 {
		mins := int64((pos.Estimate + time.Minute - 1) / time.Minute)
		names = append(names, "queue_wait")
		names = append(names, ivr.SayNumber(lang, mins)...)
		names = append(names, "queue_minutes")
	}
	if m.callbackVia != "" {
		names = append(names, "callback_offer")
	}
	var srcs []media.Source
	for _, n := range names {
		clip, ok := m.prompts.Get(lang, n)
		if !ok {
			return nil // a partial sentence would confuse more than silence
		}
		srcs = append(srcs, clip.Source())
	}
	return media.Sequence(srcs...)
}

// party is the citizen's side as ring and dialAgent need it: the caller of an
// inbound call, or the number a callback dials.
type party struct {
	id, caller, name string
	log              *slog.Logger
}

func partyOf(c *sip.Call) party {
	return party{id: c.ID, caller: c.Caller, name: c.CallerName, log: c.Log}
}

// ringResult is how ringing one agent ended.
type ringResult struct {
	agent string
	leg   *agentLeg
	err   error
}

// ring dials the offered agents at once (several for ring-all) and returns the leg
// of the one who answered first and was accepted by the ACD, or nil when none did
// (each failure was reported to the ACD, which offers again). Withdrawals read from
// inbox are acted on at once; any other action read meanwhile (the next offer can
// arrive before a withdrawn phone's Dial has returned) is returned, in order, for
// the caller to handle: dropping it would leave that agent reserved, never rung.
func (m *Manager) ring(ctx context.Context, c party, neg media.Negotiated, agents []string, inbox <-chan acd.Action) (*agentLeg, []acd.Action) {
	var later []acd.Action
	results := make(chan ringResult, len(agents))
	cancels := map[string]context.CancelCauseFunc{}
	for _, id := range agents {
		dctx, cancel := context.WithCancelCause(ctx)
		cancels[id] = cancel
		go func() {
			leg, err := m.dialAgent(dctx, c, neg, id)
			results <- ringResult{agent: id, leg: leg, err: err}
		}()
	}
	var winner *agentLeg
	for pending := len(agents); pending > 0; {
		select {
		case a := <-inbox:
			if a.Kind != acd.ActWithdraw {
				later = append(later, a)
				continue
			}
			for _, id := range a.Agents {
				if cancel := cancels[id]; cancel != nil {
					cancel(fmt.Errorf("%w: %s", sip.ErrWithdrawn, a.Reason))
				}
			}
		case res := <-results:
			pending--
			cancel := cancels[res.agent]
			delete(cancels, res.agent)
			switch {
			case res.err == nil && winner == nil:
				err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdAccept, Call: c.id, Agent: res.agent})
				if err != nil {
					c.log.Info("agent answered a withdrawn offer", "agent_id", res.agent, "error", err)
					res.leg.close(context.Background(), 16, "offer withdrawn")
					break
				}
				winner = res.leg
				for _, other := range cancels {
					other(errors.New("answered elsewhere"))
				}
			case res.err == nil:
				res.leg.close(context.Background(), 16, "answered elsewhere")
			case ctx.Err() != nil || errors.Is(res.err, sip.ErrWithdrawn):
				// The caller hung up or the ACD withdrew the offer (ring timeout):
				// the ACD knows already.
			default:
				c.log.Info("agent not reached", "agent_id", res.agent, "error", res.err)
				if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdReject, Call: c.id, Agent: res.agent}); err != nil && !errors.Is(err, acd.ErrNoOffer) {
					c.log.Warn("ACD reject", "error", err)
				}
			}
			if cancel != nil {
				cancel(nil)
			}
		}
	}
	if winner != nil && len(agents) > 1 {
		_ = m.matcher.Do(ctx, acd.Command{Kind: acd.CmdConnected, Call: c.id})
	}
	return winner, later
}

// dialAgent reaches one agent's endpoint with an offer that puts the caller's codec
// first (so the bridge forwards without converting), and sets up the agent's RTP leg.
func (m *Manager) dialAgent(ctx context.Context, c party, neg media.Negotiated, id string) (*agentLeg, error) {
	m.mu.Lock()
	dialer, locator := m.dialer, m.locator
	m.mu.Unlock()
	ep, ok := m.endpoints[id]
	if ok && (ep.Kind == "" || ep.Kind == acd.EndpointWebRTC) {
		return m.ringSoftphone(ctx, c, id)
	}
	if !ok || dialer == nil {
		return nil, ErrNoEndpoint
	}
	var target sip.Target
	switch ep.Kind {
	case acd.EndpointSIP:
		if locator == nil {
			return nil, ErrNoEndpoint
		}
		bs := locator.Lookup(id)
		if len(bs) == 0 {
			return nil, fmt.Errorf("%w: seat %s has no registration", ErrNoEndpoint, id)
		}
		target = bs[0].Target()
	case acd.EndpointSIPURI:
		target = sip.Target{URI: ep.URI}
	default:
		return nil, fmt.Errorf("%w: %s seats are not served", ErrNoEndpoint, ep.Kind)
	}
	c.log.Info("ringing agent", "agent_id", id, "target", target.URI)
	leg, err := m.dialLeg(ctx, dialer, target, neg, sip.DialOptions{From: c.caller, FromName: c.name})
	if err != nil {
		return nil, err
	}
	leg.agent = id
	return leg, nil
}

// dialLeg places an outbound call with an offer that puts neg's codec first (so a
// bridge to the leg that has it forwards without converting) and sets up its RTP.
func (m *Manager) dialLeg(ctx context.Context, dialer Dialer, target sip.Target, neg media.Negotiated, opts sip.DialOptions) (*agentLeg, error) {
	conn, err := m.pool.Listen()
	if err != nil {
		return nil, err
	}
	local := netip.AddrPortFrom(m.cfg.Media.ip, uint16(conn.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()))
	codecs := []media.Codec{neg.Codec}
	for _, cd := range m.cfg.Media.codecs {
		if cd != neg.Codec {
			codecs = append(codecs, cd)
		}
	}
	origin := media.Origin{Username: "hotline", SessionID: rand.Uint64() >> 1, Version: 1, Addr: m.cfg.Media.ip}
	offer := media.Offer(local, codecs, m.cfg.Media.DTMFPayloadType, neg.PTime, origin)
	oc, err := dialer.Dial(ctx, target, offer, opts)
	if err != nil {
		m.pool.Release(conn)
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		return nil, err
	}
	desc, err := media.ParseSDP(oc.Answer)
	var an media.Negotiated
	if err == nil {
		an, err = media.AnswerTo(desc, codecs)
	}
	if err != nil {
		m.pool.Release(conn)
		_ = oc.Hangup(context.Background(), 16, "no acceptable SDP answer")
		return nil, fmt.Errorf("%s answered with unusable SDP: %w", target.URI, err)
	}
	as := media.NewSession(conn, m.pool, media.SessionConfig{
		Codec: an.Codec, DTMF: an.DTMF, PTime: an.PTime, Remote: an.Remote,
		Latch: media.LatchSDP, Timeout: m.rtpTimeout(), Metrics: m.media, Logger: oc.Log,
	})
	as.Start()
	return &agentLeg{oc: oc, sess: as}, nil
}

// SeatReachable tells the ACD that a SIP seat registered (it logs in, ready) or lost
// its last registration (it is logged out and its offer withdrawn). It never blocks:
// the changes are applied in order by one goroutine (started by Start).
func (m *Manager) SeatReachable(agent string, reachable bool) {
	select {
	case m.seats <- seatChange{agent, reachable}:
	default:
		m.log.Error("seat change lost: too many at once", "agent_id", agent, "reachable", reachable)
	}
}

type seatChange struct {
	agent     string
	reachable bool
}

func (m *Manager) applySeats(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-m.seats:
			cmd := acd.Command{Kind: acd.CmdEndpointGone, Agent: s.agent}
			if s.reachable {
				cmd = acd.Command{Kind: acd.CmdLogin, Agent: s.agent, State: acd.Ready}
			}
			err := m.matcher.Do(ctx, cmd)
			switch {
			case err == nil:
				m.log.Info("SIP seat", "agent_id", s.agent, "reachable", s.reachable)
			case errors.Is(err, acd.ErrLoggedIn), errors.Is(err, acd.ErrNotLoggedIn):
			default:
				m.log.Warn("SIP seat change refused", "agent_id", s.agent, "reachable", s.reachable, "error", err)
			}
		}
	}
}

// serveCallback serves a callback request that reached the head of its queue: it
// rings the offered agents first and, once one has answered, calls the citizen
// through the callback trunk and bridges the two. The call is recorded as an
// outbound call "<id>-cb". An agent who does not answer is reported like any other
// (the ACD offers the request again); a citizen who does not answer ends the request.
func (m *Manager) serveCallback(a acd.Action) {
	defer m.wg.Done()
	m.mu.Lock()
	ctx, dialer := m.runCtx, m.dialer
	inbox := make(chan acd.Action, 16)
	m.cbInbox[a.Call] = inbox
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.cbInbox[a.Call] == inbox { // a re-offer may have started another serveCallback
			delete(m.cbInbox, a.Call)
		}
		m.mu.Unlock()
	}()
	if ctx == nil || dialer == nil || m.callbackVia == "" {
		return
	}
	log := m.log.With("call_id", a.Call, "callback_to", Masked(a.Number))
	p := party{id: a.Call, caller: a.Number, log: log}
	neg := media.Negotiated{Codec: m.cfg.Media.codecs[0], PTime: media.DefaultPTime}
	// A callback's inbox gets only withdrawals (its offers start a serveCallback
	// each), so ring has nothing left over.
	agent, _ := m.ring(ctx, p, neg, a.Agents, inbox)
	if agent == nil {
		return
	}
	defer func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.matcher.Do(hctx, acd.Command{Kind: acd.CmdHangup, Call: a.Call})
	}()
	id := a.Call + "-cb"
	log.Info("agent took the callback: calling the citizen", "agent_id", agent.agent)
	m.emitID(id, log, event.Event{Type: event.CallCreated, Caller: a.Number, Dialled: a.Number, Direction: "outbound", Trunk: "callback"})
	target := sip.Target{URI: "sip:" + a.Number + "@" + m.callbackVia, Destination: m.callbackVia}
	citizen, err := m.dialLeg(ctx, dialer, target, neg, sip.DialOptions{From: "12345", FromName: "12345", RingTimeout: 45 * time.Second})
	if err != nil {
		log.Info("citizen not reached for the callback", "error", err)
		agent.close(context.Background(), 16, "citizen not reached")
		m.emitID(id, log, event.Event{Type: event.CallEnded, Side: event.SideCaller, Cause: "callback not answered: " + err.Error()})
		m.metrics.result("callback_failed")
		return
	}
	m.emitID(id, log, event.Event{Type: event.CallAnswered, Codec: neg.Codec.Name})
	br, err := media.Bridge(agent.media(), citizen.sess)
	if err != nil {
		agent.close(context.Background(), 16, "bridge failed")
		citizen.close(context.Background(), 16, "bridge failed")
		m.emitID(id, log, event.Event{Type: event.CallEnded, Side: event.SideEngine, Cause: "bridge failed: " + err.Error()})
		return
	}
	m.emitID(id, log, event.Event{Type: event.CallConnected, Agent: agent.agent})
	// The agent may hang up through Control; the other operations are refused on
	// a callback.
	ctl, unregister := m.register(agent.agent)
	defer unregister()
	end := event.Event{Type: event.CallEnded, Code: 200}
wait:
	for {
		select {
		case <-citizen.oc.Context().Done():
			end.Side, end.Cause = event.SideCaller, "caller hung up"
		case <-agent.hungUp():
			end.Side, end.Cause = event.SideAgent, "agent hung up"
		case <-citizen.sess.Done():
			end.Side, end.Cause = event.SideEngine, "no RTP from the citizen"
		case <-agent.lost():
			end.Side, end.Cause = event.SideEngine, "agent media lost"
		case <-ctx.Done():
			end.Side, end.Cause = event.SideEngine, "engine shut down"
		case req := <-ctl.ops:
			if req.op.Kind != OpHangup {
				req.reply <- fmt.Errorf("%w: only hangup on a callback", ErrBadOp)
				continue
			}
			req.reply <- nil
			end.Side, end.Cause = event.SideAgent, "agent hung up"
		}
		break wait
	}
	br.Close()
	agent.close(context.Background(), 16, end.Cause)
	citizen.close(context.Background(), 16, end.Cause)
	m.emitID(id, log, end)
	m.metrics.result("answered")
}
