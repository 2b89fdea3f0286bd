package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
)

// Roles of the people who log in.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
)

// Accounts tells who may log in. Implementations must be safe for concurrent use and
// should take about the same time whether the id exists or not.
type Accounts interface {
	// Authenticate checks an id and a password and returns the account's role.
	Authenticate(id, password string) (role string, ok bool)
}

// Session is a logged-in person.
type Session struct {
	ID      string    `json:"agent"`
	Role    string    `json:"role"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Sessions issues and checks login tokens, and limits failed logins per account and
// per source address (a token bucket: Burst failures, then one more every Refill).
type Sessions struct {
	accounts Accounts
	clock    clock.Clock
	ttl      time.Duration

	share SessionShare // nil: sessions are this process's alone
	log   *slog.Logger

	mu       sync.Mutex
	byToken  map[string]Session
	failures map[string]*bucket
}

// SessionShare keeps sessions where every site of a hot-standby pair sees them, so
// that an agent's page moves to the other site with the token it has. Keys are
// SHA-256 digests of the tokens (a copy of the store holds no usable token); the
// Session stored has no Token. Implementations must be safe for concurrent use.
type SessionShare interface {
	Save(ctx context.Context, key string, s Session) error
	Load(ctx context.Context, key string) (Session, bool, error)
	Remove(ctx context.Context, key string) error
}

// shareTimeout bounds every call to the SessionShare.
const shareTimeout = 2 * time.Second

// Share makes the sessions shared through sh from now on: logins are saved there,
// and a token this process does not know is looked up there. Call it before
// serving; failures are logged to log (nil discards) and the login or check falls
// back to this process's own sessions.
func (s *Sessions) Share(sh SessionShare, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.share, s.log = sh, log
}

// tokenKey is the share's key of a token.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

type bucket struct {
	tokens float64
	last   time.Time
}

const (
	loginBurst  = 5  // failed logins an account may have before it must wait
	sourceBurst = 50 // failed logins one address may have (a call centre shares a NAT)
	loginRefill = 12 * time.Second
	maxBuckets  = 10000
)

// NewSessions returns a token issuer over accounts; tokens live for ttl (12 h when 0).
func NewSessions(accounts Accounts, clk clock.Clock, ttl time.Duration) *Sessions {
	if clk == nil {
		clk = clock.Real{}
	}
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	return &Sessions{accounts: accounts, clock: clk, ttl: ttl, byToken: map[string]Session{}, failures: map[string]*bucket{}}
}

// allowed reports whether key may try again, without spending a try.
func (s *Sessions) allowed(key string, burst float64, now time.Time) (bool, time.Duration) {
	b := s.failures[key]
	if b == nil {
		return true, 0
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()/loginRefill.Seconds())
	b.last = now
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(loginRefill))
}

func (s *Sessions) fail(key string, burst float64, now time.Time) {
	b := s.failures[key]
	if b == nil {
		if len(s.failures) >= maxBuckets {
			for k, v := range s.failures { // drop refilled buckets: they hold no information
				if v.tokens+now.Sub(v.last).Seconds()/loginRefill.Seconds() >= sourceBurst {
					delete(s.failures, k)
				}
			}
		}
		b = &bucket{tokens: burst, last: now}
		s.failures[key] = b
	}
	b.tokens = max(0, b.tokens-1)
}

// Login checks the credentials from source; on success it returns a new session.
// retry > 0 means the attempt was refused by the rate limit without being checked.
func (s *Sessions) Login(id, password, source string) (sess Session, ok bool, retry time.Duration) {
	now := s.clock.Now()
	s.mu.Lock()
	okID, r1 := s.allowed("id:"+id, loginBurst, now)
	okSrc, r2 := s.allowed("src:"+source, sourceBurst, now)
	s.mu.Unlock()
	if !okID || !okSrc {
		return Session{}, false, max(r1, r2)
	}
	role, ok := s.accounts.Authenticate(id, password)
	s.mu.Lock()
	if !ok {
		s.fail("id:"+id, loginBurst, now)
		s.fail("src:"+source, sourceBurst, now)
		s.mu.Unlock()
		return Session{}, false, 0
	}
	sess = Session{ID: id, Role: role, Token: newToken(), Expires: now.Add(s.ttl)}
	s.byToken[sess.Token] = sess
	s.sweep(now)
	s.mu.Unlock()
	if s.share != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shareTimeout)
		defer cancel()
		shared := sess
		shared.Token = ""
		if err := s.share.Save(ctx, tokenKey(sess.Token), shared); err != nil {
			s.log.Warn("login: session not shared with the other site: the page must log in again there", "agent_id", id, "error", err)
		}
	}
	return sess, true, 0
}

// sweep forgets expired sessions; s.mu is held.
func (s *Sessions) sweep(now time.Time) {
	for t, x := range s.byToken {
		if now.After(x.Expires) {
			delete(s.byToken, t)
		}
	}
}

// Check returns the session of a token.
func (s *Sessions) Check(token string) (Session, bool) {
	s.mu.Lock()
	x, ok := s.byToken[token]
	s.mu.Unlock()
	if !ok && s.share != nil && token != "" {
		// Logged in at the other site of the pair (or before a restart).
		ctx, cancel := context.WithTimeout(context.Background(), shareTimeout)
		defer cancel()
		sh, found, err := s.share.Load(ctx, tokenKey(token))
		if err != nil {
			s.log.Warn("session lookup in the shared store failed", "error", err)
		}
		if found {
			x, ok = sh, true
			x.Token = token
			s.mu.Lock()
			s.byToken[token] = x
			s.mu.Unlock()
		}
	}
	if !ok || s.clock.Now().After(x.Expires) {
		return Session{}, false
	}
	return x, true
}

// Logout ends a session, at every site when sessions are shared.
func (s *Sessions) Logout(token string) {
	s.mu.Lock()
	delete(s.byToken, token)
	s.mu.Unlock()
	if s.share != nil && token != "" {
		ctx, cancel := context.WithTimeout(context.Background(), shareTimeout)
		defer cancel()
		if err := s.share.Remove(ctx, tokenKey(token)); err != nil {
			s.log.Warn("logout: the shared session was not removed: it ends at its expiry", "error", err)
		}
	}
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: no randomness for tokens: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type sessionKey struct{}

// SessionFrom returns the session a request was authenticated with.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// requireAuth lets through requests with a valid "Authorization: Bearer <token>".
func (s *Sessions) requireAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/audio") {
			// An <audio> element cannot send headers: its src carries the token.
			tok, ok = r.URL.Query().Get("token"), true
		}
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "log in first: POST /api/v1/login, then send Authorization: Bearer <token>")
			return
		}
		sess, ok := s.Check(tok)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "the token is unknown or has expired: log in again")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	}
}

// loginRequest is the body of POST /api/v1/login.
type loginRequest struct {
	Agent    string `json:"agent"`
	Password string `json:"password"`
}

func (s *Sessions) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Agent == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `want a JSON body {"agent": "1001", "password": "..."}`)
		return
	}
	src, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		src = r.RemoteAddr
	}
	sess, ok, retry := s.Login(req.Agent, req.Password, src)
	switch {
	case retry > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, "too_many_attempts", "too many failed logins: wait and try again")
	case !ok:
		writeError(w, http.StatusUnauthorized, "bad_credentials", "unknown agent or wrong password")
	default:
		writeJSON(w, http.StatusOK, sess)
	}
}

func (s *Sessions) handleLogout(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.Logout(tok)
	w.WriteHeader(http.StatusNoContent)
}
