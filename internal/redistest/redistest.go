// Package redistest starts throwaway redis-server and redis-sentinel processes for
// tests: on 127.0.0.1, on a free port, with no persistence (--save "" --appendonly no)
// and a private working folder. Every process is stopped by its pid when the test
// ends, and every wait is bounded.
//
// When redis-server (Debian package redis-server) or redis-sentinel (Debian package
// redis-sentinel) is missing, the test is skipped, or fails when the environment
// variable CI is set (CI must install them).
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for a server to answer PING.
const StartTimeout = 10 * time.Second

// RequireTool finds a program on PATH. When it is missing the test fails if CI is
// set and is skipped with a clear message otherwise.
func RequireTool(t testing.TB, name, pkg string) string {
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

// Server is one running redis-server or redis-sentinel process.
type Server struct {
	t    testing.TB
	Addr string // 127.0.0.1:PORT
	Port int
	Dir  string // its working folder

	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// Start runs a redis-server on a free loopback port with the extra arguments (for
// example "--replicaof", "127.0.0.1", "6379") and waits until it answers PING. It is
// killed when the test ends.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := RequireTool(t, "redis-server", "redis-server")
	return start(t, bin, nil, extra)
}

// StartSentinel runs a redis-sentinel on a free loopback port watching the master
// called name at master, with down-after-milliseconds downAfter and a quorum of
// quorum. It is killed when the test ends.
func StartSentinel(t testing.TB, name string, master *Server, quorum int, downAfter time.Duration) *Server {
	t.Helper()
	bin := RequireTool(t, "redis-sentinel", "redis-sentinel")
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s 10000\n"+
		"sentinel parallel-syncs %s 1\n",
		name, master.Port, quorum, name, downAfter.Milliseconds(), name, name)
	return start(t, bin, []byte(conf), nil)
}

func start(t testing.TB, bin string, conf []byte, extra []string) *Server {
	t.Helper()
	dir := t.TempDir()
	var lastErr error
	for range 5 { // a probed port can be taken before the server binds it: retry
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		args := []string{}
		if conf != nil {
			// A sentinel needs a writable configuration file of its own.
			path := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
			if err := os.WriteFile(path, conf, 0o600); err != nil {
				t.Fatalf("redistest: %v", err)
			}
			args = append(args, path)
		}
		args = append(args,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--daemonize", "no", "--logfile", "")
		if conf == nil {
			// No persistence, and a replica's first sync starts at once
			// (Redis 7 waits 5 s for more replicas by default).
			args = append(args, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
		}
		args = append(args, extra...)
		s := &Server{t: t, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Dir: dir,
			out: &lockedBuffer{}, done: make(chan struct{})}
		s.cmd = exec.Command(bin, args...)
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("redistest: start %s: %v", bin, err)
		}
		go func() { s.cmd.Wait(); close(s.done) }()
		t.Cleanup(s.Kill)
		if err := s.waitReady(); err != nil {
			s.Kill()
			lastErr = err
			continue
		}
		return s
	}
	t.Fatalf("redistest: %s did not start: %v", bin, lastErr)
	return nil
}

// waitReady polls PING until the server answers PONG or StartTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("exited early: %s", s.out.String())
		default:
		}
		if reply, err := s.Command("PING"); err == nil && reply == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within %v: %s", StartTimeout, s.out.String())
}

// Command sends one command over a fresh connection (2-second bound) and returns the
// first line of the reply without its type prefix: enough for PING, INFO fields and
// simple status replies in tests that do not want a client library.
func (s *Server) Command(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "$"):
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return line[1:], nil
	}
}

// Info returns the value of one field of INFO section (for example
// Info("replication", "master_link_status")), "" when it is absent.
func (s *Server) Info(section, field string) string {
	text, err := s.Command("INFO", section)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

// WaitFor polls cond every 20 ms until it is true or timeout passes, and fails the
// test with what in the latter case.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: %s: not within %v", what, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL to the process (by its pid) and waits, bounded, for it to exit.
// It may be called more than once.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing is
// answered, as with a server that hangs or a network that drops everything.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Stop sends SIGTERM and waits, bounded, for the process to exit; after 5 seconds it
// kills it.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.Kill()
	}
}

func (s *Server) signal(sig syscall.Signal) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.t.Errorf("redistest: process %d did not exit within 5 s of %v", s.cmd.Process.Pid, sig)
	}
}

// Output returns what the process has printed so far (its log).
func (s *Server) Output() string { return s.out.String() }

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the log bounded
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
