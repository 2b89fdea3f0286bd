package main

// End-to-end tests: they build the real hotline binary once (TestMain), start one
// engine per test on free loopback ports with its own data folder, and drive it
// from outside with real peers (SIPp, baresip) and a Go test UAC (internal/siptest),
// asserting on what the peers saw and on the engine's REST API and metrics.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/hotline12345/hotline/store"
)

// hotlineBin is the engine binary built by TestMain (with -race when the tests run
// with -race, so a data race in the engine under real traffic fails the test).
var hotlineBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	// These tests mostly wait for real time to pass (prompts play at 50 packets/s):
	// run more of them at once than the default of one per CPU, unless -parallel
	// was given.
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "8")
	}
	dir, err := os.MkdirTemp("", "hotline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// sipgo logs its own bookkeeping (UDP connection reference counts) on its
	// package-wide logger when the test UACs close: not the engine's, not news.
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	hotlineBin = filepath.Join(dir, "hotline")
	args := []string{"build", "-o", hotlineBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, ".")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the engine:", err)
		return 1
	}
	return m.Run()
}

// requireTool finds a peer program on PATH. When it is missing the test fails if the
// environment variable CI is set (CI must install it: make test does) and is skipped
// with a clear message otherwise.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found on PATH (Debian package %s; `make test` installs it)", name, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + ": CI is set, so this is a failure")
	}
	t.Skip(msg)
	return ""
}

// engine is one running hotline process.
type engine struct {
	t    *testing.T
	cmd  *exec.Cmd
	sip  netip.AddrPort // UDP and TCP
	http string         // base URL, http://127.0.0.1:PORT
	data string

	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done

	hc *http.Client // nil: apiClient (an engine in a network namespace has its own)
	ns *netns       // the engine's network namespace, nil for the test's own
}

// client is the HTTP client that reaches the engine.
func (e *engine) client() *http.Client {
	if e.hc != nil {
		return e.hc
	}
	return apiClient
}

// engineOptions say how to start an engine.
type engineOptions struct {
	// Config is YAML written to a file and passed with --config (empty: none).
	Config string
	// Data is the data folder; empty means a new t.TempDir().
	Data string
	// Args are more flags.
	Args []string
	// Netns runs the engine in that network namespace (ip netns exec); its
	// HTTP client dials from there.
	Netns *netns
}

// startEngine starts hotline with --sip 127.0.0.1:0 --http 127.0.0.1:0, waits until
// it has printed its addresses, and stops it (SIGKILL) in t.Cleanup unless the test
// stopped it already. Any data race the engine reports fails the test.
func startEngine(t *testing.T, o engineOptions) *engine {
	t.Helper()
	if o.Data == "" {
		o.Data = t.TempDir()
	}
	args := []string{"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", o.Data, "--drain", "5s"}
	if o.Config != "" {
		f := filepath.Join(t.TempDir(), "hotline.yaml")
		if err := os.WriteFile(f, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", f)
	}
	args = append(args, o.Args...)
	e := &engine{t: t, data: o.Data, stderr: &lockedBuffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(hotlineBin, args...)
	if o.Netns != nil {
		e.cmd = o.Netns.command(hotlineBin, args...)
		e.hc, e.ns = o.Netns.httpClient(), o.Netns
	}
	e.cmd.Stderr = e.stderr
	stdout, err := e.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		e.kill()
		if s := e.stderr.String(); strings.Contains(s, "WARNING: DATA RACE") || strings.Contains(s, "panic:") {
			t.Errorf("the engine reported a data race or a panic:\n%s", s)
		} else if t.Failed() {
			t.Logf("engine log:\n%s", lastLines(s, 60))
		}
	})

	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	sipLine := regexp.MustCompile(`^\s+sip udp\s+(\S+)`)
	httpLine := regexp.MustCompile(`^\s+http\s+(https?://\S+)`)
	for !e.sip.IsValid() || e.http == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				e.wait()
				t.Fatalf("the engine exited before it was up (%v):\n%s", e.err, e.stderr.String())
			}
			if m := sipLine.FindStringSubmatch(l); m != nil {
				if e.sip, err = netip.ParseAddrPort(m[1]); err != nil {
					t.Fatalf("sip address %q: %v", m[1], err)
				}
			}
			if m := httpLine.FindStringSubmatch(l); m != nil {
				e.http = m[1]
			}
		case <-deadline.C:
			t.Fatalf("the engine did not print its addresses within 20s:\n%s", e.stderr.String())
		}
	}
	go func() {
		for range lines { // keep stdout drained
		}
	}()
	go func() {
		e.err = e.cmd.Wait()
		close(e.done)
	}()
	return e
}

