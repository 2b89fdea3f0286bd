package main

// Network namespaces for the tests that need separate hosts on one machine (a
// partition between two sites). They need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)
// and iproute2's ip; each namespace is deleted when its test ends.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// netns is a network namespace made by `ip netns add`.
type netns struct {
	name string
}

// newNetns makes a namespace (its name unique to this process) with lo up and
// deletes it when the test ends. Without root or ip it fails the test under CI and
// skips it elsewhere, saying why.
func newNetns(t *testing.T, name string) *netns {
	t.Helper()
	requireTool(t, "ip", "iproute2")
	n := &netns{name: fmt.Sprintf("hl%d-%s", os.Getpid(), name)}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot make a network namespace (root is needed): ip netns add: %v: %s", err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	n.ip(t, "link", "set", "lo", "up")
	return n
}

// ip runs `ip -n <ns> args...` and fails the test when it fails.
func (n *netns) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
}

// command is bin args... run inside the namespace (ip netns exec execs it: the
// process's pid is bin's).
func (n *netns) command(bin string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, bin}, args...)...)
}

// do runs fn on an OS thread that joined the namespace: the sockets fn makes
// live there (and keep working from any goroutine afterwards). The thread is
// never handed back to the scheduler: it ends with its goroutine.
func (n *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// run is do for a function that cannot fail.
func (n *netns) run(fn func()) {
	_ = n.do(func() error { fn(); return nil })
}

// dial connects from inside the namespace.
func (n *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// httpClient dials from inside the namespace.
func (n *netns) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.dial, DisableKeepAlives: true}}
}

// link joins namespaces a and b with a veth pair: ifA in a with address addrA
// (CIDR), ifB in b (no address: a bridge port), both up.
func link(t *testing.T, a *netns, ifA, addrA string, b *netns, ifB string) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "add", ifA, "netns", a.name, "type", "veth", "peer", "name", ifB, "netns", b.name).CombinedOutput(); err != nil {
		t.Fatalf("ip link add %s (veth to %s): %v: %s", ifA, ifB, err, out)
	}
	if addrA != "" {
		a.ip(t, "addr", "add", addrA, "dev", ifA)
	}
	a.ip(t, "link", "set", ifA, "up")
	b.ip(t, "link", "set", ifB, "up")
}
