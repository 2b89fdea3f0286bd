package media

import (
	"bytes"
	"testing"
	"time"
)

// ramp returns n samples that encode to distinct-looking bytes.
func ramp(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16((i%200 - 100) * 300)
	}
	return pcm
}

// drain calls Next with frames of size until the source ends or max calls, and
// returns the bytes, the n of each call and the call that returned ok == false.
func drain(src Source, codec Codec, size, max int) (out []byte, ns []int, end int) {
	dst := make([]byte, size)
	for i := 0; i < max; i++ {
		n, ok := src.Next(codec, dst)
		out = append(out, dst[:n]...)
		ns = append(ns, n)
		if !ok {
			return out, ns, i
		}
	}
	return out, ns, -1
}

func TestClip(t *testing.T) {
	pcm := ramp(800)
	c := NewClip("welcome", pcm)
	if c.Name() != "welcome" {
		t.Errorf("Name = %q", c.Name())
	}
	if d := c.Duration(); d != 100*time.Millisecond {
		t.Errorf("Duration = %v, want 100ms", d)
	}
	for _, codec := range []Codec{PCMU, PCMA} {
		want := make([]byte, len(pcm))
		EncodeFrame(codec, want, pcm)
		if got := c.Payload(codec); !bytes.Equal(got, want) {
			t.Errorf("%s payload differs from EncodeFrame", codec.Name)
		}
	}
	if bytes.Equal(c.Payload(PCMU), c.Payload(PCMA)) {
		t.Error("u-law and A-law payloads are the same")
	}
}

func TestClipSource(t *testing.T) {
	c := NewClip("p", ramp(500)) // 3 frames of 160 and 20 samples
	for _, codec := range []Codec{PCMU, PCMA} {
		out, ns, end := drain(c.Source(), codec, 160, 10)
		if !bytes.Equal(out, c.Payload(codec)) {
			t.Errorf("%s: played audio differs from the clip", codec.Name)
		}
		if want := []int{160, 160, 160, 20}; end != 3 || !equalInts(ns, want) {
			t.Errorf("%s: n per call %v (end at %d), want %v", codec.Name, ns, end, want)
		}
	}
	// A clip of whole frames: the last full frame is ok, the next call ends.
	_, ns, end := drain(NewClip("q", ramp(320)).Source(), PCMU, 160, 10)
	if want := []int{160, 160, 0}; end != 2 || !equalInts(ns, want) {
		t.Errorf("whole frames: %v (end at %d), want %v", ns, end, want)
	}
	// After the end it stays ended.
	src := NewClip("r", ramp(10)).Source()
	dst := make([]byte, 160)
	src.Next(PCMU, dst)
	if n, ok := src.Next(PCMU, dst); n != 0 || ok {
		t.Errorf("after end: %d, %v", n, ok)
	}
	// Sources of one clip are independent.
	a, b := c.Source(), c.Source()
	a.Next(PCMU, dst)
	if b.Next(PCMU, dst); !bytes.Equal(dst, c.Payload(PCMU)[:160]) {
		t.Error("second source did not start at the beginning")
	}
}

func TestClipSourceCodecChange(t *testing.T) {
	c := NewClip("p", ramp(480))
	src := c.Source()
	dst := make([]byte, 160)
	src.Next(PCMU, dst)
	src.Next(PCMA, dst)
	if !bytes.Equal(dst, c.Payload(PCMA)[160:320]) {
		t.Error("after a codec change the position was not kept")
	}
}

