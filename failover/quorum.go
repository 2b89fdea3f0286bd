package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoQuorum: fewer than a majority of the Sentinels name this site's Redis as
// the master. A site cut off from the others (a network partition) sees only its
// own Sentinel, so it must not hold the lease, even though its own Redis, still a
// master in its own eyes, would let it.
var ErrNoQuorum = errors.New("failover: no majority of the sentinels names this Redis as the master")

// SentinelQuorum checks that the Redis a client writes to is the master that a
// majority of the Sentinels name: LeaseOptions.Confirm. The check compares run ids
// (INFO server's run_id against SENTINEL MASTER's runid), not addresses, so that
// it holds behind NAT and with announced addresses.
//
// It also finds the master for the site's client (Dialer): go-redis's own
// Sentinel client keeps asking the one Sentinel it chose first, and a Sentinel
// cut off by a partition answers nothing, so a client on the majority's side could
// stay on the old master for as long as its calls are shorter than the dial and
// read timeouts (the lease's are).
type SentinelQuorum struct {
	master    string
	sentinels []*redis.SentinelClient
	addrs     []string

	mu      sync.Mutex
	current string // the master's address the majority named last
	gen     uint64 // raised each time current changes
	conns   map[*masterConn]struct{}
}

// NewSentinelQuorum watches the Sentinels at addrs for master name. It does not
// connect until Confirm is called.
func NewSentinelQuorum(addrs []string, master, password string) *SentinelQuorum {
	q := &SentinelQuorum{master: master, addrs: addrs, conns: map[*masterConn]struct{}{}}
	for _, a := range addrs {
		q.sentinels = append(q.sentinels, redis.NewSentinelClient(&redis.Options{Addr: a, Password: password, MaxRetries: -1}))
	}
	return q
}

// Confirm returns nil when more than half of the Sentinels answer (within ctx)
// that the master is the Redis that c writes to; otherwise an error wrapping
// ErrNoQuorum that says what each Sentinel answered.
func (q *SentinelQuorum) Confirm(ctx context.Context, c *redis.Client) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("failover: quorum: ask our Redis its run id: %w", err)
	}
	runID := infoField(info, "run_id")
	if runID == "" {
		return errors.New("failover: quorum: our Redis reports no run_id")
	}
	// Answers are counted as they come: a majority is enough, and a Sentinel
	// across a partition may not answer before ctx ends.
	type answer struct {
		agree  bool
		master string
		why    string
	}
	ch := make(chan answer, len(q.sentinels))
	for i, s := range q.sentinels {
		go func() {
			m, err := s.Master(ctx, q.master).Result()
			switch {
			case err != nil:
				ch <- answer{why: q.addrs[i] + ": " + err.Error()}
			case m["runid"] == runID:
				ch <- answer{agree: true, master: net.JoinHostPort(m["ip"], m["port"])}
			case m["runid"] == "" && net.JoinHostPort(m["ip"], m["port"]) == q.currentMaster():
				// Just after a failover a Sentinel names the new master before it
				// has asked it for its run id (up to its INFO period, 10 s): the
				// address our connections go to stands in.
				ch <- answer{agree: true, master: net.JoinHostPort(m["ip"], m["port"])}
			default:
				ch <- answer{why: fmt.Sprintf("%s: master %s:%s (run id %.8s)", q.addrs[i], m["ip"], m["port"], m["runid"])}
			}
		}()
	}
	n := len(q.sentinels)
	agree := 0
	var others []string
collect:
	for range n {
		select {
		case a := <-ch:
			if a.agree {
				if agree++; agree*2 > n {
					q.noteMaster(a.master)
					return nil
				}
				continue
			}
			if others = append(others, a.why); (n-len(others))*2 <= n {
				break collect // a majority can no longer agree
			}
		case <-ctx.Done():
			others = append(others, ctx.Err().Error())
			break collect
		}
	}
	return fmt.Errorf("%w (%d of %d agree; %s)", ErrNoQuorum, agree, n, strings.Join(others, "; "))
}

