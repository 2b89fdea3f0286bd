package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline12345/hotline/event"
)

// The journal's file layout; docs/journal.md draws it.
const (
	// JournalFile is the name of the journal inside the data folder.
	JournalFile = "events.journal"
	// MaxRecordSize is the largest payload (encoded event) a journal record may hold,
	// checked when appending and when reading.
	MaxRecordSize = 1 << 20
	// DefaultSyncEvery is the fsync period used when JournalOptions.SyncEvery is 0.
	DefaultSyncEvery = time.Second

	journalMagic     = "HLJRNL01" // magic "HLJRNL" + format version "01"
	magicPrefix      = "HLJRNL"
	fileHeaderSize   = int64(len(journalMagic))
	recordHeaderSize = 8 // 4 bytes payload length + 4 bytes CRC-32C, both big-endian
	minPayload       = 2 // the shortest JSON object, "{}"
	indexEvery       = 1024
	maxKeptBuffer    = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// JournalOptions tune OpenJournal. The zero value is ready to use.
type JournalOptions struct {
	// SyncEvery is how often a background goroutine fsyncs the journal when something
	// was written since the last fsync. 0 means DefaultSyncEvery; a negative value
	// fsyncs inside every Append (slower, but survives a power loss too). A kill -9
	// loses nothing either way: Append returns after the write(2).
	SyncEvery time.Duration
	// Logger receives the report of a torn tail dropped on open and of fsync
	// failures. nil means slog.Default().
	Logger *slog.Logger
}

// Journal is the file-backed Log: one append-only file, <dir>/events.journal, holding
// a magic header and then one record per event (see docs/journal.md). Appends are
// serialised by a mutex and cost one write(2) each; a background goroutine fsyncs
// periodically. Only one Journal may have a file open at a time (an advisory lock
// guards it, on systems that have flock). It is safe for concurrent use.
type Journal struct {
	path      string
	logger    *slog.Logger
	syncEvery time.Duration
	noSync    bool          // tests only (the fuzz target): skip every fsync
	last      atomic.Uint64 // sequence number of the last record

	mu     sync.Mutex
	f      *os.File
	size   int64   // bytes of the file that hold intact records
	index  []int64 // index[k] is the offset of the record with Seq k*indexEvery+1
	buf    bytes.Buffer
	enc    *json.Encoder
	dirty  bool  // written since the last fsync
	err    error // sticky: a failure that leaves the file in an unknown state
	closed bool

	stop chan struct{}
	done chan struct{}
}

// OpenJournal opens (creating dir and the file if needed) the journal in dir, validates
// every record and continues the sequence after the last one.
//
// A damaged last record (short header, short payload, CRC mismatch, bad JSON, wrong
// sequence number), as left by a crash in the middle of a write, is logged with its
// offset and size and truncated away; everything before it is kept. A damaged record
// that intact records follow is not dropped: OpenJournal returns a *CorruptError naming
// the file and the offset.
func OpenJournal(dir string, opts JournalOptions) (*Journal, error) {
	return openJournal(dir, opts, false)
}

func openJournal(dir string, opts JournalOptions, noSync bool) (*Journal, error) {
	j := &Journal{
		path:      filepath.Join(dir, JournalFile),
		logger:    opts.Logger,
		syncEvery: opts.SyncEvery,
		noSync:    noSync,
	}
	if j.logger == nil {
		j.logger = slog.Default()
	}
	if j.syncEvery == 0 {
		j.syncEvery = DefaultSyncEvery
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: open journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("store: open journal: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: open journal %s: %w", j.path, err)
	}
	j.f = f
	if err := j.load(dir); err != nil {
		f.Close()
		return nil, err
	}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	if j.syncEvery > 0 {
		j.stop = make(chan struct{})
		j.done = make(chan struct{})
		go j.syncLoop()
	}
	return j, nil
}

// load checks the file header and every record, truncating a torn tail.
func (j *Journal) load(dir string) error {
	fi, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("store: open journal %s: %w", j.path, err)
	}
	size := fi.Size()
	if size < fileHeaderSize {
		// New file, or a crash while its header was being written.
		head := make([]byte, size)
		if _, err := j.f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("store: open journal %s: %w", j.path, err)
		}
		if !bytes.HasPrefix([]byte(journalMagic), head) {
			return fmt.Errorf("store: open journal %s: %w", j.path, ErrNotJournal)
		}
		if err := j.create(dir); err != nil {
			return fmt.Errorf("store: open journal %s: %w", j.path, err)
		}
		j.size = fileHeaderSize
		return nil
	}
	head := make([]byte, fileHeaderSize)
	if _, err := j.f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("store: open journal %s: %w", j.path, err)
	}
	if !bytes.HasPrefix(head, []byte(magicPrefix)) {
		return fmt.Errorf("store: open journal %s: %w", j.path, ErrNotJournal)
	}
	if string(head) != journalMagic {
		return fmt.Errorf("store: open journal %s: version %q: %w", j.path, head[len(magicPrefix):], ErrUnsupportedVersion)
	}

	rr := newRecordReader(j.f, fileHeaderSize, size)
	var last uint64
	for {
		off := rr.off
		var ev event.Event
		_, err := rr.next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		var bad *badRecord
		if err == nil && ev.Seq != last+1 {
			bad = &badRecord{reason: fmt.Sprintf("sequence number %d, want %d", ev.Seq, last+1)}
		} else if err != nil && !errors.As(err, &bad) {
			return fmt.Errorf("store: open journal %s: read at offset %d: %w", j.path, off, err)
		}
		if bad != nil {
			if err := j.dropTail(off, size, bad); err != nil {
				return err
			}
			size = off
			break
		}
		if (ev.Seq-1)%indexEvery == 0 {
			j.index = append(j.index, off)
		}
		last = ev.Seq
	}
	j.size = size
	j.last.Store(last)
	return nil
}

