// Package failover decides which site of a two-site (hot standby) deployment is
// active. Leadership is a lease in Redis, the same Redis (found through Sentinel) that
// holds the event log, with a fencing token: an epoch, a counter raised each time the
// lease is acquired. The active site stamps its epoch on every event it writes, and
// the Redis log (store.Redis) refuses an event whose epoch is below the highest one
// recorded, so a primary that was cut off and comes back cannot write: it becomes
// standby by itself.
//
// Lease.Run is the loop a site runs: it tries to acquire the lease while standby,
// renews it while active, and reports each role change. A holder that has not renewed
// within the TTL (measured on its own monotonic clock from the moment it sent the last
// successful renewal, less a small margin for clock drift) steps down on its own,
// before Redis lets another holder take the lease, and a renewal that arrives after
// that moment is not trusted: the holder releases its claim and competes again, with a
// new epoch.
//
// With Sentinel, LeaseOptions.Confirm is SentinelQuorum.Confirm: a site takes or
// keeps the lease only while more than half of the Sentinels name its Redis as the
// master (run ids compared), so the side of a network partition without that
// majority stops within the TTL although its own Redis, a master in its own eyes,
// would let it write. SentinelQuorum.Dialer gives the site's client the master the
// majority names at each dial (go-redis's failover client keeps asking the one
// Sentinel it chose first, which may be across the partition).
//
// LeaseOptions.HoldThroughOutage is for a single site with no other to take over:
// the holder stays active while Redis is away and takes its lease back with the
// same epoch when it returns, unless another holder took it meanwhile.
//
// Keys: LeaseOptions.Key holds "<epoch>/<holder>" with a PX expiry;
// LeaseOptions.EpochKey (Key+":epoch" by default) is the epoch counter. Point the
// event log's fencing key (store.RedisOptions.EpochKey) at the same counter so that
// acquiring the lease fences the old writer at once.
//
// Takeover time after the active site is lost is at most TTL + Renew (the lease must
// expire, then the standby's next attempt takes it); with Sentinel promoting the
// backup's Redis in parallel (about 2.5 s with down-after-milliseconds 1000).
//
// A caveat of Redis replication: an acquisition that had not reached the replica when
// the master died is lost with it, and the next holder can draw the same epoch
// number. Events written under that lost epoch were on the dead master too, unless
// they were replicated, in which case the counter's INCR (earlier in the replication
// stream) was replicated as well and the next epoch is higher. LeaseOptions.WaitReplicas
// makes Acquire wait for the replicas (advisory: it logs when they do not answer).
package failover
