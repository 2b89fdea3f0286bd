package main

// hotline failover status|switchover: look at and steer the two sites of a
// hot-standby pair through the Redis they share.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/config"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/failover"
)

const failoverUsage = `usage:
  hotline failover status     --redis ADDR | --sentinels A,B,C --master NAME  [--prefix P]
  hotline failover switchover --redis ADDR | --sentinels A,B,C --master NAME  [--prefix P] [--drain 30s] [--timeout 60s] [--force]
  hotline failover drill      [--runs N] [--target 30s] [--calls M] [--wait-replicas 1] [--keep]

status prints the lease (which site is active, its epoch, the time left), each
site's role and the last event it holds, the log's last event and the replicas'
lag. switchover asks the active site to hand over: it takes no new calls, lets the
current ones end (at most --drain) and releases the lease, which the standby takes;
--force deletes the lease at once instead (the active site steps down when its next
renewal fails; its calls in progress are called back by the other site).
drill rehearses the loss of the active site on this machine and prints the
cut-over time (hotline failover drill -h).
`

// failoverFlags are the flags both subcommands take.
type failoverFlags struct {
	addr, sentinels, master, password, prefix string
	drain, timeout                            time.Duration
	force                                     bool
}

func runFailover(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "drill" {
		return runDrill(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "status" && args[0] != "switchover") {
		fmt.Fprint(stderr, failoverUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return errors.New("failover: say status, switchover or drill")
	}
	cmd := args[0]
	var f failoverFlags
	fs := flag.NewFlagSet("hotline failover "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, failoverUsage) }
	fs.StringVar(&f.addr, "redis", "", "Redis `host:port` holding the shared log")
	fs.StringVar(&f.sentinels, "sentinels", "", "comma-separated Redis Sentinel `addresses` (instead of --redis)")
	fs.StringVar(&f.master, "master", "", "the `name` the sentinels monitor the master under")
	fs.StringVar(&f.password, "password", "", "Redis AUTH `password`")
	fs.StringVar(&f.prefix, "prefix", config.DefaultRedisPrefix, "the shared log's `prefix` (store.redis.prefix)")
	if cmd == "switchover" {
		fs.DurationVar(&f.drain, "drain", 30*time.Second, "how long the active site lets its calls go on before it hands over")
		fs.DurationVar(&f.timeout, "timeout", 0, "how long to wait for the other site to take the lease (default: drain + 30s)")
		fs.BoolVar(&f.force, "force", false, "delete the lease at once instead of asking the active site")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("failover %s: unexpected argument %q", cmd, fs.Arg(0))
	}
	var sentinels []string
	if f.sentinels != "" {
		sentinels = strings.Split(f.sentinels, ",")
	}
	switch {
	case f.addr == "" && len(sentinels) == 0:
		return fmt.Errorf("failover %s: give --redis or --sentinels with --master", cmd)
	case len(sentinels) > 0 && f.master == "":
		return fmt.Errorf("failover %s: --sentinels needs --master", cmd)
	}
	client := newRedisClient(f.addr, sentinels, f.master, f.password)
	defer client.Close()
	lease, err := failover.NewLease(client, failover.LeaseOptions{Key: leaseKey(f.prefix), Holder: "hotline-failover-cli"})
	if err != nil {
		return err
	}
	if cmd == "status" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return failoverStatus(ctx, client, lease, f.prefix, stdout)
	}
	if f.timeout <= 0 {
		f.timeout = f.drain + 30*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout+5*time.Second)
	defer cancel()
	return switchover(ctx, client, lease, f, stdout)
}

// failoverStatus prints the lease, the sites, the log's last event and the
// replication.
func failoverStatus(ctx context.Context, c *redis.Client, lease *failover.Lease, prefix string, w io.Writer) error {
	st, err := lease.Status(ctx)
	if err != nil {
		return fmt.Errorf("failover status: %w", err)
	}
	if st.Holder == "" {
		fmt.Fprintf(w, "lease      %s: nobody holds it: NO SITE IS ACTIVE (epochs handed out: %d)\n", leaseKey(prefix), st.LastEpoch)
	} else {
		fmt.Fprintf(w, "lease      %s: held by %s, epoch %d, %v left (epochs handed out: %d)\n",
			leaseKey(prefix), st.Holder, st.Epoch, st.TTL.Round(time.Millisecond), st.LastEpoch)
	}

	// The sites' heartbeats.
	keys, err := scanKeys(ctx, c, siteKey(prefix, "*"))
	if err != nil {
		return fmt.Errorf("failover status: list the sites: %w", err)
	}
	slices.Sort(keys)
	now := time.Now()
	actives := 0
	for _, k := range keys {
		h, err := c.HGetAll(ctx, k).Result()
		if err != nil {
			return fmt.Errorf("failover status: read %s: %w", k, err)
		}
		name := strings.TrimPrefix(k, siteKey(prefix, ""))
		ms, _ := strconv.ParseInt(h["time"], 10, 64)
		seen := now.Sub(time.UnixMilli(ms)).Round(time.Millisecond)
		role := h["role"]
		if h["handing"] == "1" || h["handing"] == "true" {
			role += " (handing over)"
		}
		if h["role"] == failover.Active.String() {
			actives++
			role += ", epoch " + h["epoch"]
		}
		fmt.Fprintf(w, "site       %s: %s, holds the log up to event %s, last seen %v ago\n", name, role, h["seq"], seen)
	}
	if len(keys) == 0 {
		fmt.Fprintln(w, "site       (no site has reported in the last ten lease TTLs)")
	}
	if actives > 1 {
		fmt.Fprintf(w, "WARNING    %d sites report active\n", actives)
	}

	// The log.
	head, err := c.Get(ctx, prefix+":seq").Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("failover status: read %s:seq: %w", prefix, err)
	}
	fenced, _ := c.Get(ctx, leaseKey(prefix)+":epoch").Uint64()
	msgs, err := c.XRevRangeN(ctx, prefix+":events", "+", "-", 1).Result()
	if err != nil {
		return fmt.Errorf("failover status: read %s:events: %w", prefix, err)
	}
	if len(msgs) == 0 {
		fmt.Fprintf(w, "log        %s:events: no events (sequence %d)\n", prefix, head)
	} else {
		var ev event.Event
		raw, _ := msgs[0].Values["e"].(string)
		_ = json.Unmarshal([]byte(raw), &ev)
		fmt.Fprintf(w, "log        last event %d at %s (%s from site %s, epoch %d); writes below epoch %d are refused\n",
			head, ev.Time.Format(time.RFC3339Nano), ev.Type, orDash(ev.Site), ev.Epoch, fenced)
	}

	// Replication, as this Redis sees it.
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("failover status: INFO replication: %w", err)
	}
	printReplication(w, info)
	return nil
}

