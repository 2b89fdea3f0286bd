package acd

import (
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

// ShortAbandon is the wait under which an abandoned call is counted apart (the caller
// changed their mind rather than gave up); such calls do not count against the
// service level.
const ShortAbandon = 5 * time.Second

// Stats are the live numbers of every queue and agent, by name and id. Counters run
// from the last CmdResetCounters (or the start); waiting calls and states are now.
type Stats struct {
	Queues map[string]QueueStats
	Agents map[string]AgentStats
	// Estimates is, per queue, the wait a caller joining now would be told (live
	// only: Recount leaves it empty).
	Estimates map[string]time.Duration
}

// QueueStats are one queue's live numbers.
type QueueStats struct {
	// Waiting is the calls in the queue now: in line, ringing at an agent, or callback
	// requests waiting their turn.
	Waiting int
	// Callbacks is how many of Waiting are callback requests.
	Callbacks int
	// Oldest is when the longest-waiting of them joined; zero when none waits.
	Oldest time.Time
	// Offered counts calls that joined the queue (including those that found it full).
	Offered int
	// Answered counts calls an agent accepted; AnsweredInTarget those answered within
	// the service-level time.
	Answered         int
	AnsweredInTarget int
	// Abandoned counts callers who hung up while waiting or ringing; ShortAbandoned
	// those who waited less than ShortAbandon.
	Abandoned      int
	ShortAbandoned int
	// Overflowed counts calls made eligible for the backup pool.
	Overflowed int
	// Exited counts calls that left by rule (maximum wait, queue full) for a message
	// or another queue.
	Exited int
	// AnswerWait is the total wait of the answered calls.
	AnswerWait time.Duration
	// Estimated counts answered calls (not callbacks) whose wait was predicted;
	// EstimateError is the total absolute difference between prediction and wait.
	Estimated     int
	EstimateError time.Duration
}

// LongestWait returns how long the longest-waiting call has waited at now.
func (q QueueStats) LongestWait(now time.Time) time.Duration {
	if q.Oldest.IsZero() {
		return 0
	}
	return now.Sub(q.Oldest)
}

// ServiceLevel returns the share of calls answered within the target time, out of
// the calls answered plus those abandoned after ShortAbandon; ok is false when there
// were none.
func (q QueueStats) ServiceLevel() (share float64, ok bool) {
	n := q.Answered + q.Abandoned - q.ShortAbandoned
	if n == 0 {
		return 0, false
	}
	return float64(q.AnsweredInTarget) / float64(n), true
}

// AverageAnswer returns the mean wait of the answered calls.
func (q QueueStats) AverageAnswer() time.Duration {
	if q.Answered == 0 {
		return 0
	}
	return q.AnswerWait / time.Duration(q.Answered)
}

// MeanEstimateError returns the mean absolute error of the wait estimate.
func (q QueueStats) MeanEstimateError() time.Duration {
	if q.Estimated == 0 {
		return 0
	}
	return q.EstimateError / time.Duration(q.Estimated)
}

// count records a call leaving for reason after wait; the Router and Recount share it.
func (q *QueueStats) count(reason string, wait, estimate time.Duration, callback bool, within time.Duration) {
	switch reason {
	case "answered":
		q.Answered++
		q.AnswerWait += wait
		if wait <= within {
			q.AnsweredInTarget++
		}
		if !callback {
			q.Estimated++
			q.EstimateError += (estimate - wait).Abs()
		}
	case "abandoned":
		q.Abandoned++
		if wait < ShortAbandon {
			q.ShortAbandoned++
		}
	case "timed_out", "full", "moved", "lost":
		q.Exited++
	}
}

// reset zeroes the counters, keeping what waits now.
func (q *QueueStats) reset() {
	*q = QueueStats{Waiting: q.Waiting, Callbacks: q.Callbacks, Oldest: q.Oldest}
}

// Stats returns the live numbers.
func (r *Router) Stats() Stats {
	s := Stats{Queues: make(map[string]QueueStats, len(r.queues)), Agents: make(map[string]AgentStats, len(r.agents)),
		Estimates: make(map[string]time.Duration, len(r.queues))}
	oldest := make(map[*qstate]time.Time, len(r.queues))
	for _, e := range r.calls {
		if e.state == esAnswered || e.consult {
			continue
		}
		if o, ok := oldest[e.q]; !ok || e.Joined.Before(o) {
			oldest[e.q] = e.Joined
		}
	}
	for _, q := range r.queues {
		qs := q.st
		qs.Oldest = oldest[q]
		// What a caller joining now would be told: the wait at the line's end.
		probe := &entry{Entry: queue.Entry{Level: q.cfg.MinLevel}, q: q}
		s.Estimates[q.cfg.Name] = r.estimate(probe, q.line.Len()+1)
		s.Queues[q.cfg.Name] = qs
	}
	for _, a := range r.agents {
		s.Agents[a.cfg.ID] = a.st
	}
	return s
}

// Position is where a call stands in its queue.
type Position struct {
	// Queue is the queue the call waits in.
	Queue string
	// Place is its 1-based place in line (1 while it rings at an agent).
	Place int
	// Estimate is its estimated wait from now (queue.Estimator).
	Estimate time.Duration
	// Callback reports that the call is a callback request.
	Callback bool
}

// Position returns where call waits, for the announcements; ok is false when it is
// not waiting (unknown, answered or gone).
func (r *Router) Position(call string) (p Position, ok bool) {
	e := r.calls[call]
	if e == nil || e.state == esAnswered {
		return Position{}, false
	}
	p = Position{Queue: e.q.cfg.Name, Place: 1, Callback: e.Callback}
	if e.state == esLine {
		p.Place = e.q.line.Position(e)
		p.Estimate = r.estimate(e, p.Place)
	}
	return p, true
}

// Recount folds events (as the Router emitted them, in order) into the Stats they
// imply, for the queues and agents configured. It is the reference for the live
// numbers: Router.Stats equals Recount of the Router's events.
func Recount(queues []queue.Config, cfg Config, events []event.Event) Stats {
	s := Stats{Queues: map[string]QueueStats{}, Agents: map[string]AgentStats{}}
	within := map[string]time.Duration{}
	for _, q := range queues {
		s.Queues[q.Name] = QueueStats{}
		within[q.Name] = q.WithDefaults().ServiceLevel.Within
	}
	for _, a := range cfg.Agents {
		s.Agents[a.ID] = AgentStats{}
	}
	type waiting struct {
		queue    string
		joined   time.Time
		estimate time.Duration
		callback bool
	}
	calls := map[string]*waiting{}
	consults := map[string]bool{} // consult calls: counted in no figure
	for i := range events {
		ev := &events[i]
		if consults[ev.Call] && ev.Type != event.OfferRejected && ev.Type != event.OfferTimedOut {
			continue // missed and rejected consult offers count for the agent
		}
		switch ev.Type {
		case event.QueueJoined:
			if ev.Reason == reasonConsult {
				consults[ev.Call] = true
				continue
			}
			if ev.Reason == ReasonRestored && calls[ev.Call] != nil {
				continue // the wait goes on where it was
			}
			calls[ev.Call] = &waiting{queue: ev.Queue, joined: ev.Time, estimate: ev.Estimate}
			q := s.Queues[ev.Queue]
			if ev.Reason != ReasonRestored {
				q.Offered++
			}
			q.Waiting++
			s.Queues[ev.Queue] = q
		case event.CallbackScheduled:
			if w := calls[ev.Call]; w != nil && !w.callback {
				w.callback = true
				q := s.Queues[w.queue]
				q.Callbacks++
				s.Queues[w.queue] = q
			}
		case event.QueueLeft:
			w := calls[ev.Call]
			if w == nil {
				continue
			}
			delete(calls, ev.Call)
			q := s.Queues[w.queue]
			q.Waiting--
			if w.callback {
				q.Callbacks--
			}
			wt, ok := within[w.queue]
			if !ok {
				wt = queue.DefaultSLWithin
			}
			q.count(ev.Reason, ev.Duration, w.estimate, w.callback, wt)
			s.Queues[w.queue] = q
		case event.QueueOverflowed:
			q := s.Queues[ev.Queue]
			q.Overflowed++
			s.Queues[ev.Queue] = q
		case event.AgentState:
			a := s.Agents[ev.Agent]
			st, err := ParseAgentState(ev.State)
			if err == nil {
				a.enter(st, ev.Reason, ev.Time)
			}
			s.Agents[ev.Agent] = a
		case event.OfferAccepted, event.OfferTimedOut, event.OfferRejected:
			a := s.Agents[ev.Agent]
			switch ev.Type {
			case event.OfferAccepted:
				a.Calls++
			case event.OfferTimedOut:
				a.Missed++
			default:
				a.Rejected++
			}
			s.Agents[ev.Agent] = a
		case event.CountersReset:
			for n, q := range s.Queues {
				q.reset()
				s.Queues[n] = q
			}
			for id, a := range s.Agents {
				a.reset(ev.Time)
				s.Agents[id] = a
			}
		}
	}
	for _, w := range calls {
		q := s.Queues[w.queue]
		if q.Oldest.IsZero() || w.joined.Before(q.Oldest) {
			q.Oldest = w.joined
		}
		s.Queues[w.queue] = q
	}
	return s
}

// SeedCounters sets the Router's day counters (queues' offered, answered, abandoned
// ... and agents' calls, misses, rejections and time in each state) to st, the
// Recount of the day's events so far: after a restart the live numbers go on from
// where the log says the day stands, as the reports do. Live state (who waits, who
// is logged in) is not touched. Call it before the Router is used.
func (r *Router) SeedCounters(st Stats) {
	for _, q := range r.queues {
		s, ok := st.Queues[q.cfg.Name]
		if !ok {
			continue
		}
		q.st.Offered, q.st.Answered, q.st.AnsweredInTarget = s.Offered, s.Answered, s.AnsweredInTarget
		q.st.Abandoned, q.st.ShortAbandoned, q.st.Overflowed, q.st.Exited = s.Abandoned, s.ShortAbandoned, s.Overflowed, s.Exited
		q.st.AnswerWait, q.st.Estimated, q.st.EstimateError = s.AnswerWait, s.Estimated, s.EstimateError
	}
	for _, a := range r.agents {
		s, ok := st.Agents[a.cfg.ID]
		if !ok {
			continue
		}
		a.st.Calls, a.st.Missed, a.st.Rejected, a.st.Time = s.Calls, s.Missed, s.Rejected, s.Time
	}
}

// ReseedCounters sets the day counters to st, the Recount of the day's events up
// to some point, plus what the Router counted since base, its own Stats taken at
// that point: a standby that becomes active takes up the day's figures from the
// log while it already takes calls. With base equal to the Router's numbers now
// it is SeedCounters.
func (r *Router) ReseedCounters(base, st Stats) {
	for _, q := range r.queues {
		s, ok := st.Queues[q.cfg.Name]
		if !ok {
			continue
		}
		b := base.Queues[q.cfg.Name]
		c := &q.st
		c.Offered += s.Offered - b.Offered
		c.Answered += s.Answered - b.Answered
		c.AnsweredInTarget += s.AnsweredInTarget - b.AnsweredInTarget
		c.Abandoned += s.Abandoned - b.Abandoned
		c.ShortAbandoned += s.ShortAbandoned - b.ShortAbandoned
		c.Overflowed += s.Overflowed - b.Overflowed
		c.Exited += s.Exited - b.Exited
		c.AnswerWait += s.AnswerWait - b.AnswerWait
		c.Estimated += s.Estimated - b.Estimated
		c.EstimateError += s.EstimateError - b.EstimateError
	}
	for _, a := range r.agents {
		s, ok := st.Agents[a.cfg.ID]
		if !ok {
			continue
		}
		b := base.Agents[a.cfg.ID]
		a.st.Calls += s.Calls - b.Calls
		a.st.Missed += s.Missed - b.Missed
		a.st.Rejected += s.Rejected - b.Rejected
		for i := range a.st.Time {
			a.st.Time[i] += s.Time[i] - b.Time[i]
		}
	}
}
