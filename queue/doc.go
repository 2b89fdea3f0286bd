// Package queue owns the waiting calls of the contact centre: which queues exist and
// what each requires of an agent (Config: skill and level, strategy name, ring
// timeout, wrap-up, limits and where calls go then, service-level target,
// announcements, hold audio, overflow and skill widening), the waiting line of each
// queue (Line: priority, first in first out within a priority, positions) and the
// estimated wait (Estimator, whose formula is documented there).
//
// It does no I/O and keeps no clock: the acd matcher owns the lines and the time, the
// call package plays the audio.
package queue
