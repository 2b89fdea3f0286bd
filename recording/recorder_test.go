package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
)

const sec = time.Second

func TestTonesLandOnTheirChannels(t *testing.T) {
	for _, tc := range []struct {
		name          string
		key           []byte
		caller, agent media.Codec
	}{
		{"plain PCMU", nil, media.PCMU, media.PCMU},
		{"plain mixed codecs", nil, media.PCMA, media.PCMU},
		{"encrypted PCMA", testKey, media.PCMA, media.PCMA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFake()
			cfg := Config{Dir: t.TempDir(), Key: tc.key, Clock: clk}
			r := create(t, cfg, "call-1")
			caller := &source{side: Caller, codec: tc.caller, ssrc: 1, ts: 1000, hz: 1000}
			agent := &source{side: Agent, codec: tc.agent, ssrc: 2, ts: 4294967000, hz: 440} // wraps
			run(r, clk, 250, func(i int) {
				if i < 150 { // caller 0-3 s
					caller.send(r)
				}
				if i >= 50 && i < 200 { // agent 1-4 s
					agent.send(r)
				}
			})
			clk.Advance(10 * time.Millisecond)
			res, err := r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.State != StateComplete || res.Duration != 5010*time.Millisecond || res.Dropped != 0 {
				t.Fatalf("result %+v", res)
			}
			left, right, _ := readAll(t, cfg, res.Path)
			if len(left) != 5010*8 {
				t.Fatalf("%d frames, want %d", len(left), 5010*8)
			}
			checkSpans(t, "caller", left, []span{{0, 3 * sec, 1000}, {3 * sec, 5 * sec, 0}})
			checkSpans(t, "agent", right, []span{{0, 1 * sec, 0}, {1 * sec, 4 * sec, 440}, {4 * sec, 5 * sec, 0}})
			// Edges at the right sample: the caller's first and the agent's first.
			if left[0] != 0 && left[1] == 0 || rms(window(left, 0, 20*time.Millisecond)) < 3000 {
				t.Error("caller audio does not start at 0")
			}
			if rms(window(right, 980*time.Millisecond, 1000*time.Millisecond)) != 0 || rms(window(right, 1000*time.Millisecond, 1020*time.Millisecond)) < 3000 {
				t.Error("agent audio does not start at 1 s")
			}
		})
	}
}

