package main

// hotline failover drill: a rehearsal of losing the active site, on this machine,
// as issue 8's test asks. It starts a Redis master and its replica, three Redis
// Sentinels and two engines (this binary, sites primary and backup), each site on
// its own loopback address (127.0.0.2 and 127.0.0.3, the witness Sentinel on
// 127.0.0.4), on free ports in a temporary folder, and Kamailio in front of both
// when it is installed (drill_kamailio.go). Simulated agents log in at the active
// site and take calls, the other callers wait in the queue, the agents make work
// orders (drill_load.go). It kills the active engine and its Redis master with
// SIGKILL and measures how long until a new call (through Kamailio, or to the
// other site directly) is answered. It then checks that nothing acknowledged
// before the kill (events the master and its replica both held, work orders, call
// records) is missing at the new active site, that every agent moved there on its
// own, that the callback list holds exactly the calls cut off, and that the lost
// site, started again, comes back as standby beside the one active site.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

const drillUsage = `usage:
  hotline failover drill [--runs N] [--target 30s] [--calls M] [--agents A] [--tickets K]
                         [--load 2] [--wait-replicas 1] [--log-level info] [--keep] [--direct]

drill rehearses the loss of the active site on this machine (needs redis-server and
redis-sentinel on PATH). Each run starts, on free ports in a temporary folder,
each site on its own loopback address: at the primary site (127.0.0.2) a Redis
master, a Redis Sentinel and the engine primary; at the backup site (127.0.0.3) the
master's replica, a Sentinel and the engine backup; a witness Sentinel at 127.0.0.4
(down-after-milliseconds 1000, quorum 2). The engines are this binary (lease ttl 1s
renewed every 200ms, wait_replicas 1); the primary is started first and takes the
lease. The callers are at 127.0.0.1.

Where Kamailio is installed (kamailio on PATH or in /usr/sbin) it runs in front, on
127.0.0.1: its dispatcher probes both sites with OPTIONS every second (the active
site answers 200, the standby 503; one probe marks a site up or down), relays each
INVITE to 12345 to an active site and tries the other one after a 503 or a 1 s
timeout. The callers and the cut-over probe then call Kamailio. Without Kamailio
(or with --direct) they call the sites directly, and the drill says so.

When one site is active, A simulated agents (1001 on, the lab password) log in
there, knowing both sites; M callers dial 12345 and press 1: min(A, M) of them talk
to an agent, the rest wait in the queue; the agents make K work orders for the
calls they take. Where SIPp is installed (Debian package sip-tester) it calls 12345
--load times a second in the background from then on (each call listens to the menu
for 20 s), through Kamailio or at the active site. The active engine and the Redis
master are then killed (SIGKILL)
and a new INVITE is sent every 50 ms (to Kamailio, or to the other site) until one
is answered:

  cut-over: <seconds> s                 from the kill to the 200 OK of a new call
  lost acknowledged records: <n>        what the master and its replica both held
                                        before the kill and is missing afterwards:
                                        events in the log, work orders and call
                                        records at the new active site's API
  lost work orders: <n>                 of those, the work orders
  agents moved: <n> of <A>              agents that moved to the new active site on
                                        their own (the run fails unless all did)
  callbacks: <x> for <y> cut-off calls the calls the new active site put on the
                                        callback list, and the calls the lost site
                                        left open (in the menu, queued or talking:
                                        every call open in the acknowledged log and
                                        the SIPp calls the replica had); the run
                                        fails unless they are the same calls
  old primary restarted: <how>          the lost site's Redis and engine started
                                        again (the Redis a replica of the new master,
                                        the engine as it was): it must say standby
                                        and the other site active, for 3 s

With --runs N it prints the median and the worst cut-over. It exits non-zero when a
cut-over exceeds --target, an acknowledged record is lost or a run fails a check.
Every process it started is killed by its pid (Kamailio, which forks workers, by
its process group) at the end of each run, also when the run fails.
`

// Drill bounds: every wait of a run is bounded by one of these.
const (
	drillStartTimeout  = 20 * time.Second // a process answers (PING, its addresses)
	drillSetupTimeout  = 30 * time.Second // sentinels know each other, a site is active, calls queued
	drillVerifyTimeout = 15 * time.Second // each check after the takeover (the log, the agents, the API)
	drillMasterName    = "drill"
	drillPrefix        = "drill"
)

