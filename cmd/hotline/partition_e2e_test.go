package main

// A network partition between the two sites, with real hosts: network namespaces
// a (the primary site: engine, Redis master, Sentinel), b (the backup site:
// engine, Redis replica, Sentinel) and w (the witness Sentinel), each joined by a
// veth pair to a bridge in a fourth namespace. Cutting a's link to the bridge
// leaves the primary alone with its own Redis, which still takes writes in its own
// eyes. The side without a majority of the Sentinels must stop taking calls before
// the other side takes the lease; no event is written with an old epoch; when the
// network returns the old primary stays standby.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
)

// nsProc is a server run inside a namespace, killed when the test ends.
type nsProc struct {
	name string
	out  *lockedBuffer
	done chan struct{}
}

func startIn(t *testing.T, n *netns, name, bin string, args ...string) *nsProc {
	t.Helper()
	p := &nsProc{name: name, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd := n.command(bin, args...)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s:\n%s", name, lastLines(p.out.String(), 15))
		}
	})
	return p
}

// nsRedis is a go-redis client that dials from inside n.
func nsRedis(t *testing.T, n *netns, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Dialer: n.dial, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// nsInvite is inviteStatus from inside n.
func nsInvite(ctx context.Context, n *netns, u *siptest.UAC, peer *mediatest.Peer) int {
	code := 0
	n.run(func() { code = inviteStatus(ctx, u, peer.Addr()) })
	return code
}

// logTime finds the time of the first line of an engine's log that contains
// what (slog's text format: time=2026-11-27T12:00:00.000Z ...).
func logTime(log, what string) (time.Time, bool) {
	re := regexp.MustCompile(`^time=(\S+) `)
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if !strings.Contains(sc.Text(), what) {
			continue
		}
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			if ts, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				return ts, true
			}
		}
	}
	return time.Time{}, false
}

