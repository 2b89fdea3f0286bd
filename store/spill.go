package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"
)

// The outage buffer's file (RedisOptions.BufferFile): one record per buffered
// event, framed as the journal's records are (4 bytes payload length, 4 bytes
// CRC-32C, both big-endian, then the payload), the payload being a spillRecord in
// JSON. The file is written only while Redis is away, fsynced before Append
// returns, and emptied once the buffer has reached Redis.

// spillRecord is one buffered event in the file.
type spillRecord struct {
	Seq   uint64 `json:"seq"`   // the sequence number Append gave it
	Epoch uint64 `json:"epoch"` // the writer's epoch when it was buffered
	Key   string `json:"key"`   // the per-Append key (idempotent write)
	Type  string `json:"type"`
	Data  []byte `json:"data"` // the event's JSON as it goes into the stream
}

// spill is the open buffer file.
type spill struct {
	path string
	f    *os.File
	size int64
}

// openSpill opens (creating) the buffer file, locked against a second process,
// and reads the records it holds. A torn or corrupt record ends the reading: the
// records before it are returned, and bad says what was dropped.
func openSpill(path string) (*spill, []spillRecord, string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, "", fmt.Errorf("store: outage buffer file: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, "", fmt.Errorf("store: outage buffer file: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) { // a new file: its folder entry must last too
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, "", fmt.Errorf("store: outage buffer file %s: %w", path, err)
	}
	s := &spill{path: path, f: f}
	recs, bad, err := s.read()
	if err != nil {
		f.Close()
		return nil, nil, "", err
	}
	return s, recs, bad, nil
}

// read decodes the records from the start of the file.
func (s *spill) read() ([]spillRecord, string, error) {
	st, err := s.f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("store: outage buffer file %s: %w", s.path, err)
	}
	end := st.Size()
	s.size = end // what clear must take away
	var recs []spillRecord
	var off int64
	var hdr [recordHeaderSize]byte
	for off < end {
		if end-off < recordHeaderSize {
			return recs, fmt.Sprintf("short header at offset %d", off), nil
		}
		if _, err := s.f.ReadAt(hdr[:], off); err != nil {
			return nil, "", fmt.Errorf("store: outage buffer file %s: %w", s.path, err)
		}
		length := int64(binary.BigEndian.Uint32(hdr[0:4]))
		if length < minPayload || length > 2*MaxRecordSize || length > end-off-recordHeaderSize {
			return recs, fmt.Sprintf("bad or short record length %d at offset %d", length, off), nil
		}
		p := make([]byte, length)
		if _, err := s.f.ReadAt(p, off+recordHeaderSize); err != nil && !errors.Is(err, io.EOF) {
			return nil, "", fmt.Errorf("store: outage buffer file %s: %w", s.path, err)
		}
		if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
			return recs, fmt.Sprintf("CRC-32C mismatch at offset %d", off), nil
		}
		var r spillRecord
		if err := json.Unmarshal(p, &r); err != nil || r.Seq == 0 || len(r.Data) == 0 {
			return recs, fmt.Sprintf("bad record at offset %d", off), nil
		}
		recs = append(recs, r)
		off += recordHeaderSize + length
	}
	return recs, "", nil
}

// add appends one record and fsyncs: when it returns nil the event survives a
// crash of the process and of the machine.
func (s *spill) add(r spillRecord) error {
	p, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: outage buffer file: encode: %w", err)
	}
	rec := make([]byte, recordHeaderSize+len(p))
	copy(rec[recordHeaderSize:], p)
	putRecordHeader(rec)
	if _, err := s.f.WriteAt(rec, s.size); err != nil {
		_ = s.f.Truncate(s.size) // take back a partial record
		return fmt.Errorf("store: outage buffer file %s: write: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		_ = s.f.Truncate(s.size)
		return fmt.Errorf("store: outage buffer file %s: fsync: %w", s.path, err)
	}
	s.size += int64(len(rec))
	return nil
}

// clear empties the file (every record reached Redis or was refused for good).
func (s *spill) clear() error {
	if s.size == 0 {
		return nil
	}
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("store: outage buffer file %s: truncate: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("store: outage buffer file %s: fsync: %w", s.path, err)
	}
	s.size = 0
	return nil
}

func (s *spill) close() error { return s.f.Close() }

// restoreSpill writes the events a previous process buffered in the file and did
// not get to Redis, in order, before anything else is read or written. An event
// whose sequence number the log has passed is looked up: the same JSON at that
// number (or a number compacted away) means it was written before the stop and
// is skipped. Events refused as fenced (another site writes the log since) are
// dropped, counted and logged. An unreachable Redis fails the open and leaves the
// file as it is, for the next try.
func (r *Redis) restoreSpill(ctx context.Context, recs []spillRecord) (written, skipped, dropped int, err error) {
	for i, rec := range recs {
		head := r.last.Load()
		if rec.Seq <= head {
			same, err := r.entryIs(ctx, rec.Seq, rec.Data)
			if err != nil {
				return written, skipped, dropped, err
			}
			if same {
				skipped++
				continue
			}
		}
		seq, _, _, err := r.runAppend(ctx, rec.Key, rec.Epoch, rec.Data)
		if errors.Is(err, ErrFenced) {
			dropped = len(recs) - i
			r.bufDropped.Add(uint64(dropped))
			r.log.Error("store: events buffered before the last stop were refused: another site writes the log since (fenced): they are lost",
				"events", dropped, "first_seq", rec.Seq, "first_type", rec.Type, "error", err)
			return written, skipped, dropped, nil
		}
		if err != nil {
			return written, skipped, dropped, err
		}
		r.noteSeq(seq)
		written++
		if seq != rec.Seq {
			r.log.Warn("store: a buffered event was written with another sequence number than it was given",
				"type", rec.Type, "given", rec.Seq, "written", seq)
		}
	}
	return written, skipped, dropped, nil
}

// entryIs reports whether the stream holds data at seq, or a few numbers around
// it (an event buffered while another Append was in flight may have been written
// one or two numbers off the one it was given), or whether seq was compacted
// away (then it was written: only written events are compacted).
func (r *Redis) entryIs(ctx context.Context, seq uint64, data []byte) (bool, error) {
	const around = 16
	from := uint64(1)
	if seq > around {
		from = seq - around
	}
	first := fmt.Sprintf("%d-0", from)
	msgs, err := r.c.XRange(ctx, r.keys[0], first, fmt.Sprintf("%d-0", seq+around)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("store: redis log: read events %d-%d: %w", from, seq+around, err)
	}
	for _, m := range msgs {
		if e, _ := m.Values["e"].(string); e == string(data) {
			return true, nil
		}
	}
	if len(msgs) == 0 || msgs[0].ID != first {
		snap, _, err := r.Snapshot(ctx)
		if err != nil {
			return false, err
		}
		return seq <= snap, nil
	}
	return false, nil
}
