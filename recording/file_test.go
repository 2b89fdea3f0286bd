package recording

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
)

// record makes the same 5 s two-tone recording (deterministic on a fake clock);
// mid, when set, is called at 4.5 s, before Close.
func record(t testing.TB, cfg Config, id string, mid func(r *Recorder)) Result {
	t.Helper()
	clk := newFake()
	cfg.Clock = clk
	r := create(t, cfg, id)
	c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
	a := &source{side: Agent, codec: media.PCMA, ssrc: 2, hz: 440}
	run(r, clk, 225, func(int) { c.send(r); a.send(r) })
	if mid != nil {
		mid(r)
	}
	run(r, clk, 25, func(int) { c.send(r); a.send(r) })
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEncryptedRoundTripAndRange(t *testing.T) {
	plain := record(t, Config{Dir: t.TempDir()}, "x", nil)
	cfg := Config{Dir: t.TempDir(), Key: testKey}
	enc := record(t, cfg, "x", nil)
	want := fileBytes(t, plain.Path)
	stored := fileBytes(t, enc.Path)
	if bytes.Contains(stored, want[headerSize:headerSize+64]) {
		t.Fatal("audio stored in the clear")
	}
	_, _, got := readAll(t, cfg, enc.Path)
	if !bytes.Equal(got, want) {
		t.Fatalf("decrypted %d bytes differ from the plain recording's %d", len(got), len(want))
	}
	f, err := Open(cfg, enc.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		off := rng.Int64N(int64(len(want)) + 10)
		n := rng.IntN(70000)
		whence := rng.IntN(3)
		arg := off
		switch whence {
		case io.SeekCurrent:
			cur, _ := f.Seek(0, io.SeekCurrent)
			arg = off - cur
		case io.SeekEnd:
			arg = off - int64(len(want))
		}
		if p, err := f.Seek(arg, whence); err != nil || p != off {
			t.Fatalf("seek %d/%d: %d %v", arg, whence, p, err)
		}
		buf := make([]byte, n)
		k, err := io.ReadFull(f, buf)
		end := min(off+int64(n), int64(len(want)))
		if off >= int64(len(want)) {
			end = off
		}
		if int64(k) != end-off || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)) {
			t.Fatalf("read %d at %d: %d %v", n, off, k, err)
		}
		if !bytes.Equal(buf[:k], want[off:end]) {
			t.Fatalf("bytes at %d+%d differ", off, n)
		}
	}
	if _, err := f.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative seek accepted")
	}
	// http.ServeContent over the File: a browser's Range request.
	req := httptest.NewRequest("GET", "/a.wav", nil)
	req.Header.Set("Range", "bytes=40000-104999")
	w := httptest.NewRecorder()
	http.ServeContent(w, req, "a.wav", time.Time{}, f)
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), want[40000:105000]) {
		t.Fatalf("range: %d, %d bytes", w.Code, w.Body.Len())
	}
}

func TestKeysAndTampering(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), Key: testKey}
	res := record(t, cfg, "k", nil)
	orig := fileBytes(t, res.Path)
	other := Config{Key: bytes.Repeat([]byte{7}, 32)}
	if _, err := Open(other, res.Path); !errors.Is(err, ErrWrongKey) {
		t.Errorf("other key: %v", err)
	}
	if _, err := Repair(other, res.Path); !errors.Is(err, ErrWrongKey) {
		t.Errorf("repair, other key: %v", err)
	}
	if _, err := Open(Config{}, res.Path); !errors.Is(err, ErrKeyRequired) {
		t.Errorf("no key: %v", err)
	}
	if !bytes.Equal(fileBytes(t, res.Path), orig) {
		t.Fatal("a failed repair changed the file")
	}
	sc := int(chunkPlain + sealOverhead)
	chunkAt := func(k int) int { return dataStart + (k-1)*sc }
	for _, tc := range []struct {
		name     string
		mutate   func(b []byte) []byte
		openErr  bool // Open fails; else reading fails
		readFrom int64
	}{
		{"flipped byte in data chunk 3", func(b []byte) []byte { b[chunkAt(3)+500] ^= 1; return b }, false, 0},
		{"flipped nonce of data chunk 2", func(b []byte) []byte { b[chunkAt(2)+3] ^= 0x80; return b }, false, 0},
		{"chunks 1 and 2 swapped", func(b []byte) []byte {
			c1 := slices.Clone(b[chunkAt(1):chunkAt(2)])
			copy(b[chunkAt(1):], b[chunkAt(2):chunkAt(3)])
			copy(b[chunkAt(2):], c1)
			return b
		}, false, 0},
		{"flipped byte in header chunk", func(b []byte) []byte { b[preambleSize+20] ^= 1; return b }, true, 0},
		{"file id changed", func(b []byte) []byte { b[20] ^= 1; return b }, true, 0},
		{"last chunk cut off a finished file", func(b []byte) []byte { return b[:chunkAt(5)] }, true, 0},
		{"one byte cut off a finished file", func(b []byte) []byte { return b[:len(b)-1] }, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "t.wav.enc")
			if err := os.WriteFile(p, tc.mutate(slices.Clone(orig)), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := Open(cfg, p)
			if tc.openErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open: %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := io.ReadAll(f); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: %v, want ErrCorrupt", err)
			}
		})
	}
}

