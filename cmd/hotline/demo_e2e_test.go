package main

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/store"
)

// runDemoBin runs `hotline demo args...` (the built binary) for at most limit and
// returns its exit code, stdout and stderr. Any data race it reports fails the test.
func runDemoBin(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, hotlineBin, append([]string{"demo"}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("hotline demo did not end within %v:\n%s\n%s", limit, stdout.String(), lastLines(stderr.String(), 40))
	}
	if s := stderr.String(); strings.Contains(s, "WARNING: DATA RACE") || strings.Contains(s, "panic:") {
		t.Errorf("hotline demo reported a data race or a panic:\n%s", s)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("hotline demo: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

// summaryFigure reads the figure of a summary line (`  calls answered   12 ...`).
func summaryFigure(t *testing.T, out, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(label) + `\s+(\d+)\b`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line %q in:\n%s", label, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkDemoSummary checks a successful run's summary: calls answered, every one
// with audio verified both ways, the latency lines filled in.
func checkDemoSummary(t *testing.T, code int, out, errOut string) {
	t.Helper()
	if code != 0 {
		t.Fatalf("hotline demo exited %d:\n%s\n%s", code, out, lastLines(errOut, 40))
	}
	offered := summaryFigure(t, out, "calls offered")
	answered := summaryFigure(t, out, "calls answered")
	verified := summaryFigure(t, out, "audio verified both ways")
	if answered == 0 || offered < answered || verified != answered {
		t.Fatalf("offered %d, answered %d, audio verified both ways %d; want answered > 0 and all verified:\n%s", offered, answered, verified, out)
	}
	for _, l := range []string{"answer latency p50/p99", "first-word latency p50/p99", "caller wait p50/p99"} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(l) + `\s+\S+ / \S+`).MatchString(out) {
			t.Errorf("no figures on the line %q:\n%s", l, out)
		}
	}
	if !strings.Contains(out, "offered") || !regexp.MustCompile(`(?m)^\s+\d+s\s+offered \d+\s+answered \d+`).MatchString(out) {
		t.Errorf("no progress line:\n%s", out)
	}
}

// TestDemo: `hotline demo` starts the engine in its own process, logs in three
// simulated WebRTC agents and lets two simulated callers call 12345 over SIP for
// 20 s; calls are answered, each with audio verified in both directions, and the
// demo exits 0.
func TestDemo(t *testing.T) {
	t.Parallel()
	code, out, errOut := runDemoBin(t, 90*time.Second, "--agents", "3", "--callers", "2", "--duration", "20s", "--talk", "3s")
	checkDemoSummary(t, code, out, errOut)
	if !strings.Contains(out, "agent page http://127.0.0.1:") {
		t.Errorf("the engine's addresses are not shown:\n%s", out)
	}
	t.Logf("demo output:\n%s", out)
}

// TestDemoAttach: the demo drives an engine that runs in another process (as the
// load benchmark does); the engine's call records show the calls answered by the
// simulated agents.
func TestDemoAttach(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{})
	code, out, errOut := runDemoBin(t, 60*time.Second, "--attach-http", e.http, "--attach-sip", e.sip.String(),
		"--agents", "2", "--first-agent", "1101", "--callers", "1", "--duration", "12s", "--talk", "2s", "--answer-after", "200ms")
	checkDemoSummary(t, code, out, errOut)
	// A call whose agent hung up ends after its caller's post-call survey.
	want := summaryFigure(t, out, "calls answered")
	answered := 0
	for deadline := time.Now().Add(20 * time.Second); ; {
		calls, err := e.calls()
		if err != nil {
			t.Fatal(err)
		}
		answered = 0
		for _, c := range calls {
			if slices.Contains([]string{"1101", "1102"}, c.Agent) && c.State == store.StateEnded {
				answered++
			}
		}
		if answered >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if answered < want {
		t.Errorf("the engine lists %d ended calls of agents 1101-1102, the demo counted %d answered", answered, want)
	}
}

// TestDemoTooManyAgents: asking for more agents than the configuration's WebRTC
// seats is a clear error before anything starts.
func TestDemoTooManyAgents(t *testing.T) {
	t.Parallel()
	code, out, errOut := runDemoBin(t, 20*time.Second, "--agents", "201")
	if code == 0 || !strings.Contains(errOut, "--agents 201: the configuration has only 200 WebRTC agents") {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	if strings.Contains(out, "engine is up") {
		t.Errorf("the engine was started:\n%s", out)
	}
}
