package main

// The engine's place in a deployment: one site on the local journal (the default),
// or one of two sites sharing an event log in Redis, active or standby as the lease
// (failover.Lease) decides. The standby refuses calls (SIP 503), says "standby" on
// /readyz, writes nothing and follows the log so that its projections stay warm; on
// taking the lease it catches up, writes with its new epoch and calls back the
// callers the lost site cut off (call.Manager.Takeover).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/config"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/failover"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/web"
)

// errStandby is what a standby site's store answers to every write.
var errStandby = errors.New("site is standby: the active site writes the log")

// errFollowStopped ends a follower that is no longer wanted.
var errFollowStopped = errors.New("follow stopped")

// Keys next to the log's (all under the shared prefix).
func leaseKey(prefix string) string        { return prefix + ":lease" }
func switchoverKey(prefix string) string   { return prefix + ":switchover" }
func siteKey(prefix, name string) string   { return prefix + ":site:" + name }
func sessionKey(prefix, key string) string { return prefix + ":session:" + key }

// site runs the engine's role. Without Redis it is inert: always active.
type site struct {
	name  string
	log   *slog.Logger
	st    *store.Store
	queue string         // where a cut-off caller who was in the menu is called back from
	loc   *time.Location // the reports' zone: the ACD's day starts at its midnight

	// Redis only (nil otherwise).
	client *redis.Client
	rlog   *store.Redis
	wlog   *siteLog
	lease  *failover.Lease
	quorum *failover.SentinelQuorum // with Sentinels: the lease needs their majority
	prefix string
	ttl    time.Duration
	renew  time.Duration

	waitReplicas int // store.redis.wait_replicas

	sip *sip.Server
	mgr *call.Manager

	active    atomic.Bool // writes the log (guarded for changes by wantMu)
	handing   atomic.Bool // a planned switchover is under way
	takeovers atomic.Uint64

	wantMu sync.Mutex
	want   roleWant
	wake   chan struct{}

	applyMu   sync.Mutex // orders the follower's and the catch-up's folding
	followGen uint64

	runMu     sync.Mutex
	runCancel context.CancelFunc

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// roleWant is the role the lease loop last reported.
type roleWant struct {
	role  failover.Role
	epoch uint64
	at    time.Time
}

// openSite opens the event log the configuration names and the Store over it (the
// call openStore was), and returns the site that runs the role. Without store.redis
// that is the journal (or memory) as before, and the site is always active.
func openSite(sigCtx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (*store.Store, *site, error) {
	if err := cfg.ValidateStore(); err != nil {
		return nil, nil, err
	}
	s := &site{name: cfg.Site, log: log, wake: make(chan struct{}, 1), loc: time.Local}
	if len(cfg.Queues) > 0 {
		s.queue = cfg.Queues[0].Name
	}
	if cfg.Store.Redis == nil {
		st, err := openStore(cfg.Data, log)
		if err != nil {
			return nil, nil, err
		}
		s.st = st
		s.active.Store(true)
		return st, s, nil
	}
	rc := cfg.Store.Redis
	// go-redis's own log lines (a Sentinel across a partition fails to dial
	// several times a second) go to our log at debug level: what matters is said
	// by the lease and the log in their words.
	redis.SetLogger(redisLogger{log})
	s.prefix, s.ttl, s.renew = rc.Prefix, cfg.Store.Lease.TTL, cfg.Store.Lease.Renew
	s.waitReplicas = rc.WaitReplicas
	if len(rc.Sentinels) > 0 {
		// The site finds the master through a majority of the Sentinels (at each
		// dial) and needs that majority to hold the lease: see failover.SentinelQuorum.
		s.quorum = failover.NewSentinelQuorum(rc.Sentinels, rc.Master, rc.Password)
		s.client = redis.NewClient(&redis.Options{Addr: "sentinels:" + rc.Master, Password: rc.Password,
			Dialer: s.quorum.Dialer(time.Second), DialTimeout: time.Second, ReadTimeout: readTimeout(rc.WaitTimeout, cfg.Store.Lease.Renew), WriteTimeout: time.Second})
	} else {
		s.client = redis.NewClient(&redis.Options{Addr: rc.Addr, Password: rc.Password,
			DialTimeout: time.Second, ReadTimeout: readTimeout(rc.WaitTimeout, cfg.Store.Lease.Renew), WriteTimeout: time.Second})
	}
	where := rc.Addr
	if where == "" {
		where = "master " + rc.Master + " of sentinels " + strings.Join(rc.Sentinels, ",")
	}
	fail := func(err error) (*store.Store, *site, error) {
		_ = s.client.Close()
		if s.quorum != nil {
			_ = s.quorum.Close()
		}
		return nil, nil, err
	}
	if err := waitForRedis(sigCtx, s.client, where, rc.StartWait, log); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	var confirm func(context.Context) error
	if s.quorum != nil {
		// The side of a partition without a majority of the Sentinels must stop,
		// even though its own Redis still takes writes.
		confirm = func(ctx context.Context) error { return s.quorum.Confirm(ctx, s.client) }
	}
	s.lease, err = failover.NewLease(s.client, failover.LeaseOptions{
		Key: leaseKey(s.prefix), Holder: cfg.Site, TTL: s.ttl, Renew: s.renew,
		WaitReplicas: rc.WaitReplicas, Confirm: confirm, HoldThroughOutage: cfg.Store.Lease.SingleSite, Logger: log,
	})
	if err != nil {
		return fail(fmt.Errorf("store.lease: %w", err))
	}
	var bufferFile string
	if cfg.Data != "" && *rc.Buffer > 0 {
		// What is buffered through an outage survives a crash meanwhile.
		bufferFile = filepath.Join(cfg.Data, redisBufferFile)
	}
	s.rlog, err = store.OpenRedis(ctx, store.RedisOptions{
		Client: s.client, Prefix: s.prefix, EpochKey: s.lease.EpochKey(),
		WaitReplicas: rc.WaitReplicas, WaitTimeout: rc.WaitTimeout, Buffer: *rc.Buffer, BufferFile: bufferFile, Logger: log,
	})
	if err != nil {
		return fail(err)
	}
	s.wlog = &siteLog{r: s.rlog, s: s, own: map[string]bool{}}
	st, err := store.New(s.wlog, store.Options{})
	if err != nil {
		_ = s.rlog.Close()
		return fail(err)
	}
	s.st = st
	s.wlog.capReplay()
	s.register(reg)
	log.Info("event log in Redis: standby until this site holds the lease", "redis", where, "prefix", s.prefix,
		"events", s.wlog.appliedSeq(), "lease_ttl", s.ttl, "renew", s.renew)
	return st, s, nil
}

// waitForRedis pings Redis until it answers, for at most wait (or until a
// signal): an engine started while Redis is away (restarting with it, or during
// an outage) comes up when Redis does, instead of failing at once.
func waitForRedis(ctx context.Context, c *redis.Client, where string, wait time.Duration, log *slog.Logger) error {
	start := time.Now()
	var said time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			if !said.IsZero() {
				log.Info("store.redis: Redis answers: starting", "redis", where, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("store.redis: stopped while waiting for Redis (%s): %w", where, err)
		case time.Since(start) >= wait:
			return fmt.Errorf("store.redis: cannot reach Redis (%s) within store.redis.start_wait %v: %w", where, wait, err)
		case said.IsZero() || time.Since(said) >= 5*time.Second:
			said = time.Now()
			log.Warn("store.redis: waiting for Redis before starting", "redis", where, "error", err,
				"waited", time.Since(start).Round(time.Second), "start_wait", wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// redisBufferFile holds, in the data folder, the events buffered while Redis is
// away (store.RedisOptions.BufferFile).
const redisBufferFile = "redis-outage.buffer"

// readTimeout is the site's Redis read timeout: long enough for a WAIT, short
// enough that an outage is noticed (and the events buffered) within about a second.
func readTimeout(wait, renew time.Duration) time.Duration {
	return max(time.Second, wait+800*time.Millisecond, renew+500*time.Millisecond)
}

// redisLogger hands go-redis's internal log lines to slog at debug level.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// newRedisClient connects to one server, or to the master the sentinels name.
func newRedisClient(addr string, sentinels []string, master, password string) *redis.Client {
	if len(sentinels) > 0 {
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: sentinels, Password: password})
	}
	return redis.NewClient(&redis.Options{Addr: addr, Password: password})
}

// register exposes the role on the metrics registry.
func (s *site) register(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_site_active",
			Help: "1 while this site is the active one (holds the lease and takes calls), 0 while standby."},
			func() float64 {
				if s.active.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_site_epoch",
			Help: "The fencing epoch this site writes the log with (0 while standby)."},
			func() float64 {
				if !s.active.Load() {
					return 0
				}
				return float64(s.rlog.Epoch())
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_site_log_seq",
			Help: "The last event of the shared log this site's projections hold."},
			func() float64 { return float64(s.wlog.appliedSeq()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_site_takeovers_total",
			Help: "How many times this site became active."},
			func() float64 { return float64(s.takeovers.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_store_buffered_events",
			Help: "Events waiting in memory for Redis to take them (an outage): written in order when it can."},
			func() float64 { n, _, _ := s.rlog.Buffered(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_store_buffered_events_total",
			Help: "Events that had to wait for Redis in the buffer."},
			func() float64 { _, n, _ := s.rlog.Buffered(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_store_buffer_dropped_total",
			Help: "Buffered events the log refused because another site had taken over meanwhile (lost)."},
			func() float64 { _, _, n := s.rlog.Buffered(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_store_wait_timeouts_total",
			Help: "Events whose Redis WAIT for the replicas timed out (stored on the master, not yet confirmed)."},
			func() float64 { return float64(s.rlog.WaitTimeouts()) }),
	)
}

// sessions shares the login sessions through Redis when the log is there, so
// that an agent's page that moves to the other site keeps its token.
func (s *site) sessions(ss *web.Sessions) *web.Sessions {
	if s.shared() {
		ss.Share(redisSessions{c: s.client, prefix: s.prefix, replicas: s.waitReplicas}, s.log)
	}
	return ss
}

// redisSessions is web.SessionShare in the pair's Redis: one JSON value per
// session that expires with it; a save waits (briefly) for the replica so that
// the backup site knows the session if the primary is lost right after a login.
type redisSessions struct {
	c        *redis.Client
	prefix   string
	replicas int // store.redis.wait_replicas
}

func (r redisSessions) Save(ctx context.Context, key string, sess web.Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, sessionKey(r.prefix, key), b, 0)
		p.ExpireAt(ctx, sessionKey(r.prefix, key), sess.Expires)
		if r.replicas > 0 {
			p.Do(ctx, "WAIT", r.replicas, 200)
		}
		return nil
	})
	return err
}

func (r redisSessions) Load(ctx context.Context, key string) (web.Session, bool, error) {
	b, err := r.c.Get(ctx, sessionKey(r.prefix, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return web.Session{}, false, nil
	}
	if err != nil {
		return web.Session{}, false, err
	}
	var sess web.Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return web.Session{}, false, fmt.Errorf("session %s…: %w", key[:8], err)
	}
	return sess, true, nil
}

func (r redisSessions) Remove(ctx context.Context, key string) error {
	return r.c.Del(ctx, sessionKey(r.prefix, key)).Err()
}

// shared reports whether the log is shared with another site (Redis).
func (s *site) shared() bool { return s.rlog != nil }

// recoverCalls deals with the calls a previous run of a single site left live in
// its log, as a takeover does with a lost site's: they are ended, and their callers
// (and the callback requests that were waiting) are put on the callback list; a
// caller who was waiting keeps the wait. With a shared log those calls may be the
// other site's: Takeover deals with them when this site becomes active. Call it
// once the ACD runs.
func (s *site) recoverCalls(m *call.Manager) {
	if s.shared() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := m.Takeover(ctx, call.TakeoverOptions{Queue: s.queue, Cause: causeRestarted, Reason: "restart", Lost: "the last run's stop"})
	if err != nil {
		s.log.Error("the calls the last run left were not all ended", "error", err)
	}
	if res.Ended > 0 || res.Callbacks > 0 {
		s.log.Warn("calls the last run left: ended, callers to be called back", "ended", res.Ended,
			"callbacks", res.Callbacks, "unreachable", res.Unreachable)
	}
}

// causeRestarted is the cause recorded on a call that a stop of the engine cut off.
const causeRestarted = "engine restarted: the call was lost"

// standby reports whether this site is the standby (its API is read-only then).
func (s *site) standby() bool { return s.shared() && !s.active.Load() }

// ready is /readyz's verdict on the role.
func (s *site) ready() error {
	switch {
	case !s.shared():
		return nil
	case s.handing.Load():
		return errors.New("handing over to the standby site")
	case !s.active.Load():
		return errors.New("standby")
	}
	return nil
}

// start runs the role: with Redis the server refuses calls at once, and the lease
// loop decides from then on. Call it before the SIP server listens.
func (s *site) start(srv *sip.Server, m *call.Manager) {
	s.sip, s.mgr = srv, m
	if !s.shared() {
		return
	}
	srv.SetAccepting(false)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.roleWorker(ctx) }()
	go func() { defer s.wg.Done(); s.leaseLoop(ctx) }()
	go func() { defer s.wg.Done(); s.heartbeat(ctx) }()
}

// close stops the role loop (an active site releases the lease, so that the
// standby takes over at once) and the Redis client. Call it after the calls have
// drained.
func (s *site) close() {
	if !s.shared() {
		return
	}
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	_ = s.client.Close()
	if s.quorum != nil {
		_ = s.quorum.Close()
	}
}

// leaseLoop runs the lease until ctx ends. A planned switchover cancels one run
// (which releases the lease); the loop then lets the other site take the lease
// before it competes again.
func (s *site) leaseLoop(ctx context.Context) {
	for {
		rctx, cancel := context.WithCancel(ctx)
		s.runMu.Lock()
		s.runCancel = cancel
		s.runMu.Unlock()
		_ = s.lease.Run(rctx, s.onChange)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.awaitOtherHolder(ctx)
		s.handing.Store(false)
		s.mgr.EndHandOver()
	}
}

// awaitOtherHolder waits (at most ten TTLs) until another site holds the lease.
func (s *site) awaitOtherHolder(ctx context.Context) {
	deadline := time.Now().Add(10 * s.ttl)
	for time.Now().Before(deadline) {
		st, err := s.lease.Status(ctx)
		if err == nil && st.Holder != "" && st.Holder != s.name {
			s.log.Info("switchover: the other site holds the lease now", "holder", st.Holder, "epoch", st.Epoch)
			return
		}
		if !sleepCtx(ctx, s.renew) {
			return
		}
	}
	s.log.Error("switchover: no other site took the lease: competing for it again", "waited", 10*s.ttl)
}

// onChange is the lease's report. It runs on the lease loop and returns at once:
// stepping down takes effect here (no more writes, no new calls); the rest happens
// on the role worker.
func (s *site) onChange(role failover.Role, epoch uint64) {
	s.wantMu.Lock()
	s.want = roleWant{role: role, epoch: epoch, at: time.Now()}
	if role == failover.Standby {
		s.stepDown()
	}
	s.wantMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// stepDown stops writing and taking calls. wantMu is held.
func (s *site) stepDown() {
	if s.active.Swap(false) {
		// The callers waiting in its queues are handed over by callback: the
		// active site calls them back (its takeover finds them in the log). The
		// talks go on to their end.
		s.mgr.HandOverQueued()
		s.log.Warn("site is standby now: no new calls, no writes; waiting callers handed over by callback")
	}
	s.sip.SetAccepting(false)
}

// fenced is called when the log refused a write with an old epoch: another site
// holds the lease. This site becomes standby at once; the lease loop notices too.
func (s *site) fenced(err error) {
	s.wantMu.Lock()
	if s.want.role == failover.Active {
		s.log.Error("a newer site writes the log: becoming standby", "error", err)
		s.want = roleWant{role: failover.Standby, at: time.Now()}
		s.stepDown()
	}
	s.wantMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// roleWorker carries out the role changes, one at a time, in order.
func (s *site) roleWorker(ctx context.Context) {
	var cur roleWant
	first := true
	for {
		select {
		case <-ctx.Done():
			s.stopFollowing()
			return
		case <-s.wake:
		}
		s.wantMu.Lock()
		w := s.want
		s.wantMu.Unlock()
		switch {
		case w.role == failover.Standby && (first || cur.role != failover.Standby):
			s.startFollowing(ctx)
		case w.role == failover.Active && (cur.role != failover.Active || cur.epoch != w.epoch):
			s.becomeActive(ctx, w)
		default:
			continue
		}
		cur, first = w, false
	}
}

// startFollowing starts a follower of the log from the last event folded.
func (s *site) startFollowing(ctx context.Context) {
	s.applyMu.Lock()
	s.followGen++
	gen := s.followGen
	s.applyMu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.follow(ctx, gen)
	}()
}

// stopFollowing makes the running follower stop at its next event.
func (s *site) stopFollowing() {
	s.applyMu.Lock()
	s.followGen++
	s.applyMu.Unlock()
}

// follow folds the events the active site appends until a newer generation is
// wanted or ctx ends; it retries after Redis errors.
func (s *site) follow(ctx context.Context, gen uint64) {
	for ctx.Err() == nil {
		err := s.rlog.Follow(ctx, s.wlog.appliedSeq(), func(ev *event.Event) error {
			return s.applyFollowed(gen, ev)
		})
		switch {
		case ctx.Err() != nil, errors.Is(err, errFollowStopped):
			return
		case errors.Is(err, store.ErrCompacted):
			// The projections cannot load a snapshot: carry on after it.
			seq, _, serr := s.rlog.Snapshot(ctx)
			s.log.Error("standby: events were compacted before it read them: the projections miss them", "snapshot", seq, "error", err)
			if serr == nil {
				s.wlog.noteApplied(seq)
			}
		default:
			s.log.Warn("standby: following the log failed, retrying", "error", err)
		}
		if !sleepCtx(ctx, s.renew) {
			return
		}
	}
}

// applyFollowed folds one followed event, unless the follower is stale or the
// event was seen already.
func (s *site) applyFollowed(gen uint64, ev *event.Event) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if gen != s.followGen {
		return errFollowStopped
	}
	if ev.Seq <= s.wlog.appliedSeq() {
		return nil
	}
	s.fold(ev)
	return nil
}

// fold hands a followed event to the projections and, for a run-time
// configuration change, to the ACD and the call flow. applyMu is held.
func (s *site) fold(ev *event.Event) {
	s.st.ApplyFollowed(ev)
	s.wlog.noteApplied(ev.Seq)
	if s.mgr != nil {
		s.mgr.ApplyFollowedConfig(ev)
	}
}

// becomeActive takes over with epoch w.epoch: stop following, fold what is left
// of the log, write with the new epoch, take calls, and call back the callers the
// lost site cut off.
func (s *site) becomeActive(ctx context.Context, w roleWant) {
	s.applyMu.Lock()
	s.followGen++ // the follower stops at its next event
	for attempt := 0; ; attempt++ {
		err := s.rlog.Replay(ctx, s.wlog.appliedSeq(), func(ev *event.Event) error {
			if ev.Seq > s.wlog.appliedSeq() {
				s.fold(ev)
			}
			return nil
		})
		if err == nil || ctx.Err() != nil {
			break
		}
		if attempt == 2 {
			s.log.Error("takeover: could not read the rest of the log: the projections may miss events", "error", err)
			break
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	s.applyMu.Unlock()
	caughtUp := time.Since(w.at)

	s.rlog.SetEpoch(w.epoch)
	s.mgr.EndHandOver()
	if !s.commit(w, func() { s.active.Store(true) }) {
		return
	}
	ev := event.Event{Type: event.SiteRole, Role: failover.Active.String(), Epoch: w.epoch}
	if err := s.st.Append(ctx, &ev); err != nil {
		s.log.Error("takeover: the site.role event was not written", "epoch", w.epoch, "error", err)
		return
	}
	// The ACD's numbers while the log ends at site.role: the day's figures are
	// taken up from there (ReseedACD below) without losing what the ACD counts
	// once calls come.
	base, baseErr := s.mgr.ACDCounters(ctx)
	if !s.commit(w, func() {
		if !s.handing.Load() {
			s.sip.SetAccepting(true)
		}
	}) {
		return
	}
	s.takeovers.Add(1)
	accepting := time.Since(w.at)
	// The day's figures are the log's (the lost site's calls included) before
	// the cut-off callers are queued again here.
	if baseErr == nil {
		baseErr = s.mgr.ReseedACD(ctx, s.loc, ev.Seq, base)
	}
	if baseErr != nil {
		s.log.Error("takeover: the wallboard's counters were not taken up from the log", "error", baseErr)
	}
	res, err := s.mgr.Takeover(ctx, call.TakeoverOptions{Serving: s.wlog.serving, Queue: s.queue})
	if err != nil {
		s.log.Error("takeover: the cut-off calls were not all handled", "error", err)
	}
	// Recordings this site's disk holds that a crash left unfinished (while it
	// was standby it could not write that they were repaired).
	if n := s.mgr.RepairRecordings(true, s.wlog.serving); n > 0 {
		s.log.Warn("recordings cut by a crash of this site were repaired", "recordings", n)
	}
	s.log.Info("site is active: taking calls", "epoch", w.epoch, "log_seq", ev.Seq,
		"caught_up_after", caughtUp.Round(time.Millisecond), "accepting_after", accepting.Round(time.Millisecond),
		"cut_off_calls", res.Ended, "callbacks", res.Callbacks, "unreachable", res.Unreachable, "hooks_handed_on", res.Hooks)
}

// commit runs fn if the lease still wants w (under wantMu, so that a step-down
// cannot come in between) and says whether it did.
func (s *site) commit(w roleWant, fn func()) bool {
	s.wantMu.Lock()
	defer s.wantMu.Unlock()
	if s.want.role != w.role || s.want.epoch != w.epoch {
		return false
	}
	fn()
	return true
}

// heartbeat publishes this site's role and position in the log for `hotline
// failover status`, and acts on a planned switchover asked for this site.
func (s *site) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		role := failover.Standby
		epoch := uint64(0)
		if s.active.Load() {
			role, epoch = failover.Active, s.rlog.Epoch()
		}
		if s.handing.Load() {
			role = failover.Standby
		}
		key := siteKey(s.prefix, s.name)
		var req *redis.StringCmd
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "role", role.String(), "epoch", epoch, "seq", s.wlog.appliedSeq(),
				"time", time.Now().UnixMilli(), "handing", s.handing.Load())
			p.PExpire(ctx, key, 10*s.ttl)
			if role == failover.Active {
				req = p.Get(ctx, switchoverKey(s.prefix))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			s.log.Debug("site heartbeat not written", "error", err)
			continue
		}
		if req == nil {
			continue
		}
		if v, err := req.Result(); err == nil {
			holder, drain, ok := parseSwitchover(v)
			if !ok || holder != s.name {
				continue
			}
			// Only one site holds the lease: the request is ours to take.
			_ = s.client.Del(ctx, switchoverKey(s.prefix)).Err()
			s.handOver(ctx, drain)
		}
	}
}

// handOver is a planned switchover: take no new calls, let the current ones end
// (at most drain), then release the lease so that the standby takes it.
func (s *site) handOver(ctx context.Context, drain time.Duration) {
	s.handing.Store(true)
	s.sip.SetAccepting(false)
	s.mgr.HandOverQueued()
	s.log.Warn("switchover asked: taking no new calls, handing the waiting callers over by callback, letting the talks end",
		"calls", s.mgr.Active(), "drain", drain)
	deadline := time.Now().Add(drain)
	for s.mgr.Active() > 0 && time.Now().Before(deadline) {
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return
		}
	}
	if n := s.mgr.Active(); n > 0 {
		s.log.Warn("switchover: drain time over: the remaining calls will be called back by the other site", "calls", n)
	}
	s.log.Info("switchover: releasing the lease")
	s.runMu.Lock()
	cancel := s.runCancel
	s.runMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// parseSwitchover reads a switchover request: "<holder>/<drain ms>".
func parseSwitchover(v string) (holder string, drain time.Duration, ok bool) {
	h, ms, ok := strings.Cut(v, "/")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return h, time.Duration(n) * time.Millisecond, true
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// siteLog is the Redis log as the Store sees it on a site of a pair: it refuses
// writes while the site is standby, stamps the site's name, notices when a newer
// epoch fences it, remembers the last event the projections hold and which calls
// this process serves.
type siteLog struct {
	r *store.Redis
	s *site

	mu      sync.Mutex
	applied uint64          // the last event folded into the projections
	capped  bool            // Replay stops at applied (after New)
	own     map[string]bool // calls this process created (ended ones for ownKeep more)
	ended   []endedCall     // own calls ended, oldest first
}

// endedCall is a call of this process that ended, and when.
type endedCall struct {
	id string
	at time.Time
}

// ownKeep is how long a call this process ended still counts as its own: the
// projections show it live until its call.ended event is applied, and a takeover
// that lists the live calls meanwhile must not take it for a cut-off call.
const ownKeep = time.Minute

var _ store.Log = (*siteLog)(nil)

// errStopReplay ends a capped Replay.
var errStopReplay = errors.New("replay capped")

// Append writes ev if the site is active.
func (l *siteLog) Append(ctx context.Context, ev *event.Event) error {
	if ev == nil {
		return store.ErrInvalidEvent
	}
	if ev.Call != "" {
		l.mu.Lock()
		switch ev.Type {
		case event.CallCreated:
			l.own[ev.Call] = true
		case event.CallEnded:
			if l.own[ev.Call] {
				now := time.Now()
				l.ended = append(l.ended, endedCall{ev.Call, now})
				n := 0
				for n < len(l.ended) && now.Sub(l.ended[n].at) > ownKeep {
					delete(l.own, l.ended[n].id)
					n++
				}
				l.ended = l.ended[n:]
			}
		}
		l.mu.Unlock()
	}
	if !l.s.active.Load() {
		return errStandby
	}
	if ev.Site == "" {
		ev.Site = l.s.name
	}
	err := l.r.Append(ctx, ev)
	if errors.Is(err, store.ErrFenced) {
		l.s.fenced(err)
	}
	if err != nil && !errors.Is(err, store.ErrNotReplicated) {
		return err // nothing was written
	}
	l.noteApplied(ev.Seq)
	return err
}

// Replay reads the log; once the Store is built it stops at the last event the
// projections hold, so that what the Store's Follow replays and what the follower
// hands on afterwards neither overlap nor leave a gap.
func (l *siteLog) Replay(ctx context.Context, after uint64, fn func(*event.Event) error) error {
	l.mu.Lock()
	capped, limit := l.capped, l.applied
	l.mu.Unlock()
	err := l.r.Replay(ctx, after, func(ev *event.Event) error {
		if capped && ev.Seq > limit {
			return errStopReplay
		}
		if !capped {
			l.noteApplied(ev.Seq)
		}
		return fn(ev)
	})
	if errors.Is(err, errStopReplay) {
		return nil
	}
	return err
}

// LastSeq is the Redis log's.
func (l *siteLog) LastSeq() uint64 { return l.r.LastSeq() }

// Close closes the Redis log (not its client).
func (l *siteLog) Close() error { return l.r.Close() }

func (l *siteLog) capReplay() {
	l.mu.Lock()
	l.capped = true
	l.mu.Unlock()
}

func (l *siteLog) appliedSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applied
}

func (l *siteLog) noteApplied(seq uint64) {
	l.mu.Lock()
	l.applied = max(l.applied, seq)
	l.mu.Unlock()
}

// serving reports whether this process serves the call, or ended it less than
// ownKeep ago (Takeover leaves it alone).
func (l *siteLog) serving(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.own[id]
}
