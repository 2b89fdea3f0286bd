// Package call owns the script of one call: the SIP leg from package sip, its RTP leg
// from package media, the voice menu from package ivr, and what follows the menu's
// decision (for now the chosen desk's hold audio; the ACD takes it further). One
// goroutine runs a call from INVITE to hang-up with a context that the hang-up
// cancels, and every step is written as an event to the store.
//
// Manager implements sip.Handler: it admits dialled numbers, and ServeCall is the
// call's script. Control lets the agent API act on the call an agent is talking on
// (hang up, hold and resume, blind transfer to a queue): the operation is handed to
// the call's goroutine, which stays the call's only owner.
package call
