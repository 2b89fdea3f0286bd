package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/media"
)

// Side is a channel of the stereo file.
type Side uint8

// The two sides of a call.
const (
	Caller Side = iota // left: the citizen
	Agent              // right: whoever speaks for the centre (agent, transfer target)
	// Supervisor is mixed into the right channel with Agent: a supervisor who
	// barged in speaks for the centre too.
	Supervisor
)

// State is where a recording stands.
type State string

// The states of a recording.
const (
	StateRecording State = "recording"
	StateComplete  State = "complete"
	StateRepaired  State = "repaired"
	StateFailed    State = "failed"
)

// Config says where recordings go and how.
type Config struct {
	Dir   string      // folder of the files (created if missing)
	Key   []byte      // nil: plain WAV; 32 bytes: AES-256-GCM at rest
	Clock clock.Clock // wall clock for alignment and pauses (nil: real)
	// Jitter is how long audio is held in memory before it is written, so the two
	// sides can be aligned (default 300ms); never more is buffered than that
	// (plus one write block of 200 ms and, encrypted, the chunk being filled).
	Jitter time.Duration
	Logger *slog.Logger // nil: slog.Default()
}

// Pause is one span the agent paused the recording for.
type Pause struct {
	By       string
	At       time.Time
	Duration time.Duration
}

// Result describes a finished (or repaired, or failed) recording.
type Result struct {
	Path     string
	Size     int64         // bytes stored
	Duration time.Duration // of the audio
	SHA256   string        // hex, of the stored bytes
	State    State
	Pauses   []Pause
	Dropped  int   // packets that could not be handed off or were too late
	Err      error // why failed
}

// Tuning of the writer.
const (
	defaultJitter = 300 * time.Millisecond
	queueLen      = 256            // packets handed off and not yet placed (about 2.5 s of both sides)
	blockFrames   = sampleRate / 5 // write at least 200 ms at a time
	aheadFrames   = sampleRate     // a stream more than 1 s off the wall clock is re-anchored
	tickEvery     = 250 * time.Millisecond
	// restartStrikes packets in a row more than a second behind the newest are a
	// sender that restarted its timestamps lower, not stragglers.
	restartStrikes = 3
	maxPayload     = 1 << 12 // bytes of one packet kept; G.711 at 120 ms is 960
)

// packet is one hand-off from Write to the writer goroutine.
type packet struct {
	side Side
	alaw bool
	ssrc uint32
	ts   uint32
	at   int64 // wall position at arrival, in frames since start
	buf  *[]byte
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 320); return &b }}

// stream is the alignment state of one side.
type stream struct {
	live    bool
	ssrc    uint32
	lastTS  uint32
	lastPos int64
	strikes int // packets in a row far behind the newest
}

// pauseSpan is a Pause in frames.
type pauseSpan struct {
	by       string
	at       time.Time
	from, to int64 // to < 0: still paused
	dur      time.Duration
}

// Recorder writes one call's stereo recording as the call goes. Write, Pause,
// Resume and Close are safe for concurrent use.
type Recorder struct {
	log    *slog.Logger
	clk    clock.Clock
	path   string
	start  time.Time
	jitter int64 // frames

	ch       chan packet
	closeReq chan struct{}
	done     chan struct{}
	once     sync.Once
	closed   atomic.Bool
	paused   atomic.Bool
	handoff  atomic.Int64 // packets Write could not hand off
	late     atomic.Int64 // packets that came after their place was written

	mu     sync.Mutex
	pauses []pauseSpan
	err    error
	end    int64 // frames, set by Close

	// Owned by the writer goroutine.
	f        *os.File
	seal     *sealer
	ring     []int16 // interleaved stereo frames [flushed, flushed+ringLen)
	extra    []int16 // the Supervisor's frames, mixed into the right channel when written; nil until one comes
	ringLen  int64
	flushed  int64 // frames handed to the file (or to the chunk being filled)
	stored   int64 // data bytes stored in the file (plain bytes)
	sides    [3]stream
	pcm      []int16
	out      []byte // plain bytes of a block
	chunk    []byte // plaintext of the chunk being filled (encrypted)
	sealed   []byte
	nchunk   uint64 // data chunks written
	failed   bool
	spans    []pauseSpan // writer's copy
	testHook func()      // run by the writer before each packet (tests)

	result Result
}

