package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/event"
)

// Errors returned by the Redis log. Match them with errors.Is.
var (
	// ErrFenced is returned by Append and Compact when the writer's epoch is below the
	// highest epoch already recorded for the log: another site has taken the lease
	// since, and this writer must stop writing (it is a cut-off old primary).
	// Nothing was written.
	ErrFenced = errors.New("store: fenced: a newer epoch has written to the log")
	// ErrNotReplicated is returned by Append, with RedisOptions.StrictWait set, when
	// WAIT timed out before RedisOptions.WaitReplicas replicas acknowledged the event.
	// The event IS in the log (ev.Seq is set, and the replicas will get it when they
	// catch up): do not append it again; only do not tell anyone it is safe yet.
	ErrNotReplicated = errors.New("store: event not acknowledged by the replicas in time")
	// ErrStaleSnapshot is returned by Compact for a snapshot older than the stored
	// one, or covering events that were never appended.
	ErrStaleSnapshot = errors.New("store: snapshot is older than the stored one or ahead of the log")
	// ErrCompacted is returned by Follow when the events it needs next were trimmed
	// by Compact: the follower must load the Snapshot and follow from its seq.
	ErrCompacted = errors.New("store: events were compacted away")
)

// DefaultRedisPrefix is the key prefix of a Redis log whose options leave it empty.
const DefaultRedisPrefix = "hotline"

// replayPage is how many stream entries Replay asks for per XRANGE.
const replayPage = 512

// RedisOptions configures OpenRedis.
type RedisOptions struct {
	// Client is the connection to Redis: redis.NewClient for one server, or
	// redis.NewFailoverClient for a master found through Sentinel (it follows a
	// failover by itself). The log does not own it: Close leaves it open. Redis
	// Cluster is not supported (the append script touches several keys).
	Client *redis.Client
	// Prefix names the log: its keys are Prefix+":events" (the stream), ":seq" (the
	// sequence counter), ":epoch" (the fencing high-water mark) and ":snapshot". Both
	// sites of a deployment use the same prefix: it is one history, whichever site
	// writes it. Empty means DefaultRedisPrefix.
	Prefix string
	// EpochKey overrides the fencing key (default Prefix+":epoch"). Point it at the
	// failover lease's epoch counter (failover.LeaseOptions.EpochKey) so that taking
	// the lease fences the old writer at once, before the new one has written.
	EpochKey string
	// Epoch is the writer's fencing token, stamped on every event appended with a
	// zero Epoch. Change it with SetEpoch when the lease is acquired again.
	Epoch uint64
	// WaitReplicas, when positive, makes every Append wait (Redis WAIT) until that
	// many replicas have the event, at most WaitTimeout. See StrictWait for what
	// happens when they do not answer in time.
	WaitReplicas int
	// WaitTimeout bounds the WAIT; 0 means one second. It must be below the client's
	// ReadTimeout (5 s by default in go-redis v9.23): the WAIT is pipelined with the write.
	WaitTimeout time.Duration
	// Without StrictWait, once a WAIT has fallen short the following Appends do
	// not WAIT (each still counts as a timeout), and a WAIT of its own once a
	// second checks whether the replicas are back; then the Appends WAIT again: a
	// site whose replica is gone keeps its pace and notices the replica's return.
	//
	// StrictWait: when WAIT times out, Append returns an error wrapping
	// ErrNotReplicated (the event is stored all the same). When false (the default)
	// Append returns nil: the site keeps working while its replica is away, and the
	// shortfall is reported through OnWaitTimeout, the log line and WaitTimeouts.
	StrictWait bool
	// OnWaitTimeout, when set, is called (in Append's goroutine) each time WAIT times
	// out, with the event's Seq and how many replicas acknowledged it: the hook for a
	// metric.
	OnWaitTimeout func(seq uint64, acked, want int)
	// Buffer, when positive, keeps up to that many events in memory while Redis
	// cannot be reached (a connection error, a timeout, a server that is loading
	// or read-only), so that the site goes on working through an outage: Append
	// returns nil for a buffered event and gives it the sequence number it will
	// have, and a flusher writes the buffer, in order, as soon as Redis answers
	// again; Appends meanwhile join the buffer behind it. A buffered event is in
	// this process's memory only until then, unless BufferFile is set. When the
	// buffer is full Append fails as without one. When the log refuses the
	// buffered events with ErrFenced (another site took over meanwhile) they are
	// dropped, counted and logged. 0 turns buffering off.
	Buffer int
	// BufferFile, with Buffer, is a file the buffered events are also written to,
	// fsynced before Append returns: a crash or a stop during an outage loses none
	// of them. OpenRedis writes the events the file holds to Redis first (those
	// the log already has are recognised and skipped), then empties it; it fails,
	// leaving the file alone, while Redis cannot take them. Only one process may
	// have the file open (an advisory lock). Empty keeps the buffer in memory only.
	BufferFile string
	// Logger receives a warning for each WAIT timeout. nil means slog.Default().
	Logger *slog.Logger
}

