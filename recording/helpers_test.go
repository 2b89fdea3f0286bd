package recording

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/media"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

var testKey = bytes.Repeat([]byte{0x42}, 32)

const ptime = 20 * time.Millisecond

// source is one side's RTP sender: a tone, 20 ms packets.
type source struct {
	side  Side
	codec media.Codec
	ssrc  uint32
	ts    uint32
	hz    float64
	n     int // samples generated
	buf   [160]int16
	out   [160]byte
}

// next returns the next packet's timestamp and payload and moves on 20 ms.
func (s *source) next() (uint32, []byte) {
	for i := range s.buf {
		s.buf[i] = int16(8000 * math.Sin(2*math.Pi*s.hz*float64(s.n+i)/sampleRate))
	}
	s.n += len(s.buf)
	media.EncodeFrame(s.codec, s.out[:], s.buf[:])
	ts := s.ts
	s.ts += 160
	return ts, s.out[:]
}

// send writes the next packet to r.
func (s *source) send(r *Recorder) {
	ts, p := s.next()
	r.Write(s.side, s.codec, s.ssrc, ts, p)
}

// run calls each for n 20 ms steps on a fake clock, advancing after each and
// letting r's writer catch up (the fake clock runs far faster than real time).
func run(r *Recorder, clk *clock.Fake, n int, each func(i int)) {
	for i := range n {
		each(i)
		clk.Advance(ptime)
		settle(r)
	}
}

// settle waits (bounded) until r's writer has taken every packet handed off.
func settle(r *Recorder) {
	deadline := time.Now().Add(10 * time.Second)
	for len(r.ch) > 0 {
		if time.Now().After(deadline) {
			panic("recording writer stuck")
		}
		runtime.Gosched()
	}
}

func newFake() *clock.Fake { return clock.NewFake(t0) }

func create(t testing.TB, cfg Config, id string) *Recorder {
	t.Helper()
	r, err := Create(cfg, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll opens a recording and parses it back into its channels.
func readAll(t testing.TB, cfg Config, path string) (left, right []int16, raw []byte) {
	t.Helper()
	f, err := Open(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err = io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != f.Size() {
		t.Fatalf("read %d bytes, Size %d", len(raw), f.Size())
	}
	left, right, err = ReadStereo(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return left, right, raw
}

// window returns the samples of [from, to).
func window(pcm []int16, from, to time.Duration) []int16 {
	a, b := int(from/125/time.Microsecond), int(to/125/time.Microsecond)
	a, b = max(0, min(a, len(pcm))), max(0, min(b, len(pcm)))
	return pcm[a:b]
}

// toneShare is the share of x's energy at hz (Goertzel), 0..~1.
func toneShare(x []int16, hz float64) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * hz / sampleRate
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		s0 := f + c*s1 - s2
		s2, s1 = s1, s0
		energy += f * f
	}
	if energy == 0 {
		return 0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * p / (float64(len(x)) * energy)
}

func rms(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	if len(x) == 0 {
		return 0
	}
	return math.Sqrt(e / float64(len(x)))
}

// span is an expectation on a time window of one channel: hz 0 means silence.
type span struct {
	from, to time.Duration
	hz       float64
}

// checkSpans checks each span, 100 ms per window, trimming 30 ms at each edge.
func checkSpans(t *testing.T, name string, pcm []int16, spans []span) {
	t.Helper()
	for _, s := range spans {
		for a := s.from + 30*time.Millisecond; a+100*time.Millisecond <= s.to-30*time.Millisecond+time.Millisecond; a += 100 * time.Millisecond {
			x := window(pcm, a, a+100*time.Millisecond)
			if s.hz == 0 {
				if r := rms(x); r > 1 {
					t.Errorf("%s at %v: want silence, rms %.0f", name, a, r)
					return
				}
				continue
			}
			if sh := toneShare(x, s.hz); sh < 0.9 || rms(x) < 3000 {
				t.Errorf("%s at %v: want %.0f Hz, share %.2f rms %.0f", name, a, s.hz, sh, rms(x))
				return
			}
		}
	}
}

func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
