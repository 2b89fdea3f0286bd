// Package web owns the engine's HTTP side: the REST API under /api/v1/ (JSON, errors
// with a stable code and a human message) for calls, queues, agents, logins and
// sessions, the agent's call control, recordings (with an audit entry per listen),
// work orders and their signed status callbacks, reports, run-time changes of queues
// and agents, abandoned calls and callbacks; each agent's WebSocket of ordered,
// resumable messages (GET /api/v1/agents/{id}/ws, ws.go) and the supervisor's
// wallboard WebSocket; the embedded agent page (/agent: softphone and desktop) and
// supervisor page (/supervisor); the health probes /healthz and /readyz (a standby
// says 503); and /metrics for Prometheus. A standby site's API is read-only.
package web