// create writes the file header of a new journal and makes the file durable.
func (j *Journal) create(dir string) error {
	if err := j.f.Truncate(0); err != nil {
		return err
	}
	if _, err := j.f.Write([]byte(journalMagic)); err != nil {
		return err
	}
	if err := j.fsync(); err != nil {
		return err
	}
	// Make the new directory entry durable too. Some file systems refuse to sync a
	// directory; that is not worth failing the start-up for.
	if j.noSync {
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		if err := d.Sync(); err != nil {
			j.logger.Debug("journal: fsync of data folder failed", "dir", dir, "err", err)
		}
		d.Close()
	}
	return nil
}

// dropTail handles a damaged record at off: if no intact record follows, it is a torn
// tail and is truncated away; otherwise the journal is corrupt.
func (j *Journal) dropTail(off, size int64, bad *badRecord) error {
	next, found, err := findRecord(j.f, off+1, size)
	if err != nil {
		return fmt.Errorf("store: open journal %s: scan after offset %d: %w", j.path, off, err)
	}
	if found {
		j.logger.Error("journal: corrupt record followed by intact ones",
			"file", j.path, "offset", off, "reason", bad.reason, "next_record", next)
		return &CorruptError{File: j.path, Offset: off, Reason: bad.reason, Err: bad.err}
	}
	j.logger.Warn("journal: dropping torn or corrupt last record",
		"file", j.path, "offset", off, "size", size-off, "reason", bad.reason)
	if err := j.f.Truncate(off); err != nil {
		return fmt.Errorf("store: open journal %s: truncate torn tail at offset %d: %w", j.path, off, err)
	}
	if err := j.fsync(); err != nil {
		return fmt.Errorf("store: open journal %s: %w", j.path, err)
	}
	return nil
}

