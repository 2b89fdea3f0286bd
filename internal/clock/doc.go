// Package clock is the injectable time source used by everything that waits, times
// out or reports: the real clock in production, a fake one in tests so that menu
// timeouts and session timers run in microseconds and deterministically.
package clock
