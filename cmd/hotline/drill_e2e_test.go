package main

// hotline failover drill from outside: the built binary rehearses the loss of the
// active site once (each site on its own loopback address: a Redis master and
// replica, three sentinels, two engines; Kamailio in front; two agents talking to
// two of three callers, the third in the queue; two work orders; SIGKILL of the
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"failover", "drill", "--runs", "1", "--calls", "3", "--agents", "2", "--tickets", "2"}
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
		`^  \(events 0 of \d+ .* work orders 0 of 2, call records 0 of 3\)$`,
		`^lost work orders: 0$`,
		`^agents moved: 2 of 2$`,
		`^callbacks: 3 for 3 cut-off calls$`,
		`^  \(at the kill 2 call\(s\) talking to an agent, 1 in the menu or the queue\)$`,
		`^old primary restarted: standby, one active site$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).Match(out) {
			t.Errorf("no line matching %s", want)
		}
	}
	if strings.Contains(string(out), "DATA RACE") || strings.Contains(string(out), "panic:") {
		t.Errorf("the drill reported a data race or a panic")
	}
}
