package ticket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// HTTP headers of a webhook delivery and of a signed status callback.
const (
	HeaderTimestamp   = "X-Hotline-Timestamp"       // Unix seconds, decimal
	HeaderSignature   = "X-Hotline-Signature"       // hex HMAC-SHA256 of timestamp + "." + body
	HeaderIdempotency = "Idempotency-Key"           // Event.Key, the same on every retry
	HeaderEvent       = "X-Hotline-Event"           // Event.Type
	DefaultTolerance  = 5 * time.Minute             // a sensible Verify tolerance
	signatureHexLen   = 2 * sha256.Size             //
	maxTimestampLen   = len("-9223372036854775808") // longest int64
)

// Errors returned by Verify; test with errors.Is.
var (
	ErrSignature = errors.New("ticket: bad signature")
	ErrStale     = errors.New("ticket: signature timestamp outside the tolerance")
	ErrReplay    = errors.New("ticket: signed request replayed")
)

// Sign returns the hex HMAC-SHA256, keyed with secret, of the decimal Unix seconds of ts,
// a ".", and body. The timestamp header carries the same decimal seconds.
func Sign(secret []byte, ts time.Time, body []byte) string {
	return sign(secret, strconv.FormatInt(ts.Unix(), 10), body)
}

func sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signed request: tsHeader (decimal Unix seconds) must be within
// tolerance of now (either way), and sigHeader must be Sign's output for it and body.
// It returns an error wrapping ErrStale or ErrSignature otherwise. Use a ReplayGuard as
// well to refuse a signed request replayed within the tolerance.
func Verify(secret []byte, tsHeader, sigHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(tsHeader) == 0 || len(tsHeader) > maxTimestampLen {
		return fmt.Errorf("%w: missing or malformed %s", ErrSignature, HeaderTimestamp)
	}
	sec, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed %s %q", ErrSignature, HeaderTimestamp, tsHeader)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s is %s from now (tolerance %s)", ErrStale, HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	if len(sigHeader) != signatureHexLen {
		return fmt.Errorf("%w: %s must be %d hex digits", ErrSignature, HeaderSignature, signatureHexLen)
	}
	got, err := hex.DecodeString(sigHeader)
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrSignature, HeaderSignature)
	}
	want, _ := hex.DecodeString(sign(secret, tsHeader, body))
	if !hmac.Equal(got, want) {
		return fmt.Errorf("%w: %s does not match the body", ErrSignature, HeaderSignature)
	}
	return nil
}

// ReplayGuard remembers the signatures it has seen within a tolerance window, so that a
// request that Verify accepted cannot be accepted again by replaying it. Safe for
// concurrent use.
type ReplayGuard struct {
	tolerance time.Duration
	mu        sync.Mutex
	seen      map[string]time.Time // signature -> when it expires
}

// NewReplayGuard returns a guard for signatures verified with this tolerance.
func NewReplayGuard(tolerance time.Duration) *ReplayGuard {
	return &ReplayGuard{tolerance: tolerance, seen: map[string]time.Time{}}
}

// Check records sig as used at now; it returns an error wrapping ErrReplay if the
// signature was already used within the window. Call it after Verify succeeded.
func (g *ReplayGuard) Check(sig string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for s, exp := range g.seen {
		if now.After(exp) {
			delete(g.seen, s)
		}
	}
	if _, dup := g.seen[sig]; dup {
		return fmt.Errorf("%w", ErrReplay)
	}
	// A timestamp may be up to tolerance in the future: keep it for twice the window.
	g.seen[sig] = now.Add(2 * g.tolerance)
	return nil
}
