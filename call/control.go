package call

// Agent call control: what the agent API (web) does to the call an agent is on. The
// call's goroutine owns the call; Control only finds that goroutine (a map from agent
// to the control channel of the call being talked, kept by talk) and hands it the
// operation, then waits for its answer.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"
)

// OpKind says what an Op does to the agent's call.
type OpKind uint8

// The operations an agent can take on the call they are on.
const (
	// OpHangup ends the call: the agent's leg and the caller's get BYE and the call
	// ends with side "agent".
	OpHangup OpKind = iota + 1
	// OpHold puts the caller on hold: the caller hears the queue's hold music and the
	// agent hears silence (neither hears the other). Holding a held call does nothing.
	OpHold
	// OpResume takes the caller off hold: the two talk again. Resuming a call that is
	// not held does nothing.
	OpResume
	// OpTransferQueue is a blind transfer to Op.Queue: the agent's leg gets BYE (the
	// agent goes to wrap-up) and the caller waits in that queue, hearing its hold
	// audio, until the ACD offers the call again.
	OpTransferQueue
	// OpTransferAgent is a blind transfer to the agent Op.Agent, who must be ready
	// (else ErrTargetNotReady and the call goes on as it was). The agent's leg gets
	// BYE (wrap-up) and the call is offered to Op.Agent alone, under the ring
	// timeout of the queue it was answered from; when the target answers the caller
	// is bridged to them. If the target rejects the offer or lets it time out, the
	// caller waits in that queue like any other call. If the target stopped being
	// ready between the check and the offer, the caller waits in that queue at once.
	OpTransferAgent
	// OpTransferNumber is a blind transfer to an outside number Op.Number, dialled
	// through the callback trunk (the one whose outbound host:port is configured;
	// ErrNoTrunk without one) from 12345. The agent's leg gets BYE (wrap-up) and the
	// caller hears the queue's hold audio while the number rings (up to 45 s). When
	// it answers the two are bridged until either hangs up (the call ends with side
	// "agent" when the number hangs up first); when it is busy, declines or does
	// not answer, the caller goes back to the queue the call was answered from.
	OpTransferNumber
	// OpAnswer answers the call ringing on a WebRTC agent's page (Op.Call, when
	// set, must be its id): the caller is bridged into the agent's media
	// connection. ErrNotRinging when nothing (or another call) rings there.
	OpAnswer
	// OpReject declines the call ringing on the page: the agent becomes not-ready
	// ("rejected") and the call goes back to its place in the queue.
	OpReject
	// OpPauseRecording pauses the call's recording (the caller gives a card
	// number): the paused span is silence, and who paused and for how long is kept
	// with the recording. ErrNotRecording when the call is not being recorded or
	// the recording is paused already.
	OpPauseRecording
	// OpResumeRecording resumes it (ErrNotRecording when it is not paused).
	OpResumeRecording
	// OpConsult starts a consult transfer: the caller is put on hold (the queue's
	// music) and the agent is connected to Op.Agent (who must be ready), to
	// whichever agent of Op.Queue answers first, or to the outside number
	// Op.Number. Control returns once the consult has started; how it goes comes
	// as call.consult events (connected, failed). While it runs the agent may
	// complete it, cancel it or hang up; hold and the other transfers are refused
	// with ErrConsulting.
	OpConsult
	// OpConsultComplete hands the caller to the consulted party and ends the
	// agent's part (wrap-up), like a transfer. ErrNotConsulting when no consult
	// has been answered.
	OpConsultComplete
	// OpConsultCancel ends the consult (the consulted party's leg ends) and
	// takes the caller off hold: the agent and the caller talk again.
	OpConsultCancel
	// opMonitor is a supervisor joining the call (Monitor), not an agent's op.
	opMonitor
)

var opNames = []string{"", "hangup", "hold", "resume", "transfer", "transfer", "transfer", "answer", "reject",
	"pause_recording", "resume_recording", "consult", "consult_complete", "consult_cancel", "monitor"}

