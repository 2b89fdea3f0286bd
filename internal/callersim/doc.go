// Package callersim simulates citizens who call the hotline over the engine's real
// SIP trunk path, for `hotline demo`, load tests and the failover drill.
//
// A Caller places one call after another until it is stopped. Each call is a new
// SIP dialog (internal/siptest, UDP on 127.0.0.1) from a number of its own, with
// its RTP on a media/mediatest.Peer: the caller dials 12345, sends 300 ms of
// silence, presses 1 as an RFC 4733 telephone-event to reach the general desk, and
// then plays a 1 kHz tone (PCMU) for the rest of the call. It listens for the
// agent's 440 Hz tone: the first packet of it marks the call answered (the caller
// cannot see the engine's signalling to the agent, only hear them). Without it
// within a patience time the caller gives up and hangs up (abandoned). Once
// answered it talks until the engine hangs up (the agent did) or its own talk time
// is over.
//
// Every call's outcome and times are kept (Results) with the caller's number, which
// the agent's offer shows, so that a call can be matched with what the agent saw of
// it. Stop ends a run gently: no new calls, a caller still waiting hangs up
// (unfinished), a call being talked goes on to its end.
package callersim
