package media

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
)

// silenceOf returns d of digital silence at 8 kHz.
func silenceOf(d time.Duration) []int16 { return make([]int16, d/(time.Second/sampleRate)) }

// joinPCM concatenates pieces of audio.
func joinPCM(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// detect feeds pcm to a new detector in chunks of size chunk and returns the keys.
func detect(t *testing.T, pcm []int16, chunk int) string {
	t.Helper()
	d := NewInbandDetector()
	var keys []byte
	for len(pcm) > 0 {
		n := min(chunk, len(pcm))
		d.Feed(pcm[:n], func(dg Digit) {
			if dg.Via != event.ViaInband {
				t.Errorf("Via = %q, want %q", dg.Via, event.ViaInband)
			}
			keys = append(keys, dg.Key)
		})
		pcm = pcm[n:]
	}
	return string(keys)
}

// noise returns base plus Gaussian noise of standard deviation sigma.
func noise(n int, sigma float64, seed uint64, base []int16) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]int16, n)
	for i := range out {
		v := rng.NormFloat64() * sigma
		if base != nil {
			v += float64(base[i])
		}
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// synth returns d of audio whose value at time t (seconds) is f(t) times full scale.
func synth(d time.Duration, f func(t float64) float64) []int16 {
	out := silenceOf(d)
	for i := range out {
		out[i] = int16(max(-32768, min(32767, math.Round(32767*f(float64(i)/sampleRate)))))
	}
	return out
}

const allKeys = "0123456789*#ABCD"

func TestInbandEveryKey(t *testing.T) {
	for _, k := range []byte(allKeys) {
		pcm := joinPCM(silenceOf(30*time.Millisecond), GenerateDTMF(k, 80*time.Millisecond, 0.25), silenceOf(100*time.Millisecond))
		if got := detect(t, pcm, 160); got != string(k) {
			t.Errorf("key %q: detected %q", k, got)
		}
	}
}

func TestInbandSequences(t *testing.T) {
	ms := time.Millisecond
	tone := func(k byte, d time.Duration) []int16 { return GenerateDTMF(k, d, 0.25) }
	tests := []struct {
		name string
		pcm  []int16
		want string
	}{
		{"same key after 60 ms silence", joinPCM(tone('5', 80*ms), silenceOf(60*ms), tone('5', 80*ms), silenceOf(60*ms)), "55"},
		{"short dropout in a long press", joinPCM(tone('5', 200*ms), silenceOf(10*ms), tone('5', 200*ms), silenceOf(60*ms)), "5"},
		{"long press reported once", joinPCM(tone('9', 2*time.Second), silenceOf(60*ms)), "9"},
		{"different keys without a gap", joinPCM(tone('1', 80*ms), tone('2', 80*ms), tone('#', 80*ms)), "12#"},
		{"dialled number", joinPCM(
			tone('1', 70*ms), silenceOf(60*ms), tone('2', 70*ms), silenceOf(60*ms), tone('3', 70*ms), silenceOf(60*ms),
			tone('4', 70*ms), silenceOf(60*ms), tone('5', 70*ms), silenceOf(60*ms)), "12345"},
		{"too short: 20 ms", joinPCM(silenceOf(40*ms), tone('7', 20*ms), silenceOf(60*ms)), ""},
		{"too weak", joinPCM(GenerateDTMF('3', 200*ms, 0.002), silenceOf(60*ms)), ""},
		{"quiet but valid (-30 dBFS)", joinPCM(GenerateDTMF('3', 200*ms, 0.03), silenceOf(60*ms)), "3"},
		{"twist 6 dB accepted", joinPCM(twisted('8', 100*ms, 0.3, 0.15), silenceOf(60*ms)), "8"},
		{"twist 12 dB rejected", joinPCM(twisted('8', 100*ms, 0.3, 0.075), silenceOf(60*ms)), ""},
		{"reverse twist 6 dB rejected", joinPCM(twisted('8', 100*ms, 0.15, 0.3), silenceOf(60*ms)), ""},
		{"frequency 1.5% off", joinPCM(synth(100*ms, func(t float64) float64 {
			return 0.25*math.Sin(2*math.Pi*697*1.015*t) + 0.25*math.Sin(2*math.Pi*1209*0.985*t)
		}), silenceOf(60*ms)), "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect(t, tt.pcm, 160); got != tt.want {
				t.Errorf("detected %q, want %q", got, tt.want)
			}
		})
	}
}

