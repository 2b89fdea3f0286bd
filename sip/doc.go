// Package sip owns the signalling side of the engine (RFC 3261) on top of sipgo: the
// UDP and TCP listeners, trunk admission (source networks and digest authentication,
// RFC 2617/RFC 7616 with the SHA-256 of RFC 8760), the inbound INVITE dialog with its
// ACK, BYE, CANCEL, re-INVITE (RFC 3264 hold and resume), INFO digits
// (application/dtmf-relay and application/dtmf), OPTIONS probes and session timers
// (RFC 4028).
//
// It knows no RTP: an inbound call is handed to a Handler as a *Call, which carries the
// SDP offer and lets the handler answer, reject, hang up and react to re-offers. One
// goroutine (the handler's) owns a call from INVITE to its end.
//
// Inside this package sipgo's message package is imported as sipmsg, so that "sip"
// means one thing per file.
package sip