// Redis is a Log kept in a Redis stream, for the two-site (hot standby) setup: the
// stream is replicated to the backup site's Redis, whose engine follows it.
//
// Each Append runs one Lua script that, atomically: refuses the event with ErrFenced
// if its epoch is below the highest recorded epoch; raises the recorded epoch; takes
// the next sequence number (INCR, so there are no gaps); and XADDs the event's JSON
// with stream ID "<seq>-0". With WaitReplicas set, WAIT follows in the same pipeline
// (WAIT counts its own connection's writes). The script is idempotent per Append, so
// go-redis resending it after a lost reply does not store the event twice.
//
// Compact stores a snapshot and trims the stream before it; Replay then starts at the
// first kept event. It is safe for concurrent use.
type Redis struct {
	c             *redis.Client
	keys          []string // events, seq, epoch, snapshot
	prefix        string
	nonce         string        // random, per OpenRedis: names the per-Append keys
	appends       atomic.Uint64 // numbers the per-Append keys
	epoch         atomic.Uint64
	last          atomic.Uint64
	waitReplicas  int
	waitTimeout   time.Duration
	strict        bool
	onWaitTimeout func(seq uint64, acked, want int)
	log           *slog.Logger
	waitTimeouts  atomic.Uint64
	// degraded: the last WAIT (lenient mode) fell short, the replica is probably
	// gone: Appends do not WAIT until probeReplicas sees enough replicas again,
	// so that a site that lost its replica does not wait on every event.
	degraded  atomic.Bool
	probeStop chan struct{}
	probeDone chan struct{}

	// The outage buffer (RedisOptions.Buffer).
	bufCap      int
	bufMu       sync.Mutex
	pending     []pendingEvent
	bufTotal    atomic.Uint64
	bufDropped  atomic.Uint64
	bufWritten  atomic.Uint64
	flushWake   chan struct{}
	flushStop   chan struct{}
	flushDone   chan struct{}
	outageSince time.Time // when the current buffering began (bufMu)
	spill       *spill    // RedisOptions.BufferFile; written under bufMu
	restoring   bool      // OpenRedis writes the buffer file's events (no Append runs yet)

	mu     sync.RWMutex
	closed bool
}

// pendingEvent is a buffered event: its JSON, its epoch, the per-Append key that
// makes a retried write idempotent, and the seq it was given.
type pendingEvent struct {
	seq   uint64
	epoch uint64
	typ   event.Type
	data  []byte
	key   string
}

var _ Log = (*Redis)(nil)

