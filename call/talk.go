package call

// The conversation: the caller bridged to an agent, the operations the agent takes
// on it (Control), and consult transfers, all run by the call's goroutine.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/sip"
)

// talking is a call being talked: its bridge, its agent and what they are doing.
// Only the call's goroutine touches it.
type talking struct {
	m     *Manager
	ctx   context.Context
	c     *sip.Call
	sess  *media.Session
	neg   media.Negotiated
	route ivr.Route
	cr    *callRecording

	leg        *agentLeg
	br         *media.Bridged
	ctl        *control
	unregister func()
	untap      func()
	held       *onHold
	cons       *consult
	mon        *media.Monitor // a supervisor on the call
	monSup     string
	supUntap   func() // a barging supervisor's voice in the recording
	acdCall    string // the ACD call the current agent answered: the call's, or a consult's
	consults   int
}

// consult is a consult transfer in progress.
type consult struct {
	target string // queue, agent or number
	name   string // the queue, agent or number
	pseudo string // the ACD call that rings the agent (agent and queue consults)
	cancel context.CancelFunc
	result chan consultResult // the ringing's outcome; buffered
	done   chan struct{}      // the ringing goroutine has returned
	music  context.CancelFunc // the caller's hold music

	leg   *agentLeg      // the consulted party, once answered
	br    *media.Bridged // agent <-> consulted party
	ctl   *control       // the consulted agent's operations (hang up: leave)
	unreg func()
}

type consultResult struct {
	leg *agentLeg
	err error
}

// talk bridges the caller and the agent until either side ends the call, or the
// call leaves the agent (a *transferred error: a blind transfer, or the agent's
// media lost). The agent acts on the call through Control meanwhile; a consult
// transfer that completes hands the call to the consulted party and the
// conversation goes on with them.
func (m *Manager) talk(ctx context.Context, c *sip.Call, sess *media.Session, neg media.Negotiated, leg *agentLeg, r ivr.Route, last *string) error {
	t := &talking{m: m, ctx: ctx, c: c, sess: sess, neg: neg, route: r, cr: m.recordingOf(c.ID), leg: leg, acdCall: c.ID}
	defer func() { *last = t.leg.agent }()
	br, err := media.Bridge(sess, leg.media())
	if err != nil {
		leg.close(context.Background(), 16, "bridge failed")
		return fmt.Errorf("bridge: %w", err)
	}
	t.br = br
	t.untap = t.cr.agentLeg(leg.media(), r.Queue)
	t.ctl, t.unregister = m.register(leg.agent)
	defer t.cleanup()
	m.emit(c, event.Event{Type: event.CallConnected, Agent: leg.agent})
	c.Log.Info("caller connected to agent", "agent_id", leg.agent)
	for {
		var (
			consRes          <-chan consultResult
			consOps          <-chan controlReq
			consHung, consLo <-chan struct{}
		)
		if cs := t.cons; cs != nil {
			consRes = cs.result
			if cs.ctl != nil {
				consOps = cs.ctl.ops
			}
			if cs.leg != nil {
				consHung, consLo = cs.leg.hungUp(), cs.leg.lost()
			}
		}
		var ops chan controlReq
		if t.ctl != nil {
			ops = t.ctl.ops
		}
		select {
		case <-ctx.Done():
			t.endConsult("caller hung up")
			t.leg.close(context.Background(), 16, "caller hung up")
			return context.Cause(ctx)
		case <-t.leg.hungUp():
			t.endConsult("agent hung up")
			t.leg.sess.Close()
			_ = t.leg.oc.Hangup(context.Background(), 16, "")
			return errAgentHungUp
		case <-t.leg.lost():
			t.endConsult("agent media lost")
			if t.leg.phone != nil {
				// The agent's browser is gone: the caller, who had their turn, goes
				// back to the head of the queue (the ACD's joined event says why).
				c.Log.Warn("agent media lost during the call: the caller goes back to the head of the queue",
					"agent_id", t.leg.agent, "queue", r.Queue)
				return &transferred{queue: r.Queue, head: true, reason: "agent media lost"}
			}
			t.leg.close(context.Background(), 41, "agent RTP timeout")
			return fmt.Errorf("agent leg: %w", t.leg.lostErr())
		case req := <-ops:
			end, reply := t.apply(req.op)
			req.reply <- reply
			if end != nil {
				return end
			}
		case res := <-consRes:
			t.consultAnswered(res)
		case req := <-consOps:
			if req.op.Kind != OpHangup {
				req.reply <- fmt.Errorf("%w: the consulted agent may only hang up", ErrConsulting)
				continue
			}
			req.reply <- nil
			t.cancelConsult("the consulted agent hung up")
		case <-consHung:
			t.cancelConsult("the consulted party hung up")
		case <-consLo:
			t.cancelConsult("the consulted party's media was lost")
		}
	}
}