// Each site has its own loopback address (Linux routes all of 127.0.0.0/8 to lo):
// its Redis, its Sentinel and its engine bind there, and their connections leave
// from there. The callers and the dispatcher in front are at 127.0.0.1.
const (
	drillPrimaryIP = "127.0.0.2"
	drillBackupIP  = "127.0.0.3"
	drillWitnessIP = "127.0.0.4" // the third Sentinel
	drillFrontIP   = "127.0.0.1" // the callers and Kamailio
)

type drillFlags struct {
	runs, calls, waitReplicas int
	agents, tickets           int
	load                      float64 // SIPp calls per second in the background (0: none)
	target                    time.Duration
	keep, direct              bool
	logLevel                  string
}

// drillResult is what one run measured.
type drillResult struct {
	cutOver      time.Duration // 0 with answered false
	answered     bool
	acknowledged int // events acknowledged before the kill
	created      int // of which call.created
	lostEvents   int // acknowledged events the log no longer has
	// cutOff are the calls the lost site left open (in the menu, queued or
	// talking, as the log has them when the new active site takes over: every
	// call open in the acknowledged log among them), talkingAtKill how many of
	// the acknowledged ones were connected to an agent; callbacks the calls put
	// on the callback list by the new active site. The run fails unless
	// callbacks and cutOff are the same set.
	cutOff, callbacks []string
	talkingAtKill     int
	load              string // the SIPp load's summary ("" without one)
	// restarted says how the lost site came back.
	restarted string
	// The work orders and call records acknowledged before the kill, and those
	// that the new active site's API does not have.
	tickets, lostTickets int
	calls, lostCalls     int
	agents, moved        int // agents logged in, and those that moved to the new active site
	// failed names the checks of the run that failed (besides the cut-over
	// target and lost records).
	failed []string
}

// lost is every acknowledged record the run lost: events, work orders, call records.
func (r drillResult) lost() int { return r.lostEvents + r.lostTickets + r.lostCalls }

