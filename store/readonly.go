package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hotline12345/hotline/event"
)

// ReadStats tells what ReadJournal read.
type ReadStats struct {
	// Events is how many events were handed to fn.
	Events int
	// LastSeq is the sequence number of the last of them.
	LastSeq uint64
	// Size is the offset where reading stopped: the end of the last intact record.
	Size int64
	// TornTail is set when the file went on after Size with an incomplete or damaged
	// record and nothing intact after it: a record being written right now by a live
	// engine, or what a crash left. It was not read, and the file was not changed.
	TornTail string
}

// ReadJournal reads the journal in dir (dir/events.journal) from the start, calling fn
// for each event in order, without taking the journal's lock and without changing the
// file: it works on a stopped engine's data folder and on a live engine's, whose
// Journal holds the lock and goes on appending. It reads the records that were in the
// file when it started.
//
// A damaged or incomplete last record (a live writer's record in flight, or a crash's
// torn tail) ends the reading cleanly and is reported in ReadStats.TornTail. A damaged
// record followed by intact ones is a *CorruptError, as for OpenJournal. A missing file
// is an error that wraps fs.ErrNotExist. fn's error stops the reading and is returned.
func ReadJournal(ctx context.Context, dir string, fn func(*event.Event) error) (ReadStats, error) {
	var st ReadStats
	path := filepath.Join(dir, JournalFile)
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("store: read journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("store: read journal %s: %w", path, err)
	}
	size := fi.Size()
	head := make([]byte, fileHeaderSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return st, fmt.Errorf("store: read journal %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case int64(n) < fileHeaderSize && bytes.HasPrefix([]byte(journalMagic), head):
		st.Size = int64(n)
		return st, nil // being created: no records yet
	case !bytes.HasPrefix(head, []byte(magicPrefix)):
		return st, fmt.Errorf("store: read journal %s: %w", path, ErrNotJournal)
	case string(head) != journalMagic:
		return st, fmt.Errorf("store: read journal %s: version %q: %w", path, head[len(magicPrefix):], ErrUnsupportedVersion)
	}
	st.Size = fileHeaderSize
	rr := newRecordReader(f, fileHeaderSize, size)
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		off := rr.off
		var ev event.Event
		_, err := rr.next(&ev)
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		var bad *badRecord
		if err == nil && ev.Seq != st.LastSeq+1 {
			bad = &badRecord{reason: fmt.Sprintf("sequence number %d, want %d", ev.Seq, st.LastSeq+1)}
		} else if err != nil && !errors.As(err, &bad) {
			return st, fmt.Errorf("store: read journal %s: read at offset %d: %w", path, off, err)
		}
		if bad != nil {
			_, found, ferr := findRecord(f, off+1, size)
			if ferr != nil {
				return st, fmt.Errorf("store: read journal %s: scan after offset %d: %w", path, off, ferr)
			}
			if found {
				return st, &CorruptError{File: path, Offset: off, Reason: bad.reason, Err: bad.err}
			}
			st.TornTail = fmt.Sprintf("%d bytes at offset %d: %s", size-off, off, bad.reason)
			return st, nil
		}
		if err := fn(&ev); err != nil {
			return st, err
		}
		st.Events++
		st.LastSeq = ev.Seq
		st.Size = rr.off
	}
}

// Follow calls fn for every event of the log with Seq > after, in order, and then for
// every event appended later (as Subscribe does), with no event missed or seen twice
// in between: appends wait while the log is replayed. fn has the constraints of a
// Subscribe callback. cancel stops the later calls. On a replay error nothing is
// subscribed.
func (s *Store) Follow(ctx context.Context, after uint64, fn func(*event.Event)) (cancel func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.log.Replay(ctx, after, func(ev *event.Event) error {
		fn(ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: follow: replay the log: %w", err)
	}
	return s.Subscribe(fn), nil
}
