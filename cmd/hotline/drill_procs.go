package main

// The processes of a failover drill run: Redis servers and Sentinels, the two
// engines (and Kamailio, drill_kamailio.go), each started on its site's loopback
// address with its output in the run's folder, and killed by its pid at the end.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// drillBins are the programs a run starts.
type drillBins struct {
	server, sentinel, engine string
	kamailio                 string // "" without Kamailio: the callers call the sites directly
	sipp                     string // "" without SIPp: no background load
}

// drillProc is one process a run started.
type drillProc struct {
	name string
	cmd  *exec.Cmd
	log  string // its output file
	done chan struct{}
	// group: the process leads its own process group, with the children it
	// forks (Kamailio's workers); kill ends it with SIGTERM first so that it
	// ends its children, and then kills what is left of its group.
	group bool
}

// kill sends SIGKILL to the process by its pid and waits (at most 5 s) for it. A
// group leader gets SIGTERM and 3 s first; then SIGKILL goes to its group.
func (p *drillProc) kill() error {
	pid := p.cmd.Process.Pid
	if p.group {
		defer func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }() // children it left behind, if any
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	if p.group {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return nil
		case <-time.After(3 * time.Second):
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	} else {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit within 5 s of SIGKILL", p.name, pid)
	}
}

// alive reports whether the process still runs.
func (p *drillProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail returns the last lines of the process's output.
func (p *drillProc) tail() string {
	b, _ := os.ReadFile(p.log)
	return lastLinesOf(string(b), 20)
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// drill is one run's set of processes, all under dir.
type drill struct {
	bins         drillBins
	dir          string
	waitReplicas int    // store.redis.wait_replicas of both sites
	logLevel     string // the engines' log level
	mu           sync.Mutex
	procs        []*drillProc
}

// start runs bin with args, its output to name.log in the run's folder; stdout,
// when not nil, also receives each line of its standard output.
func (d *drill) start(name, bin string, args []string, stdout chan<- string) (*drillProc, error) {
	return d.startProc(name, bin, args, stdout, false)
}

// startGroup runs bin as start does, as the leader of a new process group (for a
// program that forks workers).
func (d *drill) startGroup(name, bin string, args []string) (*drillProc, error) {
	return d.startProc(name, bin, args, nil, true)
}

func (d *drill) startProc(name, bin string, args []string, stdout chan<- string, group bool) (*drillProc, error) {
	logPath := filepath.Join(d.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &drillProc{name: name, log: logPath, done: make(chan struct{}), group: group}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = d.dir
	if group {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	p.cmd.Stderr = logf
	var out io.ReadCloser
	if stdout != nil {
		if out, err = p.cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		p.cmd.Stdout = logf
	}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d.mu.Lock()
	d.procs = append(d.procs, p)
	d.mu.Unlock()
	var copied sync.WaitGroup
	if out != nil {
		copied.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				select {
				case stdout <- sc.Text():
				default:
				}
			}
			_, _ = io.Copy(logf, out)
		})
	}
	go func() {
		copied.Wait()
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// close kills every process of the run by its pid.
func (d *drill) close() error {
	d.mu.Lock()
	procs := slices.Clone(d.procs)
	d.mu.Unlock()
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.kill())
	}
	return errors.Join(errs...)
}

// freeLoopbackPort asks the kernel for a free TCP port on 127.0.0.1.
func freeLoopbackPort() (int, error) { return freePortOn("127.0.0.1") }

// freePortOn asks the kernel for a free TCP port on ip.
func freePortOn(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRedis starts a redis-server (conf == "") or a redis-sentinel (conf: its
// configuration) on ip, at port or (port 0) a free port, and waits until it
// answers PING. Its connections to other servers leave from ip too
// (bind-source-addr), so the others see it at its site's address. A probed port
// can be taken before the server binds it, so it tries a few ports.
func (d *drill) startRedis(ctx context.Context, name, ip string, port int, conf string, extra ...string) (*drillProc, string, error) {
	var lastErr error
	for range 5 {
		port := port
		if port == 0 {
			// A Redis server is started again on its port after the kill:
			// below the ephemeral range (stablePortOn), as the engines.
			probe := freePortOn
			if conf == "" {
				probe = stablePortOn
			}
			var err error
			if port, err = probe(ip); err != nil {
				return nil, "", err
			}
		}
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		bin := d.bins.server
		var args []string
		if conf != "" {
			bin = d.bins.sentinel
			path := filepath.Join(d.dir, name+".conf")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				return nil, "", err
			}
			args = append(args, path)
		}
		work := filepath.Join(d.dir, name)
		if err := os.MkdirAll(work, 0o700); err != nil {
			return nil, "", err
		}
		// Protected mode would refuse the other sites' addresses (it trusts
		// 127.0.0.1 only); every server binds a loopback address.
		args = append(args, "--port", strconv.Itoa(port), "--bind", ip, "--bind-source-addr", ip, "--protected-mode", "no", "--dir", work,
			"--daemonize", "no", "--logfile", "")
		if conf == "" {
			args = append(args, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
		}
		args = append(args, extra...)
		p, err := d.start(name, bin, args, nil)
		if err != nil {
			return nil, "", err
		}
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
		lastErr = waitUntil(ctx, drillStartTimeout, func() error {
			if !p.alive() {
				return errStop{fmt.Errorf("%s exited: %s", name, p.tail())}
			}
			return c.Ping(ctx).Err()
		})
		c.Close()
		if lastErr == nil {
			return p, addr, nil
		}
		_ = p.kill()
	}
	return nil, "", fmt.Errorf("%s did not start: %w", name, lastErr)
}

// errStop ends a waitUntil at once.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }
func (e errStop) Unwrap() error { return e.err }

// waitUntil calls try every 50 ms until it returns nil, it returns an errStop,
// ctx ends or d passes; it returns the last error.
func waitUntil(ctx context.Context, d time.Duration, try func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := try()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", d, err)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// drillEngine is one engine of the pair.
type drillEngine struct {
	*drillProc
	site string
	ip   string // the site's loopback address
	sip  netip.AddrPort
	http string
	conf string // its configuration file
	data string // its data folder
}

// startEngine runs this binary as the engine of site on ip (SIP, HTTP, WebRTC and
// RTP) with its own configuration and data folder, and waits until it has printed
// its addresses.
func (d *drill) startEngine(ctx context.Context, site, ip string, sentinels []string) (*drillEngine, error) {
	conf := fmt.Sprintf(`site: %s
store:
  redis: {sentinels: [%s], master: %s, prefix: %s, wait_replicas: %d}
  lease: {ttl: 1s, renew: 200ms}
webrtc: {listen: "%s:0"}
media: {ip: %s}
log: {level: %s}
`, site, strings.Join(sentinels, ", "), drillMasterName, drillPrefix, d.waitReplicas, ip, ip, d.logLevel)
	e := &drillEngine{site: site, ip: ip, conf: filepath.Join(d.dir, site+".yaml"), data: filepath.Join(d.dir, site+"-data")}
	if err := os.WriteFile(e.conf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(e.data, 0o700); err != nil {
		return nil, err
	}
	// The restart after the kill binds the same ports: they come from below the
	// kernel's ephemeral range, where no outgoing connection can take them
	// meanwhile (the Redis servers and Sentinels connect out from the site's
	// address).
	sipPort, err := stablePortOn(ip)
	if err != nil {
		return nil, err
	}
	httpPort, err := stablePortOn(ip)
	if err != nil {
		return nil, err
	}
	return e, d.runEngine(ctx, e, site, net.JoinHostPort(ip, strconv.Itoa(sipPort)), net.JoinHostPort(ip, strconv.Itoa(httpPort)))
}

// stablePortOn finds a port on ip that is free for TCP and UDP, below the
// kernel's ephemeral ports (ip_local_port_range) and below the drill's RTP ports
// (20000 on): a process started again on it after a kill finds it free, as no
// outgoing connection is given such a port.
func stablePortOn(ip string) (int, error) {
	hi := 20000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo < hi {
				hi = lo
			}
		}
	}
	const lo = 10000
	if hi <= lo {
		return freePortOn(ip)
	}
	for range 200 {
		port := lo + mrand.IntN(hi-lo)
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port on %s between %d and %d", ip, lo, hi)
}

// restartEngine starts the engine again, after a kill: the same configuration,
// data folder and addresses (so that the dispatcher in front finds it where it
// was); its output goes to name.log.
func (d *drill) restartEngine(ctx context.Context, e *drillEngine, name string) (*drillEngine, error) {
	u, err := url.Parse(e.http)
	if err != nil {
		return nil, err
	}
	again := &drillEngine{site: e.site, ip: e.ip, conf: e.conf, data: e.data}
	return again, d.runEngine(ctx, again, name, e.sip.String(), u.Host)
}

// runEngine starts e's process as name with SIP on sipAddr and HTTP on httpAddr
// and waits until it has printed its addresses.
func (d *drill) runEngine(ctx context.Context, e *drillEngine, name, sipAddr, httpAddr string) error {
	lines := make(chan string, 64)
	p, err := d.start(name, d.bins.engine, []string{"--config", e.conf, "--sip", sipAddr, "--http", httpAddr,
		"--data", e.data, "--drain", "1s"}, lines)
	if err != nil {
		return err
	}
	e.drillProc = p
	sipLine := regexp.MustCompile(`^\s+sip udp\s+(\S+)`)
	httpLine := regexp.MustCompile(`^\s+http\s+(https?://\S+)`)
	timer := time.NewTimer(drillStartTimeout)
	defer timer.Stop()
	for !e.sip.IsValid() || e.http == "" {
		select {
		case l := <-lines:
			if m := sipLine.FindStringSubmatch(l); m != nil {
				if e.sip, err = netip.ParseAddrPort(m[1]); err != nil {
					return fmt.Errorf("engine %s: its SIP address %q: %w", name, m[1], err)
				}
			}
			if m := httpLine.FindStringSubmatch(l); m != nil {
				e.http = m[1]
			}
		case <-p.done:
			return fmt.Errorf("engine %s exited before it was up:\n%s", name, p.tail())
		case <-timer.C:
			return fmt.Errorf("engine %s did not print its addresses within %v:\n%s", name, drillStartTimeout, p.tail())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// readyz returns the status of the engine's /readyz (0 when it does not answer).
func (e *drillEngine) readyz(ctx context.Context) int {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, e.http+"/readyz", nil)
	if err != nil {
		return 0
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
