// Package ticket owns work orders (工单) and the hooks that hand them to the city's
// ticketing systems.
//
// It holds:
//   - [WorkOrder] and [Book], the work orders in memory: creation from the after-call
//     form (ID, deadline), the allowed status changes ([Transitions]), ratings, lookup by
//     the digits a caller keys in, listing and the overdue list. The Book is a fold over
//     ticket events ([Book.Apply]): the engine writes the [Event] of every change to its
//     log and rebuilds the Book from it on start.
//   - [Calendar], the working-day calendar (weekends, public holidays, weekend days made
//     working days) from which deadlines are computed ([Calendar.AddWorkingDays]).
//   - The hook interface: [Sink], a registry of sink types ([Register], [NewSink]) with the
//     built-in "webhook" ([Webhook]: signed JSON POST), "file" ([FileSink]: JSON lines)
//     and "builtin" (the engine's own store; delivering to it is a no-op), and [Hooks],
//     which fans events out to the sinks through a durable outbox with retries and a
//     dead-letter list. [Sign] and [Verify] are the signature scheme used by webhooks and
//     by the status callbacks the engine accepts.
//
// It does not hold the HTTP API, the surveys' calls or the menu: the engine wires those.
//
// # The outbox file
//
// <data>/hooks.outbox starts with the 8-byte magic "HLOUTB01" and continues with
// records, each framed as
//
//	4 bytes  payload length, big-endian (3 .. MaxOutboxRecord)
//	4 bytes  CRC-32C (Castagnoli) of the payload, big-endian
//	payload  one kind byte, then a JSON object
//
// Kinds: 'E' an event published (seq, the sink names, publication time, the event), 'A'
// delivered to one sink (seq, sink), 'D' moved to the dead-letter list of one sink (seq,
// sink, time, the time the age counted from, last error, attempts), 'R' taken back from
// it by Retry (seq, sink, time). An event is live while some sink has not acknowledged
// it. 'E' records are fsync'd before Publish returns, as are 'D' and 'R'; 'A' records are
// written (so a kill -9 keeps them) but not fsync'd: after a power loss an
// acknowledgement may be lost and the event delivered again with the same key. Reading
// stops at the first record that is short, fails its CRC, or does not parse: that is a
// torn tail from a crash, and it is dropped (and logged). On open the file is compacted
// (rewritten with the live events only, through a temporary file and a rename), and
// again while running once enough acknowledgements have piled up.
//
// Concurrency: Book, Hooks and the built-in sinks are safe for concurrent use.
package ticket