// wait is used only before the Wait goroutine is started.
func (e *engine) wait() { e.err = e.cmd.Wait() }

// kill ends the process with SIGKILL (if it still runs) and waits for it.
func (e *engine) kill() {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Kill()
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		e.t.Errorf("the engine (pid %d) did not exit after SIGKILL", e.cmd.Process.Pid)
	}
}

// stop sends sig and waits up to timeout for the process to exit; it returns the
// exit code (-1 if it did not exit or was killed by a signal).
func (e *engine) stop(sig syscall.Signal, timeout time.Duration) int {
	e.t.Helper()
	if err := e.cmd.Process.Signal(sig); err != nil {
		e.t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-e.done:
	case <-time.After(timeout):
		e.t.Errorf("the engine did not exit within %v of %v", timeout, sig)
		return -1
	}
	var ee *exec.ExitError
	if errors.As(e.err, &ee) {
		return ee.ExitCode()
	}
	if e.err != nil {
		return -1
	}
	return 0
}

// get fetches path from the HTTP API.
func (e *engine) get(path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http+path, nil)
	if err != nil {
		return 0, nil, err
	}
	res, err := e.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// calls lists the calls the API knows, newest first as the API orders them.
func (e *engine) calls() ([]store.CallRecord, error) {
	code, body, err := e.get("/api/v1/calls")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/calls: %d %s", code, body)
	}
	var out struct {
		Calls []store.CallRecord `json:"calls"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/v1/calls: %w: %s", err, body)
	}
	return out.Calls, nil
}

// waitCall polls the API until a call satisfies ok, for at most timeout, and
// returns it; on timeout the test fails with the last listing.
func (e *engine) waitCall(what string, timeout time.Duration, ok func(store.CallRecord) bool) store.CallRecord {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []store.CallRecord
	var lastErr error
	for {
		last, lastErr = e.calls()
		for _, c := range last {
			if ok(c) {
				return c
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	e.t.Fatalf("no call %s within %v (error %v); calls:\n%s", what, timeout, lastErr, b)
	return store.CallRecord{}
}

// onlyCall waits until exactly one call satisfies ok (see waitCall) and checks the
// engine knows no other call.
func (e *engine) onlyCall(what string, timeout time.Duration, ok func(store.CallRecord) bool) store.CallRecord {
	e.t.Helper()
	c := e.waitCall(what, timeout, ok)
	all, err := e.calls()
	if err != nil {
		e.t.Fatal(err)
	}
	if len(all) != 1 {
		e.t.Errorf("the engine lists %d calls, want 1: %+v", len(all), all)
	}
	return c
}

// metric returns the sum of the samples of the metric name whose labels contain all
// of the given label pairs (e.g. `reason="foreign_source"`); 0 when there is none.
func (e *engine) metric(name string, labels ...string) float64 {
	e.t.Helper()
	code, body, err := e.get("/metrics")
	if err != nil || code != http.StatusOK {
		e.t.Fatalf("GET /metrics: %d %v", code, err)
	}
	return sumMetric(body, name, labels...)
}

func sumMetric(body []byte, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		var lbl string
		switch {
		case strings.HasPrefix(rest, "{"):
			i := strings.Index(rest, "}")
			if i < 0 {
				continue
			}
			lbl, rest = rest[1:i], rest[i+1:]
		case strings.HasPrefix(rest, " "):
		default:
			continue // another metric whose name starts with name
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(","+lbl+",", ","+l+",") {
				match = false
			}
		}
		if !match {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
			sum += v
		}
	}
	return sum
}

// lockedBuffer is a bytes.Buffer safe for the process's writer and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// apiClient talks to the engines the tests start; those run with --self-signed
// have a certificate no one else vouches for.
var apiClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
