package call

// WebRTC seats: the agent's browser connects its media once, at login (Connect),
// and keeps it; a call offered to the agent rings on the page (the offer reaches it
// as an event on the agent WebSocket) and is answered or rejected through Control,
// and the answered call is bridged into that connection. A connection that drops
// is given RestoreTimeout to come back by an ICE restart; if it does not, the call
// on it goes back to the head of its queue and the agent is logged out.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/media"
)

// Errors of the softphone side.
var (
	// ErrNoWebRTC: the engine has no WebRTC side configured.
	ErrNoWebRTC = errors.New("call: WebRTC is not enabled")
	// ErrNotWebRTC: the agent's seat is a SIP phone, not a browser.
	ErrNotWebRTC = errors.New("call: the agent's seat is not a WebRTC softphone")
	// ErrNotRinging: answer or reject, but no call is ringing at the agent (or not
	// the one named).
	ErrNotRinging = errors.New("call: no call is ringing at the agent")
	// errMediaLost: the agent's media connection failed and was not restored.
	errMediaLost = errors.New("call: agent media connection lost")
)

// setUpGrace is how long a call offered to an agent whose new media connection is
// still being set up waits for it: the page may say ready as soon as its own side
// is connected, a moment before this side's DTLS handshake is done.
const setUpGrace = 3 * time.Second

// earlyAnswer is how long an answer may come before its call rings here: the
// page learns of the offer at once, the ring may wait for the media connection
// (setUpGrace).
const earlyAnswer = setUpGrace + 2*time.Second

// softphone is a WebRTC agent's media connection.
type softphone struct {
	agent string
	peer  *media.Peer
	lost  chan struct{} // closed once the connection is given up (guarded by Manager.mu)

	// guarded by Manager.mu
	state    media.PeerState
	gone     bool          // lost is closed
	restore  *time.Timer   // running while the connection is down
	ring     *ringing      // the offer ringing on the page
	rang     chan struct{} // closed (and replaced) when a ring starts
	changed  chan struct{} // closed (and replaced) when state changes
	lostWhy  string
	replaced bool // a new connection of the same agent took over
}

// ringing is an offer ringing on an agent's page.
type ringing struct {
	call   string
	answer chan bool // the agent's decision; buffered, the first one counts
}

// Connect answers the SDP offer of agent's browser: the agent's media connection,
// kept for all their calls. With restart true (an ICE restart after a network
// change) the agent's connection is renegotiated in place, with the call on it, if
// any; otherwise a new connection replaces the agent's old one (a reloaded page),
// and a call that was on the old one goes back to the head of its queue.
func (m *Manager) Connect(ctx context.Context, agent, offer string, restart bool) (string, error) {
	if m.rtc == nil {
		return "", ErrNoWebRTC
	}
	ep, ok := m.endpoints[agent]
	switch {
	case !ok && m.supervisors[agent]:
		// A supervisor's browser: listen, whisper and barge go through it.
	case !ok:
		return "", fmt.Errorf("%w: %q", ErrUnknownAgent, agent)
	case ep.Kind != "" && ep.Kind != acd.EndpointWebRTC:
		return "", fmt.Errorf("%w: %s is a %s seat", ErrNotWebRTC, agent, ep.Kind)
	}
	m.mu.Lock()
	old := m.phones[agent]
	m.mu.Unlock()
	if restart && old != nil && old.peer.State() != media.PeerClosed {
		ans, err := old.peer.Renegotiate(ctx, offer)
		if err == nil {
			m.log.Info("agent media: ICE restart", "agent_id", agent)
		}
		return ans, err
	}
	ph := &softphone{agent: agent, lost: make(chan struct{}), rang: make(chan struct{}), changed: make(chan struct{})}
	log := m.log.With("agent_id", agent)
	peer, ans, err := m.rtc.Accept(ctx, offer, log, func(s media.PeerState) { m.phoneState(ph, s) })
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	ph.peer = peer
	old = m.phones[agent]
	m.phones[agent] = ph
	if old != nil {
		old.replaced = true
	}
	m.mu.Unlock()
	if old != nil {
		old.peer.Close()
	}
	log.Info("agent media connection opened")
	return ans, nil
}

// phoneState follows a softphone's connection (pion's goroutine).
func (m *Manager) phoneState(ph *softphone, s media.PeerState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ph.state = s
	close(ph.changed)
	ph.changed = make(chan struct{})
	switch s {
	case media.PeerConnected:
		if ph.restore != nil {
			ph.restore.Stop()
			ph.restore = nil
			m.log.Info("agent media connection restored", "agent_id", ph.agent)
		}
	case media.PeerDisconnected, media.PeerFailed:
		if ph.restore == nil && !ph.gone {
			m.log.Warn("agent media connection down: waiting for an ICE restart", "agent_id", ph.agent,
				"state", s.String(), "restore_within", m.restore)
			ph.restore = time.AfterFunc(m.restore, func() { m.phoneLost(ph, "media connection not restored within "+m.restore.String()) })
		}
	case media.PeerClosed:
		go m.phoneLost(ph, "media connection closed")
	}
}