func runDrill(args []string, stdout, stderr io.Writer) error {
	var f drillFlags
	fs := flag.NewFlagSet("hotline failover drill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, drillUsage) }
	fs.IntVar(&f.runs, "runs", 1, "how many times to rehearse the loss")
	fs.IntVar(&f.calls, "calls", 5, "callers at the active site when it is lost (talking to the agents, the rest waiting in the queue)")
	fs.IntVar(&f.agents, "agents", 4, "simulated agents logged in at the active site (from 1001 on), who move to the new active site on their own")
	fs.IntVar(&f.tickets, "tickets", 3, "work orders the agents make for the calls they take, before the kill")
	fs.Float64Var(&f.load, "load", 2, "SIPp calls per second to 12345 in the background, from before the kill to the end of the checks (each listens to the menu for 20 s); 0: none. Needs sipp (Debian package sip-tester)")
	fs.DurationVar(&f.target, "target", 30*time.Second, "the longest acceptable cut-over")
	fs.IntVar(&f.waitReplicas, "wait-replicas", 1, "the sites' store.redis.wait_replicas (each acknowledged write waits for that many replicas)")
	fs.StringVar(&f.logLevel, "log-level", "info", "the engines' log level (debug, info, warn, error), in their logs kept with --keep")
	fs.BoolVar(&f.keep, "keep", false, "keep each run's folder (configurations and logs) and print where it is")
	fs.BoolVar(&f.direct, "direct", false, "call the sites directly, without Kamailio in front even when it is installed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("failover drill: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case f.runs < 1:
		return errors.New("failover drill: --runs must be 1 or more")
	case f.calls < 0 || f.calls > 200:
		return errors.New("failover drill: --calls must be between 0 and 200")
	case f.agents < 0 || f.agents > 50:
		return errors.New("failover drill: --agents must be between 0 and 50")
	case f.tickets < 0 || f.tickets > 100:
		return errors.New("failover drill: --tickets must be between 0 and 100")
	case f.tickets > 0 && min(f.agents, f.calls) == 0:
		return errors.New("failover drill: --tickets needs an agent talking to a caller: --agents and --calls of 1 or more (or --tickets 0)")
	case f.target <= 0:
		return errors.New("failover drill: --target must be positive")
	}
	var bins drillBins
	var err error
	if bins.server, err = exec.LookPath("redis-server"); err != nil {
		return fmt.Errorf("failover drill: redis-server is not on PATH (Debian package redis-server): %w", err)
	}
	if bins.sentinel, err = exec.LookPath("redis-sentinel"); err != nil {
		return fmt.Errorf("failover drill: redis-sentinel is not on PATH (Debian package redis-sentinel): %w", err)
	}
	if bins.engine, err = os.Executable(); err != nil {
		return fmt.Errorf("failover drill: find this program to start the engines: %w", err)
	}
	if f.load > 0 {
		if bins.sipp = findSIPp(); bins.sipp == "" {
			fmt.Fprintln(stdout, "failover drill: SIPp is not installed (Debian package sip-tester): no background load")
		}
	}
	switch bins.kamailio = findKamailio(); {
	case f.direct:
		bins.kamailio = ""
		fmt.Fprintln(stdout, "failover drill: --direct: no Kamailio in front; the callers call the sites directly")
	case bins.kamailio == "":
		fmt.Fprintln(stdout, "failover drill: Kamailio is not installed (Debian package kamailio): the callers call the sites directly")
	}

	// The drill's own clients reach a Redis that it kills on purpose: their
	// reconnection chatter is no news (the engines' logs keep theirs).
	redis.SetLogger(quietRedisLog{})
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))

	// Ctrl-C or SIGTERM ends the run in progress, which kills its processes.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var cutOvers []time.Duration
	missed, lostAny, failedRuns := 0, 0, 0
	for i := 1; i <= f.runs; i++ {
		fmt.Fprintf(stdout, "run %d of %d\n", i, f.runs)
		res, err := drillRun(ctx, bins, f, stdout)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("failover drill: interrupted in run %d (every process it started was killed)", i)
		}
		if err != nil {
			return fmt.Errorf("failover drill: run %d: %w", i, err)
		}
		if res.answered {
			fmt.Fprintf(stdout, "cut-over: %.2f s\n", res.cutOver.Seconds())
			cutOvers = append(cutOvers, res.cutOver)
		} else {
			fmt.Fprintf(stdout, "cut-over: none within the target of %v: MISSED\n", f.target)
		}
		if !res.answered || res.cutOver > f.target {
			missed++
		}
		fmt.Fprintf(stdout, "lost acknowledged records: %d\n", res.lost())
		fmt.Fprintf(stdout, "  (events %d of %d acknowledged by the master and its replica before the kill, %d of them call.created; at the new active site work orders %d of %d, call records %d of %d)\n",
			res.lostEvents, res.acknowledged, res.created, res.lostTickets, res.tickets, res.lostCalls, res.calls)
		fmt.Fprintf(stdout, "lost work orders: %d\n", res.lostTickets)
		fmt.Fprintf(stdout, "agents moved: %d of %d\n", res.moved, res.agents)
		fmt.Fprintf(stdout, "callbacks: %d for %d cut-off calls\n", len(res.callbacks), len(res.cutOff))
		fmt.Fprintf(stdout, "  (at the kill %d acknowledged call(s) talking to an agent, %d in the menu or the queue)\n", res.talkingAtKill, len(res.cutOff)-res.talkingAtKill)
		if res.load != "" {
			fmt.Fprintf(stdout, "  %s\n", res.load)
		}
		fmt.Fprintf(stdout, "old primary restarted: %s\n", res.restarted)
		lostAny += res.lost()
		if len(res.failed) > 0 {
			failedRuns++
			fmt.Fprintf(stdout, "  run %d FAILED: %s\n", i, strings.Join(res.failed, "; "))
		}
	}
	if len(cutOvers) > 1 {
		slices.Sort(cutOvers)
		fmt.Fprintf(stdout, "cut-over over %d runs: median %.2f s, worst %.2f s (target %v)\n",
			len(cutOvers), median(cutOvers).Seconds(), cutOvers[len(cutOvers)-1].Seconds(), f.target)
	}
	var problems []string
	if missed > 0 {
		problems = append(problems, fmt.Sprintf("%d run(s) missed the %v cut-over target", missed, f.target))
	}
	if lostAny > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged record(s) were lost", lostAny))
	}
	if failedRuns > 0 {
		problems = append(problems, fmt.Sprintf("%d run(s) failed a check", failedRuns))
	}
	if len(problems) > 0 {
		return errors.New("failover drill: " + strings.Join(problems, ", "))
	}
	return nil
}

