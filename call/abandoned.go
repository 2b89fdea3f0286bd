package call

import (
	"context"
	"fmt"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/store"
)

// CallBackPriority is the priority of a callback a supervisor asked for: before
// the callers of its priority who are still waiting.
const CallBackPriority = 50

// Abandoned lists the calls whose callers hung up while waiting in a queue (newest
// first), with their number and wait, among the ended calls the call view keeps.
func (m *Manager) Abandoned(limit int) []store.CallRecord {
	var out []store.CallRecord
	for _, c := range m.store.Calls().List(store.CallFilter{State: store.StateEnded, Limit: store.MaxListLimit}) {
		if c.LeftQueue == "abandoned" && c.Caller != "" {
			out = append(out, c)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

// CallBack puts an abandoned call on the callback list of the queue it was
// abandoned in: when its turn comes an agent is offered it and the engine calls
// the citizen through the callback trunk, as for a caller who pressed 1.
func (m *Manager) CallBack(ctx context.Context, id, by string) error {
	if m.matcher == nil {
		return errNoAgents
	}
	if m.callbackVia == "" {
		return ErrNoTrunk
	}
	c, ok := m.store.Calls().Get(id)
	if !ok || c.LeftQueue != "abandoned" || c.Route == nil {
		return fmt.Errorf("%w: %s was not abandoned in a queue", ErrNotOnCall, id)
	}
	err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdEnqueue, Call: id, Queue: c.Route.Queue, Caller: c.Caller,
		Priority: CallBackPriority, Callback: true, Reason: "abandoned, called back by " + by})
	if err != nil {
		return err
	}
	m.log.Info("abandoned call put on the callback list", "call_id", id, "queue", c.Route.Queue, "by", by)
	return nil
}
