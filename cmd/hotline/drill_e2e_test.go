package main

// hotline failover drill from outside: the built binary rehearses the loss of the
// active site once (a Redis master and replica, three sentinels, two engines, three
// callers in the queue, SIGKILL of the active engine and the master) and must print
// the cut-over and the lost acknowledged records, and exit 0. Figures are not
// asserted here (no wall-clock assertions): the target is the drill's own --target.

import (
	"context"
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hotlineBin, "failover", "drill", "--runs", "1", "--calls", "3")
	// On the bound, SIGTERM: the drill then kills the processes it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("hotline failover drill --runs 1 --calls 3:\n%s", out)
	if ctx.Err() != nil {
		t.Fatalf("the drill did not end within 60 s")
	}
	if err != nil {
		t.Fatalf("the drill failed: %v", err)
	}
	if !regexp.MustCompile(`(?m)^cut-over: \d+\.\d\d s$`).Match(out) {
		t.Errorf("no `cut-over: <seconds> s` line")
	}
	if !regexp.MustCompile(`(?m)^lost acknowledged records: 0$`).Match(out) {
		t.Errorf("no `lost acknowledged records: 0` line")
	}
	if strings.Contains(string(out), "DATA RACE") || strings.Contains(string(out), "panic:") {
		t.Errorf("the drill reported a data race or a panic")
	}
}
