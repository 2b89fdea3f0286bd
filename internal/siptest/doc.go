// Package siptest is a small SIP user agent client (UAC) for tests that call the
// engine from outside over loopback UDP, where SIPp cannot look closely enough: the
// RTP a caller receives, SHA-256 digest authentication (RFC 8760), hold by
// re-INVITE with the answer in hand.
//
// It is built on sipgo's client and dialog layer (RFC 3261): UAC.Invite sends the
// INVITE, answers a 401 challenge with the configured credentials, waits for the
// final response and ACKs a 2xx; Call.Reinvite and Call.Hangup work inside the
// dialog; a BYE from the engine is answered 200 and ends Call.Done. Offer builds an
// SDP offer (RFC 3264) for a media/mediatest.Peer.
//
// It lives under internal/ rather than beside package sip because it joins SIP and
// media (the floors of DESIGN.md keep those apart); only the engine's tests use it.
//
// It is test code: it keeps every dialog until Close, and it is not hardened against
// hostile peers.
package siptest
