// Package acd is the contact centre's brain: agents with skills and states, routing
// strategies, overflow to the backup pool, skill widening, callbacks, and the matcher
// that offers each waiting call to the right agent.
//
// Router is the state machine. It owns the queues' lines (package queue), every
// agent's state and every offer, takes Commands (a call joined, a caller hung up, an
// agent logged in, accepted, rejected ...), and answers with Actions to a Sink (ring
// these agents, stop ringing, the call moved or left) and with an event.Event for
// every state change. It does no I/O and reads time only from its clock.Clock, so
// tests drive it step by step on a fake clock. Matcher runs one Router on one
// goroutine fed through a channel; nothing else touches the state, so there are no
// locks and no races between a caller hanging up and an agent answering: whichever
// command comes first wins and the other gets ErrNoOffer or ErrUnknownCall.
//
// Agent states: logged-out, ready, not-ready (with a reason code), reserved (an offer
// rings), on-call, wrap-up (ends by timer or by the agent). An offer that rings out
// makes the agent not-ready "missed"; a declined offer makes it not-ready "rejected"
// (so the call does not bounce straight back to the same agent); either way the call
// returns to its original place in line. A caller hanging up while it rings withdraws
// the offer and the agent is ready again; an agent whose endpoint disappears is logged
// out and its offer withdrawn.
//
// The live numbers (Router.Stats) are exactly what Recount folds out of the emitted
// events: counters are kept beside the events, not averaged, and the property test
// checks the two agree after every step of random command sequences. After a
// restart or a takeover the counters are seeded from the log (SeedCounters,
// ReseedCounters), and a wait the log shows open is taken up with ReasonRestored
// (not a new offer) or closed with CmdEndWait.
//
// Strategies (Strategy) are registered by name: longest-idle (default),
// fewest-calls, least-talk-time, round-robin, skill-level-first, linear, random,
// ring-all. Config.Validate reports an unknown name at its key (queues.N.strategy).
package acd
