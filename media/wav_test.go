package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"
	"time"
)

// chunk is one RIFF chunk for buildWAV; size < 0 means len(data).
type chunk struct {
	id   string
	size int64
	data []byte
}

// buildWAV assembles a RIFF/WAVE file from chunks, padding odd ones.
func buildWAV(chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	b.Write([]byte{0, 0, 0, 0})
	b.WriteString("WAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		size := c.size
		if size < 0 {
			size = int64(len(c.data))
		}
		binary.Write(&b, binary.LittleEndian, uint32(size))
		b.Write(c.data)
		if len(c.data)%2 == 1 && c.size < 0 {
			b.WriteByte(0)
		}
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

// fmtChunk is a plain 16-byte fmt chunk.
func fmtChunk(format, channels, rate, bits int) chunk {
	b := make([]byte, 16)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(format))
	le.PutUint16(b[2:], uint16(channels))
	le.PutUint32(b[4:], uint32(rate))
	le.PutUint32(b[8:], uint32(rate*channels*bits/8))
	le.PutUint16(b[12:], uint16(channels*bits/8))
	le.PutUint16(b[14:], uint16(bits))
	return chunk{id: "fmt ", size: -1, data: b}
}

// extensibleFmt is a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk naming sub.
func extensibleFmt(sub, channels, rate, bits int) chunk {
	c := fmtChunk(wavExtensible, channels, rate, bits)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)
	binary.LittleEndian.PutUint16(ext[2:], uint16(bits))
	binary.LittleEndian.PutUint16(ext[8:], uint16(sub))
	copy(ext[10:], "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71")
	c.data = append(c.data, ext...)
	return c
}

