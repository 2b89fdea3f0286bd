package acd

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

// configureAgent applies CmdConfigureAgent.
func (r *Router) configureAgent(c Command) error {
	a, err := r.agent(c.Agent)
	if err != nil {
		return err
	}
	if c.AgentConfig == nil {
		return fmt.Errorf("%w: configure-agent without a configuration", ErrBadCommand)
	}
	if a.st.State != LoggedOut {
		return fmt.Errorf("%w: agent %s is %v: log them out first", ErrBadState, a.cfg.ID, a.st.State)
	}
	nc := *c.AgentConfig
	nc.ID = a.cfg.ID
	switch nc.Pool {
	case "":
		nc.Pool = a.cfg.Pool
	case Primary, Backup:
	default:
		return fmt.Errorf("%w: pool %q (primary, backup)", ErrBadCommand, nc.Pool)
	}
	if nc.Skills == nil {
		nc.Skills = maps.Clone(a.cfg.Skills)
	}
	levels := make([]int8, len(r.skills))
	for s, l := range nc.Skills {
		i, ok := r.skills[s]
		switch {
		case !ok:
			return fmt.Errorf("%w: unknown skill %q (no queue or agent has it)", ErrBadCommand, s)
		case l < 1 || l > 10:
			return fmt.Errorf("%w: skill %s level %d is not 1 to 10", ErrBadCommand, s, l)
		}
		levels[i] = int8(l)
	}
	if nc.Name == "" {
		nc.Name = a.cfg.Name
	}
	nc.Endpoint, nc.PasswordHash, nc.SIPHA1 = a.cfg.Endpoint, a.cfg.PasswordHash, a.cfg.SIPHA1
	a.cfg, a.levels, a.backup = nc, levels, nc.Pool == Backup
	a.queues = a.queues[:0]
	for _, q := range r.queues {
		if a.levels[q.skill] > 0 {
			a.queues = append(a.queues, q)
		}
	}
	// The agents of each skill, in configuration order.
	for s := range r.skillAgents {
		r.skillAgents[s] = r.skillAgents[s][:0]
	}
	for _, x := range r.agents {
		for s, l := range x.levels {
			if l > 0 {
				r.skillAgents[s] = append(r.skillAgents[s], x)
			}
		}
	}
	data, _ := json.Marshal(AgentSettings{Name: nc.Name, Pool: nc.Pool, Skills: nc.Skills})
	r.event(event.Event{Type: event.AgentConfigured, Agent: a.cfg.ID, Pool: nc.Pool, Reason: c.Reason, Data: data})
	return nil
}

// AgentSettings are the parts of an agent's configuration that change at run time
// (and what config.agent events carry: never a password).
type AgentSettings struct {
	Name   string         `json:"name,omitempty"`
	Pool   string         `json:"pool,omitempty"`
	Skills map[string]int `json:"skills,omitempty"`
}

// Replay applies a configuration change read back from the log at start-up
// (CmdConfigureAgent, CmdConfigureQueue) without writing its event again.
func (r *Router) Replay(c Command) error {
	emit := r.emit
	r.emit = func(event.Event) {}
	defer func() { r.emit = emit }()
	r.now = r.clk.Now()
	return r.apply(c)
}

// configureQueue applies CmdConfigureQueue.
func (r *Router) configureQueue(c Command) error {
	q, ok := r.byQueue[c.Queue]
	switch {
	case !ok:
		return fmt.Errorf("%w %q", ErrUnknownQueue, c.Queue)
	case c.QueueConfig == nil:
		return fmt.Errorf("%w: configure-queue without a configuration", ErrBadCommand)
	}
	nc := c.QueueConfig.WithDefaults()
	if nc.Name == "" {
		nc.Name = q.cfg.Name
	}
	if nc.Skill == "" {
		nc.Skill = q.cfg.Skill
	}
	if nc.Name != q.cfg.Name || nc.Skill != q.cfg.Skill {
		return fmt.Errorf("%w: a queue's name and skill cannot change at run time", ErrBadCommand)
	}
	all := make([]queue.Config, 0, len(r.queues))
	for _, x := range r.queues {
		if x == q {
			all = append(all, nc)
		} else {
			all = append(all, x.cfg)
		}
	}
	if errs := queue.Validate(all, func(string) bool { return true }); len(errs) > 0 {
		return &ConfigError{Errors: errs}
	}
	if nc.Strategy != q.cfg.Strategy {
		st, err := NewStrategy(nc.Strategy, r.seed)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadCommand, err)
		}
		q.strat = st
	}
	q.cfg = nc
	data, _ := json.Marshal(nc)
	r.event(event.Event{Type: event.QueueConfigured, Queue: nc.Name, Reason: c.Reason, Data: data})
	return nil
}
