package sip

import "errors"

// Causes with which a call's context ends (context.Cause). They say who ended the call
// and why, and map to the hang-up side and cause of the call record.
var (
	// ErrRemoteBye: the caller (or the carrier) sent BYE.
	ErrRemoteBye = errors.New("sip: caller hung up (BYE)")
	// ErrCanceled: the caller sent CANCEL before the call was answered.
	ErrCanceled = errors.New("sip: caller cancelled (CANCEL)")
	// ErrNoACK: the 2xx was retransmitted for 64*T1 without an ACK (RFC 3261 13.3.1.4).
	ErrNoACK = errors.New("sip: no ACK for the 2xx")
	// ErrSessionExpired: the session timer ran out without a refresh (RFC 4028 10).
	ErrSessionExpired = errors.New("sip: session timer expired without refresh")
	// ErrTransaction: the INVITE transaction failed (transport error, timeout).
	ErrTransaction = errors.New("sip: INVITE transaction failed")
	// ErrShutdown: the engine is stopping.
	ErrShutdown = errors.New("sip: engine shutting down")
)

// Errors returned by the server and by call methods.
var (
	// ErrMalformedInfo: an INFO body that carries no digit we understand.
	ErrMalformedInfo = errors.New("sip: malformed DTMF INFO body")
	// ErrUnsupportedInfo: an INFO with a content type that carries no DTMF.
	ErrUnsupportedInfo = errors.New("sip: INFO content type carries no DTMF")
	// ErrAnswered: Reject or Ringing after the call was answered.
	ErrAnswered = errors.New("sip: call already answered")
	// ErrEnded: the call has ended.
	ErrEnded = errors.New("sip: call has ended")
)