// cleanup undoes what talk set up, whichever way it ended.
func (t *talking) cleanup() {
	t.leaveMonitor()
	t.endConsult("call over")
	t.held.stop()
	if t.br != nil {
		t.br.Close()
	}
	t.untap()
	t.cr.hold(false)
	t.unregister()
	if t.acdCall != t.c.ID && t.acdCall != "" {
		// The call was handed to a consulted agent: their part ends now.
		t.m.acdHangup(t.acdCall, t.c.Log)
	}
}

// acdHangup tells the ACD a (consult) call is over.
func (m *Manager) acdHangup(call string, log interface{ Warn(string, ...any) }) {
	if m.matcher == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdHangup, Call: call}); err != nil && !errors.Is(err, acd.ErrUnknownCall) {
		log.Warn("ACD hang-up", "acd_call", call, "error", err)
	}
}

// apply does one of the agent's operations. It returns a non-nil end when the
// operation ends the conversation (hang-up, blind transfer) and the error to
// answer Control with.
func (t *talking) apply(op Op) (end error, reply error) {
	m, c, leg := t.m, t.c, t.leg
	if op.Kind == opMonitor {
		return nil, t.monitor(op)
	}
	if t.cons != nil {
		switch op.Kind {
		case OpConsultComplete:
			return t.completeConsult()
		case OpConsultCancel:
			t.cancelConsult("cancelled by the agent")
			return nil, nil
		case OpHangup:
			t.endConsult("the agent hung up")
		case OpPauseRecording, OpResumeRecording:
		default:
			return nil, ErrConsulting
		}
	}
	switch op.Kind {
	case OpHold:
		if t.held != nil {
			return nil, nil
		}
		t.held = m.holdCall(t.ctx, t.sess, leg, t.route)
		t.cr.hold(true)
		m.emit(c, event.Event{Type: event.CallHeld, Agent: leg.agent, Reason: "agent"})
		c.Log.Info("agent put the caller on hold", "agent_id", leg.agent)
		return nil, nil
	case OpResume:
		if t.held == nil {
			return nil, nil
		}
		t.held.stop()
		t.held = nil
		t.cr.hold(false)
		m.emit(c, event.Event{Type: event.CallResumed, Agent: leg.agent})
		c.Log.Info("agent resumed the call", "agent_id", leg.agent)
		return nil, nil
	case OpPauseRecording, OpResumeRecording:
		if !t.cr.pause(leg.agent, op.Kind == OpPauseRecording) {
			return nil, ErrNotRecording
		}
		c.Log.Info("agent changed the recording", "agent_id", leg.agent, "op", op.Kind.String())
		return nil, nil
	case OpHangup:
		c.Log.Info("agent hung up through the API", "agent_id", leg.agent)
		leg.close(context.Background(), 16, "agent hung up")
		return errAgentHungUp, nil
	case OpTransferQueue:
		c.Log.Info("agent transferred the call", "agent_id", leg.agent, "queue", op.Queue)
		leg.close(context.Background(), 16, "transferred")
		m.emit(c, event.Event{Type: event.CallTransferred, Agent: leg.agent, Queue: op.Queue, Reason: "queue"})
		return &transferred{queue: op.Queue}, nil
	case OpTransferAgent:
		if err := m.targetReady(t.ctx, op.Agent); err != nil {
			return nil, err
		}
		c.Log.Info("agent transferred the call to an agent", "agent_id", leg.agent, "to_agent", op.Agent)
		leg.close(context.Background(), 16, "transferred")
		m.emit(c, event.Event{Type: event.CallTransferred, Agent: leg.agent, Queue: t.route.Queue, Reason: "agent", Dialled: op.Agent})
		return &transferred{queue: t.route.Queue, agent: op.Agent}, nil
	case OpTransferNumber:
		c.Log.Info("agent transferred the call to a number", "agent_id", leg.agent, "to_number", Masked(op.Number))
		leg.close(context.Background(), 16, "transferred")
		m.emit(c, event.Event{Type: event.CallTransferred, Agent: leg.agent, Reason: "number", Dialled: op.Number})
		return &transferred{queue: t.route.Queue, number: op.Number}, nil
	case OpConsult:
		return nil, t.startConsult(op)
	case OpConsultComplete, OpConsultCancel:
		return nil, ErrNotConsulting
	}
	return nil, fmt.Errorf("%w: %v", ErrBadOp, op.Kind)
}

