package queue

import "time"

// DefaultHandleTime is the handle time an Estimator assumes before any call has been
// answered from its queue.
const DefaultHandleTime = 3 * time.Minute

// recentCalls is how many handle times an Estimator averages.
const recentCalls = 20

// Estimator predicts how long a caller will wait. The formula:
//
//	EWT(p) = max(0, p - r) × AHT / n
//
// where p is the caller's 1-based position, r the agents ready to take the call now,
// n the agents serving the queue who are logged in and not "not ready" (at least 1),
// and AHT the mean handle time (talk plus wrap-up) of the last 20 calls answered from
// the queue, DefaultHandleTime before the first. n/AHT is the rate at which the
// serving agents answer; with exponentially distributed handle times the k-th agent
// frees up after k×AHT/n on average. An agent serving several queues counts fully in
// each, which makes the estimate optimistic for shared agents; the acd records the
// estimate in queue.joined and the actual wait in queue.left, so the error is
// measured from the event log.
//
// The zero value is ready to use. An Estimator is not safe for concurrent use.
type Estimator struct {
	recent [recentCalls]time.Duration
	n      int // how many of recent are filled
	next   int // where the next one goes
	sum    time.Duration
}

// Record adds the handle time of a call answered from the queue.
func (e *Estimator) Record(handle time.Duration) {
	if e.n == recentCalls {
		e.sum -= e.recent[e.next]
	} else {
		e.n++
	}
	e.recent[e.next] = handle
	e.sum += handle
	e.next = (e.next + 1) % recentCalls
}

// AHT returns the mean of the recorded handle times, or DefaultHandleTime.
func (e *Estimator) AHT() time.Duration {
	if e.n == 0 {
		return DefaultHandleTime
	}
	return e.sum / time.Duration(e.n)
}

// Estimate returns EWT(position) with ready agents free now and serving agents in
// all (see the formula above).
func (e *Estimator) Estimate(position, ready, serving int) time.Duration {
	ahead := position - ready
	if ahead <= 0 {
		return 0
	}
	return time.Duration(ahead) * e.AHT() / time.Duration(max(serving, 1))
}