// Kill-style cuts: a copy of the file taken while it is written, cut at odd
// offsets, then repaired: a valid WAV with the audio up to the cut.
func TestRepairCutFiles(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		name := "plain"
		if key != nil {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), Key: key, Logger: quiet()}
			var snap []byte
			res := record(t, cfg, "r", func(r *Recorder) {
				want := int64(headerSize + 3*32000)
				if key != nil {
					want = dataStart + 4*(chunkPlain+sealOverhead) // 4 whole chunks at 4.5 s
				}
				deadline := time.Now().Add(5 * time.Second)
				for {
					snap = fileBytes(t, r.Path())
					if int64(len(snap)) == want || (key == nil && int64(len(snap)) >= want) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("file %d bytes, want %d", len(snap), want)
					}
					time.Sleep(2 * time.Millisecond)
				}
			})
			wantL, wantR, _ := readAll(t, cfg, res.Path)
			sc := chunkPlain + sealOverhead
			cuts := []int{0, 1, 3, 20, 43, 44, 45, 47, 48, 111, 112, 113, 112 + sc - 1, 112 + sc, 112 + sc + 1, 112 + 2*sc + 5001, len(snap) - 1, len(snap)}
			for _, cut := range cuts {
				if cut > len(snap) {
					continue
				}
				p := filepath.Join(t.TempDir(), filepath.Base(res.Path))
				if err := os.WriteFile(p, snap[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				rep, err := Repair(cfg, p)
				if err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				frames := max(cut-headerSize, 0) / frameBytes
				if key != nil {
					frames = max(cut-dataStart, 0) / sc * sampleRate
				}
				if rep.State != StateRepaired || rep.Duration != time.Duration(frames)*125*time.Microsecond {
					t.Fatalf("cut %d: %+v, want %d frames", cut, rep, frames)
				}
				l, r, _ := readAll(t, cfg, p)
				if len(l) != frames || !slices.Equal(l, wantL[:frames]) || !slices.Equal(r, wantR[:frames]) {
					t.Fatalf("cut %d: %d frames read, want the first %d of the recording", cut, len(l), frames)
				}
				if b := fileBytes(t, p); rep.Size != int64(len(b)) {
					t.Fatalf("cut %d: size %d, file %d", cut, rep.Size, len(b))
				}
				if cut == len(snap)-1 && key == nil {
					soxCheck(t, p, frames)
				}
			}
			// A crash can leave zeros at the end of a file (delayed allocation).
			p := filepath.Join(t.TempDir(), filepath.Base(res.Path))
			if err := os.WriteFile(p, append(slices.Clone(snap), make([]byte, 40000)...), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Repair(cfg, p); err != nil {
				t.Fatal(err)
			}
			l, _, _ := readAll(t, cfg, p)
			if key != nil && len(l) != 4*sampleRate {
				t.Fatalf("zero tail: %d frames", len(l))
			}
			// A finished file repairs to itself.
			rep, err := Repair(cfg, res.Path)
			if err != nil || rep.Duration != res.Duration {
				t.Fatalf("repair of a finished file: %+v %v", rep, err)
			}
		})
	}
}

// soxCheck has an outside tool (sox, Debian package) read a repaired file.
func soxCheck(t *testing.T, path string, frames int) {
	t.Helper()
	soxi, err := exec.LookPath("soxi")
	if err != nil {
		t.Log("soxi not installed (Debian package sox): outside check skipped")
		return
	}
	out, err := exec.Command(soxi, "-s", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(frames) {
		t.Fatalf("soxi -s: %q %v, want %d samples", out, err, frames)
	}
	out, err = exec.Command(soxi, "-c", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "2" {
		t.Fatalf("soxi -c: %q %v", out, err)
	}
}

func TestRepairRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"text.wav":    []byte("hello, not audio at all"),
		"mono.wav":    func() []byte { h := wavHeader(100); h[22] = 1; return append(h[:], make([]byte, 100)...) }(),
		"junk.enc":    []byte("HOTLXXXX"),
		"short.wav":   []byte("RIFX"),
		"enc.wav.enc": []byte("HOTLREC1" + strings.Repeat("\x00", 100)),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Repair(Config{Key: testKey}, p); err == nil {
			t.Errorf("%s: repaired", name)
		}
		if !bytes.Equal(fileBytes(t, p), content) {
			t.Errorf("%s: changed", name)
		}
	}
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	files := map[string]time.Duration{
		"old.wav": 100 * 24 * time.Hour, "old2.wav.enc": 91 * 24 * time.Hour, "new.wav": 10 * 24 * time.Hour,
		"edge.wav": 90 * 24 * time.Hour, "notes.txt": 200 * 24 * time.Hour,
	}
	for name, age := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "folder.wav"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := Sweep(Config{Dir: dir, Logger: quiet()}, now.Add(-90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{filepath.Join(dir, "old.wav"), filepath.Join(dir, "old2.wav.enc")}
	if !slices.Equal(got, want) {
		t.Fatalf("swept %v, want %v", got, want)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 4 {
		t.Fatalf("%d entries left", len(left))
	}
	if got, err := Sweep(Config{Dir: filepath.Join(dir, "missing")}, now); err != nil || got != nil {
		t.Fatalf("missing folder: %v %v", got, err)
	}
}
