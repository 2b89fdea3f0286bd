package call

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// TakeoverPriority is the priority of the callback requests Takeover queues: above
// every route of the default menu (3 and 5), so the citizens cut off by the loss of
// a site are called back before the calls that come in afterwards.
const TakeoverPriority = 100

// CauseSiteLost is the cause Takeover records on the calls it ends.
const CauseSiteLost = "site lost"

// TakeoverOptions tune Takeover.
type TakeoverOptions struct {
	// Serving reports whether this process serves the call with that id itself
	// (a site that lost its lease for a moment and took it back keeps its own
	// calls): those are left alone. nil means none.
	Serving func(call string) bool
	// Queue is where a cut-off call that had not been routed yet (it was in the
	// menu) is called back from; empty means the first queue by name.
	Queue string
	// Cause is recorded on the calls it ends; empty means CauseSiteLost.
	Cause string
	// Reason is the queue.joined reason of the callback requests made for cut-off
	// calls that were not waiting in a queue (in the menu, or talking); empty
	// means "takeover". Those that were waiting keep their wait
	// (acd.ReasonRestored), as do the callback requests that were waiting.
	Reason string
	// Lost names, in log lines, what cut the calls off: "the lost site" when
	// empty.
	Lost string
}

// TakeoverResult says what Takeover did.
type TakeoverResult struct {
	// Ended is how many calls the log showed as not ended (ringing, in the menu,
	// queued or talking at the lost site) and that Takeover ended in the log.
	Ended int
	// Callbacks is how many callback requests it put in the ACD: the cut-off calls
	// with a caller number, and the requests that were waiting at the lost site.
	Callbacks int
	// Unreachable counts cut-off calls that cannot be called back: no caller
	// number, an outbound call that was not a callback, or no ACD.
	Unreachable int
	// Tickets is how many work-order events were folded into the work orders: all
	// of the log's (folding is idempotent), so that the ones the active site wrote
	// after this site started are known.
	Tickets int
	// Hooks is how many hook events (Deps.ReplicateHooks) the lost site had
	// published and not delivered to every sink: handed on to the sinks here
	// that had not taken them, with the same idempotency keys.
	Hooks int
}

// publishedHook is a hook event from the log and the sinks that took it.
type publishedHook struct {
	data      []byte
	delivered map[string]bool
}

// pendingCallback is a callback request the log shows as still waiting.
type pendingCallback struct {
	call, queue, caller string
}

