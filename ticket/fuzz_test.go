package ticket

import (
	"bytes"
	"io"
	"testing"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// FuzzOutboxReader feeds arbitrary bytes to the outbox reader and the replay: no panic,
// and the intact prefix re-reads to the same records.
func FuzzOutboxReader(f *testing.F) {
	live := map[uint64]*entry{1: {seq: 1, ev: orderEvents(1, 1)[0], slots: map[string]*slot{"a": {}, "b": {state: stateDead}}}}
	snap, _ := snapshot(live)
	f.Add(snap)
	f.Add([]byte(outboxMagic))
	f.Add([]byte{})
	f.Add(append([]byte(outboxMagic), 0, 0, 0, 3, 1, 2, 3, 4, 'A', '{', '}'))
	ack, _ := appendRecord([]byte(outboxMagic), recAck, &outRec{Seq: 1, Sink: "a"})
	f.Add(ack)
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, good, _, err := readOutbox(bytes.NewReader(data))
		if err != nil {
			return
		}
		if good > int64(len(data)) {
			t.Fatalf("good %d beyond %d bytes", good, len(data))
		}
		again, good2, torn, err := readOutbox(bytes.NewReader(data[:good]))
		if err != nil || torn || good2 != good || len(again) != len(recs) {
			t.Fatalf("prefix re-read: %d/%d records, good %d/%d, torn %v, %v", len(again), len(recs), good2, good, torn, err)
		}
		live, _ := replay(recs)
		if _, err := snapshot(live); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	})
}