// startConsult puts the caller on hold and rings the consult's target.
func (t *talking) startConsult(op Op) error {
	m, c := t.m, t.c
	if t.held != nil {
		t.held.stop()
		t.held = nil
	}
	name := map[string]string{"queue": op.Queue, "agent": op.Agent, "number": op.Number}[op.Target]
	if op.Target == "agent" {
		if err := m.targetReady(t.ctx, op.Agent); err != nil {
			return err
		}
	}
	t.leaveMonitor() // the supervisor leaves with the bridge
	t.br.Close()
	t.br = nil
	t.cr.hold(true)
	cctx, cancel := context.WithCancel(t.ctx)
	mctx, music := context.WithCancel(t.ctx)
	go func() {
		if src := m.holdSource(m.queue(t.route.Queue), t.route.Language, false); src != nil {
			_ = t.sess.Play(mctx, src)
		}
	}()
	t.consults++
	cs := &consult{target: op.Target, name: name, cancel: cancel, music: music,
		result: make(chan consultResult, 1), done: make(chan struct{})}
	if op.Target != "number" {
		cs.pseudo = c.ID + "-consult" + strconv.Itoa(t.consults)
	}
	t.cons = cs
	ev := event.Event{Type: event.CallConsult, Agent: t.leg.agent, Reason: "started"}
	if op.Target == "queue" {
		ev.Queue = name
	} else {
		ev.Dialled = name
	}
	m.emit(c, ev)
	c.Log.Info("agent consults", "agent_id", t.leg.agent, "target", op.Target, "name", maskIf(op.Target == "number", name))
	go func() {
		defer close(cs.done)
		leg, err := t.ringConsult(cctx, cs)
		if err != nil && leg != nil {
			leg.close(context.Background(), 16, "consult over")
			leg = nil
		}
		cs.result <- consultResult{leg: leg, err: err}
	}()
	return nil
}

func maskIf(mask bool, s string) any {
	if mask {
		return Masked(s)
	}
	return s
}

