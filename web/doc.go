// Package web owns the engine's HTTP side: the REST API under /api/v1/ (JSON, errors
// with a stable code and a human message) for calls, queues, agents, logins and the
// agent's call control; each agent's WebSocket of ordered, resumable messages
// (GET /api/v1/agents/{id}/ws, ws.go); the health probes /healthz and /readyz; and
// /metrics for Prometheus. Later: the agent softphone page and the supervisor
// dashboard.
package web