// noteMaster records the master's address the majority names.
// The connections to the one before are closed: the client's pool drops them and
// dials the new master.
func (q *SentinelQuorum) noteMaster(addr string) {
	q.mu.Lock()
	if addr == q.current {
		q.mu.Unlock()
		return
	}
	q.current = addr
	q.gen++
	var stale []*masterConn
	for c := range q.conns {
		if c.gen != q.gen {
			stale = append(stale, c)
			delete(q.conns, c)
		}
	}
	q.mu.Unlock()
	for _, c := range stale {
		_ = c.Conn.Close()
	}
}

// currentMaster is the master's address the majority named last ("" before the
// first dial through Dialer or the first confirmation).
func (q *SentinelQuorum) currentMaster() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.current
}

func (q *SentinelQuorum) generation() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gen
}

// MasterAddr asks every Sentinel (in parallel, within ctx) for the master's address
// and returns the one that more than half of them name.
func (q *SentinelQuorum) MasterAddr(ctx context.Context) (string, error) {
	type answer struct{ addr, why string }
	ch := make(chan answer, len(q.sentinels))
	for i, s := range q.sentinels {
		go func() {
			a, err := s.GetMasterAddrByName(ctx, q.master).Result()
			switch {
			case err != nil:
				ch <- answer{why: q.addrs[i] + ": " + err.Error()}
			case len(a) != 2:
				ch <- answer{why: fmt.Sprintf("%s: answered %v", q.addrs[i], a)}
			default:
				ch <- answer{addr: net.JoinHostPort(a[0], a[1])}
			}
		}()
	}
	n := len(q.sentinels)
	votes := map[string]int{}
	var whys []string
	for range n {
		var a answer
		select {
		case a = <-ch:
		case <-ctx.Done():
			a = answer{why: ctx.Err().Error()}
		}
		if a.addr != "" {
			if votes[a.addr]++; votes[a.addr]*2 > n {
				q.noteMaster(a.addr)
				return a.addr, nil
			}
			continue
		}
		whys = append(whys, a.why)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%w: votes %v; %s", ErrNoQuorum, votes, strings.Join(whys, "; "))
}

// errMasterMoved fails a connection to a master the majority no longer names.
var errMasterMoved = errors.New("failover: the sentinels' majority names another master: reconnecting")

// Dialer is a redis.Options.Dialer that connects to the master the majority of
// the Sentinels names (asking them at each dial, within timeout). A connection
// made before the majority named another master (seen by MasterAddr or Confirm)
// fails on its next write, so the pool dials the new one.
func (q *SentinelQuorum) Dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		master, err := q.MasterAddr(actx)
		if err != nil {
			return nil, err
		}
		gen := q.generation()
		c, err := (&net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Second}).DialContext(ctx, network, master)
		if err != nil {
			return nil, err
		}
		mc := &masterConn{Conn: c, q: q, gen: gen}
		q.mu.Lock()
		stale := q.gen != gen
		if !stale {
			q.conns[mc] = struct{}{}
		}
		q.mu.Unlock()
		if stale { // the master changed while we dialled
			_ = c.Close()
			return nil, errMasterMoved
		}
		return mc, nil
	}
}

// masterConn is a connection to the master of one generation.
type masterConn struct {
	net.Conn
	q   *SentinelQuorum
	gen uint64
}

// Write refuses to send to a master of an older generation; the error reads as
// an unexpected EOF, which go-redis retries on a new connection.
func (c *masterConn) Write(b []byte) (int, error) {
	if c.q.generation() != c.gen {
		_ = c.Close()
		return 0, fmt.Errorf("%w (%w)", errMasterMoved, io.ErrUnexpectedEOF)
	}
	return c.Conn.Write(b)
}

func (c *masterConn) Close() error {
	c.q.mu.Lock()
	delete(c.q.conns, c)
	c.q.mu.Unlock()
	return c.Conn.Close()
}

// Close closes the Sentinel clients.
func (q *SentinelQuorum) Close() error {
	var errs []error
	for _, s := range q.sentinels {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// infoField returns a field of an INFO reply.
func infoField(info, name string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			return v
		}
	}
	return ""
}