// appendScript: KEYS events, seq, epoch, done; ARGV epoch, event JSON. Returns the
// new seq. KEYS[4] is a per-Append key (with a one-minute expiry) that makes the
// script idempotent: when go-redis resends it after a lost reply, the second run
// returns the first one's seq instead of appending the event twice.
var appendScript = redis.NewScript(`
local done = redis.call('GET', KEYS[4])
if done then
  return tonumber(done)
end
local epoch = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[3]) or '0')
if epoch < cur then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is below ' .. cur)
end
if epoch > cur then
  redis.call('SET', KEYS[3], ARGV[1])
end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], seq .. '-0', 'e', ARGV[2])
redis.call('SET', KEYS[4], seq, 'PX', 60000)
return seq
`)

// compactScript: KEYS events, seq, epoch, snapshot; ARGV epoch, upTo, data. Returns
// the number of stream entries trimmed.
var compactScript = redis.NewScript(`
local epoch = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[3]) or '0')
if epoch < cur then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is below ' .. cur)
end
local upto = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local prev = tonumber(redis.call('HGET', KEYS[4], 'seq') or '0')
if upto > last or upto < prev then
  return redis.error_reply('STALE snapshot at ' .. ARGV[2] .. ': stored one at ' .. prev .. ', log at ' .. last)
end
redis.call('HSET', KEYS[4], 'seq', ARGV[2], 'data', ARGV[3], 'epoch', ARGV[1])
return redis.call('XTRIM', KEYS[1], 'MINID', (upto + 1) .. '-0')
`)

// OpenRedis opens the log kept under opts.Prefix, reading the current sequence number
// (so LastSeq is right from the start). The scripts are loaded into the server.
func OpenRedis(ctx context.Context, opts RedisOptions) (*Redis, error) {
	if opts.Client == nil {
		return nil, errors.New("store: open redis log: no client")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	epochKey := opts.EpochKey
	if epochKey == "" {
		epochKey = prefix + ":epoch"
	}
	r := &Redis{
		c:             opts.Client,
		keys:          []string{prefix + ":events", prefix + ":seq", epochKey, prefix + ":snapshot"},
		prefix:        prefix,
		nonce:         rand.Text()[:16],
		waitReplicas:  opts.WaitReplicas,
		waitTimeout:   opts.WaitTimeout,
		strict:        opts.StrictWait,
		onWaitTimeout: opts.OnWaitTimeout,
		log:           opts.Logger,
		bufCap:        opts.Buffer,
	}
	if r.waitTimeout <= 0 {
		r.waitTimeout = time.Second
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if rt := opts.Client.Options().ReadTimeout; r.waitReplicas > 0 && rt > 0 && r.waitTimeout >= rt {
		return nil, fmt.Errorf("store: open redis log %q: WaitTimeout %v must be below the client's ReadTimeout %v", prefix, r.waitTimeout, rt)
	}
	r.epoch.Store(opts.Epoch)
	head, err := r.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: open redis log %q: %w", prefix, err)
	}
	r.last.Store(head)
	for _, s := range []*redis.Script{appendScript, compactScript} {
		if err := s.Load(ctx, r.c).Err(); err != nil {
			return nil, fmt.Errorf("store: open redis log %q: load script: %w", prefix, err)
		}
	}
	if r.bufCap > 0 && opts.BufferFile != "" {
		if err := r.openSpill(ctx, opts.BufferFile); err != nil {
			return nil, fmt.Errorf("store: open redis log %q: %w", prefix, err)
		}
	}
	if r.bufCap > 0 {
		r.flushWake, r.flushStop, r.flushDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go r.flusher()
	}
	if r.waitReplicas > 0 && !r.strict {
		r.probeStop, r.probeDone = make(chan struct{}), make(chan struct{})
		go r.probeReplicas()
	}
	return r, nil
}

// probeReplicas, while the log is degraded (a WAIT fell short), asks Redis once a
// second whether enough replicas acknowledge again, and ends the degraded mode
// when they do.
func (r *Redis) probeReplicas() {
	defer close(r.probeDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.probeStop:
			return
		case <-t.C:
		}
		if !r.degraded.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.waitTimeout+time.Second)
		n, err := r.c.Do(ctx, "WAIT", r.waitReplicas, r.waitTimeout.Milliseconds()).Int64()
		cancel()
		if err == nil && int(n) >= r.waitReplicas && r.degraded.Swap(false) {
			r.log.Info("store: redis replicas acknowledge again: back to full WAITs", "replicas", n)
		}
	}
}