// Append assigns ev.Seq and writes the event as one record with one write(2). With
// JournalOptions.SyncEvery negative it also fsyncs before returning.
func (j *Journal) Append(ctx context.Context, ev *event.Event) error {
	if ev == nil {
		return ErrInvalidEvent
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	if j.err != nil {
		return j.err
	}
	seq := j.last.Load() + 1
	prev := ev.Seq
	ev.Seq = seq
	rec, err := j.encode(ev)
	if err != nil {
		ev.Seq = prev
		return err
	}
	if _, err := j.f.Write(rec); err != nil {
		ev.Seq = prev
		// Take back a partial write so that later records do not follow a torn
		// one; if even that fails, the file's tail is unknown: stop appending.
		if terr := j.f.Truncate(j.size); terr != nil {
			j.err = fmt.Errorf("store: journal %s: unusable after a failed write at offset %d: %w", j.path, j.size, terr)
		}
		return fmt.Errorf("store: journal %s: write: %w", j.path, err)
	}
	if (seq-1)%indexEvery == 0 {
		j.index = append(j.index, j.size)
	}
	j.size += int64(len(rec))
	j.last.Store(seq)
	if j.syncEvery < 0 {
		if err := j.fsync(); err != nil {
			j.err = fmt.Errorf("store: journal %s: fsync: %w", j.path, err)
			return j.err
		}
	} else {
		j.dirty = true
	}
	if j.buf.Cap() > maxKeptBuffer {
		j.buf = bytes.Buffer{} // do not keep a huge buffer for one huge event
	}
	return nil
}

// encode builds header+payload for ev in the reused buffer. The result is valid until
// the next call.
func (j *Journal) encode(ev *event.Event) ([]byte, error) {
	j.buf.Reset()
	var hdr [recordHeaderSize]byte
	j.buf.Write(hdr[:])
	if err := j.enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("store: encode event: %w", err)
	}
	rec := j.buf.Bytes()
	rec = rec[:len(rec)-1] // the Encoder's trailing newline
	n := len(rec) - recordHeaderSize
	if n > MaxRecordSize {
		return nil, fmt.Errorf("%w: event %s encodes to %d bytes (max %d)", ErrRecordTooLarge, ev.Type, n, MaxRecordSize)
	}
	putRecordHeader(rec)
	return rec, nil
}

// putRecordHeader fills the header of rec (recordHeaderSize bytes, then the
// payload): the payload's length and its CRC-32C.
func putRecordHeader(rec []byte) {
	p := rec[recordHeaderSize:]
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(p)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Checksum(p, castagnoli))
}

// Replay reads the journal file and calls fn for each event with Seq > after, in
// order. It reads the records that were complete when it started, without holding the
// append lock, so fn may call Append.
func (j *Journal) Replay(ctx context.Context, after uint64, fn func(*event.Event) error) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	f, end, last := j.f, j.size, j.last.Load()
	start := fileHeaderSize
	if k := after / indexEvery; k < uint64(len(j.index)) {
		start = j.index[k]
	}
	j.mu.Unlock()
	if after >= last {
		return ctx.Err()
	}
	rr := newRecordReader(f, start, end)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		off := rr.off
		var ev event.Event
		_, err := rr.next(&ev)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var bad *badRecord
		switch {
		case errors.As(err, &bad):
			// The file changed under us (it is append-only and was checked on open).
			return &CorruptError{File: j.path, Offset: off, Reason: bad.reason, Err: bad.err}
		case errors.Is(err, os.ErrClosed):
			return ErrClosed
		case err != nil:
			return fmt.Errorf("store: journal %s: read at offset %d: %w", j.path, off, err)
		}
		if ev.Seq <= after {
			continue
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
}

// LastSeq returns the sequence number of the last record, 0 if none.
func (j *Journal) LastSeq() uint64 { return j.last.Load() }

// Close stops the background fsync, fsyncs the file and closes it. It returns an
// earlier fsync or write failure too, if there was one.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.closed = true
	j.mu.Unlock()
	if j.stop != nil {
		close(j.stop)
		<-j.done
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.err
	if serr := j.fsync(); serr != nil {
		err = errors.Join(err, fmt.Errorf("store: journal %s: fsync: %w", j.path, serr))
	}
	if cerr := j.f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("store: journal %s: close: %w", j.path, cerr))
	}
	return err
}

func (j *Journal) fsync() error {
	if j.noSync {
		return nil
	}
	return j.f.Sync()
}

func (j *Journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(j.syncEvery)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.syncIfDirty()
		}
	}
}

func (j *Journal) syncIfDirty() {
	j.mu.Lock()
	if !j.dirty || j.closed || j.err != nil {
		j.mu.Unlock()
		return
	}
	j.dirty = false
	j.mu.Unlock()
	// fsync outside the lock: appends go on meanwhile and are synced next time.
	if err := j.fsync(); err != nil {
		j.logger.Error("journal: fsync failed; appends stop", "file", j.path, "err", err)
		j.mu.Lock()
		if j.err == nil {
			j.err = fmt.Errorf("store: journal %s: fsync: %w", j.path, err)
		}
		j.mu.Unlock()
	}
}

