package call

// Run-time configuration: a supervisor changes a queue's settings or an agent's
// skills and pool through the API; the change is an event in the log
// (config.queue, config.agent) and is applied again at start-up, over the
// configuration file.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

// ErrBadSettings: the new settings cannot be right (unknown key, bad value,
// a queue's name or skill changed, an unknown skill).
var ErrBadSettings = errors.New("call: bad settings")

// ConfigureQueue changes queue name's settings: body is the changed keys, in the
// configuration file's names (YAML or JSON: {"ring_timeout": "20s",
// "service_level": {"percent": 90, "within": "15s"}}), applied over the current
// settings. It returns the queue's settings after the change.
func (m *Manager) ConfigureQueue(ctx context.Context, by, name string, body []byte) (queue.Config, error) {
	if m.matcher == nil {
		return queue.Config{}, errNoAgents
	}
	if !m.hasQueue(name) {
		return queue.Config{}, fmt.Errorf("%w %q", ErrUnknownQueue, name)
	}
	nc := m.queue(name)
	dec := yaml.NewDecoder(bytes.NewReader(body))
	dec.KnownFields(true)
	if err := dec.Decode(&nc); err != nil {
		return queue.Config{}, fmt.Errorf("%w: %v", ErrBadSettings, err)
	}
	err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdConfigureQueue, Queue: name, QueueConfig: &nc, Reason: by})
	if err != nil {
		return queue.Config{}, settingsErr(err)
	}
	m.setQueue(nc)
	m.log.Info("queue reconfigured", "queue", name, "by", by)
	return m.queue(name), nil
}

// QueueConfig returns queue name's current settings (after run-time changes).
func (m *Manager) QueueConfig(name string) (queue.Config, bool) {
	q, ok := m.queueMap()[name]
	return q.WithDefaults(), ok
}

// ConfigureAgent changes agent id's name, pool and skills (the agent must be
// logged out).
func (m *Manager) ConfigureAgent(ctx context.Context, by, id string, s acd.AgentSettings) error {
	if m.matcher == nil {
		return errNoAgents
	}
	if _, ok := m.endpoints[id]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdConfigureAgent, Agent: id, Reason: by,
		AgentConfig: &acd.AgentConfig{ID: id, Name: s.Name, Pool: s.Pool, Skills: s.Skills}})
	if err != nil {
		return settingsErr(err)
	}
	m.setAgent(id, s)
	m.log.Info("agent reconfigured", "agent_id", id, "by", by)
	return nil
}

// AgentSettings returns agent id's name, pool and skills as they are now (the
// configuration file's, or a run-time change's).
func (m *Manager) AgentSettings(id string) (acd.AgentSettings, bool) {
	s, ok := (*m.agents.Load())[id]
	return s, ok
}

// setAgent changes one agent's settings in the call flow's copy: what s leaves
// empty stays (as the ACD does).
func (m *Manager) setAgent(id string, s acd.AgentSettings) {
	old := *m.agents.Load()
	as := make(map[string]acd.AgentSettings, len(old))
	for k, v := range old {
		as[k] = v
	}
	cur := as[id]
	if s.Name != "" {
		cur.Name = s.Name
	}
	if s.Pool != "" {
		cur.Pool = s.Pool
	}
	if s.Skills != nil {
		cur.Skills = s.Skills
	}
	as[id] = cur
	m.agents.Store(&as)
}

func settingsErr(err error) error {
	var ce *acd.ConfigError
	switch {
	case errors.As(err, &ce), errors.Is(err, acd.ErrBadCommand):
		return fmt.Errorf("%w: %v", ErrBadSettings, err)
	case errors.Is(err, acd.ErrBadState):
		return fmt.Errorf("%w: %v", ErrTargetNotReady, err)
	}
	return err
}

// setQueue replaces one queue's settings in the call flow's copy.
func (m *Manager) setQueue(q queue.Config) {
	old := m.queueMap()
	qs := make(map[string]queue.Config, len(old))
	for k, v := range old {
		qs[k] = v
	}
	qs[q.Name] = q
	m.queues.Store(&qs)
	if q.Record == queue.RecordAnswer {
		m.recordAnswer.Store(true)
	}
}

// replayConfig applies the run-time configuration changes the log holds, in
// order, before the ACD runs.
func (m *Manager) replayConfig() {
	if m.router == nil || m.store == nil {
		return
	}
	stop, err := m.store.Follow(context.Background(), 0, func(ev *event.Event) {
		m.applyConfigEvent(ev, m.router.Replay)
	})
	if err != nil {
		m.log.Warn("run-time configuration not read back from the log", "error", err)
		return
	}
	stop()
}

// ApplyFollowedConfig applies a run-time configuration change that the other site
// of a pair made (a config.queue or config.agent event its log follower hands on),
// so that the standby's queues and agents are as the active site's when it takes
// over. Other events are ignored.
func (m *Manager) ApplyFollowedConfig(ev *event.Event) {
	if m.matcher == nil || (ev.Type != event.QueueConfigured && ev.Type != event.AgentConfigured) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.applyConfigEvent(ev, func(c acd.Command) error { return m.matcher.Replay(ctx, c) })
}

// applyConfigEvent applies one config.queue or config.agent event through replay
// (the ACD takes it without writing an event again) and to the call flow's copy.
func (m *Manager) applyConfigEvent(ev *event.Event, replay func(acd.Command) error) {
	var err error
	switch ev.Type {
	case event.QueueConfigured:
		var q queue.Config
		if err = json.Unmarshal(ev.Data, &q); err == nil {
			if err = replay(acd.Command{Kind: acd.CmdConfigureQueue, Queue: ev.Queue, QueueConfig: &q}); err == nil {
				m.setQueue(q)
			}
		}
	case event.AgentConfigured:
		var s acd.AgentSettings
		if err = json.Unmarshal(ev.Data, &s); err == nil {
			err = replay(acd.Command{Kind: acd.CmdConfigureAgent, Agent: ev.Agent,
				AgentConfig: &acd.AgentConfig{ID: ev.Agent, Name: s.Name, Pool: s.Pool, Skills: s.Skills}})
			if err == nil {
				m.setAgent(ev.Agent, s)
			}
		}
	default:
		return
	}
	if err != nil {
		m.log.Warn("a run-time configuration change in the log no longer applies", "type", string(ev.Type), "error", err)
	}
}