// openSpill opens the outage buffer's file and writes to Redis what a previous
// process left in it.
func (r *Redis) openSpill(ctx context.Context, path string) error {
	sp, recs, bad, err := openSpill(path)
	if err != nil {
		return err
	}
	if bad != "" {
		r.log.Error("store: the outage buffer file ends in a torn or corrupt record: the events from there on are lost",
			"file", path, "kept", len(recs), "reason", bad)
	}
	if len(recs) > 0 {
		r.restoring = true
		written, skipped, dropped, err := r.restoreSpill(ctx, recs)
		r.restoring = false
		if err != nil {
			sp.close()
			return fmt.Errorf("write the %d events buffered in %s before the last stop: %w", len(recs), path, err)
		}
		r.log.Warn("store: events buffered during an outage before the last stop are in Redis now",
			"file", path, "events", len(recs), "written", written, "already_there", skipped, "refused_fenced", dropped)
	}
	if err := sp.clear(); err != nil {
		sp.close()
		return err
	}
	r.spill = sp
	return nil
}

// SetEpoch changes the writer's fencing token (after the lease was acquired again).
func (r *Redis) SetEpoch(epoch uint64) { r.epoch.Store(epoch) }

// Epoch returns the writer's fencing token.
func (r *Redis) Epoch() uint64 { return r.epoch.Load() }

// Keys returns the Redis keys of the log: the stream, the sequence counter, the
// fencing key and the snapshot hash.
func (r *Redis) Keys() (events, seq, epoch, snapshot string) {
	return r.keys[0], r.keys[1], r.keys[2], r.keys[3]
}

// Append stamps ev.Epoch with the writer's epoch when it is zero, assigns ev.Seq and
// adds the event to the stream; with WaitReplicas it then waits for the replicas
// (see RedisOptions.StrictWait). An event from an epoch below the recorded one is
// refused with ErrFenced and nothing is written. With a cancelled ctx it stores
// nothing; a ctx cancelled while the script runs may leave the event stored.
func (r *Redis) Append(ctx context.Context, ev *event.Event) error {
	if ev == nil {
		return ErrInvalidEvent
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return ErrClosed
	}
	prevSeq, prevEpoch := ev.Seq, ev.Epoch
	if ev.Epoch == 0 {
		ev.Epoch = r.epoch.Load()
	}
	ev.Seq = 0 // the stream ID carries the sequence number
	data, err := json.Marshal(ev)
	if err != nil {
		ev.Seq, ev.Epoch = prevSeq, prevEpoch
		return fmt.Errorf("store: encode event: %w", err)
	}
	if len(data) > MaxRecordSize {
		ev.Seq, ev.Epoch = prevSeq, prevEpoch
		return fmt.Errorf("%w: event %s encodes to %d bytes (max %d)", ErrRecordTooLarge, ev.Type, len(data), MaxRecordSize)
	}
	key := r.appendKey()
	if r.bufCap > 0 {
		r.bufMu.Lock()
		if len(r.pending) > 0 { // behind the events still buffered, in order
			err := r.bufferLocked(ev, data, key, nil)
			r.bufMu.Unlock()
			if err != nil {
				ev.Seq, ev.Epoch = prevSeq, prevEpoch
			}
			return err
		}
		r.bufMu.Unlock()
	}
	seq, acked, waitErr, err := r.runAppend(ctx, key, ev.Epoch, data)
	if err != nil && r.bufCap > 0 && unavailable(err) {
		r.bufMu.Lock()
		berr := r.bufferLocked(ev, data, key, err)
		r.bufMu.Unlock()
		if berr == nil {
			return nil
		}
	}
	if err != nil {
		ev.Seq, ev.Epoch = prevSeq, prevEpoch
		return err
	}
	ev.Seq = seq
	r.noteSeq(seq)
	if r.waitReplicas <= 0 || (waitErr == nil && int(acked) >= r.waitReplicas) {
		if r.degraded.Swap(false) {
			r.log.Info("store: redis replicas acknowledge again: back to full WAITs", "seq", seq)
		}
		return nil
	}
	r.waitTimeouts.Add(1)
	if r.strict || !r.degraded.Swap(true) {
		r.log.Warn("store: redis WAIT timed out: event stored on the master but not yet on enough replicas",
			"seq", seq, "type", ev.Type, "acked", acked, "want", r.waitReplicas, "timeout", r.waitTimeout, "err", waitErr)
	}
	if r.onWaitTimeout != nil {
		r.onWaitTimeout(seq, int(acked), r.waitReplicas)
	}
	if !r.strict {
		return nil
	}
	if waitErr != nil {
		return fmt.Errorf("%w: event %d stored, WAIT failed: %w", ErrNotReplicated, seq, waitErr)
	}
	return fmt.Errorf("%w: event %d acknowledged by %d of %d replicas within %v",
		ErrNotReplicated, seq, acked, r.waitReplicas, r.waitTimeout)
}