func TestClipLoop(t *testing.T) {
	c := NewClip("hold", ramp(300))
	out, _, end := drain(c.Loop(), PCMU, 160, 20)
	if end != -1 {
		t.Fatalf("loop ended at call %d", end)
	}
	want := bytes.Repeat(c.Payload(PCMU), 11)[:20*160]
	if !bytes.Equal(out, want) {
		t.Error("looped audio is not the clip repeated without gaps")
	}
	// A clip shorter than a frame fills whole frames.
	tiny := NewClip("tiny", ramp(7))
	out, _, end = drain(tiny.Loop(), PCMA, 160, 3)
	if end != -1 || !bytes.Equal(out, bytes.Repeat(tiny.Payload(PCMA), 70)[:480]) {
		t.Error("loop of a tiny clip")
	}
	if n, ok := NewClip("empty", nil).Loop().Next(PCMU, make([]byte, 160)); n != 0 || ok {
		t.Errorf("loop of an empty clip: %d, %v; want 0, false", n, ok)
	}
}

func TestSilence(t *testing.T) {
	for _, codec := range []Codec{PCMU, PCMA} {
		out, ns, end := drain(Silence(50*time.Millisecond), codec, 160, 10)
		if want := []int{160, 160, 80}; end != 2 || !equalInts(ns, want) {
			t.Errorf("%s: %v (end at %d), want %v", codec.Name, ns, end, want)
		}
		if !bytes.Equal(out, bytes.Repeat([]byte{SilenceByte(codec)}, 400)) {
			t.Errorf("%s: not silence", codec.Name)
		}
	}
	if n, ok := Silence(0).Next(PCMU, make([]byte, 160)); n != 0 || ok {
		t.Errorf("zero silence: %d, %v", n, ok)
	}
	if n, ok := Silence(-time.Second).Next(PCMU, make([]byte, 160)); n != 0 || ok {
		t.Errorf("negative silence: %d, %v", n, ok)
	}
	if _, _, end := drain(Silence(1000*time.Hour), PCMU, 160, 5); end != -1 {
		t.Error("long silence ended early")
	}
}

func TestSequence(t *testing.T) {
	a, b := NewClip("a", ramp(250)), NewClip("b", ramp(90))
	for _, codec := range []Codec{PCMU, PCMA} {
		src := Sequence(a.Source(), Silence(10*time.Millisecond), b.Source(), NewClip("empty", nil).Source(), a.Source())
		out, ns, end := drain(src, codec, 160, 10)
		var want []byte
		want = append(want, a.Payload(codec)...)
		want = append(want, bytes.Repeat([]byte{SilenceByte(codec)}, 80)...)
		want = append(want, b.Payload(codec)...)
		want = append(want, a.Payload(codec)...)
		if !bytes.Equal(out, want) {
			t.Errorf("%s: sequence is not the parts back to back", codec.Name)
		}
		// 250+80+90+250 = 670 = 4*160 + 30
		if wantNs := []int{160, 160, 160, 160, 30}; end != 4 || !equalInts(ns, wantNs) {
			t.Errorf("%s: %v (end at %d), want %v", codec.Name, ns, end, wantNs)
		}
	}
	if n, ok := Sequence().Next(PCMU, make([]byte, 160)); n != 0 || ok {
		t.Errorf("empty sequence: %d, %v", n, ok)
	}
	// A loop inside a sequence never lets it end; what follows is never reached.
	_, _, end := drain(Sequence(a.Source(), b.Loop(), a.Source()), PCMU, 160, 50)
	if end != -1 {
		t.Errorf("sequence with a loop ended at %d", end)
	}
	// Sequence copies its arguments.
	srcs := []Source{a.Source()}
	seq := Sequence(srcs...)
	srcs[0] = Silence(time.Second)
	dst := make([]byte, 160)
	if seq.Next(PCMU, dst); !bytes.Equal(dst, a.Payload(PCMU)[:160]) {
		t.Error("Sequence kept the caller's slice")
	}
}

func TestSourceAllocs(t *testing.T) {
	c := NewClip("p", ramp(8000))
	dst := make([]byte, 160)
	for name, src := range map[string]Source{
		"clip":     c.Source(),
		"loop":     c.Loop(),
		"silence":  Silence(time.Hour),
		"sequence": Sequence(c.Source(), Silence(time.Second), c.Loop()),
	} {
		allocs := testing.AllocsPerRun(200, func() { src.Next(PCMU, dst) })
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Next", name, allocs)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
