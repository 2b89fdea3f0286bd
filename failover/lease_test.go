package failover_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/failover"
	"github.com/hotline12345/hotline/internal/redistest"
	"github.com/hotline12345/hotline/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	ttl   = 600 * time.Millisecond
	renew = 150 * time.Millisecond
)

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func newLease(t *testing.T, c *redis.Client, holder string) *failover.Lease {
	t.Helper()
	l, err := failover.NewLease(c, failover.LeaseOptions{Key: "lease", Holder: holder, TTL: ttl, Renew: renew, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRoleString(t *testing.T) {
	var zero failover.Role
	if zero != failover.Standby || zero.String() != "standby" || failover.Active.String() != "active" {
		t.Fatalf("roles: zero %v, active %v", zero, failover.Active)
	}
}

func TestNewLeaseOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []failover.LeaseOptions{
		{},
		{Holder: "a/b"},
		{Holder: "a", TTL: time.Second, Renew: time.Second},
	} {
		if _, err := failover.NewLease(c, o); err == nil {
			t.Errorf("NewLease(%+v) accepted", o)
		}
	}
	l, err := failover.NewLease(c, failover.LeaseOptions{Holder: "a"})
	if err != nil || l.EpochKey() != "hotline:lease:epoch" {
		t.Fatalf("defaults: %v, %q", err, l.EpochKey())
	}
}

func TestLeaseAcquireRenewRelease(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	ctx := context.Background()
	a, b := newLease(t, c, "primary"), newLease(t, c, "backup")

	if err := a.Renew(ctx); !errors.Is(err, failover.ErrLost) {
		t.Fatalf("Renew before Acquire returned %v, want ErrLost", err)
	}
	ea, ok, err := a.Acquire(ctx)
	if err != nil || !ok || ea != 1 {
		t.Fatalf("first Acquire = %d, %v, %v; want epoch 1", ea, ok, err)
	}
	if e, ok, err := a.Acquire(ctx); err != nil || !ok || e != 1 {
		t.Fatalf("Acquire while holding = %d, %v, %v; want the same epoch", e, ok, err)
	}
	if _, ok, err := b.Acquire(ctx); err != nil || ok {
		t.Fatalf("second holder's Acquire = %v, %v; want not acquired", ok, err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	st, err := a.Status(ctx)
	if err != nil || st.Holder != "primary" || st.Epoch != 1 || st.LastEpoch != 1 || st.TTL <= 0 || st.TTL > ttl {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.Status(ctx); st.Holder != "" || st.LastEpoch != 1 {
		t.Fatalf("Status after Release = %+v", st)
	}
	eb, ok, err := b.Acquire(ctx)
	if err != nil || !ok || eb != 2 {
		t.Fatalf("Acquire after Release = %d, %v, %v; want epoch 2", eb, ok, err)
	}
	if err := a.Renew(ctx); !errors.Is(err, failover.ErrLost) {
		t.Fatalf("old holder's Renew returned %v, want ErrLost", err)
	}
	if a.Epoch() != 0 || b.Epoch() != 2 {
		t.Fatalf("Epoch(): a %d, b %d", a.Epoch(), b.Epoch())
	}
	// A lease that expires is lost to its holder even if nobody took it.
	time.Sleep(ttl + 100*time.Millisecond)
	if err := b.Renew(ctx); !errors.Is(err, failover.ErrLost) {
		t.Fatalf("Renew after expiry returned %v, want ErrLost", err)
	}
}

func TestLeaseWaitReplicasIsAdvisory(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 2 * time.Second})
	defer c.Close()
	l, err := failover.NewLease(c, failover.LeaseOptions{Holder: "backup", TTL: ttl, Renew: 100 * time.Millisecond, WaitReplicas: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// No replica answers: the site whose partner is gone must still take the lease.
	if e, ok, err := l.Acquire(context.Background()); err != nil || !ok || e != 1 {
		t.Fatalf("Acquire without a replica = %d, %v, %v; want epoch 1", e, ok, err)
	}
	if _, err := failover.NewLease(c, failover.LeaseOptions{Holder: "x", TTL: 6 * time.Second, Renew: 3 * time.Second, WaitReplicas: 1}); err == nil {
		t.Fatalf("NewLease accepted a WAIT (renew 3s) longer than the client's ReadTimeout (2s)")
	}
}

func TestLeaseRace(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	const n = 8
	var wg sync.WaitGroup
	won := make(chan uint64, n)
	for i := range n {
		l := newLease(t, c, fmt.Sprint("site", i))
		wg.Go(func() {
			e, ok, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
			}
			if ok {
				won <- e
			}
		})
	}
	wg.Wait()
	close(won)
	if len(won) != 1 {
		t.Fatalf("%d holders acquired the lease, want exactly 1", len(won))
	}
}

// roleLog records a Run loop's reports.
type roleLog struct {
	mu      sync.Mutex
	role    failover.Role
	epoch   uint64
	changes []change
}

type change struct {
	role  failover.Role
	epoch uint64
	at    time.Time
}

func (r *roleLog) report(role failover.Role, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.role, r.epoch = role, epoch
	r.changes = append(r.changes, change{role, epoch, time.Now()})
}

func (r *roleLog) get() (failover.Role, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.role, r.epoch
}

// last returns the time of the last report of role.
func (r *roleLog) last(role failover.Role) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.changes) - 1; i >= 0; i-- {
		if r.changes[i].role == role {
			return r.changes[i].at
		}
	}
	return time.Time{}
}

// run starts l.Run; the returned stop ends it and waits.
func run(t *testing.T, l *failover.Lease, r *roleLog) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, r.report) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10 s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestLeaseRunTwoSites(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	var ra, rb roleLog
	stopA := run(t, newLease(t, c, "primary"), &ra)
	redistest.WaitFor(t, 5*time.Second, "primary active", func() bool { r, _ := ra.get(); return r == failover.Active })
	run(t, newLease(t, c, "backup"), &rb)
	// Several renew periods: the primary stays active, the backup standby.
	time.Sleep(4 * ttl)
	if r, e := ra.get(); r != failover.Active || e != 1 {
		t.Fatalf("primary is %v epoch %d, want active 1", r, e)
	}
	if r, _ := rb.get(); r != failover.Standby {
		t.Fatalf("backup is %v while the primary renews", r)
	}
	// A planned stop releases the lease: the backup takes over without the TTL.
	stopA()
	stopped := time.Now()
	redistest.WaitFor(t, 5*time.Second, "backup active", func() bool { r, _ := rb.get(); return r == failover.Active })
	t.Logf("backup active %v after the primary stopped (released)", time.Since(stopped).Round(time.Millisecond))
	if r, e := rb.get(); e != 2 {
		t.Fatalf("backup is %v with epoch %d, want 2", r, e)
	}
	if r, _ := ra.get(); r != failover.Standby {
		t.Fatalf("stopped primary reported %v last", r)
	}
}

// TestLeasePartition: the active site loses Redis (a silent network); it steps down by
// itself before the other site can take the lease; the other takes over with a higher
// epoch within TTL + Renew (plus slack); the old site's writes with its old epoch are
// refused by the log; when the network returns it stays standby.
func TestLeasePartition(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	ca := newClient(t, proxy.Addr) // the primary reaches Redis through the proxy
	cb := newClient(t, srv.Addr)
	ctx := context.Background()

	la, lb := newLease(t, ca, "primary"), newLease(t, cb, "backup")
	var ra, rb roleLog
	run(t, la, &ra)
	redistest.WaitFor(t, 5*time.Second, "primary active", func() bool { r, _ := ra.get(); return r == failover.Active })
	run(t, lb, &rb)
	_, epochA := ra.get()

	logA, err := store.OpenRedis(ctx, store.RedisOptions{Client: ca, Prefix: "site", EpochKey: la.EpochKey(), Epoch: epochA, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer logA.Close()
	for i := range 5 {
		if err := logA.Append(ctx, &event.Event{Type: event.CallCreated, Call: fmt.Sprint(i)}); err != nil {
			t.Fatalf("primary Append: %v", err)
		}
	}

	proxy.Block()
	cut := time.Now()
	redistest.WaitFor(t, ttl+renew+3*time.Second, "backup active", func() bool { r, _ := rb.get(); return r == failover.Active })
	takeover := time.Since(cut)
	_, epochB := rb.get()
	if epochB <= epochA {
		t.Fatalf("backup's epoch %d is not above the primary's %d", epochB, epochA)
	}
	if r, _ := ra.get(); r != failover.Standby {
		t.Fatalf("cut-off primary still reports %v after the backup took over", r)
	}
	downA, upB := ra.last(failover.Standby), rb.last(failover.Active)
	if !downA.Before(upB) {
		t.Fatalf("two active sites: primary stepped down at %v, backup active at %v", downA, upB)
	}
	t.Logf("cut-off primary stepped down %v after the cut; backup active %v after the cut (TTL %v, renew %v)",
		downA.Sub(cut).Round(time.Millisecond), takeover.Round(time.Millisecond), ttl, renew)

	logB, err := store.OpenRedis(ctx, store.RedisOptions{Client: cb, Prefix: "site", EpochKey: lb.EpochKey(), Epoch: epochB, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer logB.Close()
	if err := logB.Append(ctx, &event.Event{Type: event.SiteRole, Role: "active"}); err != nil {
		t.Fatalf("backup Append: %v", err)
	}

	// The network comes back; the old primary tries to write with its old epoch.
	proxy.Unblock()
	redistest.WaitFor(t, 5*time.Second, "primary reaches Redis again", func() bool { return ca.Ping(ctx).Err() == nil })
	err = logA.Append(ctx, &event.Event{Type: event.CallCreated, Call: "late"})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("old primary's Append with epoch %d returned %v, want ErrFenced", epochA, err)
	}
	var calls []string
	if err := logB.Replay(ctx, 0, func(e *event.Event) error { calls = append(calls, e.Call); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 6 {
		t.Fatalf("log holds %d events, want 6 (5 from the primary, 1 from the backup)", len(calls))
	}
	time.Sleep(3 * renew)
	if r, _ := ra.get(); r != failover.Standby {
		t.Fatalf("old primary became %v while the backup holds the lease", r)
	}
	if r, e := rb.get(); r != failover.Active || e != epochB {
		t.Fatalf("backup is %v epoch %d, want active %d", r, e, epochB)
	}
}

// TestLeaseHolderStopsRenewing: a holder that acquired and then went silent (a frozen
// process) is replaced within TTL + Renew with a higher epoch.
func TestLeaseHolderStopsRenewing(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr)
	ctx := context.Background()
	frozen := newLease(t, c, "primary")
	e1, ok, err := frozen.Acquire(ctx)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	acquired := time.Now()
	var rb roleLog
	run(t, newLease(t, c, "backup"), &rb)
	redistest.WaitFor(t, ttl+renew+3*time.Second, "backup active", func() bool { r, _ := rb.get(); return r == failover.Active })
	t.Logf("backup active %v after the silent holder's last renewal (TTL %v, renew %v)",
		time.Since(acquired).Round(time.Millisecond), ttl, renew)
	if _, e2 := rb.get(); e2 <= e1 {
		t.Fatalf("new epoch %d not above %d", e2, e1)
	}
	if err := frozen.Renew(ctx); !errors.Is(err, failover.ErrLost) {
		t.Fatalf("the frozen holder's late Renew returned %v, want ErrLost", err)
	}
}

// TestLeaseSentinelQuorum: with Confirm set to a SentinelQuorum, a site whose Redis
// is the master the three Sentinels watch takes the lease; a site writing to a
// Redis that is a master only in its own eyes (the old master on the wrong side of
// a partition; here a stray server) never does; an active holder whose Sentinels
// stop naming its Redis (they cannot be reached) steps down within the TTL.
func TestLeaseSentinelQuorum(t *testing.T) {
	master := redistest.Start(t)
	stray := redistest.Start(t)
	var addrs []string
	var proxies []*redistest.Proxy
	for range 3 {
		s := redistest.StartSentinel(t, "q", master, 2, time.Second)
		p := redistest.NewProxy(t, s.Addr)
		proxies = append(proxies, p)
		addrs = append(addrs, p.Addr)
	}
	quorum := failover.NewSentinelQuorum(addrs, "q", "")
	t.Cleanup(func() { quorum.Close() })
	ctx := context.Background()

	cm, cs := newClient(t, master.Addr), newClient(t, stray.Addr)
	redistest.WaitFor(t, 5*time.Second, "the sentinels know the master's run id", func() bool { return quorum.Confirm(ctx, cm) == nil })
	if err := quorum.Confirm(ctx, cs); !errors.Is(err, failover.ErrNoQuorum) || !strings.Contains(err.Error(), "0 of 3 agree") {
		t.Fatalf("Confirm on a Redis no sentinel names: %v, want ErrNoQuorum, 0 of 3", err)
	}

	leaseOn := func(c *redis.Client, holder string) *failover.Lease {
		l, err := failover.NewLease(c, failover.LeaseOptions{Key: "lease", Holder: holder, TTL: ttl, Renew: renew, Logger: quiet,
			Confirm: func(ctx context.Context) error { return quorum.Confirm(ctx, c) }})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	var rm, rs roleLog
	run(t, leaseOn(cs, "cut-off"), &rs)
	run(t, leaseOn(cm, "majority"), &rm)
	redistest.WaitFor(t, 5*time.Second, "the site on the sentinels' master active", func() bool { r, _ := rm.get(); return r == failover.Active })
	time.Sleep(3 * ttl)
	if r, _ := rs.get(); r != failover.Standby {
		t.Fatalf("the site on a Redis no sentinel names is %v, want standby", r)
	}
	if n, _ := cs.Exists(ctx, "lease").Result(); n != 0 {
		t.Fatal("the cut-off site wrote a lease into its own Redis")
	}

	// Two of the three sentinels become unreachable: no majority, the active
	// holder steps down by itself although its Redis still answers.
	proxies[0].Block()
	proxies[1].Block()
	cut := time.Now()
	redistest.WaitFor(t, ttl+5*time.Second, "the holder without a majority steps down", func() bool { r, _ := rm.get(); return r == failover.Standby })
	t.Logf("stepped down %v after losing the sentinels' majority (TTL %v)", time.Since(cut).Round(time.Millisecond), ttl)
	proxies[0].Unblock()
	proxies[1].Unblock()
	redistest.WaitFor(t, 5*time.Second, "active again once the majority answers", func() bool { r, _ := rm.get(); return r == failover.Active })
}

// TestLeaseHoldThroughOutage: a single site's holder stays active while Redis is
// away for several TTLs and takes the lease back, with the same epoch, when it
// returns; if another holder took the lease meanwhile it steps down.
func TestLeaseHoldThroughOutage(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewProxy(t, srv.Addr)
	c := newClient(t, proxy.Addr)
	l, err := failover.NewLease(c, failover.LeaseOptions{Key: "lease", Holder: "only", TTL: ttl, Renew: renew, Logger: quiet, HoldThroughOutage: true})
	if err != nil {
		t.Fatal(err)
	}
	var r roleLog
	run(t, l, &r)
	redistest.WaitFor(t, 5*time.Second, "active", func() bool { role, _ := r.get(); return role == failover.Active })
	_, epoch := r.get()

	proxy.Block()
	time.Sleep(3 * ttl) // the lease expires in Redis meanwhile
	if role, e := r.get(); role != failover.Active || e != epoch {
		t.Fatalf("during the outage: %v epoch %d, want still active with %d", role, e, epoch)
	}
	direct := newClient(t, srv.Addr)
	ctx := context.Background()
	if n, _ := direct.Exists(ctx, "lease").Result(); n != 0 {
		t.Fatal("the lease did not expire in Redis during the outage (the test proves nothing)")
	}
	proxy.Unblock()
	want := fmt.Sprintf("%d/only", epoch)
	redistest.WaitFor(t, 5*time.Second, "the lease taken back with the same epoch", func() bool {
		v, _ := direct.Get(ctx, "lease").Result()
		return v == want
	})
	if role, e := r.get(); role != failover.Active || e != epoch {
		t.Fatalf("after the outage: %v epoch %d, want active %d", role, e, epoch)
	}

	// Another holder takes the expired lease while this one is away: it steps down.
	proxy.Block()
	redistest.WaitFor(t, 5*time.Second, "the lease expired", func() bool { n, _ := direct.Exists(ctx, "lease").Result(); return n == 0 })
	other := newLease(t, direct, "other")
	if e, ok, err := other.Acquire(ctx); err != nil || !ok || e <= epoch {
		t.Fatalf("another holder: epoch %d ok %v err %v", e, ok, err)
	}
	proxy.Unblock()
	redistest.WaitFor(t, 5*time.Second, "stepped down once Redis shows another holder", func() bool { role, _ := r.get(); return role == failover.Standby })
}
