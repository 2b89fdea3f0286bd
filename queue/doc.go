// Package queue owns the waiting calls of the contact centre: which queues exist, what
// each requires of an agent, how callers hear the wait (hold audio), and later their
// priority, position and estimated wait. It does no I/O: the call package plays the
// audio and the acd matcher takes calls out of queues.
package queue
