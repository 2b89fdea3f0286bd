// Package call owns the script of one call and joins the packages below it: the
// SIP leg from package sip, its RTP leg from package media, the voice menu from
// package ivr, the queue and the agent from package acd, the recording from package
// recording and the work order from package ticket. One goroutine runs a call from
// INVITE to hang-up with a context that the hang-up cancels, and every step is
// written as an event to the store.
//
// Manager implements sip.Handler: it admits dialled numbers, and ServeCall is the
// call's script (menu, queue with hold audio and announcements, the agent's seat
// rung: a SIP phone or the WebRTC softphone of the agent page, the bridge, the
// post-call survey). Control lets the agent API act on the call an agent is talking
// on (hang up, hold, mute, keypad, blind and consult transfer, recording pause): the
// operation is handed to the call's goroutine, which stays the call's only owner.
// The Manager also runs the ACD's Matcher, dials callbacks and the follow-up calls
// of closed work orders, lets supervisors listen, whisper and barge, and applies
// run-time changes of queues and agents (its own and, on a standby, those it
// follows in the log).
//
// Takeover deals with calls that another process left open in the log: the calls
// of a lost site when a standby becomes active, and those of the last run when a
// single site starts again. They are ended and their callers put on the callback
// list; a caller who was waiting, and a callback request that was waiting, keep the
// wait (acd.ReasonRestored), so the day's figures add up.
package call