// runAppend runs the append script and, with WaitReplicas, WAIT right after it in one
// pipeline: WAIT counts the writes of its own connection, so both must go on the same
// one (a pipeline is sent on one connection). A server that does not have the script
// cached (after a restart or a failover) gets it in full. The returned error is the
// script's; waitErr is WAIT's, after the event was stored.
func (r *Redis) runAppend(ctx context.Context, key string, epoch uint64, data []byte) (seq uint64, acked int64, waitErr, err error) {
	keys := []string{r.keys[0], r.keys[1], r.keys[2], key}
	for _, cached := range []bool{true, false} {
		var res *redis.Cmd
		var wait *redis.Cmd
		_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			if cached {
				res = appendScript.EvalSha(ctx, p, keys, epoch, data)
			} else {
				res = appendScript.Eval(ctx, p, keys, epoch, data)
			}
			if r.waitReplicas > 0 {
				// Not while the buffer file's events are written at open, nor
				// (lenient) while the replicas are away: a WAIT that cannot be
				// met lasts its timeout, and even a 1 ms one ends only at Redis's
				// next timer tick (about 100 ms at the default hz 10).
				// probeReplicas notices their return.
				if !r.restoring && (r.strict || !r.degraded.Load()) {
					wait = p.Do(ctx, "WAIT", r.waitReplicas, r.waitTimeout.Milliseconds())
				}
			}
			return nil
		})
		if cached && redis.HasErrorPrefix(res.Err(), "NOSCRIPT") {
			continue
		}
		seq, err = res.Uint64()
		if err != nil {
			return 0, 0, nil, r.scriptError("append", err)
		}
		if wait != nil {
			acked, waitErr = wait.Int64()
		}
		return seq, acked, waitErr, nil
	}
	panic("unreachable")
}

// appendKey names a new per-Append key (see appendScript).
func (r *Redis) appendKey() string {
	return r.prefix + ":append:" + r.nonce + ":" + strconv.FormatUint(r.appends.Add(1), 10)
}

// unavailable reports whether an append failed because Redis could not be
// reached or cannot take writes for now, rather than because it refused the event.
func unavailable(err error) bool {
	switch {
	case errors.Is(err, ErrFenced), errors.Is(err, ErrStaleSnapshot), errors.Is(err, context.Canceled):
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		for _, p := range []string{"READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN", "BUSY"} {
			if strings.HasPrefix(re.Error(), p) {
				return true
			}
		}
		return false
	}
	return true // a network error, a timeout, a refused or failed dial
}