// ringConsult reaches the consult's target: dials the number, or has the ACD offer
// a consult call to the agent (or the queue's agents) and rings who it offers.
func (t *talking) ringConsult(ctx context.Context, cs *consult) (*agentLeg, error) {
	m, c := t.m, t.c
	if cs.target == "number" {
		m.mu.Lock()
		dialer := m.dialer
		m.mu.Unlock()
		if dialer == nil {
			return nil, ErrNoTrunk
		}
		target := sip.Target{URI: "sip:" + cs.name + "@" + m.callbackVia, Destination: m.callbackVia}
		return m.dialLeg(ctx, dialer, target, t.neg, sip.DialOptions{From: "12345", FromName: "12345", RingTimeout: 45 * time.Second})
	}
	if m.matcher == nil {
		return nil, errNoAgents
	}
	inbox := make(chan acd.Action, 16)
	m.mu.Lock()
	m.inbox[cs.pseudo] = inbox
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.inbox, cs.pseudo)
		m.mu.Unlock()
	}()
	cmd := acd.Command{Kind: acd.CmdEnqueue, Call: cs.pseudo, Queue: t.route.Queue, Priority: t.route.Priority, Caller: c.Caller, Consult: true}
	if cs.target == "agent" {
		cmd.Agent = cs.name
	} else {
		cmd.Queue = cs.name
	}
	if err := m.matcher.Do(ctx, cmd); err != nil {
		return nil, err
	}
	p := party{id: cs.pseudo, caller: c.Caller, name: c.CallerName, log: c.Log}
	var later []acd.Action
	for {
		var a acd.Action
		if len(later) > 0 {
			a, later = later[0], later[1:]
		} else {
			select {
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			case a = <-inbox:
			}
		}
		switch a.Kind {
		case acd.ActOffer:
			leg, more := m.ring(ctx, p, t.neg, a.Agents, inbox)
			later = append(later, more...)
			if leg != nil {
				return leg, nil
			}
			if cs.target == "agent" {
				return nil, fmt.Errorf("agent %s did not answer", cs.name)
			}
		case acd.ActExit, acd.ActMoved:
			return nil, fmt.Errorf("queue %s: %s", cs.name, a.Reason)
		}
	}
}

// consultAnswered connects the agent to the consulted party, or takes the caller
// off hold when the consult failed.
func (t *talking) consultAnswered(res consultResult) {
	cs, m, c := t.cons, t.m, t.c
	if res.err != nil {
		c.Log.Info("consult failed: the caller is back with the agent", "agent_id", t.leg.agent, "error", res.err)
		t.finishConsult("failed", res.err.Error())
		return
	}
	br, err := media.Bridge(t.leg.media(), res.leg.media())
	if err != nil {
		res.leg.close(context.Background(), 16, "bridge failed")
		t.finishConsult("failed", "bridge: "+err.Error())
		return
	}
	cs.leg, cs.br = res.leg, br
	who := cs.name
	if res.leg.agent != "" {
		who = res.leg.agent
		cs.ctl, cs.unreg = m.register(res.leg.agent)
		m.emitID(cs.pseudo, c.Log, event.Event{Type: event.CallConnected, Agent: res.leg.agent})
	}
	m.emit(c, event.Event{Type: event.CallConsult, Agent: t.leg.agent, Dialled: who, Reason: "connected"})
	c.Log.Info("consult connected", "agent_id", t.leg.agent, "consulted", maskIf(cs.target == "number", who))
}

