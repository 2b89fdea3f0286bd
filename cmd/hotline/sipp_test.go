package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sippDir holds the scenario templates (testdata/sipp at the repository root).
var sippDir = filepath.Join("..", "..", "testdata", "sipp")

// sippCall describes one SIPp run of one call.
type sippCall struct {
	// Scenario is a file name in testdata/sipp.
	Scenario string
	// Replace maps template keys ("DIGIT" for {{DIGIT}}) to their values.
	Replace map[string]string
	// Service is the Request-URI user (-s); default 12345.
	Service string
	// LocalIP is SIPp's address (-i, also its media address); default 127.0.0.1.
	LocalIP string
	// Args are extra command-line arguments (-au, -ap ...).
	Args []string
	// Timeout bounds the run; default 30s.
	Timeout time.Duration
}

// sippRun is a SIPp process running one call.
type sippRun struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	out  *lockedBuffer
	done chan struct{}
	err  error
	// MediaPort is SIPp's RTP port ([media_port]).
	MediaPort int
}

// startSIPp runs SIPp for one call against e in the background; wait for it with
// (*sippRun).wait. SIPp is killed in t.Cleanup if it still runs.
func startSIPp(t *testing.T, e *engine, c sippCall) *sippRun {
	t.Helper()
	bin := requireTool(t, "sipp", "sip-tester")
	if c.Service == "" {
		c.Service = "12345"
	}
	if c.LocalIP == "" {
		c.LocalIP = "127.0.0.1"
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	tmpl, err := os.ReadFile(filepath.Join(sippDir, c.Scenario))
	if err != nil {
		t.Fatal(err)
	}
	text := string(tmpl)
	for k, v := range c.Replace {
		text = strings.ReplaceAll(text, "{{"+k+"}}", v)
	}
	if i := strings.Index(text, "{{"); i >= 0 {
		t.Fatalf("scenario %s: template key left unreplaced near %q", c.Scenario, text[i:min(len(text), i+20)])
	}
	dir := t.TempDir()
	scen := filepath.Join(dir, c.Scenario)
	if err := os.WriteFile(scen, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &sippRun{t: t, dir: dir, out: &lockedBuffer{}, done: make(chan struct{}), MediaPort: freeMediaPort(t, c.LocalIP)}
	args := []string{
		"-sf", scen, "-s", c.Service, "-i", c.LocalIP, "-mi", c.LocalIP,
		"-mp", strconv.Itoa(r.MediaPort), "-m", "1", "-l", "1", "-nostdin",
		"-timeout", strconv.Itoa(int(c.Timeout/time.Second)) + "s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		// The watchdog counts scheduling hiccups of a busy 2-core test machine as
		// overload; they are not failures of the engine.
		"-watchdog_minor_maxtriggers", "100000", "-watchdog_major_maxtriggers", "100000",
	}
	args = append(args, c.Args...)
	args = append(args, e.sip.String())
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout+10*time.Second)
	r.cmd = exec.CommandContext(ctx, bin, args...)
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.WaitDelay = 2 * time.Second
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("sipp: %v", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait waits for SIPp to finish and returns its exit code (0: the call passed,
// 1: it failed; -1: killed).
func (r *sippRun) wait() int {
	r.t.Helper()
	<-r.done
	var ee *exec.ExitError
	switch {
	case r.err == nil:
		return 0
	case errors.As(r.err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// mustPass waits for SIPp and fails the test with its logs unless the call passed.
func (r *sippRun) mustPass() {
	r.t.Helper()
	if code := r.wait(); code != 0 {
		r.t.Errorf("sipp exited with %d (%v); %s", code, r.err, r.logs())
	}
}

// logs returns SIPp's error and message logs for a failure message.
func (r *sippRun) logs() string {
	var b strings.Builder
	for _, f := range []string{"errors.log", "messages.log"} {
		data, err := os.ReadFile(filepath.Join(r.dir, f))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n--- sipp %s:\n%s", f, lastLines(string(data), 120))
	}
	fmt.Fprintf(&b, "\n--- sipp output:\n%s", lastLines(r.out.String(), 15))
	return b.String()
}

// messages returns SIPp's message log (what it sent and received).
func (r *sippRun) messages() string {
	data, _ := os.ReadFile(filepath.Join(r.dir, "messages.log"))
	return string(data)
}

// freeMediaPort finds an even UDP port on ip with the next three ports free too
// (SIPp binds [media_port] and [media_port]+2 for its RTP echo and pcap play).
// SIPp's own default, 6000, would be shared by every test running in parallel.
func freeMediaPort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 != 0 || p > 65000 {
			continue
		}
		ok := true
		for i := 0; i < 4 && ok; i++ {
			x, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(p+i)))
			if err != nil {
				ok = false
				continue
			}
			x.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free media port pair found")
	return 0
}
