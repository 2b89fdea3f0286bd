package media

// RFC 4733 telephone-events (DTMF digits carried in RTP), section 2.3:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// One key press is one event: all its packets carry the RTP timestamp of its
// start; the duration grows while the key is held, the last packet has E set and
// is usually sent three times (section 2.5.1.4). Events 0-15 are the DTMF keys
// (RFC 4733 section 3.2); other codes (flash, tones) are not digits.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotline12345/hotline/event"
)

// EventSize is the size of one telephone-event payload in bytes.
const EventSize = 4

var (
	// ErrShortEvent means a telephone-event payload is shorter than EventSize bytes.
	ErrShortEvent = errors.New("media: telephone-event payload too short")
	// ErrInvalidEvent means EncodeEvent was asked for a key or volume it cannot encode.
	ErrInvalidEvent = errors.New("media: invalid telephone-event")
)

// dtmfKeys maps event codes 0-15 to keys (RFC 4733 section 3.2, table 7).
const dtmfKeys = "0123456789*#ABCD"

// lateWindow is how far (in RTP timestamp units) behind the current event a packet
// may be and still count as a late duplicate of an earlier event rather than a new
// one: 8 s at 8 kHz, far more than any reordering, far less than a timestamp jump
// after a stream restart is likely to land in.
const lateWindow = 1 << 16

// EventDecoder turns a stream of telephone-event payloads into key presses, each
// reported once, at the first packet of the event (so a caller can barge in on a
// prompt at once). The zero value is ready to use. It is not safe for concurrent
// use: one RTP reader owns it.
type EventDecoder struct {
	have  bool   // an event has been seen
	ts    uint32 // RTP timestamp of the current event
	code  byte   // its event code
	dur   uint16 // the longest duration seen for it
	ended bool   // an end packet was seen for it
}

// Decode handles the payload of one telephone-event packet with the given RTP
// timestamp. It returns the digit and true when the packet starts a new key press;
// continuations, retransmitted end packets, late packets of an earlier event and
// non-DTMF events return false. Only a payload shorter than EventSize is an error
// (ErrShortEvent); extra bytes (redundancy, RFC 4733 section 2.5.1.5 multi-event
// packets) are ignored.
func (d *EventDecoder) Decode(timestamp uint32, payload []byte) (Digit, bool, error) {
	if len(payload) < EventSize {
		return Digit{}, false, ErrShortEvent
	}
	code := payload[0]
	end := payload[1]&0x80 != 0
	dur := binary.BigEndian.Uint16(payload[2:4])
	if int(code) >= len(dtmfKeys) {
		return Digit{}, false, nil
	}
	if d.have {
		diff := timestamp - d.ts
		switch {
		case diff == 0: // continuation or retransmission of the current event
			d.dur = max(d.dur, dur)
			d.ended = d.ended || end
			return Digit{}, false, nil
		case int32(diff) < 0 && -int64(int32(diff)) <= lateWindow: // late packet of an earlier event
			return Digit{}, false, nil
		case code == d.code && !d.ended && d.dur > 0 && diff == uint32(d.dur):
			// Next segment of a long event whose duration overflowed the 16-bit
			// field (RFC 4733 section 2.5.1.3): the same key press.
			d.ts, d.dur, d.ended = timestamp, dur, end
			return Digit{}, false, nil
		}
	}
	*d = EventDecoder{have: true, ts: timestamp, code: code, dur: dur, ended: end}
	return Digit{
		Key:      dtmfKeys[code],
		Via:      event.ViaRFC4733,
		Duration: time.Duration(dur) * time.Second / 8000,
	}, true, nil
}

// Reset forgets the current event, for example when the sender's SSRC changes.
func (d *EventDecoder) Reset() { *d = EventDecoder{} }

// EncodeEvent writes the telephone-event payload for a DTMF key ('0'-'9', '*',
// '#', 'A'-'D', letters in either case) into dst and returns EventSize. volume is
// the power level in -dBm0 (0-63); duration is in timestamp units (samples at
// 8 kHz). A dst shorter than EventSize gives io.ErrShortBuffer; a bad key or
// volume gives ErrInvalidEvent.
func EncodeEvent(dst []byte, key byte, end bool, volume uint8, duration uint16) (int, error) {
	if len(dst) < EventSize {
		return 0, io.ErrShortBuffer
	}
	code, ok := eventCode(key)
	if !ok {
		return 0, fmt.Errorf("%w: key %q", ErrInvalidEvent, key)
	}
	if volume > 63 {
		return 0, fmt.Errorf("%w: volume %d > 63", ErrInvalidEvent, volume)
	}
	dst[0] = code
	dst[1] = volume
	if end {
		dst[1] |= 0x80
	}
	binary.BigEndian.PutUint16(dst[2:4], duration)
	return EventSize, nil
}

// eventCode returns the RFC 4733 event code of a DTMF key.
func eventCode(key byte) (byte, bool) {
	if 'a' <= key && key <= 'd' {
		key -= 'a' - 'A'
	}
	for i := 0; i < len(dtmfKeys); i++ {
		if dtmfKeys[i] == key {
			return byte(i), true
		}
	}
	return 0, false
}
