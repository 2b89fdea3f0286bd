// Package web owns the engine's HTTP side: the REST API under /api/v1/ (JSON, errors
// with a stable code and a human message), the health probes /healthz and /readyz,
// and /metrics for Prometheus. Later: the agent softphone page with its WebSocket
// signalling and the supervisor dashboard.
package web
