package mediatest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline12345/hotline/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPeerToPeer sends a stream and a digit from one peer to another and checks
// what arrived: continuous numbering, the marker on the first packet, and the
// RFC 4733 packets of one key press decoding to exactly one digit.
func TestPeerToPeer(t *testing.T) {
	a, err := NewPeer(media.PCMU, 101)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewPeer(media.PCMU, 101)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.SetRemote(b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := a.Stream(ctx, media.Silence(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDigit(ctx, '7', 40*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// 5 audio packets, then 1 update and 3 end packets of the digit.
	if err := b.WaitFor(ctx, 9); err != nil {
		t.Fatal(err)
	}
	pkts := b.Packets()
	var digits []byte
	var dec media.EventDecoder
	for i, p := range pkts {
		if p.From != a.Addr() || p.Header.SSRC != a.SSRC() {
			t.Errorf("packet %d from %v ssrc %d", i, p.From, p.Header.SSRC)
		}
		if i > 0 && p.Header.SequenceNumber != pkts[i-1].Header.SequenceNumber+1 {
			t.Errorf("packet %d: seq not continuous", i)
		}
		if p.Header.Marker != (i == 0 || i == 5) {
			t.Errorf("packet %d: marker %v", i, p.Header.Marker)
		}
		switch p.Header.PayloadType {
		case 0:
			if !bytes.Equal(p.Payload, bytes.Repeat([]byte{0xFF}, 160)) {
				t.Errorf("packet %d: not u-law silence", i)
			}
		case 101:
			if p.Header.Timestamp != pkts[0].Header.Timestamp+5*160 {
				t.Errorf("packet %d: event timestamp %d", i, p.Header.Timestamp)
			}
			d, ok, err := dec.Decode(p.Header.Timestamp, p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				digits = append(digits, d.Key)
			}
		}
	}
	if string(digits) != "7" {
		t.Errorf("digits %q, want \"7\"", digits)
	}
}
