package media

import (
	"math"
	"testing"
)

// maxG711Error is the largest quantisation error of G.711 for a sample of
// magnitude x: half a step of the segment x falls in (steps double per segment;
// the top segment's step is 1024 for u-law, with an offset from the bias).
func maxG711Error(x int16) int {
	a := math.Abs(float64(x))
	return int(a/16) + 16
}

func TestG711RoundTrip(t *testing.T) {
	var samples []int16
	for v := -32768; v <= 32767; v += 37 {
		samples = append(samples, int16(v))
	}
	samples = append(samples, 0, 1, -1, 32767, -32768)
	for _, c := range []Codec{PCMU, PCMA} {
		t.Run(c.Name, func(t *testing.T) {
			enc := make([]byte, len(samples))
			dec := make([]int16, len(samples))
			if n := EncodeFrame(c, enc, samples); n != len(samples) {
				t.Fatalf("EncodeFrame = %d", n)
			}
			if n := DecodeFrame(c, dec, enc); n != len(samples) {
				t.Fatalf("DecodeFrame = %d", n)
			}
			for i, x := range samples {
				if d := int(dec[i]) - int(x); d > maxG711Error(x) || -d > maxG711Error(x) {
					t.Errorf("%d -> %#x -> %d: error %d > %d", x, enc[i], dec[i], d, maxG711Error(x))
				}
			}
			// Decoding every code and encoding it again gives the same code
			// (except u-law's negative zero, 0x7F, which encodes as 0xFF).
			for b := 0; b < 256; b++ {
				var s [1]int16
				var e [1]byte
				DecodeFrame(c, s[:], []byte{byte(b)})
				EncodeFrame(c, e[:], s[:])
				if e[0] != byte(b) && !(c == PCMU && b == 0x7F) {
					t.Errorf("code %#x -> %d -> %#x", b, s[0], e[0])
				}
			}
		})
	}
}

func TestG711Silence(t *testing.T) {
	for _, tc := range []struct {
		c    Codec
		want byte
	}{{PCMU, 0xFF}, {PCMA, 0xD5}, {Codec{Name: "pcma"}, 0xD5}} {
		if got := SilenceByte(tc.c); got != tc.want {
			t.Errorf("SilenceByte(%s) = %#x, want %#x", tc.c.Name, got, tc.want)
		}
		var s [1]int16
		DecodeFrame(tc.c, s[:], []byte{tc.want})
		if s[0] != 0 && s[0] != 8 && s[0] != -8 {
			t.Errorf("%s silence decodes to %d", tc.c.Name, s[0])
		}
		var e [1]byte
		EncodeFrame(tc.c, e[:], []int16{0})
		if e[0] != tc.want {
			t.Errorf("%s encodes 0 as %#x, want %#x", tc.c.Name, e[0], tc.want)
		}
	}
}

func TestG711Lengths(t *testing.T) {
	src := []int16{1, 2, 3, 4}
	dst := make([]byte, 2)
	if n := EncodeFrame(PCMU, dst, src); n != 2 {
		t.Errorf("EncodeFrame into short dst = %d, want 2", n)
	}
	out := make([]int16, 8)
	if n := DecodeFrame(PCMA, out, []byte{0xD5, 0xD5, 0xD5}); n != 3 {
		t.Errorf("DecodeFrame of 3 bytes = %d, want 3", n)
	}
}

func TestG711Allocs(t *testing.T) {
	pcm := make([]int16, 160)
	enc := make([]byte, 160)
	for _, c := range []Codec{PCMU, PCMA} {
		allocs := testing.AllocsPerRun(100, func() {
			EncodeFrame(c, enc, pcm)
			DecodeFrame(c, pcm, enc)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame", c.Name, allocs)
		}
	}
}
