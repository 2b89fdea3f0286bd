package ticket

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The outbox file's layout (doc.go describes it).
const (
	// OutboxFile is the outbox's name inside the data folder.
	OutboxFile = "hooks.outbox"
	// MaxOutboxRecord is the largest record payload written or read.
	MaxOutboxRecord = 1 << 20

	outboxMagic     = "HLOUTB01"
	outboxHeaderLen = 8 // 4 bytes payload length + 4 bytes CRC-32C, big-endian

	recEvent = 'E' // an event published to some sinks
	recAck   = 'A' // delivered to one sink
	recDead  = 'D' // moved to the dead-letter list of one sink
	recRetry = 'R' // taken back from the dead-letter list of one sink
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// outRec is the JSON body of every record kind (after the kind byte); each kind sets
// only its own fields.
type outRec struct {
	Seq      uint64    `json:"seq"`
	Sinks    []string  `json:"sinks,omitempty"` // E
	Sink     string    `json:"sink,omitempty"`  // A, D, R
	At       time.Time `json:"at,omitzero"`     // E: published; D: dead since; R: retried
	Since    time.Time `json:"since,omitzero"`  // D: the age was counted from
	Error    string    `json:"error,omitempty"` // D
	Attempts int       `json:"attempts,omitempty"`
	Event    *Event    `json:"event,omitempty"` // E
}

// appendRecord frames kind+JSON(r) onto buf.
func appendRecord(buf []byte, kind byte, r *outRec) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return buf, fmt.Errorf("ticket: outbox: encode record: %w", err)
	}
	payload := append([]byte{kind}, body...)
	if len(payload) > MaxOutboxRecord {
		return buf, fmt.Errorf("ticket: outbox: record of %d bytes exceeds %d", len(payload), MaxOutboxRecord)
	}
	var h [outboxHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[4:8], crc32.Checksum(payload, crcTable))
	buf = append(buf, h[:]...)
	return append(buf, payload...), nil
}

type rawRec struct {
	kind byte
	rec  outRec
}

// errNotOutbox is returned when a file does not start with the outbox magic.
var errNotOutbox = errors.New("ticket: not a hooks outbox (bad magic)")

// readOutbox reads records from r until the end or the first torn or corrupt record. It
// returns the records, the length of the intact prefix (where appending may resume) and
// whether bytes after it were dropped. An empty input is an empty outbox; anything that
// does not start with the magic is errNotOutbox.
func readOutbox(r io.Reader) (recs []rawRec, good int64, torn bool, err error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(outboxMagic))
	n, err := io.ReadFull(br, magic)
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return nil, 0, false, nil
	}
	if err != nil || string(magic) != outboxMagic {
		if string(magic[:n]) == outboxMagic[:n] && n < len(outboxMagic) {
			return nil, 0, true, nil // a torn header: treat as empty
		}
		return nil, 0, false, errNotOutbox
	}
	good = int64(len(outboxMagic))
	var h [outboxHeaderLen]byte
	for {
		n, err := io.ReadFull(br, h[:])
		if err != nil {
			return recs, good, n > 0, nil
		}
		size := binary.BigEndian.Uint32(h[0:4])
		if size < 3 || size > MaxOutboxRecord { // a kind byte and "{}" at least
			return recs, good, true, nil
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(br, payload); err != nil {
			return recs, good, true, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(h[4:8]) {
			return recs, good, true, nil
		}
		var rr rawRec
		rr.kind = payload[0]
		if err := json.Unmarshal(payload[1:], &rr.rec); err != nil {
			return recs, good, true, nil
		}
		switch rr.kind {
		case recEvent, recAck, recDead, recRetry:
		default:
			return recs, good, true, nil
		}
		recs = append(recs, rr)
		good += int64(outboxHeaderLen) + int64(size)
	}
}

// Delivery states of one event for one sink.
const (
	statePending = iota
	stateDead
)

// slot is one event's delivery to one sink.
type slot struct {
	state    int
	since    time.Time // MaxAge counts from here: publication or the last Retry
	attempts int
	lastErr  string
	deadAt   time.Time
	// run-time scheduling (not persisted)
	due      time.Time
	inflight bool
}

// entry is one live event: some sink has not acknowledged it.
type entry struct {
	seq       uint64
	ev        Event
	lane      string // ordering key
	published time.Time
	slots     map[string]*slot // sink name -> delivery; acknowledged ones are removed
}

// replay folds records into the live entries, keyed by sequence number, and returns the
// highest sequence number seen. Records about unknown events are ignored.
func replay(recs []rawRec) (map[uint64]*entry, uint64) {
	live := map[uint64]*entry{}
	var last uint64
	for _, rr := range recs {
		r := rr.rec
		last = max(last, r.Seq)
		switch rr.kind {
		case recEvent:
			if r.Event == nil || live[r.Seq] != nil {
				continue
			}
			e := &entry{seq: r.Seq, ev: *r.Event, published: r.At, slots: map[string]*slot{}}
			e.lane = e.ev.orderKey()
			for _, s := range r.Sinks {
				e.slots[s] = &slot{since: r.At}
			}
			if len(e.slots) > 0 {
				live[r.Seq] = e
			}
		case recAck:
			if e := live[r.Seq]; e != nil {
				delete(e.slots, r.Sink)
				if len(e.slots) == 0 {
					delete(live, r.Seq)
				}
			}
		case recDead:
			if s := live[r.Seq].slot(r.Sink); s != nil {
				s.state, s.deadAt, s.lastErr, s.attempts = stateDead, r.At, r.Error, r.Attempts
				if !r.Since.IsZero() {
					s.since = r.Since
				}
			}
		case recRetry:
			if s := live[r.Seq].slot(r.Sink); s != nil {
				s.state, s.since, s.deadAt = statePending, r.At, time.Time{}
			}
		}
	}
	return live, last
}

func (e *entry) slot(sink string) *slot {
	if e == nil {
		return nil
	}
	return e.slots[sink]
}

// snapshot encodes the live entries as a fresh outbox (magic included).
func snapshot(live map[uint64]*entry) ([]byte, error) {
	buf := []byte(outboxMagic)
	seqs := make([]uint64, 0, len(live))
	for s := range live {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	var err error
	for _, seq := range seqs {
		e := live[seq]
		names := make([]string, 0, len(e.slots))
		for n := range e.slots {
			names = append(names, n)
		}
		slices.Sort(names)
		ev := e.ev
		if buf, err = appendRecord(buf, recEvent, &outRec{Seq: seq, Sinks: names, At: e.published, Event: &ev}); err != nil {
			return nil, err
		}
		for _, n := range names {
			s := e.slots[n]
			switch {
			case s.state == stateDead:
				buf, err = appendRecord(buf, recDead, &outRec{Seq: seq, Sink: n, At: s.deadAt, Since: s.since, Error: s.lastErr, Attempts: s.attempts})
			case !s.since.Equal(e.published):
				buf, err = appendRecord(buf, recRetry, &outRec{Seq: seq, Sink: n, At: s.since})
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return buf, nil
}

// writeFileAtomic writes data to path through a temporary file, fsync and rename, then
// fsyncs the folder.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