// badRecord describes a record that fails a check.
type badRecord struct {
	reason string
	err    error // a sentinel for the check, e.g. ErrRecordTooLarge, or nil
}

func (b *badRecord) Error() string { return b.reason }

// recordReader reads records one after another from off up to end.
type recordReader struct {
	br      *bufio.Reader
	off     int64
	end     int64
	hdr     [recordHeaderSize]byte
	payload []byte
}

func newRecordReader(r io.ReaderAt, off, end int64) *recordReader {
	return &recordReader{
		br:  bufio.NewReaderSize(io.NewSectionReader(r, off, end-off), 64<<10),
		off: off,
		end: end,
	}
}

// next decodes the next record into ev and returns its size. It returns io.EOF at a
// clean end, a *badRecord for a record that fails a check, or a read error.
func (r *recordReader) next(ev *event.Event) (int64, error) {
	left := r.end - r.off
	if left == 0 {
		return 0, io.EOF
	}
	if left < recordHeaderSize {
		return 0, &badRecord{reason: fmt.Sprintf("short header: %d of %d bytes", left, recordHeaderSize)}
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return 0, noEOF(err)
	}
	length := int64(binary.BigEndian.Uint32(r.hdr[0:4]))
	sum := binary.BigEndian.Uint32(r.hdr[4:8])
	switch {
	case length > MaxRecordSize:
		return 0, &badRecord{reason: fmt.Sprintf("payload length %d exceeds %d", length, MaxRecordSize), err: ErrRecordTooLarge}
	case length < minPayload:
		return 0, &badRecord{reason: fmt.Sprintf("payload length %d too small", length)}
	case length > left-recordHeaderSize:
		return 0, &badRecord{reason: fmt.Sprintf("short payload: %d of %d bytes", left-recordHeaderSize, length)}
	}
	if int64(cap(r.payload)) < length {
		r.payload = make([]byte, length)
	}
	p := r.payload[:length]
	if _, err := io.ReadFull(r.br, p); err != nil {
		return 0, noEOF(err)
	}
	if got := crc32.Checksum(p, castagnoli); got != sum {
		return 0, &badRecord{reason: fmt.Sprintf("CRC-32C mismatch: stored %08x, computed %08x", sum, got)}
	}
	*ev = event.Event{}
	if err := json.Unmarshal(p, ev); err != nil {
		return 0, &badRecord{reason: fmt.Sprintf("bad JSON: %v", err)}
	}
	n := recordHeaderSize + length
	r.off += n
	if cap(r.payload) > maxKeptBuffer {
		r.payload = nil
	}
	return n, nil
}

// noEOF turns io.EOF inside a record (the file shrank under us) into
// io.ErrUnexpectedEOF, so that io.EOF from next always means a clean end.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// findRecord looks for an intact record (plausible length, matching CRC-32C, JSON
// with a sequence number) starting at any offset in [from, end). It tells a torn tail
// (nothing intact after the damage) from corruption in the middle.
func findRecord(r io.ReaderAt, from, end int64) (int64, bool, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+recordHeaderSize)
	var payload []byte
	for base := from; base+recordHeaderSize+minPayload <= end; base += chunk {
		n := min(int64(len(buf)), end-base)
		if _, err := r.ReadAt(buf[:n], base); err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		for i := int64(0); i < chunk && i+recordHeaderSize <= n; i++ {
			pos := base + i
			length := int64(binary.BigEndian.Uint32(buf[i:]))
			if length < minPayload || length > MaxRecordSize || pos+recordHeaderSize+length > end {
				continue
			}
			if int64(cap(payload)) < length {
				payload = make([]byte, length)
			}
			p := payload[:length]
			if _, err := r.ReadAt(p, pos+recordHeaderSize); err != nil && !errors.Is(err, io.EOF) {
				return 0, false, err
			}
			if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(buf[i+4:]) {
				continue
			}
			var ev event.Event
			if json.Unmarshal(p, &ev) != nil || ev.Seq == 0 {
				continue
			}
			return pos, true, nil
		}
	}
	return 0, false, nil
}
