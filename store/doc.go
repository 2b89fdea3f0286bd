// Package store owns the event log and the projections folded from it.
//
// Every state change of the engine is an [event.Event]. A [Log] keeps them in order,
// numbered by a per-site sequence number; a [Store] appends to a Log and keeps the
// projections up to date (today the [CallView], the call records that the API lists),
// rebuilding them by replaying the log when it is opened.
//
// The default, single-machine deployment needs nothing installed: live state is kept in
// memory and every event is appended to a local journal under the data folder
// ([OpenJournal]), so call records survive a restart and a kill -9. The journal's file
// format, its fsync policy and its recovery rules are documented in docs/journal.md at
// the root of the repository. [NewMemory] is the in-memory twin for tests and for a run
// without a data folder.
//
// For two sites the log lives in Redis ([OpenRedis]): a stream whose entries are the
// events, numbered without gaps by one Lua script that also refuses a writer whose
// fencing epoch is below the recorded one; WAIT for the replicas (short while they
// are away); snapshots and compaction; Follow for the standby. While Redis cannot
// take writes the events wait in an outage buffer, fsynced to a file in the data
// folder ([RedisOptions.BufferFile]) so that a crash during the outage loses none:
// the next open writes them first. Every implementation passes the shared contract
// test in package store/storetest. Projections that the engine reads across sites
// ([RecordingView], the call records) fold from the same events.
//
// Concurrency: Log implementations, Store and CallView are safe for concurrent use.
package store