// Takeover makes this site the one that serves the calls of a lost site. Call it
// once the site holds the lease and writes the log with its new epoch, and before
// it takes new calls; a single site runs it at start-up for the calls its last run
// left (with its own Cause, Reason and Lost). The ACD must be running (Start). From the log (which the standby followed) it:
//   - ends every call not ended that this process does not serve itself (ringing,
//     in the menu, queued or talking at the lost site: those callers were cut off),
//     with side engine and cause "site lost";
//   - puts a callback request with TakeoverPriority in the ACD for each of them
//     that has a caller number (in the queue it was routed to, or opts.Queue), and
//     again each callback request that was still waiting at the lost site, so that
//     an agent calls them back (the ACD's callback offers dial through the trunk);
//     a caller who was waiting in a queue, and a request that was waiting, keep
//     their wait (acd.ReasonRestored: not offered again), the others are new
//     offers (opts.Reason);
//   - folds the work-order events into the work orders.
//
// A callback request already in the ACD is left as it is. The error is the first
// failure to write the log; the calls handled before it are counted.
func (m *Manager) Takeover(ctx context.Context, opts TakeoverOptions) (TakeoverResult, error) {
	var res TakeoverResult
	// One pass over the log: the work orders and the callback requests waiting.
	pending := map[string]pendingCallback{}
	var order []string
	hooks := map[string]*publishedHook{}
	var hookOrder []string
	type wait struct {
		queue string
		since time.Time
	}
	waiting := map[string]wait{}  // calls joined to a queue and not left
	consults := map[string]bool{} // consult calls: an agent's, not a citizen's
	stop, err := m.store.Follow(ctx, 0, func(ev *event.Event) {
		switch ev.Type {
		case event.QueueJoined:
			if ev.Reason == "consult" {
				consults[ev.Call] = true
				return
			}
			if w, ok := waiting[ev.Call]; ok && ev.Reason == acd.ReasonRestored {
				waiting[ev.Call] = wait{ev.Queue, w.since} // taken up before: the same wait
			} else {
				waiting[ev.Call] = wait{ev.Queue, ev.Time}
			}
		case event.HookPublished:
			if _, ok := hooks[ev.File]; !ok {
				hookOrder = append(hookOrder, ev.File)
			}
			hooks[ev.File] = &publishedHook{data: ev.Data, delivered: map[string]bool{}}
		case event.HookDelivered:
			if h := hooks[ev.File]; h != nil {
				h.delivered[ev.Reason] = true
			}
		case event.TicketCreated, event.TicketUpdated:
			if m.book != nil {
				if te, ok := ticketEvent(ev); ok && m.book.Apply(te) {
					res.Tickets++
				}
			}
		case event.CallbackScheduled:
			if _, ok := pending[ev.Call]; !ok {
				order = append(order, ev.Call)
			}
			pending[ev.Call] = pendingCallback{call: ev.Call, queue: ev.Queue, caller: ev.Caller}
		case event.QueueLeft:
			delete(pending, ev.Call)
			delete(waiting, ev.Call)
		}
	})
	if err != nil {
		return res, fmt.Errorf("takeover: read the log: %w", err)
	}
	stop()

	defQueue := opts.Queue
	if !m.hasQueue(defQueue) {
		defQueue = ""
		for name := range m.queueMap() {
			if defQueue == "" || name < defQueue {
				defQueue = name
			}
		}
	}
	if opts.Cause == "" {
		opts.Cause = CauseSiteLost
	}
	if opts.Reason == "" {
		opts.Reason = "takeover"
	}
	if opts.Lost == "" {
		opts.Lost = "the lost site"
	}
	queued := map[string]bool{}
	enqueue := func(id, q, caller string) {
		reason := opts.Reason
		w, wasWaiting := waiting[id]
		wq := w.queue
		if wasWaiting && m.hasQueue(wq) {
			// Its wait goes on where the log has it (an exit may have moved it
			// since it was routed): it was offered already.
			q, reason = wq, acd.ReasonRestored
		}
		if !m.hasQueue(q) {
			q = defQueue
		}
		// A caller who was waiting and cannot be called back: the wait ends
		// here, lost, so that the day's figures close it.
		endWait := func() {
			if wasWaiting && m.matcher != nil && m.hasQueue(wq) {
				if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdEndWait, Call: id, Queue: wq, Caller: caller}); err != nil {
					m.log.Error("a cut-off wait was not closed in the figures", "call_id", id, "queue", wq, "error", err)
				}
			}
		}
		if m.matcher == nil || q == "" || caller == "" {
			res.Unreachable++
			endWait()
			return
		}
		cmd := acd.Command{Kind: acd.CmdEnqueue, Call: id, Queue: q, Caller: caller,
			Priority: TakeoverPriority, Callback: true, Reason: reason}
		if reason == acd.ReasonRestored {
			cmd.Since = w.since
		}
		err := m.matcher.Do(ctx, cmd)
		switch {
		case err == nil:
			res.Callbacks++
			queued[id] = true
		case errors.Is(err, acd.ErrDuplicateCall):
			queued[id] = true // already waiting here
		default:
			res.Unreachable++
			m.log.Error("takeover: callback request not queued", "call_id", id, "queue", q, "error", err)
			endWait()
		}
	}

	// The cut-off calls. A full page that we ended entirely may hide more.
	for {
		live := m.store.Calls().List(store.CallFilter{State: store.FilterActive, Limit: store.MaxListLimit})
		ended := 0
		for _, rec := range live {
			if opts.Serving != nil && opts.Serving(rec.ID) {
				continue
			}
			ev := event.Event{Type: event.CallEnded, Call: rec.ID, Time: m.clock.Now(),
				Side: event.SideEngine, Cause: opts.Cause}
			if err := m.store.Append(ctx, &ev); err != nil {
				return res, fmt.Errorf("takeover: end call %s in the log: %w", rec.ID, err)
			}
			ended++
			res.Ended++
			m.metrics.result("lost")
			q := defQueue
			if rec.Route != nil {
				q = rec.Route.Queue
			}
			m.log.Warn("call cut off by "+opts.Lost+": ended, to be called back", "call_id", rec.ID, "state", rec.State,
				"caller", Masked(rec.Caller), "queue", q)
			if rec.Direction == "outbound" && !strings.HasSuffix(rec.ID, "-cb") {
				res.Unreachable++ // a follow-up survey call, not the citizen's request
				continue
			}
			enqueue(rec.ID, q, rec.Caller)
		}
		if len(live) < store.MaxListLimit || ended == 0 {
			break
		}
	}
	// The callback requests that were waiting at the lost site.
	for _, id := range order {
		p, ok := pending[id]
		if !ok || queued[id] || consults[id] || (opts.Serving != nil && opts.Serving(id)) {
			continue
		}
		enqueue(p.call, p.queue, p.caller)
	}
	// The hook events the lost site published and its sinks had not all taken:
	// handed on, with their keys, to the sinks here that had not taken them.
	if m.hooks != nil {
		sinks := m.hooks.Sinks()
		for _, key := range hookOrder {
			h := hooks[key]
			var missing []string
			for _, s := range sinks {
				if !h.delivered[s] {
					missing = append(missing, s)
				}
			}
			if len(missing) == 0 {
				continue
			}
			var tev ticket.Event
			if err := json.Unmarshal(h.data, &tev); err != nil || tev.Key != key {
				m.log.Error("takeover: a published hook event in the log cannot be read", "key", key, "error", err)
				continue
			}
			if err := m.hooks.PublishTo(tev, missing); err != nil {
				m.log.Error("takeover: hook event not handed on", "key", key, "type", tev.Type, "error", err)
				continue
			}
			res.Hooks++
		}
		if res.Hooks > 0 {
			m.log.Warn("takeover: hook deliveries the lost site had not made are handed on", "events", res.Hooks)
		}
	}
	if res.Ended > 0 || res.Callbacks > 0 {
		m.log.Warn("calls cut off by "+opts.Lost+" ended; their callers will be called back",
			"ended", res.Ended, "callbacks", res.Callbacks, "unreachable", res.Unreachable)
	}
	return res, nil
}
