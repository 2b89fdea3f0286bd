package main

// hotline failover drill from outside: the built binary rehearses the loss of the
// active site once (each site on its own loopback address: a Redis master and
// replica, three sentinels, two engines; Kamailio in front; two agents talking to
// two of three callers, the third in the queue; two work orders; SIPp calling
// once a second in the background; SIGKILL of the
// active engine and the master; the lost site restarted) and must print the
// cut-over, no lost acknowledged record or work order, every agent moved, exactly
// the cut-off calls on the callback list, the old primary back as standby, and
// exit 0. Figures are not asserted here (no wall-clock assertions): the target is
// the drill's own --target.

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFailoverDrill(t *testing.T) {
	t.Parallel()
	requireTool(t, "redis-server", "redis-server")
	requireTool(t, "redis-sentinel", "redis-sentinel")
	// Kamailio lives in /usr/sbin, which an ordinary user's PATH lacks; the drill
	// looks there too.
	if _, err := os.Stat("/usr/sbin/kamailio"); err != nil {
		requireTool(t, "kamailio", "kamailio")
	}
	requireTool(t, "sipp", "sip-tester")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"failover", "drill", "--runs", "1", "--calls", "3", "--agents", "2", "--tickets", "2", "--load", "1"}
	cmd := exec.CommandContext(ctx, hotlineBin, args...)
	// On the bound, SIGTERM: the drill then kills the processes it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("hotline %s:\n%s", strings.Join(args, " "), out)
	if ctx.Err() != nil {
		t.Fatalf("the drill did not end within 90 s")
	}
	if err != nil {
		t.Fatalf("the drill failed: %v", err)
	}
	for _, want := range []string{
		`^  Kamailio at 127\.0\.0\.1:\d+ in front of both sites`,
		`^cut-over: \d+\.\d\d s$`,
		`^lost acknowledged records: 0$`,
		`^  \(events 0 of \d+ .* work orders 0 of 2, call records 0 of \d+\)$`,
		`^lost work orders: 0$`,
		`^agents moved: 2 of 2$`,
		`^callbacks: \d+ for \d+ cut-off calls$`,
		`^  \(at the kill 2 acknowledged call\(s\) talking to an agent, \d+ in the menu or the queue\)$`,
		`^  SIPp load: 1 call\(s\)/s to 12345: \d+ made`,
		`^old primary restarted: standby, one active site$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).Match(out) {
			t.Errorf("no line matching %s", want)
		}
	}
	// Exactly the cut-off calls are called back: the three callers (two talking,
	// one queued) and the SIPp calls the lost site had.
	if m := regexp.MustCompile(`(?m)^callbacks: (\d+) for (\d+) cut-off calls$`).FindSubmatch(out); m == nil || string(m[1]) != string(m[2]) {
		t.Errorf("the callbacks and the cut-off calls differ: %q", m)
	} else if n, _ := strconv.Atoi(string(m[2])); n < 3 {
		t.Errorf("%d cut-off calls, want the 3 callers at least", n)
	}
	if strings.Contains(string(out), "DATA RACE") || strings.Contains(string(out), "panic:") {
		t.Errorf("the drill reported a data race or a panic")
	}
}
