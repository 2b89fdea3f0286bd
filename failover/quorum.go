package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

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
type SentinelQuorum struct {
	master    string
	sentinels []*redis.SentinelClient
	addrs     []string
}

// NewSentinelQuorum watches the Sentinels at addrs for master name. It does not
// connect until Confirm is called.
func NewSentinelQuorum(addrs []string, master, password string) *SentinelQuorum {
	q := &SentinelQuorum{master: master, addrs: addrs}
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
	answers := make([]string, len(q.sentinels))
	var wg sync.WaitGroup
	for i, s := range q.sentinels {
		wg.Go(func() {
			m, err := s.Master(ctx, q.master).Result()
			switch {
			case err != nil:
				answers[i] = q.addrs[i] + ": " + err.Error()
			case m["runid"] == runID:
				answers[i] = ""
			default:
				answers[i] = fmt.Sprintf("%s: master %s:%s (run id %.8s)", q.addrs[i], m["ip"], m["port"], m["runid"])
			}
		})
	}
	wg.Wait()
	agree := 0
	var others []string
	for _, a := range answers {
		if a == "" {
			agree++
		} else {
			others = append(others, a)
		}
	}
	if agree*2 > len(q.sentinels) {
		return nil
	}
	return fmt.Errorf("%w (%d of %d agree; %s)", ErrNoQuorum, agree, len(q.sentinels), strings.Join(others, "; "))
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
