package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/redistest"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newClient returns a client of srv closed when the test ends.
func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

var prefixes atomic.Int64

// openRedis opens a log under a prefix no other test uses.
func openRedis(t testing.TB, c *redis.Client, opts store.RedisOptions) *store.Redis {
	t.Helper()
	opts.Client = c
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("test%d", prefixes.Add(1))
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := store.OpenRedis(context.Background(), opts)
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	return l
}

func TestRedisContract(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	storetest.Run(t, func(t *testing.T) store.Log { return openRedis(t, c, store.RedisOptions{}) })
}

func ev(call string) *event.Event {
	return &event.Event{Time: time.Now(), Type: event.CallCreated, Call: call}
}

func replayAll(t *testing.T, l store.Log, after uint64) []*event.Event {
	t.Helper()
	var out []*event.Event
	if err := l.Replay(context.Background(), after, func(e *event.Event) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

func TestRedisReopenKeepsSeqAndPages(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := context.Background()
	l := openRedis(t, c, store.RedisOptions{Prefix: "site"})
	const n = 1300 // more than two Replay pages
	for i := range n {
		if err := l.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l2 := openRedis(t, c, store.RedisOptions{Prefix: "site"})
	defer l2.Close()
	if got := l2.LastSeq(); got != n {
		t.Fatalf("LastSeq after reopening = %d, want %d", got, n)
	}
	got := replayAll(t, l2, 7)
	if len(got) != n-7 || got[0].Seq != 8 || got[len(got)-1].Seq != n || got[0].Call != "7" {
		t.Fatalf("Replay(7) gave %d events from %d", len(got), got[0].Seq)
	}
	e := ev("next")
	if err := l2.Append(ctx, e); err != nil || e.Seq != n+1 {
		t.Fatalf("Append after reopening: seq %d, %v", e.Seq, err)
	}
}

func TestRedisFencing(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := context.Background()
	newer := openRedis(t, c, store.RedisOptions{Prefix: "site", Epoch: 2})
	defer newer.Close()
	older := openRedis(t, c, store.RedisOptions{Prefix: "site", Epoch: 1})
	defer older.Close()

	// Before epoch 2 has written, epoch 1 may write (the lease's counter is not
	// shared in this test: see TestRedisFencingSharedLeaseKey).
	if err := older.Append(ctx, ev("old-first")); err != nil {
		t.Fatalf("epoch 1 before epoch 2 wrote: %v", err)
	}
	e := ev("new")
	if err := newer.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.Epoch != 2 || e.Seq != 2 {
		t.Fatalf("event stamped epoch %d seq %d, want 2, 2", e.Epoch, e.Seq)
	}
	stale := ev("stale")
	err := older.Append(ctx, stale)
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("Append from epoch 1 after epoch 2 returned %v, want ErrFenced", err)
	}
	if stale.Seq != 0 || stale.Epoch != 0 {
		t.Fatalf("refused event was changed: seq %d epoch %d", stale.Seq, stale.Epoch)
	}
	// An event carrying an old epoch explicitly is refused too.
	if err := newer.Append(ctx, &event.Event{Type: event.CallEnded, Epoch: 1}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("event with Epoch 1 returned %v, want ErrFenced", err)
	}
	if err := older.Compact(ctx, 1, []byte("x")); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("Compact from epoch 1 returned %v, want ErrFenced", err)
	}
	head, err := newer.Head(ctx)
	if err != nil || head != 2 {
		t.Fatalf("Head = %d, %v; want 2: a fenced Append must not use a seq", head, err)
	}
	got := replayAll(t, newer, 0)
	if len(got) != 2 || got[1].Call != "new" {
		t.Fatalf("log holds %d events, want 2 (nothing from the fenced writer)", len(got))
	}
	if fe, _ := newer.FencedEpoch(ctx); fe != 2 {
		t.Fatalf("FencedEpoch = %d, want 2", fe)
	}
	// The old writer, given the newer epoch, writes again (and the seq continues).
	older.SetEpoch(3)
	e = ev("after")
	if err := older.Append(ctx, e); err != nil || e.Seq != 3 {
		t.Fatalf("Append with epoch 3: seq %d, %v", e.Seq, err)
	}
}

func TestRedisFencingSharedLeaseKey(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := context.Background()
	old := openRedis(t, c, store.RedisOptions{Prefix: "site", EpochKey: "lease:epoch", Epoch: 1})
	defer old.Close()
	if err := old.Append(ctx, ev("a")); err != nil {
		t.Fatal(err)
	}
	// Another site takes the lease: its INCR of the shared counter fences the old
	// writer before the new one writes anything.
	if err := c.Incr(ctx, "lease:epoch").Err(); err != nil {
		t.Fatal(err)
	}
	if err := old.Append(ctx, ev("b")); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("Append after the lease's epoch moved on returned %v, want ErrFenced", err)
	}
}

