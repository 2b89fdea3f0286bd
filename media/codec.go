package media

import "time"

// Codec is an RTP audio payload format the engine speaks.
type Codec struct {
	Name        string // encoding name as in SDP rtpmap, e.g. "PCMU"
	PayloadType uint8  // static payload type (RFC 3551)
	ClockRate   uint32 // RTP clock rate in Hz
}

// The codecs of the trunk side. Both are 8 kHz, one byte per sample.
var (
	PCMU = Codec{Name: "PCMU", PayloadType: 0, ClockRate: 8000}
	PCMA = Codec{Name: "PCMA", PayloadType: 8, ClockRate: 8000}
)

// CodecByName returns the supported codec with that encoding name (case-insensitive).
func CodecByName(name string) (Codec, bool) {
	switch {
	case equalFold(name, "PCMU"):
		return PCMU, true
	case equalFold(name, "PCMA"):
		return PCMA, true
	}
	return Codec{}, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// DefaultPTime is the packetisation interval used when the offer names none.
const DefaultPTime = 20 * time.Millisecond

// SamplesPer returns how many samples (and, for G.711, bytes) one packet of ptime holds.
func (c Codec) SamplesPer(ptime time.Duration) int {
	return int(time.Duration(c.ClockRate) * ptime / time.Second)
}

// Digit is one DTMF key press, from whichever source detected it.
type Digit struct {
	Key      byte          // '0'-'9', '*', '#', 'A'-'D'
	Via      string        // event.ViaRFC4733, event.ViaINFO or event.ViaInband
	Duration time.Duration // how long the key was held, when known (0 if not)
}