// Create starts the recording id (file name id + ".wav", or id + ".wav.enc" with a
// Key) at cfg.Clock.Now(). The file must not exist yet.
func Create(cfg Config, id string) (*Recorder, error) {
	if err := checkKey(cfg.Key); err != nil {
		return nil, err
	}
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, `/\`) || strings.ContainsRune(id, 0) {
		return nil, fmt.Errorf("recording: bad id %q", id)
	}
	cfg = withDefaults(cfg)
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("recording: create folder: %w", err)
	}
	name := id + ".wav"
	if len(cfg.Key) > 0 {
		name += ".enc"
	}
	path := filepath.Join(cfg.Dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recording: create file: %w", err)
	}
	r := &Recorder{
		log:      cfg.Logger.With("recording", id),
		clk:      cfg.Clock,
		path:     path,
		start:    cfg.Clock.Now(),
		jitter:   int64(cfg.Jitter) / frameNanos,
		ch:       make(chan packet, queueLen),
		closeReq: make(chan struct{}),
		done:     make(chan struct{}),
		f:        f,
	}
	r.ringLen = r.jitter + aheadFrames + 2*blockFrames
	r.ring = make([]int16, 2*r.ringLen)
	h := wavHeader(provisional)
	if len(cfg.Key) == 0 {
		_, err = f.Write(h[:])
	} else {
		r.seal, err = newSealer(cfg.Key)
		if err == nil {
			r.chunk = make([]byte, 0, r.seal.chunk)
			r.sealed = make([]byte, 0, r.seal.storedChunk())
			b := append(r.seal.preamble[:0:0], r.seal.preamble[:]...)
			b = r.seal.seal(b, 0, h[:])
			_, err = f.Write(b)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("recording: write header: %w", err)
	}
	go r.run()
	return r, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Jitter <= 0 {
		cfg.Jitter = defaultJitter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// Path returns the file's path.
func (r *Recorder) Path() string { return r.path }

// Start returns when the recording started.
func (r *Recorder) Start() time.Time { return r.start }

// frameAt converts a wall time to frames since the start.
func (r *Recorder) frameAt(t time.Time) int64 { return int64(t.Sub(r.start)) / frameNanos }

// Write gives one received RTP packet's G.711 audio of side (payload as received,
// codec PCMU or PCMA, the packet's SSRC and RTP timestamp). It is called on RTP
// reader goroutines, the two sides concurrently; it never blocks on the disk (a
// bounded hand-off; what cannot be handed off is counted as dropped) and never
// fails: a write failure marks the recording failed (Err, Result.State). Audio
// written while paused or after Close is discarded. Write does not keep payload.
func (r *Recorder) Write(side Side, codec media.Codec, ssrc uint32, ts uint32, payload []byte) {
	if side > Supervisor || len(payload) == 0 || r.closed.Load() || r.paused.Load() {
		return
	}
	if len(payload) > maxPayload {
		payload = payload[:maxPayload]
	}
	at := r.frameAt(r.clk.Now())
	bp := bufPool.Get().(*[]byte)
	*bp = append((*bp)[:0], payload...)
	select {
	case r.ch <- packet{side: side, alaw: strings.EqualFold(codec.Name, "PCMA"), ssrc: ssrc, ts: ts, at: at, buf: bp}:
	default:
		bufPool.Put(bp)
		r.handoff.Add(1)
	}
}

// Pause starts a paused span (the agent's, for card numbers): it is silence on
// both sides. by names who paused. A second Pause while paused does nothing.
func (r *Recorder) Pause(by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() || r.paused.Load() {
		return
	}
	now := r.clk.Now()
	r.pauses = append(r.pauses, pauseSpan{by: by, at: now, from: r.frameAt(now), to: -1})
	r.paused.Store(true)
	r.log.Info("recording paused", "by", by)
}

// Resume ends the paused span. by names who resumed (logged). Resume while not
// paused does nothing.
func (r *Recorder) Resume(by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() || !r.paused.Load() {
		return
	}
	r.endPause(r.clk.Now())
	r.log.Info("recording resumed", "by", by)
}

// endPause closes the open pause span at now; r.mu is held.
func (r *Recorder) endPause(now time.Time) {
	if !r.paused.Load() {
		return
	}
	p := &r.pauses[len(r.pauses)-1]
	p.to = r.frameAt(now)
	p.dur = now.Sub(p.at)
	r.paused.Store(false)
}

// Err returns why the recording failed, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Dropped returns how many packets were lost to the recording so far (hand-off
// full or too late).
func (r *Recorder) Dropped() int {
	return int(r.handoff.Load() + r.late.Load())
}

// Close ends the recording at Clock.Now(): silence to the end, sizes in the
// header, the SHA-256 of the stored file; the file's duration equals
// Now()-start. It waits for the writer and reads the file back for the hash. A
// failed recording is closed as far as possible and its Result (State "failed")
// is returned with the failure as the error. Later calls return the same.
func (r *Recorder) Close() (Result, error) {
	r.once.Do(func() {
		r.mu.Lock()
		now := r.clk.Now()
		r.endPause(now)
		r.end = max(r.frameAt(now), 0)
		r.closed.Store(true)
		r.mu.Unlock()
		close(r.closeReq)
		<-r.done
	})
	return r.result, r.result.Err
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	t := r.clk.NewTimer(tickEvery)
	defer func() { t.Stop() }()
	var now int64
	for {
		select {
		case p := <-r.ch:
			if r.testHook != nil {
				r.testHook()
			}
			now = max(now, p.at)
			r.place(p)
			r.advance(now, false)
		case <-t.C():
			// For silence (hold, no packets at all). With packets queued, their own
			// arrival times move the window, so a writer that fell behind (a slow
			// disk) does not flush past audio it has not placed yet.
			if len(r.ch) == 0 {
				now = max(now, r.frameAt(r.clk.Now()))
				r.advance(now, false)
			}
			t = r.clk.NewTimer(tickEvery)
		case <-r.closeReq:
			for n := len(r.ch); n > 0; n-- {
				r.place(<-r.ch)
			}
			r.finish()
			return
		}
	}
}

// place puts a packet's samples into the ring.
func (r *Recorder) place(p packet) {
	payload := *p.buf
	defer bufPool.Put(p.buf)
	s := &r.sides[p.side]
	var pos int64
	switch {
	case !s.live || s.ssrc != p.ssrc:
		*s = stream{live: true, ssrc: p.ssrc, lastTS: p.ts, lastPos: p.at}
		pos = p.at
	default:
		delta := int64(int32(p.ts - s.lastTS))
		pos = s.lastPos + delta
		off := pos - p.at
		switch {
		case delta > 0 && (off > aheadFrames || off < -aheadFrames):
			// A jump (hold, a sender that froze or moved its clock): re-anchor on the wall clock.
			pos = p.at
			s.lastTS, s.lastPos, s.strikes = p.ts, pos, 0
		case delta > 0:
			s.lastTS, s.lastPos, s.strikes = p.ts, pos, 0
		case off < -aheadFrames:
			// Older than the newest by more than a second: a straggler, or a sender
			// that restarted its clock lower. Drop it; re-anchor when it goes on.
			if s.strikes++; s.strikes < restartStrikes {
				r.late.Add(1)
				return
			}
			pos = p.at
			s.lastTS, s.lastPos, s.strikes = p.ts, pos, 0
		}
	}
	n := int64(len(payload))
	if pos+n <= r.flushed {
		r.late.Add(1)
		return
	}
	if cap(r.pcm) < len(payload) {
		r.pcm = make([]int16, len(payload))
	}
	pcm := r.pcm[:len(payload)]
	codec := media.PCMU
	if p.alaw {
		codec = media.PCMA
	}
	media.DecodeFrame(codec, pcm, payload)
	if pos < r.flushed {
		pcm = pcm[r.flushed-pos:]
		pos = r.flushed
	}
	if over := pos + int64(len(pcm)) - (r.flushed + r.ringLen); over > 0 {
		r.flushTo(r.flushed + over) // too far ahead for the ring: write out the oldest now
	}
	if p.side == Supervisor {
		if r.extra == nil {
			r.extra = make([]int16, r.ringLen)
		}
		for i, v := range pcm {
			r.extra[(pos+int64(i))%r.ringLen] = v
		}
		return
	}
	side := int64(p.side)
	for i, v := range pcm {
		r.ring[((pos+int64(i))%r.ringLen)*2+side] = v
	}
}

// advance writes out what is older than the jitter window, a block at a time
// (everything when force).
func (r *Recorder) advance(now int64, force bool) {
	ready := now - r.jitter
	if ready-r.flushed >= blockFrames || (force && ready > r.flushed) {
		r.flushTo(ready)
	}
}

// flushTo writes frames [flushed, to) and clears them from the ring.
func (r *Recorder) flushTo(to int64) {
	for r.flushed < to {
		a := r.flushed
		b := min(to, a+blockFrames, a+r.ringLen-a%r.ringLen) // one contiguous run of the ring
		if r.extra != nil {                                  // the supervisor's voice joins the right channel
			base := a % r.ringLen
			for i := range b - a {
				x := &r.ring[(base+i)*2+1]
				*x = clip16(int32(*x) + int32(r.extra[base+i]))
				r.extra[base+i] = 0
			}
		}
		r.silencePaused(a, b)
		seg := r.ring[(a%r.ringLen)*2 : (a%r.ringLen+(b-a))*2]
		r.emit(seg)
		clear(seg)
		r.flushed = b
	}
}

// silencePaused zeroes the frames [a, b) that fall in a paused span.
func (r *Recorder) silencePaused(a, b int64) {
	r.mu.Lock()
	r.spans = append(r.spans[:0], r.pauses...)
	r.mu.Unlock()
	for _, p := range r.spans {
		to := p.to
		if to < 0 {
			to = b
		}
		lo, hi := max(a, p.from), min(b, to)
		if lo < hi {
			base := (a % r.ringLen) * 2
			clear(r.ring[base+(lo-a)*2 : base+(hi-a)*2])
		}
	}
}

// emit stores interleaved samples: to the file (plain) or into the chunk being filled.
func (r *Recorder) emit(seg []int16) {
	if r.failed {
		return
	}
	if r.stored+int64(len(r.chunk))+2*int64(len(seg)) > maxDataBytes {
		r.fail(ErrTooLong)
		return
	}
	if cap(r.out) < 2*len(seg) {
		r.out = make([]byte, 0, 2*blockFrames*2)
	}
	r.out = r.out[:0]
	for _, v := range seg {
		r.out = append(r.out, byte(v), byte(uint16(v)>>8))
	}
	if r.seal == nil {
		n, err := r.f.Write(r.out)
		r.stored += int64(n)
		if err != nil {
			r.fail(fmt.Errorf("recording: write: %w", err))
		}
		return
	}
	b := r.out
	for len(b) > 0 {
		k := min(len(b), r.seal.chunk-len(r.chunk))
		r.chunk = append(r.chunk, b[:k]...)
		b = b[k:]
		if len(r.chunk) == r.seal.chunk {
			if !r.writeChunk() {
				return
			}
		}
	}
}

// writeChunk seals and writes the chunk being filled.
func (r *Recorder) writeChunk() bool {
	r.sealed = r.seal.seal(r.sealed[:0], r.nchunk+1, r.chunk)
	n, err := r.f.Write(r.sealed)
	if err != nil {
		r.fail(fmt.Errorf("recording: write: %w", err))
		if n > 0 { // do not leave a partial chunk behind
			if terr := r.f.Truncate(dataStart + int64(r.nchunk)*r.seal.storedChunk()); terr == nil {
				_, _ = r.f.Seek(0, io.SeekEnd)
			}
		}
		return false
	}
	r.stored += int64(len(r.chunk))
	r.nchunk++
	r.chunk = r.chunk[:0]
	return true
}

// fail marks the recording failed; nothing more is written.
func (r *Recorder) fail(err error) {
	if r.failed {
		return
	}
	r.failed = true
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	r.log.Error("recording failed; the call goes on unrecorded", "path", r.path, "err", err)
}

// finish writes the rest, fixes the header, hashes the file and fills r.result.
func (r *Recorder) finish() {
	r.mu.Lock()
	end := r.end
	r.mu.Unlock()
	if end > r.flushed {
		r.flushTo(end)
	}
	if r.seal != nil && len(r.chunk) > 0 && !r.failed {
		r.writeChunk()
	}
	var errs []error
	if r.failed {
		errs = append(errs, r.Err())
		if r.seal == nil && r.stored%frameBytes != 0 { // a partial frame from a short write
			r.stored -= r.stored % frameBytes
			if err := r.f.Truncate(headerSize + r.stored); err != nil {
				errs = append(errs, fmt.Errorf("recording: truncate: %w", err))
			}
		}
	}
	h := wavHeader(uint32(r.stored))
	var err error
	if r.seal == nil {
		_, err = r.f.WriteAt(h[:], 0)
	} else {
		_, err = r.f.WriteAt(r.seal.seal(nil, 0, h[:]), preambleSize) // a fresh nonce
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("recording: write header: %w", err))
	}
	if err := r.f.Sync(); err != nil && !r.failed {
		errs = append(errs, fmt.Errorf("recording: sync: %w", err))
	}
	size, sum, herr := hashFile(r.f)
	if herr != nil {
		errs = append(errs, herr)
	}
	if err := r.f.Close(); err != nil && !r.failed {
		errs = append(errs, fmt.Errorf("recording: close: %w", err))
	}
	res := Result{
		Path:     r.path,
		Size:     size,
		Duration: time.Duration(r.stored/frameBytes) * time.Duration(frameNanos),
		SHA256:   sum,
		State:    StateComplete,
		Dropped:  r.Dropped(),
	}
	r.mu.Lock()
	for _, p := range r.pauses {
		res.Pauses = append(res.Pauses, Pause{By: p.by, At: p.at, Duration: p.dur})
	}
	r.mu.Unlock()
	if len(errs) > 0 {
		res.State = StateFailed
		res.Err = errors.Join(errs...)
		if !r.failed {
			r.log.Error("recording failed at close", "path", r.path, "err", res.Err)
		}
	}
	r.mu.Lock()
	r.result = res
	r.mu.Unlock()
}

// hashFile returns the size and hex SHA-256 of f's content.
func hashFile(f *os.File) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return n, "", fmt.Errorf("recording: hash: %w", err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// clip16 is v within int16.
func clip16(v int32) int16 {
	return int16(max(-32768, min(32767, v)))
}
