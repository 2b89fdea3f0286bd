// Package report folds the event stream into the contact centre's figures: per day
// (in a configured time zone, Asia/Shanghai by default) and per hour, per queue and
// per agent. The same fold ([Fold]) feeds the daily, weekly and monthly reports (CSV
// and one self-contained HTML page, [Report]) and the live Prometheus metrics
// ([Live], [Attach]), so the wallboard's numbers, the metrics and the reports cannot
// disagree.
//
// # Definitions
//
// A queue's calls are counted on the day and hour they joined the queue
// (queue.joined); what became of them (answered, abandoned, left by rule) is counted
// in that same bucket, so every day reconciles:
//
//	offered = answered + abandoned + exited + waiting
//
// where exited counts calls that left the queue by rule (maximum wait or queue full)
// for a message or another queue (the "overflowed out" of the hotline's reports) and
// waiting counts calls of that day still in the queue when the data ends.
// [Fold.Check] reports every day and queue where it does not hold. Overflowed counts
// calls made eligible for the backup pool (queue.overflowed), as the ACD does: such a
// call stays in its queue and ends answered, abandoned or exited like any other.
//
//   - answer rate = answered / offered
//   - service level = answered within the queue's target time /
//     (answered + abandoned - short abandoned); short abandons are callers who hung
//     up within ShortAbandon (default 5 s) and count against nothing (the ACD's
//     formula, acd.QueueStats.ServiceLevel)
//   - average answer time = total wait of the answered calls / answered
//   - average talk = agent time on call for the queue's calls / talk stretches;
//     average wrap-up likewise with the wrap-up state
//   - occupancy = (on-call + wrap-up) / logged-in time (every state but logged-out),
//     per agent, from the agent's state events, split exactly at midnight
//   - callbacks made = callback requests that an agent answered (the engine dialled
//     the citizen); callbacks scheduled = calls that became callback requests
//
// Consult calls (call ids "<call>-consultN") are not citizen calls: they are left out
// of every queue figure and counted apart in the Consults columns (queue and agent);
// the agents' time in each state still includes them, so occupancy stays exact.
// Transfers count calls an agent transferred away from the queue (call.transferred);
// a call transferred to a queue is offered again to that queue.
//
// Work orders (ticket.created, on the day they were made, in their queue): the shares
// answered directly and dispatched. Satisfaction (survey.result, post-call and
// follow-up, in the call's or the work order's queue): the share of answers that were
// 1 satisfied or 2 basically satisfied; unanswered surveys are not counted.
//
// The package imports only event and store (to read a data folder); it does no I/O
// of its own beyond what its callers hand it.
package report