func le16(samples ...int16) []byte {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

func readS16(t *testing.T, name string) []int16 {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

func TestReadWAVFiles(t *testing.T) {
	tests := []struct {
		file    string
		rate    int
		samples int
		want    string // sox's decoding, when there is one
	}{
		{"sine1k-16k.wav", 16000, 4000, ""},
		{"espeak.wav", 22050, 14073, ""},
		{"sine440-ulaw.wav", 8000, 800, "sine440-ulaw.s16"},
		{"sine440-alaw.wav", 8000, 800, "sine440-alaw.s16"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pcm, rate, err := ReadWAV(f)
			if err != nil {
				t.Fatal(err)
			}
			if rate != tt.rate || len(pcm) != tt.samples {
				t.Errorf("rate %d, %d samples; want %d, %d", rate, len(pcm), tt.rate, tt.samples)
			}
			if tt.want != "" {
				want := readS16(t, filepath.Join("testdata", tt.want))
				if !equalPCM(pcm, want) {
					t.Errorf("decoded samples differ from sox's")
				}
			}
		})
	}
}

func equalPCM(a, b []int16) bool {
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

func TestReadWAV(t *testing.T) {
	data := chunk{id: "data", size: -1, data: le16(1, -2, 300, -32768, 32767)}
	tests := []struct {
		name    string
		in      []byte
		want    []int16
		rate    int
		wantErr error
	}{
		{"plain", buildWAV(fmtChunk(1, 1, 8000, 16), data), []int16{1, -2, 300, -32768, 32767}, 8000, nil},
		{"LIST and odd chunk skipped", buildWAV(chunk{"LIST", -1, []byte("INFOISFT\x05\x00\x00\x00sox\x00\x00")}, chunk{"junk", -1, []byte{1, 2, 3}}, fmtChunk(1, 1, 16000, 16), data), []int16{1, -2, 300, -32768, 32767}, 16000, nil},
		{"extensible PCM", buildWAV(extensibleFmt(1, 1, 48000, 16), data), []int16{1, -2, 300, -32768, 32767}, 48000, nil},
		{"u-law", buildWAV(fmtChunk(7, 1, 8000, 8), chunk{"data", -1, []byte{0xFF, 0x80, 0x00}}), []int16{0, 32124, -32124}, 8000, nil},
		{"A-law", buildWAV(fmtChunk(6, 1, 8000, 8), chunk{"data", -1, []byte{0xD5, 0xAA, 0x2A}}), []int16{8, 32256, -32256}, 8000, nil},
		{"truncated data is kept", buildWAV(fmtChunk(1, 1, 8000, 16), chunk{"data", 1000, le16(5, 6, 7)}), []int16{5, 6, 7}, 8000, nil},
		{"odd data byte dropped", buildWAV(fmtChunk(1, 1, 8000, 16), chunk{"data", 3, []byte{9, 0, 1}}), []int16{9}, 8000, nil},
		{"chunks after data ignored", buildWAV(fmtChunk(1, 1, 8000, 16), data, chunk{"LIST", 99999, nil}), []int16{1, -2, 300, -32768, 32767}, 8000, nil},

		{"empty", nil, nil, 0, ErrNotWAV},
		{"not RIFF", []byte("RIFX\x10\x00\x00\x00WAVEfmt "), nil, 0, ErrNotWAV},
		{"not WAVE", []byte("RIFF\x10\x00\x00\x00AVI fmt "), nil, 0, ErrNotWAV},
		{"no data chunk", buildWAV(fmtChunk(1, 1, 8000, 16)), nil, 0, ErrNotWAV},
		{"data before fmt", buildWAV(data, fmtChunk(1, 1, 8000, 16)), nil, 0, ErrNotWAV},
		{"fmt too short", buildWAV(chunk{"fmt ", -1, make([]byte, 14)}, data), nil, 0, ErrNotWAV},
		{"chunk longer than file", buildWAV(chunk{"LIST", 5000, []byte("abcd")}, fmtChunk(1, 1, 8000, 16), data), nil, 0, ErrNotWAV},
		{"stereo", buildWAV(fmtChunk(1, 2, 8000, 16), data), nil, 0, ErrUnsupportedWAV},
		{"8-bit PCM", buildWAV(fmtChunk(1, 1, 8000, 8), data), nil, 0, ErrUnsupportedWAV},
		{"24-bit PCM", buildWAV(fmtChunk(1, 1, 8000, 24), data), nil, 0, ErrUnsupportedWAV},
		{"float", buildWAV(fmtChunk(3, 1, 8000, 32), data), nil, 0, ErrUnsupportedWAV},
		{"16-bit u-law", buildWAV(fmtChunk(7, 1, 8000, 16), data), nil, 0, ErrUnsupportedWAV},
		{"extensible float", buildWAV(extensibleFmt(3, 1, 8000, 32), data), nil, 0, ErrUnsupportedWAV},
		{"zero rate", buildWAV(fmtChunk(1, 1, 0, 16), data), nil, 0, ErrUnsupportedWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, rate, err := ReadWAV(bytes.NewReader(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rate != tt.rate || !equalPCM(pcm, tt.want) {
				t.Errorf("got %v at %d Hz, want %v at %d Hz", pcm, rate, tt.want, tt.rate)
			}
		})
	}
}

// TestReadWAVHugeDeclaredSize checks that sizes in the header do not decide how
// much memory is allocated: a 4 GiB data chunk holding 10 bytes.
func TestReadWAVHugeDeclaredSize(t *testing.T) {
	for _, in := range [][]byte{
		buildWAV(fmtChunk(1, 1, 8000, 16), chunk{"data", 0xFFFFFFF0, make([]byte, 10)}),
		buildWAV(chunk{"LIST", 0xFFFFFFF0, make([]byte, 10)}),
		buildWAV(chunk{"fmt ", 0xFFFFFFF0, make([]byte, 30)}),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _ = ReadWAV(bytes.NewReader(in))
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("allocated %d bytes for a %d-byte input", n, len(in))
		}
	}
}

// rms returns the root mean square of pcm, skipping edge samples.
func rms(pcm []int16, edge int) float64 {
	var s float64
	pcm = pcm[edge : len(pcm)-edge]
	for _, x := range pcm {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s / float64(len(pcm)))
}

func TestResample(t *testing.T) {
	load := func(name string) []int16 {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		pcm, _, err := ReadWAV(f)
		if err != nil {
			t.Fatal(err)
		}
		return pcm
	}
	in := load("sine1k-16k.wav")
	out := Resample(in, 16000, 8000)
	if len(out) != len(in)/2 {
		t.Fatalf("16k->8k: %d samples from %d", len(out), len(in))
	}
	if r := rms(out, 50) / rms(in, 100); r < 0.95 || r > 1.05 {
		t.Errorf("1 kHz tone level changed by %.2f after 16k->8k", r)
	}
	// 5 kHz cannot exist at 8 kHz: without the low-pass it would alias to 3 kHz
	// at full level.
	hi := load("sine5k-16k.wav")
	if r := rms(Resample(hi, 16000, 8000), 50) / rms(hi, 100); r > 0.05 {
		t.Errorf("5 kHz tone leaks through 16k->8k at %.3f of its level", r)
	}
	// Speech band kept, what would alias removed, for common rates.
	for _, rate := range []int{16000, 22050, 44100, 48000} {
		for _, tc := range []struct {
			hz       float64
			min, max float64
		}{{300, 0.95, 1.05}, {3000, 0.85, 1.05}, {4600, 0, 0.1}, {6000, 0, 0.02}} {
			n := rate / 4
			x := make([]int16, n)
			for i := range x {
				x[i] = int16(10000 * math.Sin(2*math.Pi*tc.hz*float64(i)/float64(rate)))
			}
			y := Resample(x, rate, 8000)
			if r := rms(y, 100) / rms(x, 100); r < tc.min || r > tc.max {
				t.Errorf("%d->8000 Hz: %v Hz tone level %.3f, want %.2f-%.2f", rate, tc.hz, r, tc.min, tc.max)
			}
		}
	}
	// A tone survives a round trip through other rates.
	for _, rate := range []int{11025, 22050, 44100, 48000} {
		up := Resample(out, 8000, rate)
		if want := len(out) * rate / 8000; len(up) != want {
			t.Errorf("8k->%d: %d samples, want %d", rate, len(up), want)
		}
		back := Resample(up, rate, 8000)
		if r := rms(back, 50) / rms(out, 50); r < 0.9 || r > 1.1 {
			t.Errorf("8k->%d->8k: level changed by %.2f", rate, r)
		}
	}
	// A DTMF tone resampled from 16 kHz is still detected.
	dtmf16 := Resample(joinPCM(GenerateDTMF('7', 100*time.Millisecond, 0.25), silenceOf(100*time.Millisecond)), 8000, 16000)
	if got := detect(t, Resample(dtmf16, 16000, 8000), 160); got != "7" {
		t.Errorf("DTMF through 8k->16k->8k: detected %q", got)
	}
	if got := Resample(in, 8000, 8000); &got[0] != &in[0] {
		t.Error("same rate did not return the input")
	}
	if got := Resample(in, 0, 8000); got != nil {
		t.Error("rate 0 did not give nil")
	}
	if got := Resample(nil, 16000, 8000); len(got) != 0 {
		t.Error("empty input gave samples")
	}
}

func TestLoadAudio(t *testing.T) {
	ul := readS16(t, "testdata/sine440-ulaw.s16")
	al := readS16(t, "testdata/sine440-alaw.s16")
	disk := os.DirFS("testdata")
	tests := []struct {
		file    string
		samples int
		want    []int16
	}{
		{"sine440-ulaw.wav", 800, ul},
		{"sine440.ul", 800, ul},
		{"sine440.al", 800, al},
		{"sine1k-16k.wav", 2000, nil},
		{"espeak.wav", 14073 * 8000 / 22050, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, err := LoadAudio(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := LoadAudioFS(disk, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != tt.samples || !equalPCM(a, b) {
				t.Errorf("LoadAudio: %d samples, LoadAudioFS: %d; want %d, equal", len(a), len(b), tt.samples)
			}
			if tt.want != nil && !equalPCM(a, tt.want) {
				t.Error("samples differ from sox's decoding")
			}
		})
	}
	raw, _ := os.ReadFile("testdata/sine440.ul")
	mem := fstest.MapFS{
		"p/UPPER.ULAW": {Data: raw},
		"p/x.pcmu":     {Data: raw},
		"p/x.PCMA":     {Data: []byte{0xD5, 0xD5}},
		"p/x.alaw":     {Data: []byte{0xD5}},
		"p/x.mp3":      {Data: raw},
		"p/bad.wav":    {Data: raw},
	}
	for name, want := range map[string]int{"p/UPPER.ULAW": 800, "p/x.pcmu": 800, "p/x.PCMA": 2, "p/x.alaw": 1} {
		if pcm, err := LoadAudioFS(mem, name); err != nil || len(pcm) != want {
			t.Errorf("LoadAudioFS(%s) = %d samples, %v; want %d", name, len(pcm), err, want)
		}
	}
	for name, want := range map[string]error{"p/x.mp3": ErrUnknownAudioFile, "p/bad.wav": ErrNotWAV, "p/missing.wav": fs.ErrNotExist} {
		if _, err := LoadAudioFS(mem, name); !errors.Is(err, want) {
			t.Errorf("LoadAudioFS(%s) err = %v, want %v", name, err, want)
		}
	}
	if _, err := LoadAudio("testdata/missing.wav"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadAudio(missing) err = %v", err)
	}
}

func TestWAVWriter(t *testing.T) {
	// Writing sox's samples back must give sox's file, byte for byte.
	want, err := os.ReadFile("testdata/sine1k-16k.wav")
	if err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := ReadWAV(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "out.wav")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWAVWriter(f, rate, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(pcm); i += 320 {
		if err := w.Write(pcm[i:min(i+320, len(pcm))]); err != nil {
			t.Fatal(err)
		}
	}
	if d := w.Duration(); d != 250*time.Millisecond {
		t.Errorf("Duration = %v, want 250ms", d)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Write(pcm[:1]); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	// Close leaves the file open and at the end.
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != int64(len(want)) {
		t.Errorf("offset after Close = %d, %v; want %d", off, err, len(want))
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("written file differs from sox's (%d vs %d bytes); header % x, want % x", len(got), len(want), got[:min(44, len(got))], want[:44])
	}
}

func TestWAVWriterStereoAndCrash(t *testing.T) {
	name := filepath.Join(t.TempDir(), "stereo.wav")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWAVWriter(f, 8000, 2)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 320) // 20 ms of two channels
	for i := range frame {
		frame[i] = int16(i)
	}
	for i := 0; i < 50; i++ {
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if d := w.Duration(); d != time.Second {
		t.Errorf("Duration = %v, want 1s", d)
	}
	// Before Close (a crash) the header holds placeholders: the data is still
	// all there to read. ReadWAV reads mono only, so check the header by hand.
	b, _ := os.ReadFile(name)
	if len(b) != 44+50*640 || string(b[36:40]) != "data" || binary.LittleEndian.Uint32(b[40:]) < uint32(50*640) {
		t.Errorf("unclosed file: %d bytes, data size %d", len(b), binary.LittleEndian.Uint32(b[40:]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(name)
	le := binary.LittleEndian
	if le.Uint16(b[22:]) != 2 || le.Uint32(b[28:]) != 32000 || le.Uint16(b[32:]) != 4 || le.Uint32(b[40:]) != 32000 || le.Uint32(b[4:]) != 32036 {
		t.Errorf("stereo header % x", b[:44])
	}
}

func TestWAVWriterCrashReadable(t *testing.T) {
	var ws writeSeeker
	w, err := NewWAVWriter(&ws, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]int16{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := ReadWAV(bytes.NewReader(ws.buf))
	if err != nil || rate != 8000 || !equalPCM(pcm, []int16{1, 2, 3}) {
		t.Errorf("unclosed recording reads as %v at %d, %v", pcm, rate, err)
	}
}

func TestWAVWriterErrors(t *testing.T) {
	var ws writeSeeker
	for _, tc := range []struct{ rate, channels int }{{8000, 0}, {8000, 3}, {0, 1}, {-1, 1}} {
		if _, err := NewWAVWriter(&ws, tc.rate, tc.channels); !errors.Is(err, ErrUnsupportedWAV) {
			t.Errorf("NewWAVWriter(%d, %d) err = %v", tc.rate, tc.channels, err)
		}
	}
	boom := errors.New("disk full")
	if _, err := NewWAVWriter(failWriter{boom}, 8000, 1); !errors.Is(err, boom) {
		t.Errorf("header write error lost: %v", err)
	}
}

func TestWAVWriterAllocs(t *testing.T) {
	var ws writeSeeker
	w, err := NewWAVWriter(&ws, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 160)
	if err := w.Write(frame); err != nil {
		t.Fatal(err)
	}
	ws.buf = make([]byte, 0, 1<<20) // room for all the writes below
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.Write(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Write allocates %v per frame", allocs)
	}
}

// writeSeeker is an in-memory io.WriteSeeker.
type writeSeeker struct {
	buf []byte
	off int
}

func (w *writeSeeker) Write(p []byte) (int, error) {
	if need := w.off + len(p); need > cap(w.buf) {
		w.buf = append(w.buf[:cap(w.buf)], make([]byte, need-cap(w.buf))...)
	} else if need > len(w.buf) {
		w.buf = w.buf[:need]
	}
	copy(w.buf[w.off:], p)
	w.off += len(p)
	return len(p), nil
}

func (w *writeSeeker) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		w.off = int(off)
	case io.SeekCurrent:
		w.off += int(off)
	case io.SeekEnd:
		w.off = len(w.buf) + int(off)
	}
	return int64(w.off), nil
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error)      { return 0, f.err }
func (f failWriter) Seek(int64, int) (int64, error) { return 0, f.err }

func FuzzReadWAV(f *testing.F) {
	for _, name := range []string{"sine440-ulaw.wav", "sine440-alaw.wav"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	data := chunk{id: "data", size: -1, data: le16(1, 2, 3)}
	f.Add(buildWAV(fmtChunk(1, 1, 16000, 16), data))
	f.Add(buildWAV(chunk{"LIST", -1, []byte("INFO")}, extensibleFmt(7, 1, 8000, 8), data))
	f.Add(buildWAV(fmtChunk(1, 1, 8000, 16), chunk{"data", 0xFFFFFFFF, le16(1)}))
	f.Add(buildWAV(chunk{"fmt ", 0x7FFFFFFF, make([]byte, 16)}))
	f.Fuzz(func(t *testing.T, in []byte) {
		pcm, rate, err := ReadWAV(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrNotWAV) && !errors.Is(err, ErrUnsupportedWAV) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if rate <= 0 {
			t.Fatalf("rate %d without error", rate)
		}
		if len(pcm) > len(in) {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(in))
		}
	})
}