// twisted is the dual tone of key with separate row and column amplitudes.
func twisted(key byte, d time.Duration, row, col float64) []int16 {
	k := 0
	for i, x := range inbandKeys {
		if x == key {
			k = i
		}
	}
	return synth(d, func(t float64) float64 {
		return row*math.Sin(2*math.Pi*dtmfRows[k/4]*t) + col*math.Sin(2*math.Pi*dtmfCols[k%4]*t)
	})
}

// TestInbandDurationLimits moves tones across the block grid: 50 ms tones are
// always found once, 20 ms tones never.
func TestInbandDurationLimits(t *testing.T) {
	for lead := 0; lead < inbandBlock; lead += 3 {
		for _, tc := range []struct {
			d    time.Duration
			want string
		}{{50 * time.Millisecond, "6"}, {20 * time.Millisecond, ""}} {
			pcm := joinPCM(make([]int16, lead), GenerateDTMF('6', tc.d, 0.25), silenceOf(60*time.Millisecond))
			if got := detect(t, pcm, 160); got != tc.want {
				t.Errorf("%v tone after %d samples: detected %q, want %q", tc.d, lead, got, tc.want)
			}
		}
	}
}

func TestInbandNoise(t *testing.T) {
	for i, k := range []byte(allKeys) {
		pcm := joinPCM(silenceOf(20*time.Millisecond), GenerateDTMF(k, 80*time.Millisecond, 0.25), silenceOf(60*time.Millisecond))
		// Two tones of amplitude a have power a^2; the noise is 15 dB below.
		a := 0.25 * 32767
		noisy := noise(len(pcm), math.Sqrt(a*a/math.Pow(10, 1.5)), uint64(i), pcm)
		if got := detect(t, noisy, 160); got != string(k) {
			t.Errorf("key %q at 15 dB SNR: detected %q", k, got)
		}
	}
}

func TestInbandNoFalseDigits(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name string
		pcm  []int16
	}{
		{"white noise", noise(5*sampleRate, 3000, 7, nil)},
		{"loud white noise", noise(5*sampleRate, 12000, 8, nil)},
		{"440 Hz", synth(2*sec, func(t float64) float64 { return 0.5 * math.Sin(2*math.Pi*440*t) })},
		{"dial tone 350+440 Hz", synth(2*sec, func(t float64) float64 {
			return 0.3*math.Sin(2*math.Pi*350*t) + 0.3*math.Sin(2*math.Pi*440*t)
		})},
		{"sweep 200-3500 Hz", synth(3*sec, func(t float64) float64 {
			// instantaneous frequency 200 + 1100 t Hz
			return 0.5 * math.Sin(2*math.Pi*(200*t+550*t*t))
		})},
		{"voice-like harmonics", voiceLike(4*sec, 120)},
		{"higher voice-like harmonics", voiceLike(4*sec, 210)},
		{"dual tone under a louder third tone", synth(sec, func(t float64) float64 {
			return 0.2*math.Sin(2*math.Pi*697*t) + 0.2*math.Sin(2*math.Pi*1209*t) + 0.35*math.Sin(2*math.Pi*2000*t)
		})},
	}
	// Voices from low to high pitch: harmonics near a row and a column tone
	// must not add up to a digit.
	for f0 := 90.0; f0 <= 340; f0 += 10 {
		tests = append(tests, struct {
			name string
			pcm  []int16
		}{fmt.Sprintf("voice at %v Hz", f0), voiceLike(sec, f0)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect(t, tt.pcm, 160); got != "" {
				t.Errorf("detected %q in %s", got, tt.name)
			}
		})
	}
}