// String returns the operation's name as the agent API spells it.
func (k OpKind) String() string {
	if int(k) < len(opNames) && k != 0 {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one operation on an agent's call.
type Op struct {
	Kind OpKind
	// Queue is the queue a transfer sends the caller to (OpTransferQueue).
	Queue string
	// Agent is the agent a transfer sends the caller to (OpTransferAgent).
	Agent string
	// Number is the outside number a transfer dials (OpTransferNumber): 3 to 20
	// digits, optionally after a '+'.
	Number string
	// Call is the call OpAnswer and OpReject mean (empty: whichever rings).
	Call string
	// Target is where OpConsult goes: "queue", "agent" or "number" (which of the
	// fields above names it).
	Target string
	// Mode is a supervisor's monitor mode (listen, whisper, barge, leave).
	Mode string
}

// Errors of Control.
var (
	// ErrNotOnCall: the agent is not talking to a caller (idle, ringing, or the call
	// ended meanwhile).
	ErrNotOnCall = errors.New("call: agent is not on a call")
	// ErrUnknownAgent: no agent has that id.
	ErrUnknownAgent = errors.New("call: unknown agent")
	// ErrUnknownQueue: a transfer names a queue that is not configured.
	ErrUnknownQueue = errors.New("call: unknown queue")
	// ErrBadOp: the operation is not one of the OpKind values.
	ErrBadOp = errors.New("call: bad call operation")
	// ErrBadTarget: a transfer to an agent names no configured agent, or the
	// agent themself.
	ErrBadTarget = errors.New("call: bad transfer target agent")
	// ErrTargetNotReady: the agent a transfer names is not ready (logged out, on a
	// call, ringing, not-ready or in wrap-up).
	ErrTargetNotReady = errors.New("call: transfer target agent not ready")
	// ErrBadNumber: a transfer to a number names something that is not a phone
	// number.
	ErrBadNumber = errors.New("call: bad transfer number")
	// ErrNoTrunk: a transfer to a number, but no trunk is configured for outbound
	// calls.
	ErrNoTrunk = errors.New("call: no outbound trunk")
	// ErrNotRecording: pause or resume, but the call is not being recorded (or is
	// paused already, or not paused).
	ErrNotRecording = errors.New("call: the call's recording cannot be paused or resumed now")
	// ErrConsulting: the operation is not possible while a consult runs.
	ErrConsulting = errors.New("call: a consult is in progress")
	// ErrNotConsulting: complete or cancel, but no consult runs (or, to complete,
	// the consulted party has not answered yet).
	ErrNotConsulting = errors.New("call: no consult to complete or cancel")
)

// control is the channel through which Control reaches the goroutine of a call being
// talked; done is closed when talk returns (no more operations are read).
type control struct {
	ops  chan controlReq
	done chan struct{}
}

type controlReq struct {
	op    Op
	reply chan error // buffered: talk never blocks answering
}

// Control applies op to the call agent is talking on and returns once the call's
// goroutine has done it. It fails with ErrUnknownAgent, ErrUnknownQueue, ErrBadTarget,
// ErrBadNumber, ErrNoTrunk or ErrBadOp for a request that cannot be right, with
// ErrTargetNotReady when a transfer's target agent is not ready, with ErrNotOnCall
// when the agent is not
// bridged to a caller (callbacks being served are not controlled yet), and with
// ctx's error when ctx ends first. Safe for concurrent use.
func (m *Manager) Control(ctx context.Context, agent string, op Op) error {
	if _, ok := m.endpoints[agent]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, agent)
	}
	switch op.Kind {
	case OpHangup, OpHold, OpResume, OpPauseRecording, OpResumeRecording, OpConsultComplete, OpConsultCancel:
	case OpConsult:
		switch {
		case op.Target == "queue":
			if !m.hasQueue(op.Queue) {
				return fmt.Errorf("%w %q", ErrUnknownQueue, op.Queue)
			}
		case op.Target == "agent":
			if _, ok := m.endpoints[op.Agent]; !ok || op.Agent == agent {
				return fmt.Errorf("%w: %q", ErrBadTarget, op.Agent)
			}
		case op.Target == "number":
			if !ValidNumber(op.Number) {
				return fmt.Errorf("%w: %q", ErrBadNumber, op.Number)
			}
			if m.callbackVia == "" {
				return ErrNoTrunk
			}
		default:
			return fmt.Errorf("%w: consult needs a queue, an agent or a number", ErrBadOp)
		}
	case OpTransferQueue:
		if !m.hasQueue(op.Queue) {
			return fmt.Errorf("%w %q", ErrUnknownQueue, op.Queue)
		}
	case OpTransferAgent:
		if _, ok := m.endpoints[op.Agent]; !ok || op.Agent == agent {
			return fmt.Errorf("%w: %q", ErrBadTarget, op.Agent)
		}
	case OpTransferNumber:
		if !ValidNumber(op.Number) {
			return fmt.Errorf("%w: %q", ErrBadNumber, op.Number)
		}
		if m.callbackVia == "" {
			return ErrNoTrunk
		}
	case OpAnswer, OpReject:
		return m.answerRinging(ctx, agent, op.Call, op.Kind == OpAnswer)
	default:
		return fmt.Errorf("%w: %v", ErrBadOp, op.Kind)
	}
	m.mu.Lock()
	ctl := m.controls[agent]
	m.mu.Unlock()
	if ctl == nil {
		return fmt.Errorf("%w: %s", ErrNotOnCall, agent)
	}
	req := controlReq{op: op, reply: make(chan error, 1)}
	select {
	case ctl.ops <- req:
	case <-ctl.done:
		return fmt.Errorf("%w: %s", ErrNotOnCall, agent)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// register makes the call being talked reachable by Control for agent until the
// returned function is called.
func (m *Manager) register(agent string) (*control, func()) {
	ctl := &control{ops: make(chan controlReq), done: make(chan struct{})}
	m.mu.Lock()
	if m.controls == nil {
		m.controls = map[string]*control{}
	}
	m.controls[agent] = ctl
	m.mu.Unlock()
	return ctl, func() {
		m.mu.Lock()
		if m.controls[agent] == ctl {
			delete(m.controls, agent)
		}
		m.mu.Unlock()
		close(ctl.done)
	}
}

// onHold is a hold in progress: the caller's hold music and the agent's silence,
// each a Play on its session, which takes precedence over forwarding into it.
type onHold struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// holdCall starts the hold audio: the route's queue music (its last hold prompt,
// looping) to the caller, silence to the agent.
func (m *Manager) holdCall(ctx context.Context, sess *media.Session, leg *agentLeg, r ivr.Route) *onHold {
	hctx, cancel := context.WithCancel(ctx)
	h := &onHold{cancel: cancel, done: make(chan struct{})}
	music := m.holdSource(m.queue(r.Queue), r.Language, false)
	if music == nil {
		music = media.Silence(24 * time.Hour)
	}
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		if leg.phone != nil {
			leg.phone.peer.SetSending(false)
			<-hctx.Done()
			leg.phone.peer.SetSending(true)
			return
		}
		_ = leg.sess.Play(hctx, media.Silence(24*time.Hour))
	}()
	go func() {
		defer close(h.done)
		_ = sess.Play(hctx, music)
		<-agentDone
	}()
	return h
}

// stop ends the hold audio and waits until both Plays have returned, so forwarding
// resumes in both directions.
func (h *onHold) stop() {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
}

// ValidNumber reports whether s can be dialled by a transfer to a number: 3 to 20
// digits, optionally after a '+'.
func ValidNumber(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if len(d) < 3 || len(d) > 20 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// transferred is what talk returns when the agent transferred the call: to queue
// (the call's queue for a transfer to an agent), to agent, or to number.
//
// head (with reason) puts the caller back at the head of queue: the agent's media
// was lost, not transferred.
type transferred struct {
	queue, agent, number string
	head                 bool
	reason               string
}

func (t *transferred) Error() string {
	switch {
	case t.number != "":
		return "call: transferred to a number"
	case t.agent != "":
		return "call: transferred to agent " + t.agent
	}
	return "call: transferred to queue " + t.queue
}

// targetReady checks with the ACD that agent is ready for a transfer.
func (m *Manager) targetReady(ctx context.Context, agent string) error {
	if m.matcher == nil {
		return fmt.Errorf("%w: %s", ErrTargetNotReady, agent)
	}
	st, err := m.matcher.Stats(ctx)
	if err != nil {
		return err
	}
	if s := st.Agents[agent].State; s != acd.Ready {
		return fmt.Errorf("%w: %s is %v", ErrTargetNotReady, agent, s)
	}
	return nil
}