// completeConsult hands the caller to the consulted party: the agent's part ends
// (wrap-up) and the conversation goes on with the consulted agent (or number).
func (t *talking) completeConsult() (end error, reply error) {
	cs, m, c := t.cons, t.m, t.c
	if cs.leg == nil {
		return nil, fmt.Errorf("%w: %s has not answered yet", ErrNotConsulting, cs.name)
	}
	cs.br.Close()
	cs.music()
	t.leaveMonitor()
	br, err := media.Bridge(t.sess, cs.leg.media())
	if err != nil {
		return nil, fmt.Errorf("consult complete: bridge: %w", err)
	}
	old := t.leg
	t.br = br
	t.untap()
	t.untap = t.cr.agentLeg(cs.leg.media(), t.route.Queue)
	t.cr.hold(false)
	// The ACD: the agent who consulted goes to wrap-up; the consulted agent's
	// consult call is now this call's.
	m.acdHangup(t.acdCall, c.Log)
	t.acdCall = cs.pseudo
	t.unregister()
	if cs.ctl != nil {
		t.ctl, t.unregister = cs.ctl, cs.unreg
	} else {
		t.ctl, t.unregister = nil, func() {}
	}
	t.leg = cs.leg
	t.cons = nil
	old.close(context.Background(), 16, "transferred")
	who := cs.name
	if t.leg.agent != "" {
		who = t.leg.agent
	}
	m.emit(c, event.Event{Type: event.CallConsult, Agent: old.agent, Dialled: who, Reason: "completed"})
	m.emit(c, event.Event{Type: event.CallTransferred, Agent: old.agent, Queue: t.route.Queue, Reason: "consult", Dialled: who})
	m.emit(c, event.Event{Type: event.CallConnected, Agent: t.leg.agent})
	if t.leg.agent != "" {
		// The consulted agent's page: its consult call is now this call.
		m.emitID(cs.pseudo, c.Log, event.Event{Type: event.CallEnded, Side: event.SideAgent, Cause: "consult completed"})
	}
	c.Log.Info("consult completed: the caller is with the consulted party", "agent_id", old.agent, "to", maskIf(cs.target == "number", who))
	return nil, nil
}

// cancelConsult ends the consult and takes the caller off hold, back with the agent.
func (t *talking) cancelConsult(why string) {
	if t.cons == nil {
		return
	}
	t.c.Log.Info("consult cancelled", "agent_id", t.leg.agent, "reason", why)
	t.endConsult(why)
	br, err := media.Bridge(t.sess, t.leg.media())
	if err != nil {
		t.c.Log.Warn("the caller could not be bridged back to the agent", "error", err)
		return
	}
	t.br = br
	t.cr.hold(false)
}

// finishConsult ends a consult whose ringing failed and bridges the caller back.
func (t *talking) finishConsult(reason, cause string) {
	cs := t.cons
	cs.music()
	if cs.pseudo != "" {
		t.m.acdHangup(cs.pseudo, t.c.Log)
	}
	t.cons = nil
	t.m.emit(t.c, event.Event{Type: event.CallConsult, Agent: t.leg.agent, Dialled: cs.name, Reason: reason, Cause: cause})
	if br, err := media.Bridge(t.sess, t.leg.media()); err == nil {
		t.br = br
	}
	t.cr.hold(false)
}

// endConsult stops a consult in progress, if any: the ringing stops, the
// consulted party's leg ends (an agent goes to wrap-up), the music stops. The
// caller is not bridged back (the caller of endConsult decides).
func (t *talking) endConsult(why string) {
	cs := t.cons
	if cs == nil {
		return
	}
	t.cons = nil
	cs.cancel()
	select {
	case <-cs.done:
	case <-time.After(5 * time.Second):
		t.c.Log.Warn("consult ringing did not stop in time")
	}
	select {
	case res := <-cs.result:
		if res.leg != nil && cs.leg == nil {
			res.leg.close(context.Background(), 16, "consult cancelled")
		}
	default:
	}
	if cs.br != nil {
		cs.br.Close()
	}
	if cs.leg != nil {
		cs.leg.close(context.Background(), 16, "consult over")
		if cs.leg.agent != "" {
			t.m.emitID(cs.pseudo, t.c.Log, event.Event{Type: event.CallEnded, Side: event.SideAgent, Cause: "consult over: " + why})
		}
	}
	if cs.unreg != nil {
		cs.unreg()
	}
	if cs.pseudo != "" {
		t.m.acdHangup(cs.pseudo, t.c.Log)
	}
	cs.music()
	t.m.emit(t.c, event.Event{Type: event.CallConsult, Agent: t.leg.agent, Dialled: cs.name, Reason: "cancelled", Cause: why})
}
