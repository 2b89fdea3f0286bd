package media

// In-band DTMF detection, for trunks that send the key tones as audio instead of
// RFC 4733 events. The signalling is ITU-T Q.23 (the 4x4 frequency grid) and the
// receiver follows the spirit of ITU-T Q.24 (level, twist and duration limits).
// Each block of audio is analysed at the eight DTMF frequencies with the Goertzel
// algorithm (G. Goertzel, "An algorithm for the evaluation of finite
// trigonometric series", 1958), which costs a few multiplications per sample per
// frequency.

import (
	"math"
	"time"

	"github.com/hotline12345/hotline/event"
)

// Detector parameters. A block of 107 samples (13.4 ms) resolves frequencies
// ~75 Hz apart, enough to tell the rows (73-89 Hz apart) from each other; three
// blocks in a row make the 40 ms a key must be held (Q.24 accepts tones of 40 ms
// or more), and three blocks without the key release it.
const (
	inbandBlock   = 107  // samples per analysis block at 8 kHz
	stableBlocks  = 3    // blocks of the same key before it is reported (40.1 ms)
	releaseBlocks = 3    // blocks without the key before it may be reported again
	minAmplitude  = 150  // weakest accepted tone, peak (-47 dBFS, about -44 dBm0)
	normalTwist   = 6.31 // row may be up to 8 dB stronger than column
	reverseTwist  = 2.51 // column may be up to 4 dB stronger than row
	relativePeak  = 6.31 // the chosen row (column) is 8 dB above the other rows (columns)
	minFraction   = 0.7  // the two tones carry 70% of the block's energy (speech rarely does)
)

var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	// inbandKeys is the Q.23 keypad, row by row.
	inbandKeys = [16]byte{'1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'}
	// goertzelCoeff holds 2cos(2*pi*f/8000) for the rows then the columns.
	goertzelCoeff = func() (c [8]float64) {
		for i, f := range append(dtmfRows[:], dtmfCols[:]...) {
			c[i] = 2 * math.Cos(2*math.Pi*f/sampleRate)
		}
		return c
	}()
	// minPower is the Goertzel power of a tone of minAmplitude over a whole block.
	minPower = math.Pow(inbandBlock*minAmplitude/2, 2)
)

// InbandDetector finds DTMF key presses in 8 kHz 16-bit linear audio. Each press
// is reported once, after it has lasted 40 ms; the same key is reported again only
// after 40 ms without it. Tones of 50 ms or more are always detected (of 40 ms,
// about half, depending on how they fall on the blocks), tones of 20 ms never. It
// is not safe for concurrent use: one RTP reader owns it.
type InbandDetector struct {
	s1, s2 [8]float64 // Goertzel state per frequency
	energy float64    // sum of squares of the block so far
	n      int        // samples in the block so far

	cur     byte // key found in the last block (0: none)
	count   int  // consecutive blocks that found cur
	latched byte // key reported and not yet released (0: none)
	gap     int  // consecutive blocks without the latched key
}

// NewInbandDetector returns a detector ready for audio.
func NewInbandDetector() *InbandDetector { return &InbandDetector{} }

// Feed analyses pcm (any length; typically one 20 ms frame) and calls emit for
// each key press completed in it (emit must not be nil), with Via set to
// event.ViaInband. It allocates nothing.
func (d *InbandDetector) Feed(pcm []int16, emit func(Digit)) {
	for _, s := range pcm {
		x := float64(s)
		d.energy += x * x
		for i, c := range goertzelCoeff {
			v := x + c*d.s1[i] - d.s2[i]
			d.s2[i], d.s1[i] = d.s1[i], v
		}
		d.n++
		if d.n < inbandBlock {
			continue
		}
		key := d.classify()
		d.s1, d.s2, d.energy, d.n = [8]float64{}, [8]float64{}, 0, 0
		if d.step(key) {
			emit(Digit{Key: key, Via: event.ViaInband})
		}
	}
}

// step records the key of one block and reports whether it is a new press.
func (d *InbandDetector) step(key byte) bool {
	if key == d.cur {
		d.count++
	} else {
		d.cur, d.count = key, 1
	}
	if d.latched != 0 {
		if key == d.latched {
			d.gap = 0
		} else if d.gap++; d.gap >= releaseBlocks {
			d.latched = 0
		}
	}
	if key != 0 && key != d.latched && d.count >= stableBlocks {
		d.latched, d.gap = key, 0
		return true
	}
	return false
}

// classify returns the key whose two tones dominate the finished block, or 0.
func (d *InbandDetector) classify() byte {
	var p [8]float64
	for i, c := range goertzelCoeff {
		p[i] = d.s1[i]*d.s1[i] + d.s2[i]*d.s2[i] - c*d.s1[i]*d.s2[i]
	}
	r, c := strongest(p[:4]), strongest(p[4:])
	pr, pc := p[r], p[4+c]
	switch {
	case pr < minPower || pc < minPower:
		return 0
	case pr > pc*normalTwist || pc > pr*reverseTwist:
		return 0
	case (pr+pc)*2 < minFraction*inbandBlock*d.energy:
		return 0 // much of the energy is elsewhere: speech, music or noise
	}
	for i := 0; i < 4; i++ {
		if (i != r && p[i]*relativePeak > pr) || (i != c && p[4+i]*relativePeak > pc) {
			return 0
		}
	}
	return inbandKeys[4*r+c]
}

// strongest returns the index of the largest of p.
func strongest(p []float64) int {
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}

// GenerateDTMF returns the dual tone of key ('0'-'9', '*', '#', 'A'-'D') lasting
// d at 8 kHz, each of its two tones with a peak of amplitude times full scale
// (0.5 or less cannot clip). It returns nil for an unknown key.
func GenerateDTMF(key byte, d time.Duration, amplitude float64) []int16 {
	if 'a' <= key && key <= 'd' {
		key -= 'a' - 'A'
	}
	k := -1
	for i, x := range inbandKeys {
		if x == key {
			k = i
		}
	}
	if k < 0 {
		return nil
	}
	fr, fc := dtmfRows[k/4], dtmfCols[k%4]
	out := make([]int16, max(0, int(d/(time.Second/sampleRate))))
	for i := range out {
		t := float64(i) / sampleRate
		v := amplitude * 32767 * (math.Sin(2*math.Pi*fr*t) + math.Sin(2*math.Pi*fc*t))
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}