// printReplication summarises INFO replication: the role and each replica's lag.
func printReplication(w io.Writer, info string) {
	kv := map[string]string{}
	var replicas []string
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		kv[k] = v
		if strings.HasPrefix(k, "slave") && strings.Contains(v, "ip=") {
			replicas = append(replicas, v)
		}
	}
	switch kv["role"] {
	case "master":
		off, _ := strconv.ParseInt(kv["master_repl_offset"], 10, 64)
		fmt.Fprintf(w, "redis      master, %s replica(s), replication offset %d\n", orDash(kv["connected_slaves"]), off)
		for _, r := range replicas {
			f := map[string]string{}
			for _, p := range strings.Split(r, ",") {
				if k, v, ok := strings.Cut(p, "="); ok {
					f[k] = v
				}
			}
			ro, _ := strconv.ParseInt(f["offset"], 10, 64)
			fmt.Fprintf(w, "replica    %s:%s %s: %d bytes behind, last ack %ss ago\n", f["ip"], f["port"], f["state"], off-ro, orDash(f["lag"]))
		}
	case "slave":
		fmt.Fprintf(w, "redis      replica of %s:%s, link %s, last contact %ss ago, offset %s\n",
			kv["master_host"], kv["master_port"], kv["master_link_status"], orDash(kv["master_last_io_seconds_ago"]), kv["slave_repl_offset"])
	default:
		fmt.Fprintf(w, "redis      role %q\n", kv["role"])
	}
}

// switchover asks the active site to hand over and waits until another site
// holds the lease.
func switchover(ctx context.Context, c *redis.Client, lease *failover.Lease, f failoverFlags, w io.Writer) error {
	st, err := lease.Status(ctx)
	if err != nil {
		return fmt.Errorf("failover switchover: %w", err)
	}
	if st.Holder == "" {
		return errors.New("failover switchover: no site holds the lease: there is nothing to hand over (the standby takes it by itself)")
	}
	from, epoch := st.Holder, st.Epoch
	start := time.Now()
	if f.force {
		// Delete the lease only if it is still the one we read.
		n, err := c.Eval(ctx, `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
			[]string{leaseKey(f.prefix)}, strconv.FormatUint(epoch, 10)+"/"+from).Int()
		if err != nil {
			return fmt.Errorf("failover switchover: delete the lease: %w", err)
		}
		if n == 0 {
			return errors.New("failover switchover: the lease changed hands meanwhile; run status")
		}
		fmt.Fprintf(w, "switchover: lease of %s (epoch %d) deleted\n", from, epoch)
	} else {
		req := from + "/" + strconv.FormatInt(f.drain.Milliseconds(), 10)
		if err := c.Set(ctx, switchoverKey(f.prefix), req, f.timeout).Err(); err != nil {
			return fmt.Errorf("failover switchover: write the request: %w", err)
		}
		fmt.Fprintf(w, "switchover: asked %s (epoch %d) to take no new calls, let its calls end (at most %v) and hand over\n", from, epoch, f.drain)
	}
	deadline := start.Add(f.timeout)
	for time.Now().Before(deadline) {
		st, err := lease.Status(ctx)
		if err == nil && st.Holder != "" && st.Holder != from {
			fmt.Fprintf(w, "switchover: %s is active (epoch %d) after %.1f s\n", st.Holder, st.Epoch, time.Since(start).Seconds())
			return nil
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			break
		}
	}
	_ = c.Del(context.WithoutCancel(ctx), switchoverKey(f.prefix)).Err()
	return fmt.Errorf("failover switchover: no other site took the lease within %v (is the standby running? `hotline failover status`)", f.timeout)
}

// scanKeys lists the keys matching pattern (SCAN, bounded).
func scanKeys(ctx context.Context, c *redis.Client, pattern string) ([]string, error) {
	var out []string
	var cursor uint64
	for range 1000 {
		keys, next, err := c.Scan(ctx, cursor, pattern, 100).Result()
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	return out, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
