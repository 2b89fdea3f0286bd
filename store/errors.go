package store

import (
	"errors"
	"fmt"
)

// Errors returned by the logs in this package. Match them with errors.Is.
var (
	// ErrClosed is returned by every operation on a log that has been closed.
	ErrClosed = errors.New("store: log is closed")
	// ErrRecordTooLarge is returned when an event encodes to more than MaxRecordSize
	// bytes, and when opening a journal finds a record header that claims more.
	ErrRecordTooLarge = errors.New("store: record too large")
	// ErrCorrupt is wrapped by *CorruptError: the journal holds a damaged record that
	// is followed by intact ones, so dropping it would silently lose data.
	ErrCorrupt = errors.New("store: journal corrupt")
	// ErrNotJournal means the journal file does not start with the journal magic.
	ErrNotJournal = errors.New("store: not a journal file")
	// ErrUnsupportedVersion means the journal file was written by a newer format version.
	ErrUnsupportedVersion = errors.New("store: unsupported journal version")
	// ErrLocked means another process (or another OpenJournal in this one) holds the
	// journal open.
	ErrLocked = errors.New("store: journal is in use")
	// ErrInvalidEvent is returned for a nil event or, by Store.Append, an event
	// without a Type.
	ErrInvalidEvent = errors.New("store: invalid event")
	// ErrBufferFull: Redis cannot take writes and the outage buffer
	// (RedisOptions.Buffer) holds as many events as it may.
	ErrBufferFull = errors.New("store: outage buffer full")
)

// CorruptError reports a damaged record in the middle of a journal: a record that fails
// its checks (length, CRC-32C, JSON or sequence number) with intact records after it.
// It wraps ErrCorrupt.
type CorruptError struct {
	File   string // path of the journal file
	Offset int64  // byte offset of the damaged record's header
	Reason string // what is wrong with it
	Err    error  // the failed check's sentinel (e.g. ErrRecordTooLarge), or nil
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: journal %s: corrupt record at offset %d (%s) followed by intact records; refusing to drop them",
		e.File, e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt and, if set, Err.
func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}