// bufferLocked keeps an event that cannot be written now; bufMu is held. cause is
// the error that started an outage (nil when joining one).
func (r *Redis) bufferLocked(ev *event.Event, data []byte, key string, cause error) error {
	if len(r.pending) >= r.bufCap {
		if cause == nil {
			return fmt.Errorf("%w: redis log unavailable and its outage buffer is full (%d events)", ErrBufferFull, r.bufCap)
		}
		return fmt.Errorf("%w: redis log unavailable and its outage buffer is full (%d events): %w", ErrBufferFull, r.bufCap, cause)
	}
	if len(r.pending) == 0 {
		r.outageSince = time.Now()
		r.log.Error("store: Redis cannot take the event log's writes: buffering them in memory until it can",
			"type", ev.Type, "buffer", r.bufCap, "error", cause)
	}
	seq := r.last.Load() + uint64(len(r.pending)) + 1
	if r.spill != nil {
		if err := r.spill.add(spillRecord{Seq: seq, Epoch: ev.Epoch, Key: key, Type: string(ev.Type), Data: data}); err != nil {
			if cause != nil {
				return fmt.Errorf("%w (while Redis cannot take it: %v)", err, cause)
			}
			return err
		}
	}
	r.pending = append(r.pending, pendingEvent{seq: seq, epoch: ev.Epoch, typ: ev.Type, data: data, key: key})
	r.bufTotal.Add(1)
	ev.Seq = seq
	select {
	case r.flushWake <- struct{}{}:
	default:
	}
	return nil
}

// flusher writes the buffered events, in order, whenever Redis takes them.
func (r *Redis) flusher() {
	defer close(r.flushDone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.flushStop:
			return
		case <-r.flushWake:
		case <-t.C:
		}
		r.flush()
	}
}

// flush writes buffered events until the buffer is empty or a write fails.
func (r *Redis) flush() {
	for {
		r.bufMu.Lock()
		if len(r.pending) == 0 {
			r.bufMu.Unlock()
			return
		}
		p := r.pending[0]
		r.bufMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), r.waitTimeout+2*time.Second)
		seq, _, _, err := r.runAppend(ctx, p.key, p.epoch, p.data)
		cancel()
		if errors.Is(err, ErrFenced) {
			r.bufMu.Lock()
			n := len(r.pending)
			r.pending = nil
			r.clearSpillLocked()
			r.bufMu.Unlock()
			r.bufDropped.Add(uint64(n))
			r.log.Error("store: the buffered events were refused: another site writes the log since (fenced): they are lost",
				"events", n, "first_seq", p.seq, "error", err)
			return
		}
		if err != nil {
			return // still away: the next tick tries again
		}
		r.bufWritten.Add(1)
		if seq != p.seq {
			r.log.Warn("store: a buffered event was written with another sequence number than it was given",
				"type", p.typ, "given", p.seq, "written", seq)
		}
		// The head moves and the event leaves the buffer together: an Append
		// joining the buffer meanwhile counts its seq from both.
		r.bufMu.Lock()
		r.noteSeq(seq)
		r.pending = r.pending[1:]
		left := len(r.pending)
		if left == 0 {
			r.pending = nil
			r.clearSpillLocked()
			r.log.Info("store: Redis takes writes again: the buffered events are written", "outage", time.Since(r.outageSince).Round(time.Millisecond),
				"last_seq", seq)
		}
		r.bufMu.Unlock()
	}
}

// clearSpillLocked empties the buffer's file once the buffer is empty; bufMu is
// held. Should that fail, the events stay in the file and the next start finds
// them in the log and skips them.
func (r *Redis) clearSpillLocked() {
	if r.spill == nil {
		return
	}
	if err := r.spill.clear(); err != nil {
		r.log.Error("store: the outage buffer file could not be emptied (its events are in Redis; the next start skips them)", "error", err)
	}
}

