package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Role is what a site does: Active takes calls and writes the log; Standby follows the
// log, serves a read-only view and refuses calls. The zero value is Standby.
type Role int

// The roles.
const (
	Standby Role = iota
	Active
)

// String returns "standby" or "active" (the words of event.SiteRole's Role field).
func (r Role) String() string {
	switch r {
	case Standby:
		return "standby"
	case Active:
		return "active"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// ErrLost is returned by Renew when the lease is no longer ours: it expired, another
// holder took it, or it was never acquired.
var ErrLost = errors.New("failover: lease lost")

// Defaults for LeaseOptions.
const (
	DefaultLeaseKey = "hotline:lease"
	DefaultTTL      = 3 * time.Second
)

// LeaseOptions configures NewLease.
type LeaseOptions struct {
	// Key is the lease's Redis key; empty means DefaultLeaseKey.
	Key string
	// EpochKey is the epoch counter's key; empty means Key+":epoch".
	EpochKey string
	// Holder names this site (for example "primary" or "backup"); required, and
	// different on each site.
	Holder string
	// TTL is how long the lease lasts without renewal; 0 means DefaultTTL.
	TTL time.Duration
	// Renew is how often Run renews the lease (and how often a standby tries to
	// acquire it); 0 means TTL/3. It must be below TTL.
	Renew time.Duration
	// WaitReplicas, when positive, makes Acquire wait (WAIT, at most Renew, which
	// must then be below the client's ReadTimeout) until
	// that many replicas have the new lease and epoch; a shortfall is logged, not
	// fatal (the site whose partner is gone must still be able to take over).
	WaitReplicas int
	// Confirm, when set, must succeed before each acquisition and each renewal
	// counts: with Sentinel, SentinelQuorum.Confirm (this site's Redis is the
	// master a majority of the Sentinels name). A site that cannot confirm does
	// not take the lease, and an active one steps down within the TTL as if it
	// could not renew: the side of a partition without a majority stops.
	Confirm func(ctx context.Context) error
	// HoldThroughOutage is for a single site, with no other site to take over:
	// while Redis cannot be reached the holder does not step down at the TTL but
	// stays active and keeps trying to renew; when Redis answers again it renews,
	// or takes the lease back with the same epoch if it expired meanwhile and
	// nobody took it (the epoch counter unchanged). Only when another holder has
	// taken it (ErrLost) does it step down. Never set it on a site of a pair: the
	// other site would take over while this one goes on.
	HoldThroughOutage bool
	// Logger receives role changes and renewal failures. nil means slog.Default().
	Logger *slog.Logger
}

// Lease is a leadership lease in Redis with a fencing epoch. Its methods are safe for
// concurrent use, but one Lease is meant to be driven by one Run loop (or by direct
// calls to Acquire, Renew and Release).
type Lease struct {
	c            *redis.Client
	key, epKey   string
	holder       string
	ttl, renew   time.Duration
	margin       time.Duration // subtracted from the TTL for clock drift
	waitReplicas int
	confirm      func(context.Context) error
	hold         bool
	log          *slog.Logger

	mu    sync.Mutex
	epoch uint64 // ours while held, else 0
	value string // "<epoch>/<holder>" while held, else ""
}

// acquireScript: KEYS lease, epoch; ARGV holder, ttl ms, our current value ("" if
// none). Returns {1, epoch} when acquired (or still ours), {0, current value} when
// held by another.
var acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  if ARGV[3] ~= '' and cur == ARGV[3] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(string.match(cur, '^(%d+)/'))}
  end
  return {0, cur}
end
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], e .. '/' .. ARGV[1], 'PX', ARGV[2])
return {1, e}
`)

// renewScript: KEYS lease, epoch; ARGV our value, ttl ms, resume ("1" or "0"),
// our epoch. 1 when renewed, 0 when not ours. With resume, a lease that expired
// while nobody took it (the epoch counter is still ours) is taken back as it was.
var renewScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not cur and ARGV[3] == '1' and redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// releaseScript: KEYS lease; ARGV our value. 1 when deleted, 0 when not ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// NewLease returns a lease handle; it does not touch Redis. The client may be a
// redis.NewFailoverClient (Sentinel).
func NewLease(client *redis.Client, opts LeaseOptions) (*Lease, error) {
	if client == nil {
		return nil, errors.New("failover: new lease: no client")
	}
	if opts.Holder == "" || strings.Contains(opts.Holder, "/") {
		return nil, fmt.Errorf("failover: new lease: holder %q must be non-empty and without '/'", opts.Holder)
	}
	l := &Lease{c: client, key: opts.Key, epKey: opts.EpochKey, holder: opts.Holder,
		ttl: opts.TTL, renew: opts.Renew, waitReplicas: opts.WaitReplicas, confirm: opts.Confirm, hold: opts.HoldThroughOutage, log: opts.Logger}
	if l.key == "" {
		l.key = DefaultLeaseKey
	}
	if l.epKey == "" {
		l.epKey = l.key + ":epoch"
	}
	if l.ttl <= 0 {
		l.ttl = DefaultTTL
	}
	if l.renew <= 0 {
		l.renew = l.ttl / 3
	}
	if l.renew >= l.ttl {
		return nil, fmt.Errorf("failover: new lease: renew interval %v must be below the TTL %v", l.renew, l.ttl)
	}
	if l.ttl < 10*time.Millisecond {
		return nil, fmt.Errorf("failover: new lease: TTL %v is too short (at least 10ms)", l.ttl)
	}
	if rt := client.Options().ReadTimeout; l.waitReplicas > 0 && rt > 0 && l.renew >= rt {
		return nil, fmt.Errorf("failover: new lease: with WaitReplicas the renew interval %v must be below the client's ReadTimeout %v", l.renew, rt)
	}
	l.margin = l.ttl/50 + 2*time.Millisecond
	if l.log == nil {
		l.log = slog.Default()
	}
	return l, nil
}

// Holder returns this site's name.
func (l *Lease) Holder() string { return l.holder }

// EpochKey returns the key of the epoch counter (for store.RedisOptions.EpochKey).
func (l *Lease) EpochKey() string { return l.epKey }

// Epoch returns our epoch while we hold the lease (as far as we know), else 0.
func (l *Lease) Epoch() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// Acquire takes the lease if nobody holds it, raising the epoch counter in the same
// script, and returns the new epoch. If we already hold it, it renews it and returns
// our epoch. If another holder has it, ok is false.
func (l *Lease) Acquire(ctx context.Context) (epoch uint64, ok bool, err error) {
	l.mu.Lock()
	mine := l.value
	l.mu.Unlock()
	// WAIT counts the writes of its own connection: pipeline it with the script.
	var script, wait *redis.Cmd
	for _, cached := range []bool{true, false} {
		keys := []string{l.key, l.epKey}
		_, _ = l.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			if cached {
				script = acquireScript.EvalSha(ctx, p, keys, l.holder, l.ttl.Milliseconds(), mine)
			} else {
				script = acquireScript.Eval(ctx, p, keys, l.holder, l.ttl.Milliseconds(), mine)
			}
			if l.waitReplicas > 0 {
				// Half a renew interval: the whole call must return within one, or
				// a site whose replica is gone would take the lease and never
				// learn its epoch (WAIT runs its full timeout then).
				wait = p.Do(ctx, "WAIT", l.waitReplicas, max(l.renew.Milliseconds()/2, 1))
			}
			return nil
		})
		if !cached || !redis.HasErrorPrefix(script.Err(), "NOSCRIPT") {
			break
		}
	}
	res, err := script.Slice()
	if err != nil {
		return 0, false, fmt.Errorf("failover: acquire lease %s: %w", l.key, err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("failover: acquire lease %s: unexpected reply %v", l.key, res)
	}
	if n, _ := res[0].(int64); n != 1 {
		return 0, false, nil
	}
	e, _ := res[1].(int64)
	if e <= 0 {
		return 0, false, fmt.Errorf("failover: acquire lease %s: bad epoch %v", l.key, res[1])
	}
	epoch = uint64(e)
	l.mu.Lock()
	l.epoch, l.value = epoch, strconv.FormatUint(epoch, 10)+"/"+l.holder
	l.mu.Unlock()
	if wait != nil {
		n, err := wait.Int64()
		if err != nil || int(n) < l.waitReplicas {
			l.log.Warn("failover: lease acquired but not confirmed by the replicas in time",
				"key", l.key, "epoch", epoch, "acked", n, "want", l.waitReplicas, "err", err)
		}
	}
	return epoch, true, nil
}

// Renew extends the lease by the TTL if we still hold it with our epoch; otherwise it
// forgets our claim and returns ErrLost.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	mine := l.value
	l.mu.Unlock()
	if mine == "" {
		return fmt.Errorf("%w: %s is not held by %s", ErrLost, l.key, l.holder)
	}
	l.mu.Lock()
	epoch := l.epoch
	l.mu.Unlock()
	resume := "0"
	if l.hold {
		resume = "1"
	}
	n, err := renewScript.Run(ctx, l.c, []string{l.key, l.epKey}, mine, l.ttl.Milliseconds(), resume, strconv.FormatUint(epoch, 10)).Int()
	if err != nil {
		return fmt.Errorf("failover: renew lease %s: %w", l.key, err)
	}
	if n != 1 {
		l.forget(mine)
		return fmt.Errorf("%w: %s is no longer %q", ErrLost, l.key, mine)
	}
	return nil
}

// forget drops our claim if it is still value.
func (l *Lease) forget(value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.value == value {
		l.value, l.epoch = "", 0
	}
}

// Release gives the lease up (if it is still ours) so that another holder can take
// it at once, without waiting for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	mine := l.value
	l.value, l.epoch = "", 0
	l.mu.Unlock()
	if mine == "" {
		return nil
	}
	if err := releaseScript.Run(ctx, l.c, []string{l.key}, mine).Err(); err != nil {
		return fmt.Errorf("failover: release lease %s: %w", l.key, err)
	}
	return nil
}

// Status is the lease as Redis has it.
type Status struct {
	Holder    string        // who holds it, "" when nobody does
	Epoch     uint64        // the holder's epoch
	TTL       time.Duration // time left before it expires, 0 when not held
	LastEpoch uint64        // the epoch counter (the highest epoch ever handed out)
}

// Status reads the lease: holder, its epoch, the time left and the epoch counter.
func (l *Lease) Status(ctx context.Context) (Status, error) {
	var get, counter *redis.StringCmd
	var pttl *redis.DurationCmd
	_, err := l.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, l.key)
		pttl = p.PTTL(ctx, l.key)
		counter = p.Get(ctx, l.epKey)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Status{}, fmt.Errorf("failover: lease status %s: %w", l.key, err)
	}
	var st Status
	if c, err := counter.Uint64(); err == nil {
		st.LastEpoch = c
	}
	v, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return st, nil
	}
	e, holder, ok := strings.Cut(v, "/")
	if !ok {
		return st, fmt.Errorf("failover: lease %s holds %q, not <epoch>/<holder>", l.key, v)
	}
	st.Holder = holder
	st.Epoch, _ = strconv.ParseUint(e, 10, 64)
	if d := pttl.Val(); d > 0 {
		st.TTL = d
	}
	return st, nil
}

// Run keeps the lease until ctx ends: while standby it tries to acquire it every Renew
// interval; while active it renews it every Renew interval. onChange is called (from
// Run's goroutine; it should return quickly) with Standby at the start and then at
// every change of role, with the epoch for Active and 0 for Standby.
//
// An active holder steps down on its own when no renewal has succeeded by TTL (less
// a drift margin) after the last successful one was sent, even if Redis cannot be
// reached to say so; a renewal answered after that is ignored. A holder that stepped
// down releases its claim and competes again for a new epoch. When ctx ends an active
// holder releases the lease (so that the other site takes over at once) and reports
// Standby. Run returns ctx's error.
func (l *Lease) Run(ctx context.Context, onChange func(Role, uint64)) error {
	role := Standby
	onChange(Standby, 0)
	var validUntil time.Time // while Active
	hadQuorum := true        // the last confirmation did not fail for want of a quorum
	holding := false         // HoldThroughOutage: active past the TTL, Redis away
	var ops sync.WaitGroup   // renewals and acquisitions still in flight
	stepDown := func(why string, err error) {
		// Report first: the engine must stop writing now, whatever Redis does.
		role = Standby
		onChange(Standby, 0)
		l.log.Warn("failover: stepped down to standby", "holder", l.holder, "why", why, "err", err)
		// Best effort: if the lease is still ours in Redis, let it go now.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.renew)
		if err := l.Release(rctx); err != nil {
			l.log.Warn("failover: release after stepping down", "holder", l.holder, "err", err)
		}
		cancel()
	}
	defer func() {
		if role == Active {
			onChange(Standby, 0)
		}
		// Then wait for a call still in flight (bounded by the client's timeouts: a
		// late acquisition may have succeeded) and give up whatever we hold.
		ops.Wait()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.renew)
		if err := l.Release(rctx); err != nil {
			l.log.Warn("failover: release on stop", "holder", l.holder, "err", err)
		}
		cancel()
	}()
	next := time.Now()
	for {
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sent := time.Now()
		next = sent.Add(l.renew)
		switch role {
		case Standby:
			var epoch uint64
			var ok bool
			err := bounded(ctx, &ops, sent.Add(l.renew), func(octx context.Context) error {
				if l.confirm != nil {
					if err := l.confirm(octx); err != nil {
						return err
					}
				}
				var err error
				epoch, ok, err = l.Acquire(octx)
				return err
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if quorum := !errors.Is(err, ErrNoQuorum); quorum != hadQuorum {
				// Say it once when the Sentinels stop or start naming our Redis.
				if hadQuorum = quorum; quorum {
					l.log.Info("failover: the sentinels' majority names our Redis as the master again", "holder", l.holder)
				} else {
					l.log.Warn("failover: standby: the sentinels' majority does not name our Redis as the master: not taking the lease", "holder", l.holder, "err", err)
				}
			}
			if err != nil {
				l.log.Debug("failover: acquire failed", "holder", l.holder, "err", err)
				continue
			}
			if !ok {
				continue
			}
			validUntil = sent.Add(l.ttl - l.margin)
			if time.Now().After(validUntil) { // answered too late to trust
				stepDown("acquired too late", nil)
				continue
			}
			role = Active
			l.log.Info("failover: lease acquired, site is active", "holder", l.holder, "epoch", epoch)
			onChange(Active, epoch)
		case Active:
			deadline := validUntil
			if l.hold && deadline.Before(sent.Add(l.renew)) {
				deadline = sent.Add(l.renew)
			}
			err := bounded(ctx, &ops, deadline, func(octx context.Context) error {
				if l.confirm != nil {
					if err := l.confirm(octx); err != nil {
						return err
					}
				}
				return l.Renew(octx)
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch {
			case err == nil && (l.hold || time.Now().Before(validUntil)):
				validUntil = sent.Add(l.ttl - l.margin)
				if holding {
					holding = false
					l.log.Info("failover: Redis answers again: lease renewed", "holder", l.holder)
				}
			case errors.Is(err, ErrLost):
				stepDown("lease lost", err)
			case l.hold:
				if !holding && !time.Now().Before(validUntil) {
					holding = true
					l.log.Warn("failover: Redis unreachable past the lease's TTL: holding on (single site)", "holder", l.holder, "err", err)
				}
				next = time.Now().Add(l.renew / 2)
			case !time.Now().Before(validUntil):
				stepDown("not renewed within the TTL", err)
			default:
				l.log.Warn("failover: renew failed, retrying", "holder", l.holder, "left", time.Until(validUntil), "err", err)
				// Retry soon, but do not sleep past the lease's end.
				next = time.Now().Add(min(l.renew, time.Until(validUntil))/2 + time.Millisecond)
			}
		}
	}
}

// bounded runs op with a context that ends at deadline (or with ctx) and returns when
// op does or the deadline passes, whichever is first. An op still running then is
// counted in ops (a Redis call past its context's deadline ends within the client's
// timeouts), and its result is ignored.
func bounded(ctx context.Context, ops *sync.WaitGroup, deadline time.Time, op func(context.Context) error) error {
	octx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	done := make(chan error, 1)
	ops.Go(func() { done <- op(octx) })
	select {
	case err := <-done:
		return err
	case <-octx.Done():
		return fmt.Errorf("failover: %w", octx.Err())
	}
}