func TestRedisCompact(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := context.Background()
	l := openRedis(t, c, store.RedisOptions{})
	defer l.Close()
	if seq, data, err := l.Snapshot(ctx); err != nil || seq != 0 || data != nil {
		t.Fatalf("Snapshot of a new log = %d, %q, %v", seq, data, err)
	}
	for i := range 10 {
		if err := l.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Compact(ctx, 11, []byte("ahead")); !errors.Is(err, store.ErrStaleSnapshot) {
		t.Fatalf("Compact past the log returned %v, want ErrStaleSnapshot", err)
	}
	snap := []byte("state up to 6 \x00 binary")
	if err := l.Compact(ctx, 6, snap); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	seq, data, err := l.Snapshot(ctx)
	if err != nil || seq != 6 || string(data) != string(snap) {
		t.Fatalf("Snapshot = %d, %q, %v", seq, data, err)
	}
	events, _, _, _ := l.Keys()
	if n := c.XLen(ctx, events).Val(); n != 4 {
		t.Fatalf("stream holds %d entries after compaction, want 4", n)
	}
	got := replayAll(t, l, 0)
	if len(got) != 4 || got[0].Seq != 7 || got[0].Call != "6" {
		t.Fatalf("Replay(0) after compaction gave %d events from seq %d, want 4 from 7", len(got), got[0].Seq)
	}
	if got := replayAll(t, l, 8); len(got) != 2 || got[0].Seq != 9 {
		t.Fatalf("Replay(8) gave %d events", len(got))
	}
	if err := l.Compact(ctx, 5, []byte("older")); !errors.Is(err, store.ErrStaleSnapshot) {
		t.Fatalf("Compact behind the stored snapshot returned %v, want ErrStaleSnapshot", err)
	}
	// Compacting everything leaves an empty stream; appending continues the seq.
	if err := l.Compact(ctx, 10, []byte("all")); err != nil {
		t.Fatal(err)
	}
	if got := replayAll(t, l, 0); len(got) != 0 {
		t.Fatalf("Replay after compacting everything gave %d events", len(got))
	}
	e := ev("new")
	if err := l.Append(ctx, e); err != nil || e.Seq != 11 {
		t.Fatalf("Append after full compaction: seq %d, %v", e.Seq, err)
	}
}

func TestRedisWaitTimesOutWithoutReplica(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := context.Background()
	var mu sync.Mutex
	var reported []uint64
	hook := func(seq uint64, acked, want int) {
		mu.Lock()
		defer mu.Unlock()
		if acked != 0 || want != 1 {
			t.Errorf("OnWaitTimeout(%d, %d, %d): want 0 of 1 acked", seq, acked, want)
		}
		reported = append(reported, seq)
	}
	lenient := openRedis(t, c, store.RedisOptions{Prefix: "site", WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond, OnWaitTimeout: hook})
	defer lenient.Close()
	e := ev("a")
	if err := lenient.Append(ctx, e); err != nil {
		t.Fatalf("lenient Append without a replica returned %v, want nil", err)
	}
	// WAIT is pipelined with the write, so it must end before the client's read
	// timeout: OpenRedis refuses a WaitTimeout that does not.
	if _, err := store.OpenRedis(ctx, store.RedisOptions{Client: c, WaitReplicas: 1, WaitTimeout: time.Minute}); err == nil {
		t.Fatalf("OpenRedis accepted a WaitTimeout above the client's ReadTimeout")
	}
	strict := openRedis(t, c, store.RedisOptions{Prefix: "site", WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond, StrictWait: true, OnWaitTimeout: hook})
	defer strict.Close()
	e2 := ev("b")
	err := strict.Append(ctx, e2)
	if !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("strict Append without a replica returned %v, want ErrNotReplicated", err)
	}
	if e2.Seq != 2 {
		t.Fatalf("strict Append set Seq %d, want 2 (the event is stored)", e2.Seq)
	}
	if got := replayAll(t, strict, 0); len(got) != 2 {
		t.Fatalf("log holds %d events, want 2", len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 2 || reported[0] != 1 || reported[1] != 2 {
		t.Fatalf("OnWaitTimeout reported %v, want [1 2]", reported)
	}
	if lenient.WaitTimeouts() != 1 || strict.WaitTimeouts() != 1 {
		t.Fatalf("WaitTimeouts = %d, %d; want 1, 1", lenient.WaitTimeouts(), strict.WaitTimeouts())
	}
}

// TestRedisLenientWaitRecovers: a lenient log whose replica is away stops
// waiting for it after the first WAIT falls short (each Append still counts as a
// timeout), and goes back to full WAITs by itself once a replica is linked again.
func TestRedisLenientWaitRecovers(t *testing.T) {
	master := redistest.Start(t)
	c := newClient(t, master)
	ctx := context.Background()
	l := openRedis(t, c, store.RedisOptions{Prefix: "site", WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond})
	defer l.Close()
	for i := range 5 {
		if err := l.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.WaitTimeouts(); n != 5 {
		t.Fatalf("WaitTimeouts = %d without a replica, want 5 (each Append counted)", n)
	}
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	redistest.WaitFor(t, 10*time.Second, "replica linked", func() bool {
		return replica.Info("replication", "master_link_status") == "up"
	})
	redistest.WaitFor(t, 10*time.Second, "Appends acknowledged by the replica again", func() bool {
		before := l.WaitTimeouts()
		if err := l.Append(ctx, ev("again")); err != nil {
			t.Fatal(err)
		}
		return l.WaitTimeouts() == before
	})
}

func TestRedisWaitWithReplica(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	redistest.WaitFor(t, 10*time.Second, "replica linked", func() bool {
		return replica.Info("replication", "master_link_status") == "up"
	})
	c := newClient(t, master)
	ctx := context.Background()
	timeouts := 0
	l := openRedis(t, c, store.RedisOptions{Prefix: "site", WaitReplicas: 1, WaitTimeout: 2 * time.Second, StrictWait: true,
		OnWaitTimeout: func(uint64, int, int) { timeouts++ }})
	defer l.Close()
	for i := range 50 {
		if err := l.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			t.Fatalf("Append #%d with a replica: %v", i, err)
		}
	}
	if timeouts != 0 {
		t.Fatalf("%d WAIT timeouts with a live replica", timeouts)
	}
	// Each Append left a short-lived idempotency key (so that a resent script does not
	// append twice); they expire within a minute.
	keys := c.Keys(ctx, "site:append:*").Val()
	if len(keys) != 50 {
		t.Fatalf("%d idempotency keys, want 50", len(keys))
	}
	if d := c.PTTL(ctx, keys[0]).Val(); d <= 0 || d > time.Minute {
		t.Fatalf("idempotency key expires in %v, want within a minute", d)
	}
	// The replica has every acknowledged event: read them there.
	rc := newClient(t, replica)
	follower := openRedis(t, rc, store.RedisOptions{Prefix: "site"})
	defer follower.Close()
	if got := replayAll(t, follower, 0); len(got) != 50 || got[49].Call != "49" {
		t.Fatalf("replica holds %d events, want 50", len(got))
	}
	// A replica refuses writes: the standby cannot write to its own Redis.
	if err := follower.Append(ctx, ev("x")); err == nil {
		t.Fatalf("Append on a read-only replica succeeded")
	}
}

// TestRedisFollow: a standby follows the stream on its own Redis (a replica) while
// the active site appends, and is told when compaction leaves it behind.
func TestRedisFollow(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	redistest.WaitFor(t, 10*time.Second, "replica linked", func() bool {
		return replica.Info("replication", "master_link_status") == "up"
	})
	ctx := context.Background()
	active := openRedis(t, newClient(t, master), store.RedisOptions{Prefix: "site"})
	defer active.Close()
	standby := openRedis(t, newClient(t, replica), store.RedisOptions{Prefix: "site"})
	defer standby.Close()
	for i := range 3 {
		if err := active.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var got []*event.Event
	done := make(chan error, 1)
	go func() {
		done <- standby.Follow(fctx, 1, func(e *event.Event) error {
			got = append(got, e)
			if len(got) == 9 {
				return io.EOF // enough
			}
			return nil
		})
	}()
	for i := 3; i < 10; i++ {
		if err := active.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("Follow returned %v, want fn's error", err)
	}
	for i, e := range got {
		if e.Seq != uint64(i)+2 || e.Call != fmt.Sprint(i+1) {
			t.Fatalf("followed event %d: seq %d call %q", i, e.Seq, e.Call)
		}
	}
	if standby.LastSeq() != 10 {
		t.Fatalf("standby LastSeq = %d, want 10", standby.LastSeq())
	}
	// Cancelling ends a Follow that waits for events.
	cctx, ccancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); ccancel() }()
	if err := standby.Follow(cctx, 10, func(*event.Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Follow returned %v", err)
	}
	// Compaction past where the follower is.
	if err := active.Compact(ctx, 6, []byte("s")); err != nil {
		t.Fatal(err)
	}
	err := standby.Follow(fctx, 3, func(*event.Event) error { return nil })
	if !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Follow from behind a compaction returned %v, want ErrCompacted", err)
	}
}

// TestRedisSentinelFailover: three sentinels, the master killed with SIGKILL while a
// writer appends with WAIT 1; the failover client finds the promoted replica and every
// acknowledged event is in the log afterwards.
func TestRedisSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover takes seconds")
	}
	master := redistest.Start(t)
	r1 := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	r2 := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	for _, r := range []*redistest.Server{r1, r2} {
		redistest.WaitFor(t, 10*time.Second, "replica linked", func() bool {
			return r.Info("replication", "master_link_status") == "up"
		})
	}
	var sentinels []string
	for range 3 {
		s := redistest.StartSentinel(t, "hl", master, 2, time.Second)
		sentinels = append(sentinels, s.Addr)
	}
	// A failover needs the sentinels to know each other and the replicas (they
	// learn it from hello messages every 2 s): wait for that, or the kill below
	// measures discovery instead of failover.
	for _, addr := range sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
		redistest.WaitFor(t, 15*time.Second, "sentinel "+addr+" knows the others", func() bool {
			m, err := sc.Master(context.Background(), "hl").Result()
			return err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "2"
		})
		sc.Close()
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: "hl", SentinelAddrs: sentinels,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second,
		MaxRetries: -1,
	})
	defer c.Close()
	ctx := context.Background()
	// Sentinels need a moment to discover the replicas and each other.
	redistest.WaitFor(t, 10*time.Second, "client reaches the master", func() bool { return c.Ping(ctx).Err() == nil })
	l := openRedis(t, c, store.RedisOptions{Prefix: "site", WaitReplicas: 1, WaitTimeout: 500 * time.Millisecond, StrictWait: true})
	defer l.Close()

	acked := map[uint64]string{}
	var lastErr error
	// write appends one event: 2 when the replica acknowledged it, 1 when it was
	// stored on the master only, 0 when it failed.
	write := func(i int) int {
		e := ev(fmt.Sprint(i))
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		err := l.Append(actx, e)
		lastErr = err
		switch {
		case err == nil:
			acked[e.Seq] = e.Call
			return 2
		case errors.Is(err, store.ErrNotReplicated):
			return 1
		}
		return 0
	}
	i := 0
	for ; i < 100; i++ {
		if write(i) != 2 {
			t.Fatalf("Append #%d before the failover was not acknowledged: %v", i, lastErr)
		}
	}
	master.Kill()
	killed := time.Now()
	var stored, resumed time.Duration
	deadline := killed.Add(25 * time.Second)
	for okAfter := 0; okAfter < 50; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no writes acknowledged within 25 s of killing the master: %v", lastErr)
		}
		switch write(i) {
		case 2:
			if okAfter == 0 {
				resumed = time.Since(killed)
			}
			okAfter++
			fallthrough
		case 1:
			if stored == 0 {
				stored = time.Since(killed)
			}
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("after SIGKILL of the master: writes stored again after %.1f s, acknowledged by a replica (WAIT 1) after %.1f s",
		stored.Seconds(), resumed.Seconds())
	// Every acknowledged event is in the new master's log, with its seq.
	got := map[uint64]string{}
	seen := map[string]bool{}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := l.Replay(rctx, 0, func(e *event.Event) error {
		if seen[e.Call] {
			return fmt.Errorf("event %q stored twice (seq %d)", e.Call, e.Seq)
		}
		seen[e.Call] = true
		got[e.Seq] = e.Call
		return nil
	}); err != nil {
		t.Fatalf("Replay after failover: %v", err)
	}
	lost := 0
	for seq, call := range acked {
		if got[seq] != call {
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("%d of %d acknowledged events lost or changed in the failover", lost, len(acked))
	}
}

// BenchmarkRedisAppend measures Append on loopback, alone and with WAIT 1 against a
// replica. Run: go test ./store -run '^$' -bench RedisAppend -benchtime 5000x
func BenchmarkRedisAppend(b *testing.B) {
	master := redistest.Start(b)
	replica := redistest.Start(b, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port))
	redistest.WaitFor(b, 10*time.Second, "replica linked", func() bool {
		return replica.Info("replication", "master_link_status") == "up"
	})
	c := newClient(b, master)
	// A lenient log whose replica is away (the new master right after a failover).
	b.Run("wait=1/no-replica", func(b *testing.B) {
		alone := redistest.Start(b)
		l := openRedis(b, newClient(b, alone), store.RedisOptions{WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})
		defer l.Close()
		appendLatency(b, l)
	})
	for _, wait := range []int{0, 1} {
		b.Run(fmt.Sprintf("wait=%d", wait), func(b *testing.B) {
			l := openRedis(b, c, store.RedisOptions{WaitReplicas: wait, WaitTimeout: time.Second, StrictWait: true})
			defer l.Close()
			appendLatency(b, l)
		})
	}
	for _, wait := range []int{0, 1} {
		b.Run(fmt.Sprintf("wait=%d/parallel16", wait), func(b *testing.B) {
			l := openRedis(b, c, store.RedisOptions{WaitReplicas: wait, WaitTimeout: time.Second, StrictWait: true})
			defer l.Close()
			b.SetParallelism(8) // 16 appenders on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Append(context.Background(), ev("p")); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// appendLatency appends events to l for the benchmark's loop and reports the
// latency's p50 and p99.
func appendLatency(b *testing.B, l *store.Redis) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if err := l.Append(ctx, ev(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRedisBufferedAppend measures Append while Redis is away and the event
// goes to the outage buffer, in memory only and also fsynced to its file. Run:
// go test ./store -run '^$' -bench RedisBufferedAppend -benchtime 2000x
func BenchmarkRedisBufferedAppend(b *testing.B) {
	srv := redistest.Start(b)
	for _, file := range []bool{false, true} {
		b.Run(fmt.Sprintf("file=%v", file), func(b *testing.B) {
			proxy := redistest.NewProxy(b, srv.Addr)
			c := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: 300 * time.Millisecond,
				WriteTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
			defer c.Close()
			opts := store.RedisOptions{Buffer: 1 << 20, Epoch: 1}
			if file {
				opts.BufferFile = filepath.Join(b.TempDir(), "outage.buffer")
			}
			l := openRedis(b, c, opts)
			defer l.Close()
			ctx := context.Background()
			proxy.Block()
			if err := l.Append(ctx, ev("first")); err != nil { // notices the outage
				b.Fatal(err)
			}
			appendLatency(b, l)
			proxy.Unblock()
		})
	}
}

// TestRedisBufferThroughOutage: with Buffer, events appended while Redis does not
// answer are accepted with the seq they will have, written in order (once each)
// when it answers again, and Appends meanwhile queue behind them; events a newer
// epoch fenced while they waited are dropped and counted.
func TestRedisBufferThroughOutage(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	l := openRedis(t, c, store.RedisOptions{Buffer: 100, Epoch: 1})
	defer l.Close()
	ctx := context.Background()
	appendCall := func(i int) *event.Event {
		t.Helper()
		ev := &event.Event{Type: event.CallCreated, Call: fmt.Sprintf("call-%d", i)}
		if err := l.Append(ctx, ev); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		return ev
	}
	for i := 1; i <= 3; i++ {
		appendCall(i)
	}
	proxy.Block()
	for i := 4; i <= 8; i++ {
		if ev := appendCall(i); ev.Seq != uint64(i) {
			t.Fatalf("buffered event %d got seq %d", i, ev.Seq)
		}
	}
	if now, total, _ := l.Buffered(); now != 5 || total != 5 {
		t.Fatalf("Buffered: %d now, %d in all; want 5, 5", now, total)
	}
	proxy.Unblock()
	redistest.WaitFor(t, 10*time.Second, "the buffer written", func() bool { n, _, _ := l.Buffered(); return n == 0 })
	appendCall(9)
	// What a fresh reader sees: 9 events, in order, once each.
	r := openRedis(t, newClient(t, srv), store.RedisOptions{Prefix: prefixOf(l)})
	var got []string
	if err := r.Replay(ctx, 0, func(ev *event.Event) error {
		if want := fmt.Sprintf("call-%d", ev.Seq); ev.Call != want {
			return fmt.Errorf("seq %d holds %s, want %s", ev.Seq, ev.Call, want)
		}
		got = append(got, ev.Call)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("the log holds %d events, want 9: %v", len(got), got)
	}

	// Another site takes over while events wait: they are fenced, dropped, counted.
	proxy.Block()
	appendCall(10)
	appendCall(11)
	_, _, epochKey, _ := l.Keys()
	if err := newClient(t, srv).Set(ctx, epochKey, 2, 0).Err(); err != nil {
		t.Fatal(err)
	}
	proxy.Unblock()
	redistest.WaitFor(t, 10*time.Second, "the fenced events dropped", func() bool { _, _, d := l.Buffered(); return d == 2 })
	if head, err := r.Head(ctx); err != nil || head != 9 {
		t.Fatalf("log head %d (%v) after the fenced buffer, want 9", head, err)
	}
	if err := l.Append(ctx, &event.Event{Type: event.CallCreated, Call: "late"}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("Append after being fenced: %v, want ErrFenced", err)
	}
}

// TestRedisBufferFileKeepsEventsAcrossAStop: with BufferFile, events buffered
// while Redis is away survive the process: a log closed (or killed) before they
// were written leaves them in the file, and the next OpenRedis writes them with
// the sequence numbers they were given. A file whose events did reach Redis (a
// crash before it was emptied) is recognised and nothing is written twice, a torn
// last record is dropped, and events a newer epoch fenced are counted as dropped.
func TestRedisBufferFileKeepsEventsAcrossAStop(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	c := redis.NewClient(&redis.Options{Addr: proxy.Addr, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	file := filepath.Join(t.TempDir(), "outage.buffer")
	opts := store.RedisOptions{Buffer: 100, BufferFile: file, Epoch: 1}
	ctx := context.Background()
	l := openRedis(t, c, opts)
	opts.Prefix = prefixOf(l)
	appendCall := func(l *store.Redis, i int) {
		t.Helper()
		ev := &event.Event{Type: event.CallCreated, Call: fmt.Sprintf("call-%d", i)}
		if err := l.Append(ctx, ev); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if ev.Seq != uint64(i) {
			t.Fatalf("Append %d: seq %d", i, ev.Seq)
		}
	}
	for i := 1; i <= 3; i++ {
		appendCall(l, i)
	}
	proxy.Block()
	for i := 4; i <= 6; i++ {
		appendCall(l, i)
	}
	if err := l.Close(); err != nil { // Redis still away: the events stay in the file
		t.Fatal(err)
	}
	kept, err := os.ReadFile(file)
	if err != nil || len(kept) == 0 {
		t.Fatalf("the buffer file after a stop during the outage: %d bytes, %v", len(kept), err)
	}
	if _, err := store.OpenRedis(ctx, func() store.RedisOptions { o := opts; o.Client = c; o.Logger = quiet; return o }()); err == nil {
		t.Fatal("OpenRedis with Redis away and events in the buffer file: no error")
	}
	proxy.Unblock()

	checkLog := func(want int) {
		t.Helper()
		r := openRedis(t, newClient(t, srv), store.RedisOptions{Prefix: opts.Prefix})
		defer r.Close()
		n := 0
		if err := r.Replay(ctx, 0, func(ev *event.Event) error {
			n++
			if w := fmt.Sprintf("call-%d", n); ev.Seq != uint64(n) || ev.Call != w {
				return fmt.Errorf("seq %d holds %s, want seq %d %s", ev.Seq, ev.Call, n, w)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("the log holds %d events, want %d", n, want)
		}
	}
	l2 := openRedis(t, c, opts) // writes 4..6
	if fi, err := os.Stat(file); err != nil || fi.Size() != 0 {
		t.Fatalf("the buffer file after its events were written: %v %v, want empty", fi, err)
	}
	checkLog(6)
	appendCall(l2, 7)
	l2.Close()

	// A crash after the events reached Redis but before the file was emptied,
	// with a torn record at its end.
	if err := os.WriteFile(file, append(kept, 0, 0, 0, 9, 1), 0o640); err != nil {
		t.Fatal(err)
	}
	l3 := openRedis(t, c, opts)
	checkLog(7)
	appendCall(l3, 8)

	// Another site takes over while events wait in the file: refused, counted.
	proxy.Block()
	appendCall(l3, 9)
	l3.Close()
	_, _, epochKey, _ := l3.Keys()
	if err := newClient(t, srv).Set(ctx, epochKey, 2, 0).Err(); err != nil {
		t.Fatal(err)
	}
	proxy.Unblock()
	l4 := openRedis(t, c, opts)
	defer l4.Close()
	if _, _, dropped := l4.Buffered(); dropped != 1 {
		t.Fatalf("events dropped as fenced: %d, want 1", dropped)
	}
	checkLog(8)
}

// prefixOf returns the prefix of a log from its keys.
func prefixOf(l *store.Redis) string {
	events, _, _, _ := l.Keys()
	return events[:len(events)-len(":events")]
}