func TestGapsHoldAndTransfer(t *testing.T) {
	type step func(r *Recorder, i int)
	tone := func(s *source, skip func(i int) bool) step {
		return func(r *Recorder, i int) {
			if skip(i) {
				s.next() // the sender's clock goes on
				return
			}
			s.send(r)
		}
	}
	gap := func(i int) bool { return i >= 50 && i < 150 } // 1-3 s
	for _, tc := range []struct {
		name        string
		steps       func() step
		left, right []span
	}{
		{"lost packets 2 s (caller)", func() step {
			return tone(&source{side: Caller, codec: media.PCMU, ssrc: 7, hz: 1000}, gap)
		}, []span{{0, 1 * sec, 1000}, {1 * sec, 3 * sec, 0}, {3 * sec, 5 * sec, 1000}}, []span{{0, 5 * sec, 0}}},
		{"hold, timestamps go on (agent)", func() step {
			return tone(&source{side: Agent, codec: media.PCMU, ssrc: 8, hz: 440}, gap)
		}, []span{{0, 5 * sec, 0}}, []span{{0, 1 * sec, 440}, {1 * sec, 3 * sec, 0}, {3 * sec, 5 * sec, 440}}},
		{"hold, timestamps frozen (agent)", func() step {
			s := &source{side: Agent, codec: media.PCMU, ssrc: 8, hz: 440}
			return func(r *Recorder, i int) {
				if !gap(i) {
					s.send(r)
				}
			}
		}, []span{{0, 5 * sec, 0}}, []span{{0, 1 * sec, 440}, {1 * sec, 3 * sec, 0}, {3 * sec, 5 * sec, 440}}},
		{"hold, timestamps jump (caller)", func() step {
			s := &source{side: Caller, codec: media.PCMA, ssrc: 9, hz: 1000}
			return func(r *Recorder, i int) {
				if i == 150 {
					s.ts += 1 << 30
				}
				if !gap(i) {
					s.send(r)
				}
			}
		}, []span{{0, 1 * sec, 1000}, {1 * sec, 3 * sec, 0}, {3 * sec, 5 * sec, 1000}}, []span{{0, 5 * sec, 0}}},
		{"transfer: a new SSRC on the agent side", func() step {
			a := &source{side: Agent, codec: media.PCMU, ssrc: 100, ts: 5, hz: 440}
			b := &source{side: Agent, codec: media.PCMA, ssrc: 200, ts: 123456789, hz: 660}
			c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
			return func(r *Recorder, i int) {
				c.send(r)
				switch {
				case i < 100:
					a.send(r)
				case i >= 125:
					b.send(r)
				}
			}
		}, []span{{0, 5 * sec, 1000}}, []span{{0, 2 * sec, 440}, {2 * sec, 2500 * time.Millisecond, 0}, {2500 * time.Millisecond, 5 * sec, 660}}},
		{"reordered packets within the jitter", func() step {
			s := &source{side: Caller, codec: media.PCMU, ssrc: 3, hz: 1000}
			var held struct {
				ts uint32
				p  []byte
			}
			return func(r *Recorder, i int) {
				ts, p := s.next()
				if i%2 == 0 { // hold this one back, send it after the next
					held.ts, held.p = ts, append(held.p[:0], p...)
					return
				}
				r.Write(Caller, media.PCMU, 3, ts, p)
				r.Write(Caller, media.PCMU, 3, held.ts, held.p)
			}
		}, []span{{40 * time.Millisecond, 5 * sec, 1000}}, []span{{0, 5 * sec, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFake()
			cfg := Config{Dir: t.TempDir(), Clock: clk}
			r := create(t, cfg, "c")
			st := tc.steps()
			run(r, clk, 250, func(i int) { st(r, i) })
			res, err := r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.Duration != 5*sec || res.Dropped != 0 {
				t.Fatalf("duration %v dropped %d", res.Duration, res.Dropped)
			}
			left, right, _ := readAll(t, cfg, res.Path)
			checkSpans(t, "caller", left, tc.left)
			checkSpans(t, "agent", right, tc.right)
		})
	}
}

func TestPause(t *testing.T) {
	clk := newFake()
	cfg := Config{Dir: t.TempDir(), Clock: clk}
	r := create(t, cfg, "p")
	c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
	a := &source{side: Agent, codec: media.PCMU, ssrc: 2, hz: 440}
	run(r, clk, 250, func(i int) {
		switch i {
		case 50:
			r.Pause("agent-7")
		case 60:
			r.Pause("agent-7 again") // already paused: nothing
		case 125:
			r.Resume("agent-7")
		case 200:
			r.Pause("agent-8") // still paused at Close
		}
		c.send(r)
		a.send(r)
	})
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := []Pause{{"agent-7", t0.Add(1 * sec), 1500 * time.Millisecond}, {"agent-8", t0.Add(4 * sec), 1 * sec}}
	if len(res.Pauses) != len(want) {
		t.Fatalf("pauses %+v", res.Pauses)
	}
	for i := range want {
		if !res.Pauses[i].At.Equal(want[i].At) || res.Pauses[i].By != want[i].By || res.Pauses[i].Duration != want[i].Duration {
			t.Errorf("pause %d: %+v, want %+v", i, res.Pauses[i], want[i])
		}
	}
	left, right, _ := readAll(t, cfg, res.Path)
	checkSpans(t, "caller", left, []span{{0, 1 * sec, 1000}, {1 * sec, 2500 * time.Millisecond, 0}, {2500 * time.Millisecond, 4 * sec, 1000}, {4 * sec, 5 * sec, 0}})
	checkSpans(t, "agent", right, []span{{0, 1 * sec, 440}, {1 * sec, 2500 * time.Millisecond, 0}, {2500 * time.Millisecond, 4 * sec, 440}, {4 * sec, 5 * sec, 0}})
	if rms(window(left, 1000*time.Millisecond, 2500*time.Millisecond)) != 0 {
		t.Error("paused span not exactly silent")
	}
}

func TestDurationSizeAndHash(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		clk := newFake()
		cfg := Config{Dir: t.TempDir(), Key: key, Clock: clk}
		r := create(t, cfg, "d")
		c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
		run(r, clk, 60, func(int) { c.send(r) })
		clk.Advance(2*sec + 333700*time.Microsecond) // silence to the end; 3.5337 s in all
		res, err := r.Close()
		if err != nil {
			t.Fatal(err)
		}
		frames := int64(3533700 / 125)
		if res.Duration != time.Duration(frames)*125*time.Microsecond {
			t.Errorf("duration %v", res.Duration)
		}
		raw := fileBytes(t, res.Path)
		sum := sha256.Sum256(raw)
		if res.Size != int64(len(raw)) || res.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("size %d sha %s; file %d %x", res.Size, res.SHA256, len(raw), sum)
		}
		f, err := Open(cfg, res.Path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Size() != headerSize+frames*4 {
			t.Errorf("plain size %d, want %d", f.Size(), headerSize+frames*4)
		}
		f.Close()
		if key == nil && int64(len(raw)) != headerSize+frames*4 {
			t.Errorf("file %d bytes", len(raw))
		}
		if again, err := r.Close(); err != nil || again.SHA256 != res.SHA256 {
			t.Error("second Close differs")
		}
		r.Write(Caller, media.PCMU, 1, 0, []byte{1, 2, 3}) // after Close: ignored
		r.Pause("x")
	}
}

