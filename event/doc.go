// Package event defines the one envelope in which every state change of the engine is
// recorded: calls, menu steps, queue and agent changes, recordings, work orders, surveys
// and site roles. The event log (package store) is the single source from which live
// state, statistics, reports and the standby site's copy are folded, so they cannot
// disagree. New event types are added here and nowhere else.
package event