// phoneLost gives a softphone up: the call on it (if any) goes back to its queue
// (talk sees lost closed) and, unless a newer connection of the agent took over,
// the agent is logged out.
func (m *Manager) phoneLost(ph *softphone, why string) {
	m.mu.Lock()
	if ph.gone {
		m.mu.Unlock()
		return
	}
	ph.gone, ph.lostWhy = true, why
	close(ph.lost)
	if ph.restore != nil {
		ph.restore.Stop()
		ph.restore = nil
	}
	current := m.phones[ph.agent] == ph
	if current {
		delete(m.phones, ph.agent)
	}
	replaced, runCtx := ph.replaced, m.runCtx
	m.mu.Unlock()
	ph.peer.Close()
	if replaced || !current {
		return
	}
	loggedOut := false
	if m.matcher != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdEndpointGone, Agent: ph.agent, Reason: "media lost"})
		switch {
		case err == nil:
			loggedOut = true
		case errors.Is(err, acd.ErrNotLoggedIn), errors.Is(err, acd.ErrUnknownAgent):
		case runCtx == nil || runCtx.Err() != nil: // shutting down
		default:
			m.log.Warn("ACD endpoint gone", "agent_id", ph.agent, "error", err)
		}
	}
	if loggedOut {
		m.log.Warn("agent media connection lost: agent logged out", "agent_id", ph.agent, "reason", why)
	} else {
		m.log.Info("agent media connection closed", "agent_id", ph.agent, "reason", why)
	}
}

// Disconnect closes agent's media connection (the agent logged out on the page).
func (m *Manager) Disconnect(agent string) {
	m.mu.Lock()
	ph := m.phones[agent]
	m.mu.Unlock()
	if ph != nil {
		m.phoneLost(ph, "closed by the agent")
	}
}

// MediaState is the state of agent's media connection ("none" without one).
func (m *Manager) MediaState(agent string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ph := m.phones[agent]; ph != nil {
		return ph.state.String()
	}
	return "none"
}

// ringSoftphone rings the call on agent's page and waits for the agent's answer,
// the offer's withdrawal (ctx) or the loss of the connection.
func (m *Manager) ringSoftphone(ctx context.Context, c party, agent string) (*agentLeg, error) {
	m.mu.Lock()
	ph := m.phones[agent]
	for grace := time.After(setUpGrace); ph != nil && ph.state == media.PeerConnecting && !ph.gone; ph = m.phones[agent] {
		changed := ph.changed
		m.mu.Unlock()
		select {
		case <-changed:
		case <-grace:
			return nil, fmt.Errorf("%w: %s's media connection is still being set up after %v", ErrNoEndpoint, agent, setUpGrace)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		m.mu.Lock()
	}
	if ph == nil || ph.state != media.PeerConnected {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s has no media connection up", ErrNoEndpoint, agent)
	}
	r := &ringing{call: c.id, answer: make(chan bool, 1)}
	ph.ring = r
	close(ph.rang)
	ph.rang = make(chan struct{})
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if ph.ring == r {
			ph.ring = nil
		}
		m.mu.Unlock()
	}()
	c.log.Info("ringing agent", "agent_id", agent, "target", "softphone")
	select {
	case ok := <-r.answer:
		if !ok {
			return nil, errors.New("rejected on the page")
		}
		return &agentLeg{agent: agent, phone: ph}, nil
	case <-ph.lost:
		return nil, errMediaLost
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// answerRinging passes the agent's answer (or rejection) to the call ringing at
// them; call, when not empty, must be the ringing call's id. The offer reaches the
// page as an event at the moment the ACD decides, a little before the call starts
// ringing here: an answer naming a call that is not ringing yet waits for it, up to
// earlyAnswer.
func (m *Manager) answerRinging(ctx context.Context, agent, call string, accept bool) error {
	deadline := time.NewTimer(earlyAnswer)
	defer deadline.Stop()
	var r *ringing
	for {
		m.mu.Lock()
		var rang chan struct{}
		if ph := m.phones[agent]; ph != nil {
			r, rang = ph.ring, ph.rang
		}
		m.mu.Unlock()
		if r != nil && (call == "" || call == r.call) {
			break
		}
		if call == "" || rang == nil {
			return fmt.Errorf("%w: %s", ErrNotRinging, agent)
		}
		select {
		case <-rang:
		case <-deadline.C:
			return fmt.Errorf("%w: %s (call %s)", ErrNotRinging, agent, call)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	select {
	case r.answer <- accept:
	default: // answered already: the first decision counts
	}
	return nil
}
