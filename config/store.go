package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Store says where the event log lives. Left out, the engine keeps it in the local
// journal under the data folder (one site, nothing to install). With Redis set, the
// log is a Redis stream shared by the two sites of a hot-standby pair, and the
// engine runs as the active or the standby site, decided by a lease in the same
// Redis. The site's name is the top-level key site (each site its own).
type Store struct {
	// Redis, when set, puts the event log in Redis.
	Redis *Redis `yaml:"redis"`
	// Lease is the active site's lease (only with Redis).
	Lease Lease `yaml:"lease"`
}

// Redis is the Redis server (or the Sentinels that know which server is master)
// holding the shared event log and the lease.
type Redis struct {
	// Addr is host:port of one Redis server. Give Addr or Sentinels, not both.
	Addr string `yaml:"addr"`
	// Sentinels are host:port of the Redis Sentinels; Master is the name they
	// monitor the master under.
	Sentinels []string `yaml:"sentinels"`
	Master    string   `yaml:"master"`
	// Password is Redis's AUTH password (empty: none).
	Password string `yaml:"password"`
	// Prefix names the shared log (its keys start with it, and so does the
	// lease's): both sites use the same one. Default "hotline".
	Prefix string `yaml:"prefix"`
	// WaitReplicas makes each event wait (Redis WAIT) until that many replicas have
	// it, at most WaitTimeout; a timeout is logged, not fatal. Default 0.
	WaitReplicas int `yaml:"wait_replicas"`
	// WaitTimeout bounds that wait; default 200ms, at most 4s.
	WaitTimeout time.Duration `yaml:"wait_timeout"`
	// Buffer is how many events the site keeps while Redis cannot take them (an
	// outage, a restart, a failover under way), written in order when it can
	// again; the calls go on meanwhile. With a data folder they are also fsynced
	// to redis-outage.buffer there, so that a crash meanwhile loses none. Default
	// 10000; 0 turns it off (an event that cannot be written then fails the
	// call's step).
	Buffer *int `yaml:"buffer"`
	// StartWait is how long the engine, starting, waits for Redis to answer
	// (saying so every few seconds) before it gives up with the error. Default 30s.
	StartWait time.Duration `yaml:"start_wait"`
}

// Lease is the active site's lease in Redis.
type Lease struct {
	// TTL is how long the lease lasts without renewal: after the active site is lost
	// the standby takes over within about TTL + Renew. Default 3s.
	TTL time.Duration `yaml:"ttl"`
	// Renew is how often the active site renews it (and the standby tries to take
	// it). Default TTL/6 (500ms for 3s); it must be below TTL/2.
	Renew time.Duration `yaml:"renew"`
	// SingleSite: there is no other site to take over, so the site does not step
	// down when Redis cannot be reached: it goes on taking calls, its events are
	// buffered (store.redis.buffer) and written when Redis returns, and it takes
	// its lease back with the same epoch. Never set it on the sites of a pair.
	SingleSite bool `yaml:"single_site"`
}

// Store defaults.
const (
	DefaultRedisPrefix      = "hotline"
	DefaultRedisWaitTimeout = 200 * time.Millisecond
	DefaultLeaseTTL         = 3 * time.Second
	DefaultRedisBuffer      = 10000
	DefaultRedisStartWait   = 30 * time.Second
	maxRedisWaitTimeout     = 4 * time.Second // below go-redis' 5 s read timeout
)

// ValidateStore checks the store section and fills its defaults. It returns an
// *Invalid listing every problem (file, line, key), or nil. Validate does not call
// it: the engine does, when it opens the store.
func (c *Config) ValidateStore() error {
	var probs []Problem
	add := func(path, msg string) {
		probs = append(probs, Problem{File: c.file, Line: c.line(path), Path: path, Msg: msg})
	}
	s := &c.Store
	if s.Redis == nil {
		if s.Lease != (Lease{}) {
			add("store.lease", "a lease needs store.redis (the journal has one site and no lease)")
		}
	} else {
		r := s.Redis
		switch {
		case r.Addr == "" && len(r.Sentinels) == 0:
			add("store.redis", "give addr (one Redis server) or sentinels with master")
		case r.Addr != "" && len(r.Sentinels) > 0:
			add("store.redis.addr", "give addr or sentinels, not both")
		}
		if r.Addr != "" {
			if _, _, err := net.SplitHostPort(r.Addr); err != nil {
				add("store.redis.addr", "not host:port: "+err.Error())
			}
		}
		for i, a := range r.Sentinels {
			if _, _, err := net.SplitHostPort(a); err != nil {
				add(fmt.Sprintf("store.redis.sentinels.%d", i), "not host:port: "+err.Error())
			}
		}
		if len(r.Sentinels) > 0 && r.Master == "" {
			add("store.redis.master", "the name the sentinels monitor the master under is missing")
		}
		if r.Prefix == "" {
			r.Prefix = DefaultRedisPrefix
		} else if strings.ContainsAny(r.Prefix, " \t\n{}") {
			add("store.redis.prefix", fmt.Sprintf("%q: no spaces or braces", r.Prefix))
		}
		switch {
		case r.Buffer == nil:
			n := DefaultRedisBuffer
			r.Buffer = &n
		case *r.Buffer < 0:
			add("store.redis.buffer", "0 (off) or more events")
		}
		if r.WaitReplicas < 0 {
			add("store.redis.wait_replicas", "0 or more")
		}
		switch {
		case r.StartWait == 0:
			r.StartWait = DefaultRedisStartWait
		case r.StartWait < 0:
			add("store.redis.start_wait", fmt.Sprintf("%v: a duration, 0 or more (0: %v)", r.StartWait, DefaultRedisStartWait))
		}
		switch {
		case r.WaitTimeout == 0:
			r.WaitTimeout = DefaultRedisWaitTimeout
		case r.WaitTimeout < time.Millisecond || r.WaitTimeout > maxRedisWaitTimeout:
			add("store.redis.wait_timeout", fmt.Sprintf("%v: between 1ms and %v", r.WaitTimeout, maxRedisWaitTimeout))
		}
		l := &s.Lease
		switch {
		case l.TTL == 0:
			l.TTL = DefaultLeaseTTL
		case l.TTL < 100*time.Millisecond:
			add("store.lease.ttl", fmt.Sprintf("%v: at least 100ms", l.TTL))
		}
		switch {
		case l.Renew == 0:
			l.Renew = l.TTL / 6
		case l.Renew < 10*time.Millisecond || 2*l.Renew > l.TTL:
			add("store.lease.renew", fmt.Sprintf("%v: at least 10ms and at most half the ttl (%v)", l.Renew, l.TTL))
		}
	}
	if strings.Contains(c.Site, "/") || strings.TrimSpace(c.Site) != c.Site {
		add("site", fmt.Sprintf("%q: no '/' and no surrounding spaces (it names the lease holder)", c.Site))
	}
	if len(probs) > 0 {
		return &Invalid{Problems: probs}
	}
	return nil
}