// voiceLike is a vowel-ish sound: a gliding fundamental around f0 with harmonics
// up to 3.4 kHz shaped by two formants that move, as in speech.
func voiceLike(d time.Duration, f0 float64) []int16 {
	phase := 0.0
	return synth(d, func(t float64) float64 {
		f := f0 * (1 + 0.15*math.Sin(2*math.Pi*1.3*t) + 0.03*math.Sin(2*math.Pi*5*t))
		phase += 2 * math.Pi * f / sampleRate
		f1 := 700 + 200*math.Sin(2*math.Pi*0.7*t)  // first formant
		f2 := 1300 + 400*math.Sin(2*math.Pi*0.4*t) // second formant
		var v float64
		for h := 1; float64(h)*f < 3400; h++ {
			fh := float64(h) * f
			g := 1/(1+math.Pow((fh-f1)/150, 2)) + 0.7/(1+math.Pow((fh-f2)/200, 2)) + 0.05
			v += g * math.Sin(float64(h)*phase)
		}
		return 0.1 * v
	})
}

func TestInbandChunks(t *testing.T) {
	pcm := joinPCM(
		GenerateDTMF('1', 80*time.Millisecond, 0.25), silenceOf(60*time.Millisecond),
		GenerateDTMF('#', 90*time.Millisecond, 0.25), silenceOf(60*time.Millisecond),
		GenerateDTMF('1', 70*time.Millisecond, 0.25), silenceOf(60*time.Millisecond),
		GenerateDTMF('D', 100*time.Millisecond, 0.25), silenceOf(60*time.Millisecond),
	)
	for _, chunk := range []int{1, 7, 33, 106, 107, 108, 160, 161, 1000, len(pcm)} {
		if got := detect(t, pcm, chunk); got != "1#1D" {
			t.Errorf("chunks of %d: detected %q, want %q", chunk, got, "1#1D")
		}
	}
}

func TestInbandG711RoundTrip(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		for _, k := range []byte(allKeys) {
			pcm := joinPCM(GenerateDTMF(k, 80*time.Millisecond, 0.1), silenceOf(60*time.Millisecond))
			enc := make([]byte, len(pcm))
			EncodeFrame(c, enc, pcm)
			DecodeFrame(c, pcm, enc)
			if got := detect(t, pcm, 160); got != string(k) {
				t.Errorf("%s key %q: detected %q", c.Name, k, got)
			}
		}
	}
}

func TestGenerateDTMF(t *testing.T) {
	if got := GenerateDTMF('x', time.Second, 0.5); got != nil {
		t.Errorf("unknown key gave %d samples", len(got))
	}
	pcm := GenerateDTMF('a', 100*time.Millisecond, 0.5)
	if len(pcm) != 800 {
		t.Fatalf("len = %d, want 800", len(pcm))
	}
	peak := 0
	for _, x := range pcm {
		peak = max(peak, int(x), -int(x))
	}
	if peak < 30000 || peak > 32767 {
		t.Errorf("peak = %d, want about full scale", peak)
	}
	if got := detect(t, joinPCM(pcm, silenceOf(60*time.Millisecond)), 160); got != "A" {
		t.Errorf("'a' detected as %q", got)
	}
}

func TestInbandAllocs(t *testing.T) {
	d := NewInbandDetector()
	pcm := joinPCM(GenerateDTMF('5', 80*time.Millisecond, 0.25), silenceOf(80*time.Millisecond))
	n := 0
	emit := func(Digit) { n++ }
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		d.Feed(pcm[i:i+160], emit)
		i = (i + 160) % len(pcm)
	})
	if allocs != 0 {
		t.Errorf("Feed allocates %v per frame", allocs)
	}
	if n == 0 {
		t.Error("no digit emitted while measuring")
	}
}
