package media

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
)

// pkt is one telephone-event packet as a test writes it.
type pkt struct {
	ts    uint32
	key   byte
	end   bool
	dur   uint16
	event byte // raw event code, used instead of key when key == 0
}

func (p pkt) payload(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, EventSize)
	if p.key == 0 {
		b[0] = p.event
		if p.end {
			b[1] = 0x80
		}
		b[2], b[3] = byte(p.dur>>8), byte(p.dur)
		return b
	}
	if _, err := EncodeEvent(b, p.key, p.end, 10, p.dur); err != nil {
		t.Fatal(err)
	}
	return b
}

// press returns the packets a typical sender emits for one key press: start,
// continuations every 20 ms, and three end packets.
func press(ts uint32, key byte, dur uint16) []pkt {
	var ps []pkt
	for d := 160; d < int(dur); d += 160 {
		ps = append(ps, pkt{ts: ts, key: key, dur: uint16(d)})
	}
	for i := 0; i < 3; i++ {
		ps = append(ps, pkt{ts: ts, key: key, end: true, dur: dur})
	}
	return ps
}

func concat(groups ...[]pkt) []pkt {
	var all []pkt
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

func TestEventDecoder(t *testing.T) {
	tests := []struct {
		name    string
		packets []pkt
		want    string
	}{
		{"one press with end retransmissions", press(1000, '5', 800), "5"},
		{"duplicate start packets", []pkt{{ts: 1, key: '1', dur: 160}, {ts: 1, key: '1', dur: 160}, {ts: 1, key: '1', dur: 160}}, "1"},
		{"end bit only once", []pkt{{ts: 7, key: '#', end: true, dur: 640}}, "#"},
		{"long press", press(5000, '0', 16000), "0"},
		{"lost start: only end packets", []pkt{{ts: 9, key: '7', end: true, dur: 800}, {ts: 9, key: '7', end: true, dur: 800}, {ts: 9, key: '7', end: true, dur: 800}}, "7"},
		{"same key twice", concat(press(100, '3', 800), press(2000, '3', 800)), "33"},
		{"different keys", concat(press(100, '1', 800), press(2000, '2', 800), press(4000, '*', 800)), "12*"},
		{"all keys", concat(
			press(0, '0', 400), press(1000, '1', 400), press(2000, '2', 400), press(3000, '3', 400),
			press(4000, '4', 400), press(5000, '5', 400), press(6000, '6', 400), press(7000, '7', 400),
			press(8000, '8', 400), press(9000, '9', 400), press(10000, '*', 400), press(11000, '#', 400),
			press(12000, 'A', 400), press(13000, 'B', 400), press(14000, 'C', 400), press(15000, 'D', 400),
		), "0123456789*#ABCD"},
		{"timestamp wrap", concat(press(0xFFFFFF00, '4', 800), press(0x00000200, '4', 800), press(0x00001000, '6', 800)), "446"},
		{"late end packet of previous event", concat(press(100, '1', 800), []pkt{{ts: 2000, key: '2', dur: 160}, {ts: 100, key: '1', end: true, dur: 800}}), "12"},
		{"flash and tones ignored", []pkt{{ts: 1, event: 16, dur: 160}, {ts: 2, event: 255, end: true, dur: 1}, {ts: 3, key: '9', dur: 160}}, "9"},
		{"long event split into segments", []pkt{
			{ts: 100, key: '8', dur: 0xFFFF},
			{ts: 100 + 0xFFFF, key: '8', dur: 160},
			{ts: 100 + 0xFFFF, key: '8', end: true, dur: 800},
		}, "8"},
		{"new press after segment boundary but ended", concat(press(100, '8', 0xFFFF), press(100+0xFFFF, '8', 800)), "88"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d EventDecoder
			var got []byte
			for _, p := range tt.packets {
				dg, ok, err := d.Decode(p.ts, p.payload(t))
				if err != nil {
					t.Fatalf("Decode(%+v): %v", p, err)
				}
				if ok {
					if dg.Via != event.ViaRFC4733 {
						t.Errorf("Via = %q, want %q", dg.Via, event.ViaRFC4733)
					}
					want := time.Duration(p.dur) * time.Second / 8000
					if dg.Duration != want {
						t.Errorf("Duration = %v, want %v", dg.Duration, want)
					}
					got = append(got, dg.Key)
				}
			}
			if string(got) != tt.want {
				t.Errorf("digits = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEventDecoderShort(t *testing.T) {
	var d EventDecoder
	for _, p := range [][]byte{nil, {1}, {1, 2, 3}} {
		if _, ok, err := d.Decode(1, p); !errors.Is(err, ErrShortEvent) || ok {
			t.Errorf("Decode(%v) = ok %v, err %v; want ErrShortEvent", p, ok, err)
		}
	}
	// A longer payload (redundant events) is fine.
	if dg, ok, err := d.Decode(1, []byte{11, 0x0a, 0, 160, 0, 0}); err != nil || !ok || dg.Key != '#' {
		t.Errorf("Decode(6 bytes) = %v %v %v", dg, ok, err)
	}
}

func TestEventDecoderReset(t *testing.T) {
	var d EventDecoder
	p := pkt{ts: 50, key: '2', dur: 160}.payload(t)
	if _, ok, _ := d.Decode(50, p); !ok {
		t.Fatal("first packet not reported")
	}
	if _, ok, _ := d.Decode(50, p); ok {
		t.Fatal("duplicate reported")
	}
	d.Reset()
	if _, ok, _ := d.Decode(50, p); !ok {
		t.Fatal("after Reset the event is not reported")
	}
}

func TestEncodeEvent(t *testing.T) {
	b := make([]byte, EventSize)
	n, err := EncodeEvent(b, 'b', true, 10, 0x1234)
	if err != nil || n != EventSize {
		t.Fatalf("EncodeEvent = %d, %v", n, err)
	}
	if want := []byte{13, 0x80 | 10, 0x12, 0x34}; string(b) != string(want) {
		t.Errorf("payload = % x, want % x", b, want)
	}
	for _, tc := range []struct {
		dst    []byte
		key    byte
		volume uint8
		want   error
	}{
		{make([]byte, 3), '1', 10, io.ErrShortBuffer},
		{make([]byte, 4), 'x', 10, ErrInvalidEvent},
		{make([]byte, 4), 'E', 10, ErrInvalidEvent},
		{make([]byte, 4), '1', 64, ErrInvalidEvent},
	} {
		if _, err := EncodeEvent(tc.dst, tc.key, false, tc.volume, 1); !errors.Is(err, tc.want) {
			t.Errorf("EncodeEvent(len %d, %q, vol %d) err = %v, want %v", len(tc.dst), tc.key, tc.volume, err, tc.want)
		}
	}
}

func TestEventDecoderAllocs(t *testing.T) {
	var d EventDecoder
	p := pkt{key: '5', dur: 160}.payload(t)
	ts := uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		ts += 1000
		if _, ok, err := d.Decode(ts, p); !ok || err != nil {
			t.Fatal("not decoded")
		}
		_, _, _ = d.Decode(ts, p)
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v per packet", allocs)
	}
}

// FuzzEventDecoder feeds arbitrary packet streams: each record is 4 bytes of
// timestamp followed by a 4-byte payload (a short tail is a short payload).
func FuzzEventDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 5, 10, 0, 160, 0, 0, 0, 1, 5, 0x8a, 3, 32})
	f.Add([]byte{0xff, 0xff, 0xff, 0xf0, 11, 0x80, 1, 0, 0, 0, 0, 16, 11, 0x80, 1, 0})
	f.Add([]byte{0, 0, 0, 9, 16, 0, 0, 0, 0, 0, 0, 9, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d EventDecoder
		var prevTS uint32
		var prevPayload []byte
		for len(data) >= 4 {
			ts := uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
			data = data[4:]
			payload := data[:min(len(data), EventSize)]
			data = data[len(payload):]
			dg, ok, err := d.Decode(ts, payload)
			if len(payload) < EventSize {
				if !errors.Is(err, ErrShortEvent) {
					t.Fatalf("short payload: err = %v", err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ok {
				if payload[0] > 15 || dg.Key != dtmfKeys[payload[0]] {
					t.Fatalf("event %d gave key %q", payload[0], dg.Key)
				}
				if prevPayload != nil && ts == prevTS {
					t.Fatalf("same timestamp %d reported twice", ts)
				}
			}
			if payload[0] <= 15 {
				prevTS, prevPayload = ts, payload
			}
		}
	})
}