// Buffered reports the events waiting in the outage buffer now, and how many
// were buffered and dropped (fenced) in all.
func (r *Redis) Buffered() (now int, total, dropped uint64) {
	r.bufMu.Lock()
	now = len(r.pending)
	r.bufMu.Unlock()
	return now, r.bufTotal.Load(), r.bufDropped.Load()
}

// scriptError turns the scripts' error replies into the package's errors.
func (r *Redis) scriptError(op string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "FENCED"):
		return fmt.Errorf("%w: %s refused, writer epoch %d (%s)", ErrFenced, op, r.epoch.Load(), msg)
	case strings.Contains(msg, "STALE"):
		return fmt.Errorf("%w: %s", ErrStaleSnapshot, msg)
	}
	return fmt.Errorf("store: redis log %s: %w", op, err)
}

// noteSeq raises the locally known last sequence number to seq.
func (r *Redis) noteSeq(seq uint64) {
	for {
		cur := r.last.Load()
		if seq <= cur || r.last.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Replay calls fn for each event with Seq > after, in order, up to the last sequence
// number at the time Replay started, reading the stream in pages. After a Compact the
// events it trimmed are gone: Replay starts at the first kept event, so a caller that
// needs the older state starts from Snapshot and replays after its seq. fn may call
// Append.
func (r *Redis) Replay(ctx context.Context, after uint64, fn func(*event.Event) error) error {
	r.mu.RLock()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	end, err := r.Head(ctx)
	if err != nil {
		return err
	}
	for next := after + 1; next <= end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		msgs, err := r.c.XRangeN(ctx, r.keys[0], strconv.FormatUint(next, 10)+"-0", strconv.FormatUint(end, 10)+"-0", replayPage).Result()
		if err != nil {
			return fmt.Errorf("store: redis log replay from %d: %w", next, err)
		}
		if len(msgs) == 0 {
			return nil
		}
		for _, m := range msgs {
			if err := ctx.Err(); err != nil {
				return err
			}
			ev, err := decodeStreamEntry(m)
			if err != nil {
				return err
			}
			r.noteSeq(ev.Seq)
			if err := fn(ev); err != nil {
				return err
			}
			next = ev.Seq + 1
		}
	}
	return ctx.Err()
}

// followBlock is how long one XREAD of Follow blocks waiting for new events.
const followBlock = time.Second

// Follow calls fn for each event with Seq > after, in order, and then for each new
// event as it is appended (XREAD BLOCK), until ctx ends or fn returns an error; it
// returns that error (ctx's when it ends). It is how the standby site keeps a warm
// copy: point the log at the site's own Redis (a replica) and fold what Follow gives.
// When the next event it needs was trimmed by Compact it returns ErrCompacted: load
// the Snapshot and follow again from its seq. Errors reading Redis are returned too
// (the caller decides how to retry, for example while Sentinel promotes a replica).
// A Follow waiting for events notices ctx ending within about a second (its XREAD
// blocks that long).
func (r *Redis) Follow(ctx context.Context, after uint64, fn func(*event.Event) error) error {
	next := after + 1
	for {
		r.mu.RLock()
		closed := r.closed
		r.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := r.c.XRead(ctx, &redis.XReadArgs{
			Streams: []string{r.keys[0], strconv.FormatUint(next-1, 10) + "-0"},
			Count:   replayPage,
			Block:   followBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue // nothing new within followBlock
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("store: redis log follow from %d: %w", next, err)
		}
		for _, stream := range res {
			for _, m := range stream.Messages {
				ev, err := decodeStreamEntry(m)
				if err != nil {
					return err
				}
				if ev.Seq != next {
					snap, _, _ := r.Snapshot(ctx)
					return fmt.Errorf("%w: follow wanted event %d, the stream resumes at %d (snapshot covers up to %d)",
						ErrCompacted, next, ev.Seq, snap)
				}
				r.noteSeq(ev.Seq)
				if err := fn(ev); err != nil {
					return err
				}
				next++
			}
		}
	}
}

// decodeStreamEntry turns one stream entry into an event; its Seq comes from the ID.
func decodeStreamEntry(m redis.XMessage) (*event.Event, error) {
	ms, _, _ := strings.Cut(m.ID, "-")
	seq, err := strconv.ParseUint(ms, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: stream entry %s: bad ID", ErrCorrupt, m.ID)
	}
	raw, ok := m.Values["e"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: stream entry %s has no event", ErrCorrupt, m.ID)
	}
	ev := new(event.Event)
	if err := json.Unmarshal([]byte(raw), ev); err != nil {
		return nil, fmt.Errorf("%w: stream entry %s: %w", ErrCorrupt, m.ID, err)
	}
	ev.Seq = seq
	return ev, nil
}

// LastSeq returns the highest sequence number this Redis has seen: the counter read at
// OpenRedis, raised by its own Appends and by what Replay read. Another writer's later
// events are not counted until read; Head asks the server.
func (r *Redis) LastSeq() uint64 { return r.last.Load() }

// Head returns the log's last sequence number as the server has it now.
func (r *Redis) Head(ctx context.Context) (uint64, error) {
	v, err := r.c.Get(ctx, r.keys[1]).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: redis log: read %s: %w", r.keys[1], err)
	}
	return v, nil
}

// FencedEpoch returns the highest epoch recorded for the log (the fencing high-water
// mark): an Append from a lower epoch is refused.
func (r *Redis) FencedEpoch(ctx context.Context) (uint64, error) {
	v, err := r.c.Get(ctx, r.keys[2]).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: redis log: read %s: %w", r.keys[2], err)
	}
	return v, nil
}

