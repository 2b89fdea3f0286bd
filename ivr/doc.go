// Package ivr owns the voice menu: menu definitions as data (the `ivr` section of the
// YAML config, decoded into [Config]), their validation against the prompt catalogue
// and the configured queues ([Config.Validate]), business-hours calendars with holidays
// and made-up working days ([Calendar]), number and digit reading ([SayNumber],
// [SayDigits]), the embedded 12345 default menu ([Default]) with its prompts ([Prompts]),
// and the interpreter that runs a menu on one call's media leg ([Run]).
//
// The interpreter is pure logic over two small seams: a [Leg] (play a prompt, read
// digits, record a message, and, when it is a [StatusLeg], look up a work order's status
// for a lookup node) that the call package implements on a media session, and an
// injected clock for every timeout, so the whole menu runs in tests on a fake leg and a
// fake clock without sockets or sleeps.
//
// Input rules, in one place:
//   - Barge-in: a key pressed while a prompt plays stops that prompt (and the rest of the
//     node's prompt list) and counts as input.
//   - Type-ahead: keys are never thrown away. A key pressed while a node that does not
//     collect is playing (the welcome, say) is kept for the next node that collects; a
//     collecting node that finds keys waiting skips its prompts and uses them, so a caller
//     who knows the menu need not wait.
//   - Timeouts: the first-key timeout starts when the node's prompts have finished; the
//     inter-digit timeout after each key of a multi-digit entry.
//   - Retries: every failed attempt (no input, input that matches no option, or a
//     work-order number that is not found) counts; the attempt that reaches `retries`
//     failures sends the caller to `fail` (a lookup's number not found: to `not_found`),
//     every earlier one plays the `no_input` or `invalid` prompt (or the leg's not-found
//     prompts) and offers the menu again.
//   - Collecting nodes are collects and lookups: they alone stop the interpreter to wait
//     for the caller, and key presses made while other nodes play wait for them.
//
// Run returns context.Cause(ctx) promptly from any state when the call's context ends
// (hang-up). Run never hangs up or transfers the call itself: its [Result] tells the call
// package what to do next.
package ivr
