package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateStore(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string // a part of the error, "" for none
	}{
		{"journal", ``, ""},
		{"redis defaults", "store:\n  redis: {addr: 127.0.0.1:6379}\n", ""},
		{"sentinels", "store:\n  redis: {sentinels: [127.0.0.1:26379], master: hotline}\n", ""},
		{"neither", "store:\n  redis: {prefix: x}\n", "store.redis: give addr"},
		{"both", "store:\n  redis: {addr: 127.0.0.1:6379, sentinels: [127.0.0.1:26379], master: m}\n", "not both"},
		{"no master", "store:\n  redis: {sentinels: [127.0.0.1:26379]}\n", "store.redis.master"},
		{"bad addr", "store:\n  redis: {addr: nowhere}\n", "store.redis.addr: not host:port"},
		{"lease without redis", "store:\n  lease: {ttl: 1s}\n", "store.lease: a lease needs store.redis"},
		{"renew too long", "store:\n  redis: {addr: 127.0.0.1:6379}\n  lease: {ttl: 1s, renew: 600ms}\n", "store.lease.renew"},
		{"wait timeout", "store:\n  redis: {addr: 127.0.0.1:6379, wait_timeout: 10s}\n", "store.redis.wait_timeout"},
		{"start wait", "store:\n  redis: {addr: 127.0.0.1:6379, start_wait: -1s}\n", "store.redis.start_wait"},
		{"site with slash", "site: a/b\n", "site:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := Default()
			c, err := Parse("hotline.yaml", []byte(tc.yaml), &base)
			if err != nil {
				t.Fatal(err)
			}
			err = c.ValidateStore()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if tc.want == "" && c.Store.Redis != nil {
				if c.Store.Redis.Prefix != DefaultRedisPrefix || c.Store.Redis.WaitTimeout != DefaultRedisWaitTimeout ||
					c.Store.Lease.TTL != DefaultLeaseTTL || c.Store.Lease.Renew != 500*time.Millisecond ||
					c.Store.Redis.StartWait != DefaultRedisStartWait {
					t.Errorf("defaults not filled: %+v %+v", *c.Store.Redis, c.Store.Lease)
				}
			}
		})
	}
}
