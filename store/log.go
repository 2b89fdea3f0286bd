package store

import (
	"context"

	"github.com/hotline12345/hotline/event"
)

// Log is an append-only event log. Implementations are safe for concurrent use.
//
// Sequence numbers start at 1 and grow by one per appended event, with no gaps. Events
// handed to Replay's fn are the caller's to keep and modify; they never alias the log's
// own copy. The contract is checked by storetest.Run.
type Log interface {
	// Append assigns ev.Seq (the next per-site sequence number) and stores the event
	// durably enough to survive the process being killed: for a file, the write(2) is
	// done before Append returns. With a cancelled ctx it stores nothing.
	Append(ctx context.Context, ev *event.Event) error
	// Replay calls fn for each event with Seq > after, in order, stopping at the
	// first error fn returns (and returning it). Events appended while Replay runs may
	// or may not be seen. fn may call Append.
	Replay(ctx context.Context, after uint64, fn func(*event.Event) error) error
	// LastSeq returns the sequence number of the last appended event, 0 if none.
	LastSeq() uint64
	// Close releases the log. Every later call (Close included) returns ErrClosed.
	Close() error
}

// Compile-time checks that both implementations satisfy Log.
var (
	_ Log = (*Memory)(nil)
	_ Log = (*Journal)(nil)
)