// Compact stores snapshot as the state folded from every event up to and including
// upTo, and trims those events from the stream, atomically (one script, fenced like
// Append). upTo may not be above the last sequence number nor below the stored
// snapshot's (ErrStaleSnapshot). Replay then starts at upTo+1.
func (r *Redis) Compact(ctx context.Context, upTo uint64, snapshot []byte) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return ErrClosed
	}
	err := compactScript.Run(ctx, r.c, r.keys, r.epoch.Load(), upTo, snapshot).Err()
	if err != nil {
		return r.scriptError("compact", err)
	}
	return nil
}

// Snapshot returns the stored snapshot and the last sequence number it covers; seq 0
// and nil data when there is none.
func (r *Redis) Snapshot(ctx context.Context) (seq uint64, data []byte, err error) {
	r.mu.RLock()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return 0, nil, ErrClosed
	}
	vals, err := r.c.HMGet(ctx, r.keys[3], "seq", "data").Result()
	if err != nil {
		return 0, nil, fmt.Errorf("store: redis log: read snapshot: %w", err)
	}
	s, ok := vals[0].(string)
	if !ok {
		return 0, nil, nil
	}
	seq, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: snapshot seq %q", ErrCorrupt, s)
	}
	d, _ := vals[1].(string)
	return seq, []byte(d), nil
}

// WaitTimeouts returns how many Appends had their WAIT time out.
func (r *Redis) WaitTimeouts() uint64 { return r.waitTimeouts.Load() }

// Close marks the log closed; it waits for Appends in flight and leaves the client
// open (the caller owns it).
func (r *Redis) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.closed = true
	if r.probeStop != nil {
		close(r.probeStop)
		<-r.probeDone
	}
	if r.flushStop != nil {
		close(r.flushStop)
		<-r.flushDone
		r.flush() // a last try, now that no flusher runs
		if n, _, _ := r.Buffered(); n > 0 {
			if r.spill != nil {
				r.log.Warn("store: redis log closed with buffered events not written: they are kept in the buffer file for the next start",
					"events", n, "file", r.spill.path)
			} else {
				r.log.Error("store: redis log closed with buffered events not written: they are lost", "events", n)
			}
		}
	}
	if r.spill != nil {
		_ = r.spill.close()
	}
	return nil
}