// quietRedisLog discards go-redis's own log lines.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// median of sorted ds.
func median(ds []time.Duration) time.Duration {
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// drillRun is one rehearsal: set up, load, kill, measure, verify, tear down.
func drillRun(parent context.Context, bins drillBins, f drillFlags, stdout io.Writer) (res drillResult, err error) {
	dir, err := os.MkdirTemp("", "hotline-drill-")
	if err != nil {
		return res, err
	}
	d := &drill{bins: bins, dir: dir, waitReplicas: f.waitReplicas, logLevel: f.logLevel}
	// Bounded as a whole: set-up, the calls, the cut-over (at most the target plus
	// one INVITE's timeout), the checks and the restart of the lost site.
	ctx, cancel := context.WithTimeout(parent, 2*drillSetupTimeout+f.target+4*drillVerifyTimeout+3*drillStartTimeout+30*time.Second)
	defer cancel()
	defer func() {
		if kerr := d.close(); kerr != nil && err == nil {
			err = kerr
		}
		if f.keep || err != nil {
			fmt.Fprintf(stdout, "  the run's configurations and logs are in %s\n", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()

	// Redis: the primary site's master, the backup site's replica.
	master, masterAddr, err := d.startRedis(ctx, "redis-primary", drillPrimaryIP, 0, "")
	if err != nil {
		return res, err
	}
	_, mport, _ := net.SplitHostPort(masterAddr)
	replica, replicaAddr, err := d.startRedis(ctx, "redis-backup", drillBackupIP, 0, "", "--replicaof", drillPrimaryIP, mport)
	if err != nil {
		return res, err
	}
	rc := redis.NewClient(&redis.Options{Addr: replicaAddr, MaxRetries: -1})
	defer rc.Close()
	if err := waitUntil(ctx, drillStartTimeout, func() error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("the replica's link to the master is not up")
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("redis replica: %w", err)
	}

	// Three sentinels (one per site and a witness), quorum 2; each announces its
	// site's address to the others.
	var sentinels []string
	for _, s := range []struct{ name, ip string }{
		{"sentinel-primary", drillPrimaryIP}, {"sentinel-backup", drillBackupIP}, {"sentinel-witness", drillWitnessIP},
	} {
		conf := fmt.Sprintf("sentinel announce-ip %[3]s\n"+
			"sentinel monitor %[1]s %[4]s %[2]s 2\n"+
			"sentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 10000\n"+
			"sentinel parallel-syncs %[1]s 1\n", drillMasterName, mport, s.ip, drillPrimaryIP)
		_, addr, err := d.startRedis(ctx, s.name, s.ip, 0, conf)
		if err != nil {
			return res, err
		}
		sentinels = append(sentinels, addr)
	}
	// A failover needs the sentinels to know each other and the replica.
	for _, addr := range sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
		err := waitUntil(ctx, drillSetupTimeout, func() error {
			m, err := sc.Master(ctx, drillMasterName).Result()
			if err != nil {
				return err
			}
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return fmt.Errorf("sentinel %s knows %s other sentinels and %s replicas, want 2 and 1", addr, m["num-other-sentinels"], m["num-slaves"])
			}
			return nil
		})
		sc.Close()
		if err != nil {
			return res, err
		}
	}

	// The two engines: the primary site's first, so that it takes the lease.
	primary, err := d.startEngine(ctx, "primary", drillPrimaryIP, sentinels)
	if err != nil {
		return res, err
	}
	if err := waitUntil(ctx, drillSetupTimeout, func() error {
		if code := primary.readyz(ctx); code != http.StatusOK {
			return fmt.Errorf("/readyz of the primary site: %d, want 200", code)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("the primary site did not become active: %w\n%s", err, primary.tail())
	}
	backup, err := d.startEngine(ctx, "backup", drillBackupIP, sentinels)
	if err != nil {
		return res, err
	}
	var active, standby *drillEngine
	if err := waitUntil(ctx, drillSetupTimeout, func() error {
		a, b := primary.readyz(ctx), backup.readyz(ctx)
		switch {
		case a == http.StatusOK && b == http.StatusServiceUnavailable:
			active, standby = primary, backup
		case b == http.StatusOK && a == http.StatusServiceUnavailable:
			active, standby = backup, primary
		default:
			return fmt.Errorf("/readyz: primary %d, backup %d (want one 200, one 503)", a, b)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("no site became active: %w\nprimary:\n%s\nbackup:\n%s", err, primary.tail(), backup.tail())
	}
	// The callers reach the pair through Kamailio when it is there, else the
	// active site directly (and the cut-over probe the standby).
	front, probeTo, probeVia := active.sip, standby.sip, "site "+standby.site
	var kam *drillKamailio
	if bins.kamailio != "" {
		if kam, err = d.startKamailio(ctx, bins.kamailio, primary, backup); err != nil {
			return res, err
		}
		front, probeTo, probeVia = kam.addr, kam.addr, "12345 through Kamailio"
		fmt.Fprintf(stdout, "  Kamailio at %s in front of both sites (dispatcher: OPTIONS every 1 s)\n", kam.addr)
	}
	// The agents, at the active site; they know both.
	agents, err := startAgents(ctx, f.agents, active.http, []string{primary.http, backup.http}, dir)
	if err != nil {
		return res, err
	}
	defer agents.close()
	res.agents = len(agents.list)
	talkers := min(f.agents, f.calls)
	fmt.Fprintf(stdout, "  site %s is active, %s standby; %d agent(s) ready there; %d caller(s) dial 12345 and press 1 (%d to talk to an agent, %d to wait in the queue)\n",
		active.site, standby.site, f.agents, f.calls, talkers, f.calls-talkers)

	// The log, through the sentinels (as the engines reach it).
	client := newRedisClient("", sentinels, drillMasterName, "")
	defer client.Close()
	rlog, err := store.OpenRedis(ctx, store.RedisOptions{Client: client, Prefix: drillPrefix})
	if err != nil {
		return res, err
	}
	defer rlog.Close()

	// The callers: each waits in the queue until the run ends.
	callCtx, stopCalls := context.WithCancel(ctx)
	var callers sync.WaitGroup
	var closers []io.Closer
	defer func() {
		stopCalls()
		callers.Wait()
		for _, c := range closers {
			c.Close()
		}
	}()
	for i := range f.calls {
		u, peer, err := drillCaller(callCtx, front, i, &callers)
		if err != nil {
			return res, fmt.Errorf("caller %d: %w", i+1, err)
		}
		closers = append(closers, u, peer)
	}
	var calls map[string]*drillCall
	if err := waitUntil(ctx, drillSetupTimeout, func() error {
		if calls, err = readCalls(ctx, rlog); err != nil {
			return err
		}
		queued := 0
		for _, c := range calls {
			if c.queued && !c.ended {
				queued++
			}
		}
		if n := len(talking(calls)); queued < f.calls || n < talkers {
			return fmt.Errorf("%d of %d callers queued, %d of %d of them talking to an agent", queued, f.calls, n, talkers)
		}
		return nil
	}); err != nil {
		return res, err
	}
	// The background load, until the end of the run.
	if bins.sipp != "" && f.load > 0 {
		load, err := d.startLoad(bins.sipp, front, f.load, 20000)
		if err != nil {
			return res, err
		}
		defer func() {
			_ = load.kill()
			res.load = load.describe(f.load)
		}()
		fmt.Fprintf(stdout, "  SIPp calls 12345 %g time(s) a second in the background\n", f.load)
		sleepCtx(ctx, 2*time.Second) // calls in the menu when the site is lost
	}
	// The agents' work orders for the calls they are taking.
	tickets, err := makeWorkOrders(ctx, agents, calls, f.tickets)
	if err != nil {
		return res, err
	}

	// The acknowledged records: the log as the master has it now, confirmed by the
	// replica (a marker write and WAIT 1: replication is in order, so a replica that
	// has the marker has every event before it).
	acked := map[uint64]string{}
	var ackedCalls []string
	open := map[string]bool{} // calls created and not ended: connected or not
	if err := rlog.Replay(ctx, 0, func(ev *event.Event) error {
		acked[ev.Seq] = string(ev.Type) + " " + ev.Call
		switch ev.Type {
		case event.CallCreated:
			res.created++
			ackedCalls = append(ackedCalls, ev.Call)
			open[ev.Call] = false
		case event.CallConnected:
			if _, ok := open[ev.Call]; ok {
				open[ev.Call] = true
			}
		case event.CallEnded:
			delete(open, ev.Call)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("read the log before the kill: %w", err)
	}
	var ackedOpen []string // calls open in the acknowledged log: each must be cut off
	for id, connected := range open {
		ackedOpen = append(ackedOpen, id)
		if connected {
			res.talkingAtKill++
		}
	}
	var waited *redis.Cmd
	if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, drillPrefix+":drill-marker", time.Now().UnixNano(), time.Minute)
		waited = p.Do(ctx, "WAIT", 1, 5000)
		return nil
	}); err != nil {
		return res, fmt.Errorf("confirm the events on the replica: %w", err)
	}
	if n, _ := waited.Int(); n < 1 {
		return res, errors.New("the replica did not acknowledge the log within 5 s: nothing is acknowledged, nothing to check")
	}
	res.acknowledged, res.tickets, res.calls = len(acked), len(tickets), len(ackedCalls)
	var lastAcked uint64
	for seq := range acked {
		lastAcked = max(lastAcked, seq)
	}

	// The primary site is lost: its engine and its Redis, at once.
	if active.site != "primary" {
		fmt.Fprintf(stdout, "  note: site %s holds the lease but its Redis is the master at the primary site\n", active.site)
	}
	if err := active.kill(); err != nil {
		return res, err
	}
	if err := master.kill(); err != nil {
		return res, err
	}
	lost := time.Now()
	fmt.Fprintf(stdout, "  killed engine %s and the Redis master (SIGKILL); calling %s\n", active.site, probeVia)

	probe, err := siptest.New(probeTo, siptest.Options{})
	if err != nil {
		return res, err
	}
	defer probe.Close()
	peer, err := mediatest.NewPeer(media.PCMU, 101)
	if err != nil {
		return res, err
	}
	defer peer.Close()
	last := 0
	for time.Since(lost) <= f.target && ctx.Err() == nil {
		if last = drillInvite(ctx, probe, peer.Addr()); last == http.StatusOK {
			res.cutOver, res.answered = time.Since(lost), true
			break
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if !res.answered {
		fmt.Fprintf(stdout, "  %s did not answer within %v (last status %d):\n%s\n", standby.site, f.target, last, standby.tail())
	}
	if kam != nil {
		r := kam.report(lost)
		first := "none"
		if at, ok := r.firstAt[standby.site]; ok {
			first = fmt.Sprintf("%.2f s", at.Sub(lost).Seconds())
		}
		fmt.Fprintf(stdout, "  Kamailio relayed %d INVITE(s) to %s and %d to %s (%d of them retries after a timeout or a 503) and refused %d with no site active; the first to %s after the kill at %s\n",
			r.relayed[active.site], active.site, r.relayed[standby.site], standby.site, r.retried, r.refused, standby.site, first)
	}

	// What the log holds now, through the sentinels' new master.
	witness := redis.NewSentinelClient(&redis.Options{Addr: sentinels[2], MaxRetries: -1})
	defer witness.Close()
	if err := waitUntil(ctx, drillVerifyTimeout, func() error {
		addr, err := witness.GetMasterAddrByName(ctx, drillMasterName).Result()
		if err != nil {
			return err
		}
		if net.JoinHostPort(addr[0], addr[1]) != replicaAddr {
			return fmt.Errorf("the sentinels' master is %s, not the replica %s yet", net.JoinHostPort(addr[0], addr[1]), replicaAddr)
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("the sentinels did not promote the replica: %w\n%s", err, replica.tail())
	}
	// The new active site puts the cut-off calls on the callback list after it
	// starts taking calls: give it a few seconds (not part of the cut-over).
	var have map[uint64]string // the last complete read
	err = waitUntil(ctx, drillVerifyTimeout, func() error {
		got, callbacks := map[uint64]string{}, map[string]bool{}
		live := map[string]bool{} // calls created and not ended, until the takeover
		var cutOff []string
		tookOver := false
		if err := rlog.Replay(ctx, 0, func(ev *event.Event) error {
			got[ev.Seq] = string(ev.Type) + " " + ev.Call
			if !tookOver {
				switch {
				case ev.Type == event.SiteRole && ev.Site == standby.site && ev.Seq > lastAcked:
					tookOver, cutOff = true, slices.Sorted(maps.Keys(live))
				case ev.Type == event.CallCreated:
					live[ev.Call] = true
				case ev.Type == event.CallEnded:
					delete(live, ev.Call)
				}
			}
			if ev.Seq > lastAcked && ev.Site == standby.site && ev.Type == event.CallbackScheduled {
				callbacks[ev.Call] = true
			}
			return nil
		}); err != nil {
			return err
		}
		have, res.callbacks, res.cutOff = got, slices.Sorted(maps.Keys(callbacks)), cutOff
		if !tookOver {
			return fmt.Errorf("site %s has not written its takeover (site.role) yet", standby.site)
		}
		for _, id := range ackedOpen {
			if !slices.Contains(cutOff, id) {
				return fmt.Errorf("call %s, open in the acknowledged log, is not among the cut-off calls %v", id, cutOff)
			}
		}
		if !slices.Equal(res.callbacks, res.cutOff) {
			return fmt.Errorf("the callback list holds %v, the calls cut off were %v", res.callbacks, res.cutOff)
		}
		return nil
	})
	if have == nil {
		return res, fmt.Errorf("read the log after the takeover: %w", err)
	}
	if err != nil {
		res.failed = append(res.failed, "callback list: "+err.Error())
	}
	for seq, what := range acked {
		if have[seq] != what {
			res.lostEvents++
		}
	}

	// The agents moved to the new active site on their own.
	_ = waitUntil(ctx, drillVerifyTimeout, func() error {
		if res.moved = agents.movedTo(standby.http); res.moved < res.agents {
			return fmt.Errorf("%d of %d agents at %s", res.moved, res.agents, standby.site)
		}
		return nil
	})
	if res.moved < res.agents {
		res.failed = append(res.failed, fmt.Sprintf("%d of %d agents moved to site %s within %v", res.moved, res.agents, standby.site, drillVerifyTimeout))
	}
	// The work orders and call records acknowledged before the kill are at the
	// new active site.
	var lostTickets, lostCalls []string
	var apiErr error
	err = waitUntil(ctx, drillVerifyTimeout, func() error {
		if lostTickets, lostCalls, apiErr = missingAt(ctx, standby.http, agents.password, tickets, ackedCalls); apiErr != nil {
			return apiErr
		}
		if len(lostTickets)+len(lostCalls) > 0 {
			return fmt.Errorf("site %s lacks work orders %v and call records %v", standby.site, lostTickets, lostCalls)
		}
		return nil
	})
	res.lostTickets, res.lostCalls = len(lostTickets), len(lostCalls)
	switch {
	case apiErr != nil:
		res.failed = append(res.failed, fmt.Sprintf("reading the work orders and call records at site %s: %v", standby.site, apiErr))
	case err != nil:
		fmt.Fprintf(stdout, "  %v\n", err)
	}

	// The lost site comes back: its Redis as a replica of the new master, its
	// engine with the same configuration, data folder and addresses. It must be
	// a standby, and the other site the only active one.
	engines := []*drillEngine{primary, backup}
	again, err := restartLostSite(ctx, d, active, masterAddr, replicaAddr)
	if again != nil {
		engines = append(engines, again)
	}
	if err == nil {
		err = oneActiveSite(ctx, again, standby, 3*time.Second)
	}
	if err == nil && kam != nil {
		// The dispatcher keeps calls away from the standby that came back.
		if code := drillInvite(ctx, probe, peer.Addr()); code != http.StatusOK {
			err = fmt.Errorf("a new call through Kamailio: %d, want 200", code)
		}
	}
	if err != nil {
		res.restarted = "FAILED: " + err.Error()
		res.failed = append(res.failed, "old primary restarted: "+err.Error())
	} else {
		res.restarted = "standby, one active site"
	}

	// An engine that raced (a -race build) or panicked fails the drill.
	if err := standby.kill(); err != nil {
		return res, err
	}
	for _, e := range engines {
		if b, _ := os.ReadFile(e.log); strings.Contains(string(b), "WARNING: DATA RACE") || strings.Contains(string(b), "panic:") {
			return res, fmt.Errorf("engine %s reported a data race or a panic (see %s)", e.site, e.log)
		}
	}
	return res, nil
}

// restartLostSite starts the lost site's Redis again at its address, as a
// replica of the new master, waits until its link is up, and starts its engine
// again as it was (the same configuration, data folder and addresses).
func restartLostSite(ctx context.Context, d *drill, lost *drillEngine, redisAddr, newMaster string) (*drillEngine, error) {
	ip, port, _ := net.SplitHostPort(redisAddr)
	pn, _ := strconv.Atoi(port)
	mip, mport, _ := net.SplitHostPort(newMaster)
	_, addr, err := d.startRedis(ctx, "redis-"+lost.site+"-restarted", ip, pn, "", "--replicaof", mip, mport)
	if err != nil {
		return nil, err
	}
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rc.Close()
	if err := waitUntil(ctx, drillStartTimeout, func() error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("the restarted Redis %s is not a replica of %s with its link up", addr, newMaster)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return d.restartEngine(ctx, lost, lost.site+"-restarted")
}

// oneActiveSite checks for d that the restarted engine says standby (/readyz
// 503) and the other active (200), every 100 ms; the restarted one may first
// take a moment to answer at all.
func oneActiveSite(ctx context.Context, restarted, active *drillEngine, d time.Duration) error {
	if err := waitUntil(ctx, drillStartTimeout, func() error {
		if restarted.readyz(ctx) == 0 {
			return fmt.Errorf("engine %s does not answer /readyz", restarted.name)
		}
		return nil
	}); err != nil {
		return err
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		if r, a := restarted.readyz(ctx), active.readyz(ctx); r != http.StatusServiceUnavailable || a != http.StatusOK {
			return fmt.Errorf("/readyz: %s %d (want 503, standby), %s %d (want 200)", restarted.site, r, active.site, a)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// drillCaller dials 12345 at sip, presses 1 (RFC 4733) and streams silence until
// ctx ends (the caller waits in the queue). The UAC and the peer are the caller's
// to close.
func drillCaller(ctx context.Context, sip netip.AddrPort, i int, wg *sync.WaitGroup) (*siptest.UAC, *mediatest.Peer, error) {
	u, err := siptest.New(sip, siptest.Options{User: fmt.Sprintf("1380000%04d", i+1)})
	if err != nil {
		return nil, nil, err
	}
	peer, err := mediatest.NewPeer(media.PCMU, 101)
	if err != nil {
		u.Close()
		return nil, nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := u.Invite(ictx, "12345", siptest.Offer(peer.Addr(), 1, "", 101, media.PCMU))
	if err == nil {
		var remote netip.AddrPort
		if remote, err = c.RemoteMedia(); err == nil {
			peer.SetRemote(remote)
		}
	}
	if err != nil {
		peer.Close()
		u.Close()
		return nil, nil, fmt.Errorf("INVITE 12345: %w", err)
	}
	wg.Go(func() {
		if peer.Stream(ctx, media.Silence(300*time.Millisecond)) != nil {
			return
		}
		if peer.SendDigit(ctx, '1', 100*time.Millisecond) != nil {
			return
		}
		_ = peer.Stream(ctx, media.Silence(10*time.Minute))
	})
	return u, peer, nil
}

// drillInvite places one call to 12345 through u (at most 2 s) and returns the
// final status (0 on a transport error or timeout); an answered call is hung up.
func drillInvite(ctx context.Context, u *siptest.UAC, rtp netip.AddrPort) int {
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := u.Invite(ictx, "12345", siptest.Offer(rtp, 1, "", 101, media.PCMU))
	if err != nil {
		return siptest.StatusCode(err)
	}
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer hcancel()
	_ = c.Hangup(hctx)
	return c.Response.StatusCode
}