// The file grows as the call goes, and memory does not.
func TestWrittenAsTheCallGoes(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		clk := newFake()
		cfg := Config{Dir: t.TempDir(), Key: key, Clock: clk}
		r := create(t, cfg, "g")
		c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
		run(r, clk, 500, func(int) { c.send(r) }) // 10 s
		want := int64(headerSize + 9*32000)       // all but the jitter and a block
		if key != nil {
			want = dataStart + 9*(32000+sealOverhead) // whole chunks
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := os.Stat(r.Path())
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("file %d bytes after 10 s of audio, want >= %d", st.Size(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
		// Read after Close: the writer goroutine owns the buffers until then.
		if len(r.ring) > 2*(int(r.jitter)+aheadFrames+2*blockFrames) || cap(r.chunk) > chunkPlain {
			t.Errorf("buffers grew: ring %d chunk %d", len(r.ring), cap(r.chunk))
		}
	}
}

func TestLatePacketIsDropped(t *testing.T) {
	clk := newFake()
	cfg := Config{Dir: t.TempDir(), Clock: clk}
	r := create(t, cfg, "l")
	c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
	var old uint32
	var oldP []byte
	run(r, clk, 100, func(i int) {
		ts, p := c.next()
		if i == 25 { // lost on the way, comes back 1.5 s later
			old, oldP = ts, append([]byte(nil), p...)
			return
		}
		r.Write(Caller, media.PCMU, 1, ts, p)
	})
	r.Write(Caller, media.PCMU, 1, old, oldP)
	res, _ := r.Close()
	if res.Dropped != 1 {
		t.Fatalf("dropped %d, want 1", res.Dropped)
	}
	left, _, _ := readAll(t, cfg, res.Path)
	if rms(window(left, 500*time.Millisecond, 520*time.Millisecond)) != 0 {
		t.Error("late packet written")
	}
}

// Write never blocks, even when the writer is stuck (a hung disk).
func TestWriteNeverBlocks(t *testing.T) {
	clk := newFake()
	r := create(t, Config{Dir: t.TempDir(), Clock: clk}, "b")
	stuck, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.testHook = func() {
		once.Do(func() { close(stuck) })
		<-release
	}
	c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
	c.send(r)
	<-stuck
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			c.send(r)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked")
	}
	if d := r.Dropped(); d != 1000-queueLen {
		t.Errorf("dropped %d, want %d", d, 1000-queueLen)
	}
	close(release)
	res, _ := r.Close()
	if res.Dropped != 1000-queueLen {
		t.Errorf("result dropped %d", res.Dropped)
	}
}

// A write error (here the file's descriptor closed under the writer) marks the
// recording failed; the caller of Write never notices.
func TestWriteFailureMarksFailed(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		clk := newFake()
		r := create(t, Config{Dir: t.TempDir(), Key: key, Clock: clk, Logger: quiet()}, "f")
		c := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
		run(r, clk, 50, func(int) { c.send(r) })
		if err := r.f.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			run(r, clk, 150, func(int) { c.send(r) })
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Write blocked after a write failure")
		}
		deadline := time.Now().Add(5 * time.Second)
		for r.Err() == nil && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if !errors.Is(r.Err(), os.ErrClosed) {
			t.Fatalf("Err %v", r.Err())
		}
		res, err := r.Close()
		if err == nil || res.State != StateFailed || !errors.Is(res.Err, os.ErrClosed) {
			t.Fatalf("close: %v %+v", err, res)
		}
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		id   string
		is   error
	}{
		{"short key", Config{Dir: dir, Key: []byte("short")}, "a", ErrBadKey},
		{"bad id", Config{Dir: dir}, "../a", nil},
		{"empty id", Config{Dir: dir}, "", nil},
		{"folder is a file", Config{Dir: file}, "a", nil},
		{"exists", Config{Dir: dir}, "afile", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "exists" {
				if err := os.WriteFile(filepath.Join(dir, "afile.wav"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Create(tc.cfg, tc.id)
			if err == nil {
				r.Close()
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("%v, want %v", err, tc.is)
			}
		})
	}
}

// TestSupervisorMixedIntoTheRight: a supervisor barging in (600 Hz) is mixed into
// the right channel with the agent (440 Hz) while both speak; the caller's left
// channel is untouched.
func TestSupervisorMixedIntoTheRight(t *testing.T) {
	clk := newFake()
	cfg := Config{Dir: t.TempDir(), Clock: clk}
	r := create(t, cfg, "barge")
	caller := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
	agent := &source{side: Agent, codec: media.PCMU, ssrc: 2, hz: 440}
	sup := &source{side: Supervisor, codec: media.PCMA, ssrc: 3, hz: 600}
	run(r, clk, 150, func(i int) {
		caller.send(r)
		agent.send(r)
		if i >= 50 && i < 100 { // the supervisor barges in for 1-2 s
			sup.send(r)
		}
	})
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	left, right, _ := readAll(t, cfg, res.Path)
	before, during, after := window(right, 200*time.Millisecond, 800*time.Millisecond), window(right, 1200*time.Millisecond, 1800*time.Millisecond),
		window(right, 2200*time.Millisecond, 2800*time.Millisecond)
	if s := toneShare(before, 600); s > 0.05 {
		t.Errorf("600 Hz on the right before the barge: %.2f", s)
	}
	if a, s := toneShare(during, 440), toneShare(during, 600); a < 0.25 || s < 0.25 {
		t.Errorf("during the barge the right channel holds 440 Hz %.2f and 600 Hz %.2f, want both", a, s)
	}
	if s := toneShare(after, 600); s > 0.05 {
		t.Errorf("600 Hz on the right after the barge: %.2f", s)
	}
	if s := toneShare(window(left, 1200*time.Millisecond, 1800*time.Millisecond), 600); s > 0.05 {
		t.Errorf("the supervisor leaked into the caller's channel: %.2f", s)
	}
}