func TestFailoverPartition(t *testing.T) {
	redisBin := requireTool(t, "redis-server", "redis-server")
	sentinelBin := requireTool(t, "redis-sentinel", "redis-sentinel")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	// The hosts. Namespaces are deleted after the processes in them are killed
	// (cleanups run last-registered first).
	hub := newNetns(t, "hub")
	hub.ip(t, "link", "add", "br0", "type", "bridge")
	hub.ip(t, "link", "set", "br0", "up")
	sites := map[string]*netns{}
	addr := map[string]string{"a": "10.77.0.1", "b": "10.77.0.2", "w": "10.77.0.3"}
	for _, name := range []string{"a", "b", "w"} {
		n := newNetns(t, name)
		link(t, n, "eth0", addr[name]+"/24", hub, "to-"+name)
		hub.ip(t, "link", "set", "to-"+name, "master", "br0")
		sites[name] = n
	}
	a, b, w := sites["a"], sites["b"], sites["w"]

	// Redis: the master at a, its replica at b; a Sentinel at each of a, b, w.
	dir := t.TempDir()
	redisArgs := func(host string) []string {
		return []string{"--port", "6379", "--bind", host + " 127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--daemonize", "no", "--logfile", "", "--repl-diskless-sync-delay", "0", "--protected-mode", "no",
			"--dbfilename", host + ".rdb"}
	}
	startIn(t, a, "redis at a", redisBin, redisArgs(addr["a"])...)
	startIn(t, b, "redis at b", redisBin, append(redisArgs(addr["b"]), "--replicaof", addr["a"], "6379")...)
	var sentinelAddrs []string
	for _, name := range []string{"a", "b", "w"} {
		conf := filepath.Join(dir, "sentinel-"+name+".conf")
		text := fmt.Sprintf("port 26379\nbind %s\nprotected-mode no\nsentinel monitor hl %s 6379 2\n"+
			"sentinel down-after-milliseconds hl 1000\nsentinel failover-timeout hl 10000\nsentinel parallel-syncs hl 1\n",
			addr[name], addr["a"])
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		startIn(t, sites[name], "sentinel at "+name, sentinelBin, conf)
		sentinelAddrs = append(sentinelAddrs, net.JoinHostPort(addr[name], "26379"))
	}
	// The witness sees the master, its replica and the two other Sentinels.
	witness := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddrs[2], Dialer: w.dial, MaxRetries: -1})
	defer witness.Close()
	waitFor(t, 30*time.Second, "the sentinels know each other and the replica", func() bool {
		m, err := witness.Master(ctx, "hl").Result()
		return err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "1"
	})

	// The engines, one per site, reaching Redis through the Sentinels.
	conf := func(site string) string {
		return fmt.Sprintf(`
site: %s
store:
  redis: {sentinels: [%s], master: hl, prefix: part, wait_replicas: 1}
  lease: {ttl: 1s, renew: 200ms}
`, site, strings.Join(sentinelAddrs, ", "))
	}
	ea := startEngine(t, engineOptions{Config: conf("site-a"), Netns: a})
	waitFor(t, 15*time.Second, "site-a active", func() bool { return ea.readyz() == http.StatusOK })
	eb := startEngine(t, engineOptions{Config: conf("site-b"), Netns: b})
	waitFor(t, 10*time.Second, "site-b up and standby", func() bool { return eb.readyz() == http.StatusServiceUnavailable })

	// A citizen waits in the queue at site-a.
	var peerA *mediatest.Peer
	if err := a.do(func() error {
		var err error
		peerA, err = mediatest.NewPeer(media.PCMU, 101)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer peerA.Close()
	// sipgo opens the socket it sends from when it first sends: every SIP
	// request of a UAC in a namespace goes out from a thread in that namespace.
	ua := newUAC(t, ea, siptest.Options{})
	var call *siptest.Call
	if err := a.do(func() error {
		var err error
		call, err = ua.Invite(ctx, "12345", siptest.Offer(peerA.Addr(), 1, "", 101, media.PCMU))
		return err
	}); err != nil {
		t.Fatalf("INVITE at site-a: %v", err)
	}
	remote, err := call.RemoteMedia()
	if err != nil {
		t.Fatal(err)
	}
	peerA.SetRemote(remote)
	go func() {
		_ = peerA.Stream(ctx, media.Silence(300*time.Millisecond))
		_ = peerA.SendDigit(ctx, '1', 100*time.Millisecond)
		_ = peerA.Stream(ctx, media.Silence(time.Minute))
	}()
	queued := ea.waitCall("queued at site-a", 15*time.Second, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	eb.waitCall("followed at site-b", 5*time.Second, func(c store.CallRecord) bool { return c.ID == queued.ID && c.State == store.StateRouted })

	// The partition: site-a loses the bridge.
	hub.ip(t, "link", "set", "to-a", "down")
	cut := time.Now()
	waitFor(t, 10*time.Second, "site-a, alone, stops taking calls (/readyz 503)", func() bool { return ea.readyz() == http.StatusServiceUnavailable })
	t.Logf("site-a stopped taking calls %.2f s after the cut", time.Since(cut).Seconds())
	if code := nsInvite(ctx, a, ua, peerA); code != 503 {
		t.Errorf("a new call at the cut-off site-a: %d, want 503", code)
	}
	// The caller at site-a hangs up meanwhile: site-a may not write that any more.
	a.run(func() {
		hctx, hcancel := context.WithTimeout(ctx, 3*time.Second)
		_ = call.Hangup(hctx)
		hcancel()
	})

	// The majority side promotes b's Redis; site-b takes the lease and calls.
	var ub *siptest.UAC
	var peerB *mediatest.Peer
	ub = newUAC(t, eb, siptest.Options{})
	if err := b.do(func() error {
		var err error
		peerB, err = mediatest.NewPeer(media.PCMU, 101)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer peerB.Close()
	waitFor(t, 30*time.Second, "site-b active and answering", func() bool {
		return eb.readyz() == http.StatusOK && nsInvite(ctx, b, ub, peerB) == 200
	})
	t.Logf("site-b answered a new call %.2f s after the cut", time.Since(cut).Seconds())
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if code := ea.readyz(); code != http.StatusServiceUnavailable {
			t.Fatalf("the cut-off site-a says /readyz %d during the partition, want 503", code)
		}
	}
	// Never two active sites: site-a stepped down before site-b took the lease.
	down, ok1 := logTime(ea.stderr.String(), "stepped down to standby")
	up, ok2 := logTime(eb.stderr.String(), "lease acquired, site is active")
	if !ok1 || !ok2 || !down.Before(up) {
		t.Fatalf("site-a stepped down at %v (%v), site-b active at %v (%v): want site-a first", down, ok1, up, ok2)
	}
	t.Logf("site-a stepped down %v before site-b became active", up.Sub(down).Round(time.Millisecond))

	// The network returns: a's Redis becomes a replica of b's; site-a stays standby.
	hub.ip(t, "link", "set", "to-a", "up")
	ra := nsRedis(t, a, net.JoinHostPort(addr["a"], "6379"))
	waitFor(t, 30*time.Second, "a's Redis a replica of b's again", func() bool {
		info, err := ra.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_host:"+addr["b"])
	})
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if ca, cb := ea.readyz(), eb.readyz(); ca != http.StatusServiceUnavailable || cb != http.StatusOK {
			t.Fatalf("after the partition: site-a /readyz %d (want 503), site-b %d (want 200)", ca, cb)
		}
	}

	// The log, at the new master: epochs never go back, and the old primary wrote
	// nothing with an old epoch after the new one began.
	rb := nsRedis(t, b, net.JoinHostPort(addr["b"], "6379"))
	rlog, err := store.OpenRedis(ctx, store.RedisOptions{Client: rb, Prefix: "part"})
	if err != nil {
		t.Fatal(err)
	}
	defer rlog.Close()
	var last, newEpoch uint64
	events, fromA := 0, 0
	if err := rlog.Replay(ctx, 0, func(ev *event.Event) error {
		events++
		if ev.Epoch < last {
			return fmt.Errorf("event %d (%s from %s) has epoch %d after epoch %d", ev.Seq, ev.Type, ev.Site, ev.Epoch, last)
		}
		last = ev.Epoch
		if ev.Site == "site-b" && newEpoch == 0 {
			newEpoch = ev.Epoch
		}
		if newEpoch != 0 && ev.Site == "site-a" {
			fromA++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if newEpoch == 0 || fromA != 0 {
		t.Fatalf("the log: site-b's epoch %d, %d events from site-a after it; want site-b writing, none from site-a", newEpoch, fromA)
	}
	// The cut-off citizen is on site-b's callback list.
	eb.waitCall("the cut-off call ended at site-b", 5*time.Second, func(c store.CallRecord) bool {
		return c.ID == queued.ID && c.State == store.StateEnded
	})
	t.Logf("the log holds %d events; site-b writes with epoch %d; nothing from site-a after it", events, newEpoch)
}
