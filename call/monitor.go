package call

import (
	"context"
	"fmt"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
)

// monitorModes are the supervisor's modes on a call.
var monitorModes = map[string]media.MonitorMode{"listen": media.Listen, "whisper": media.Whisper, "barge": media.Barge}

// Monitor joins supervisor sup's browser media to call id: listen (the supervisor
// hears both sides), whisper (the agent hears the supervisor too, the caller never
// does) or barge (three-way); leave takes them out. The supervisor's media must be
// connected (Connect). It fails with ErrNotOnCall when the call is not talking to
// an agent, ErrNoEndpoint without the supervisor's media, ErrConsulting during a
// consult. Every change is a supervisor.action event (the audit log), which the
// agent's page shows.
func (m *Manager) Monitor(ctx context.Context, sup, id, mode string) error {
	if _, ok := monitorModes[mode]; !ok && mode != "leave" {
		return fmt.Errorf("%w: monitor mode %q", ErrBadOp, mode)
	}
	rec, ok := m.store.Calls().Get(id)
	if !ok || rec.State != store.StateConnected || rec.Agent == "" {
		return fmt.Errorf("%w: call %s", ErrNotOnCall, id)
	}
	m.mu.Lock()
	ctl := m.controls[rec.Agent]
	m.mu.Unlock()
	if ctl == nil {
		return fmt.Errorf("%w: call %s", ErrNotOnCall, id)
	}
	req := controlReq{op: Op{Kind: opMonitor, Agent: sup, Mode: mode, Call: id}, reply: make(chan error, 1)}
	select {
	case ctl.ops <- req:
	case <-ctl.done:
		return fmt.Errorf("%w: call %s", ErrNotOnCall, id)
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

// monitor does a supervisor's monitor request on the call's goroutine.
func (t *talking) monitor(op Op) error {
	m, c := t.m, t.c
	if op.Call != "" && op.Call != c.ID {
		return fmt.Errorf("%w: the agent is on call %s now", ErrNotOnCall, c.ID)
	}
	audit := event.Event{Type: event.SupervisorAction, Agent: op.Agent, Reason: op.Mode, Call: c.ID, Dialled: t.leg.agent}
	if op.Mode == "leave" {
		if t.mon != nil && t.monSup == op.Agent {
			t.leaveMonitor()
		}
		m.Audit(audit)
		return nil
	}
	if t.br == nil {
		return ErrConsulting
	}
	m.mu.Lock()
	ph := m.phones[op.Agent]
	up := ph != nil && ph.state == media.PeerConnected
	m.mu.Unlock()
	if !up {
		return fmt.Errorf("%w: supervisor %s has no media connection up", ErrNoEndpoint, op.Agent)
	}
	mode := monitorModes[op.Mode]
	var err error
	select {
	case <-doneOf(t.mon):
		t.mon = nil // it ended with a bridge that is gone
	default:
	}
	if t.mon != nil && t.monSup == op.Agent {
		err = t.mon.SetMode(mode)
	} else {
		if t.mon != nil {
			t.mon.Close()
		}
		t.mon, err = t.br.Monitor(ph.peer, mode)
		t.monSup = op.Agent
	}
	if err != nil {
		t.mon, t.monSup = nil, ""
		return fmt.Errorf("monitor: %w", err)
	}
	// A barging supervisor speaks for the centre: their voice joins the right
	// channel of the recording; listening or whispering, it does not.
	if t.supUntap != nil {
		t.supUntap()
		t.supUntap = nil
	}
	if mode == media.Barge {
		t.supUntap = t.cr.supervisorLeg(ph.peer)
	}
	m.Audit(audit)
	c.Log.Info("supervisor on the call", "supervisor", op.Agent, "mode", op.Mode, "agent_id", t.leg.agent)
	return nil
}

// doneOf is mon's Done, or nil (never ready) without one.
func doneOf(mon *media.Monitor) <-chan struct{} {
	if mon == nil {
		return nil
	}
	return mon.Done()
}

// leaveMonitor takes the supervisor (if any) off the call and out of the recording.
func (t *talking) leaveMonitor() {
	if t.supUntap != nil {
		t.supUntap()
		t.supUntap = nil
	}
	if t.mon != nil {
		t.mon.Close()
		t.mon, t.monSup = nil, ""
	}
}
