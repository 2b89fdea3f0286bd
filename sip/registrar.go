package sip

import (
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/icholy/digest"
)

// Credentials looks up the digest secret of a SIP seat (the user is the agent id): the
// HA1 of RFC 7616 section 3.4.2, the lower-case hex of H(user ":" realm ":" password)
// with H being MD5 for algorithm "MD5" and SHA-256 for "SHA-256" (see HA1). ok is false
// when the user is no SIP seat or has no secret for that algorithm. Passwords never
// reach the registrar. It is called on the goroutines that serve REGISTER requests and
// must be safe for concurrent use and quick (no network round trip).
type Credentials func(user, algorithm string) (ha1 string, ok bool)

// ErrAlgorithm: a digest algorithm other than "MD5" and "SHA-256".
var ErrAlgorithm = errors.New("sip: unknown digest algorithm")

// HA1 computes the stored form of a seat's password for algorithm "MD5" or "SHA-256"
// (RFC 7616 section 3.4.2): what a Credentials function returns.
func HA1(algorithm, user, realm, password string) (string, error) {
	h := digestHash(strings.ToUpper(algorithm))
	if h == nil {
		return "", fmt.Errorf("%w: %q", ErrAlgorithm, algorithm)
	}
	h.Write([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func digestHash(alg string) hash.Hash {
	switch alg {
	case "MD5":
		return md5.New()
	case "SHA-256":
		return sha256.New()
	}
	return nil
}

// RegistrarConfig governs REGISTER (RFC 3261 section 10): how long bindings live and
// how many there may be.
type RegistrarConfig struct {
	// Realm names the engine in challenges; HA1 values are computed with it.
	Realm string `yaml:"realm"`
	// Algorithms offered in challenges, strongest first: "SHA-256", "MD5".
	Algorithms []string `yaml:"algorithms"`
	// MinExpires is the shortest registration accepted; a phone asking for less gets
	// 423 Interval Too Brief with Min-Expires (RFC 3261 10.3 step 7).
	MinExpires time.Duration `yaml:"min_expires"`
	// MaxExpires caps the registration a phone asks for.
	MaxExpires time.Duration `yaml:"max_expires"`
	// DefaultExpires applies when the request names no expiry.
	DefaultExpires time.Duration `yaml:"default_expires"`
	// MaxBindingsPerUser is how many contacts one seat may register; a further new
	// contact replaces the seat's least recently refreshed one.
	MaxBindingsPerUser int `yaml:"max_bindings_per_user"`
	// MaxBindings is how many bindings the registrar holds in all; beyond it a new
	// contact gets 503 with Retry-After.
	MaxBindings int `yaml:"max_bindings"`
	// AuthFailures is how many failed authentications a source address may make in a
	// burst; then it gets 403 until AuthRefill has given it another attempt.
	AuthFailures int `yaml:"auth_failures"`
	// AuthRefill is the time after which a source regains one failed attempt.
	AuthRefill time.Duration `yaml:"auth_refill"`
}

// DefaultRegistrar returns the registrar settings of the embedded demo.
func DefaultRegistrar() RegistrarConfig {
	return RegistrarConfig{
		Realm:              "hotline",
		Algorithms:         []string{"SHA-256", "MD5"},
		MinExpires:         60 * time.Second,
		MaxExpires:         time.Hour,
		DefaultExpires:     time.Hour,
		MaxBindingsPerUser: 4,
		MaxBindings:        2000,
		AuthFailures:       5,
		AuthRefill:         12 * time.Second,
	}
}

// Validate fills defaults and returns every problem, with paths relative to this
// section.
func (c *RegistrarConfig) Validate() []FieldError {
	var errs []FieldError
	add := func(path, format string, a ...any) {
		errs = append(errs, FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	d := DefaultRegistrar()
	if c.Realm == "" {
		c.Realm = d.Realm
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = d.Algorithms
	}
	for i, a := range c.Algorithms {
		a = strings.ToUpper(a)
		if digestHash(a) == nil {
			add(fmt.Sprintf("algorithms.%d", i), "unknown digest algorithm %q (SHA-256, MD5)", a)
		}
		c.Algorithms[i] = a
	}
	if c.MinExpires == 0 {
		c.MinExpires = d.MinExpires
	}
	if c.MaxExpires == 0 {
		c.MaxExpires = d.MaxExpires
	}
	if c.DefaultExpires == 0 {
		c.DefaultExpires = min(d.DefaultExpires, c.MaxExpires)
	}
	if c.MinExpires < time.Second {
		add("min_expires", "must be at least 1s, got %v", c.MinExpires)
	}
	if c.MaxExpires < c.MinExpires {
		add("max_expires", "%v is below min_expires %v", c.MaxExpires, c.MinExpires)
	}
	if c.DefaultExpires < c.MinExpires || c.DefaultExpires > c.MaxExpires {
		add("default_expires", "%v is outside [min_expires, max_expires]", c.DefaultExpires)
	}
	if c.MaxBindingsPerUser == 0 {
		c.MaxBindingsPerUser = d.MaxBindingsPerUser
	}
	if c.MaxBindings == 0 {
		c.MaxBindings = d.MaxBindings
	}
	if c.MaxBindingsPerUser < 0 {
		add("max_bindings_per_user", "must not be negative")
	}
	if c.MaxBindings < 0 {
		add("max_bindings", "must not be negative")
	}
	if c.AuthFailures == 0 {
		c.AuthFailures = d.AuthFailures
	}
	if c.AuthFailures < 0 {
		add("auth_failures", "must not be negative")
	}
	if c.AuthRefill <= 0 {
		c.AuthRefill = d.AuthRefill
	}
	return errs
}

// Binding is one registered contact of a seat.
type Binding struct {
	// User is the seat (agent id), the user part of the address of record.
	User string
	// Contact is the URI the phone registered, without header parameters.
	Contact string
	// Source is where the REGISTER came from; calls are sent there, which also reaches
	// phones behind NAT.
	Source netip.AddrPort
	// Transport is "udp" or "tcp": the one the REGISTER came on.
	Transport string
	// Expires is when the binding lapses unless refreshed.
	Expires time.Time
	// UserAgent is the phone's User-Agent header, for display.
	UserAgent string

	key     string
	callID  string
	cseq    uint32
	updated time.Time
}

// Target is where to send an INVITE to reach this binding.
func (b Binding) Target() Target {
	return Target{URI: b.Contact, Destination: b.Source.String(), Transport: b.Transport}
}

// RegistrarOptions are the collaborators of a Registrar.
type RegistrarOptions struct {
	Logger *slog.Logger
	// Clock times bindings, nonces and the failed-authentication buckets; nil means
	// the real clock.
	Clock clock.Clock
	// OnReachable is told when a seat gains its first binding (true) and when it
	// loses its last one (false: expiry, unregistration or replacement), the
	// "endpoint gone" of the ACD. Calls are made one at a time, in the order of the
	// changes, on whichever goroutine made the change; it must not block and must
	// not call back into the Registrar.
	OnReachable func(user string, reachable bool)
}

// Registrar keeps the bindings of SIP seats that REGISTER with digest
// authentication (RFC 3261 section 10, RFC 7616/RFC 8760). Its methods are safe for
// concurrent use. A goroutine expires bindings on the clock; Close stops it.
type Registrar struct {
	cfg     RegistrarConfig
	creds   Credentials
	log     *slog.Logger
	clock   clock.Clock
	auth    *authenticator
	onReach func(user string, reachable bool)

	mu       sync.Mutex
	users    map[string][]*Binding
	total    int
	failures failLimiter

	// notifyMu is taken before mu is released, so OnReachable sees changes in order.
	notifyMu sync.Mutex

	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewRegistrar validates cfg and starts the expiry goroutine.
func NewRegistrar(cfg RegistrarConfig, creds Credentials, o RegistrarOptions) (*Registrar, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("sip registrar config: %w", errors.Join(fieldErrs(errs)...))
	}
	if creds == nil {
		return nil, errors.New("sip registrar: no credentials lookup")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.OnReachable == nil {
		o.OnReachable = func(string, bool) {}
	}
	r := &Registrar{
		cfg:      cfg,
		creds:    creds,
		log:      o.Logger,
		clock:    o.Clock,
		onReach:  o.OnReachable,
		users:    make(map[string][]*Binding),
		failures: failLimiter{burst: cfg.AuthFailures, refill: cfg.AuthRefill, max: maxLimitedSources, m: make(map[netip.Addr]bucket)},
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	r.auth = newAuthenticator(cfg.Realm, nil, o.Clock.Now)
	r.wg.Go(r.expireLoop)
	return r, nil
}

// maxLimitedSources bounds the table of sources with failed authentications.
const maxLimitedSources = 4096

// Close stops the expiry goroutine. Bindings stay readable; none expires any more.
func (r *Registrar) Close() {
	r.closeOnce.Do(func() { close(r.done) })
	r.wg.Wait()
}

// Lookup returns the live bindings of a seat, the most recently refreshed first.
func (r *Registrar) Lookup(user string) []Binding {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Binding
	for _, b := range r.users[user] {
		if b.Expires.After(now) {
			out = append(out, *b)
		}
	}
	slices.SortStableFunc(out, func(a, b Binding) int { return b.updated.Compare(a.updated) })
	return out
}

// Len is the number of bindings held (expired ones included until the expiry
// goroutine has removed them).
func (r *Registrar) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

type reach struct {
	user string
	up   bool
}

// commit releases mu, then tells OnReachable about notes in order.
func (r *Registrar) commit(notes []reach) {
	r.notifyMu.Lock()
	r.mu.Unlock()
	for _, n := range notes {
		r.onReach(n.user, n.up)
	}
	r.notifyMu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// expireLoop removes bindings when they lapse, one clock timer for the soonest.
func (r *Registrar) expireLoop() {
	for {
		r.mu.Lock()
		var next time.Time
		for _, bs := range r.users {
			for _, b := range bs {
				if next.IsZero() || b.Expires.Before(next) {
					next = b.Expires
				}
			}
		}
		now := r.clock.Now()
		r.mu.Unlock()
		var t clock.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			t = r.clock.NewTimer(next.Sub(now))
			fire = t.C()
		}
		select {
		case <-fire:
			r.sweep()
		case <-r.kick:
		case <-r.done:
			if t != nil {
				t.Stop()
			}
			return
		}
		if t != nil {
			t.Stop()
		}
	}
}

// sweep removes the lapsed bindings.
func (r *Registrar) sweep() {
	now := r.clock.Now()
	r.mu.Lock()
	var notes []reach
	for user, bs := range r.users {
		kept := bs[:0]
		for _, b := range bs {
			if b.Expires.After(now) {
				kept = append(kept, b)
				continue
			}
			r.total--
			r.log.Info("sip binding expired", "agent_id", user, "contact", b.Contact)
		}
		clear(bs[len(kept):])
		if len(kept) == 0 {
			delete(r.users, user)
			notes = append(notes, reach{user, false})
		} else {
			r.users[user] = kept
		}
	}
	slices.SortFunc(notes, func(a, b reach) int { return cmp.Compare(a.user, b.user) })
	r.commit(notes)
}

// registerResult is the response to a REGISTER.
type registerResult struct {
	code   int
	reason string
	hdrs   []sipmsg.Header
}

// handle processes a REGISTER (RFC 3261 section 10.3) and says how to answer it.
func (r *Registrar) handle(req *sipmsg.Request) registerResult {
	now := r.clock.Now()
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return registerResult{code: 400, reason: "Bad Request (no source address)"}
	}
	srcAddr := src.Addr().Unmap()
	to := req.To()
	if to == nil || to.Address.User == "" {
		return registerResult{code: 404, reason: "Not Found"}
	}
	user := to.Address.User
	for _, h := range req.GetHeaders("Require") {
		for _, opt := range strings.Split(h.Value(), ",") {
			if opt = strings.TrimSpace(opt); opt != "" {
				return registerResult{code: 420, reason: "Bad Extension", hdrs: []sipmsg.Header{sipmsg.NewHeader("Unsupported", opt)}}
			}
		}
	}

	// Step 3 and 4: authenticate, and the authenticated seat may only change its own
	// bindings.
	authz := req.GetHeader("Authorization")
	if authz == nil {
		return r.challenge(srcAddr, false)
	}
	r.mu.Lock()
	blocked := r.failures.blocked(srcAddr, now)
	r.mu.Unlock()
	if blocked {
		r.log.Warn("sip REGISTER refused: too many failed authentications", "source", srcAddr, "agent_id", clip(user))
		return registerResult{code: 403, reason: "Forbidden (too many failed attempts)"}
	}
	cred, err := digest.ParseCredentials(authz.Value())
	if err != nil || !r.verify(cred) {
		r.mu.Lock()
		r.failures.fail(srcAddr, now)
		r.mu.Unlock()
		r.log.Info("sip REGISTER with wrong credentials", "source", srcAddr, "agent_id", clip(user))
		return r.challenge(srcAddr, false)
	}
	if !r.auth.freshNonce(cred.Nonce, srcAddr) {
		return r.challenge(srcAddr, true)
	}
	if cred.Username != user {
		return registerResult{code: 403, reason: "Forbidden (credentials of another seat)"}
	}

	// Steps 5-7: the contacts and their expiry.
	contacts, wildcard, err := registerContacts(req)
	if err != nil {
		return registerResult{code: 400, reason: "Bad Request (" + clip(err.Error()) + ")"}
	}
	defExp := r.cfg.DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			return registerResult{code: 400, reason: "Bad Request (Expires)"}
		}
		defExp = time.Duration(n) * time.Second
	}
	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	var cseq uint32
	if h := req.CSeq(); h != nil {
		cseq = h.SeqNo
	}
	if wildcard {
		// RFC 3261 10.3 step 6: "*" only alone and with Expires: 0.
		if len(contacts) > 0 || req.GetHeader("Expires") == nil || defExp != 0 {
			return registerResult{code: 400, reason: "Bad Request (Contact * needs Expires: 0 and no other contact)"}
		}
		return r.removeAll(user, callID, cseq, now)
	}
	type change struct {
		c   registerContact
		exp time.Duration
	}
	changes := make([]change, 0, len(contacts))
	for _, c := range contacts {
		exp := defExp
		if c.expires >= 0 {
			exp = c.expires
		}
		if exp != 0 && exp < r.cfg.MinExpires {
			return registerResult{code: 423, reason: "Interval Too Brief",
				hdrs: []sipmsg.Header{sipmsg.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second)))}}
		}
		changes = append(changes, change{c, min(exp, r.cfg.MaxExpires)})
	}
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = clipN(h.Value(), 128)
	}
	transport := strings.ToLower(req.Transport())

	r.mu.Lock()
	bs := r.users[user]
	had := len(bs) > 0
	// Check every change first: the request is applied whole or not at all.
	added := 0
	for _, ch := range changes {
		b := findBinding(bs, ch.c.key)
		if b != nil && b.callID == callID && cseq <= b.cseq {
			r.mu.Unlock()
			return registerResult{code: 500, reason: "Server Internal Error (out-of-order CSeq)", hdrs: []sipmsg.Header{sipmsg.NewHeader("Retry-After", "1")}}
		}
		if b == nil && ch.exp > 0 {
			added++
		}
	}
	if evict := max(0, len(bs)+added-r.cfg.MaxBindingsPerUser); r.total+added-evict > r.cfg.MaxBindings {
		r.mu.Unlock()
		r.log.Warn("sip registrar full", "max_bindings", r.cfg.MaxBindings)
		return registerResult{code: 503, reason: "Service Unavailable (registrar full)", hdrs: []sipmsg.Header{sipmsg.NewHeader("Retry-After", "60")}}
	}
	for _, ch := range changes {
		b := findBinding(bs, ch.c.key)
		switch {
		case ch.exp == 0 && b != nil:
			bs = slices.DeleteFunc(bs, func(x *Binding) bool { return x == b })
			r.total--
		case ch.exp == 0:
		case b != nil:
			b.Source, b.Transport, b.UserAgent = src, transport, ua
			b.Expires, b.updated, b.callID, b.cseq = now.Add(ch.exp), now, callID, cseq
			b.Contact = ch.c.uri
		default:
			if len(bs) >= r.cfg.MaxBindingsPerUser && len(bs) > 0 {
				// Replace the least recently refreshed contact of this seat.
				oldest := slices.MinFunc(bs, func(a, b *Binding) int { return a.updated.Compare(b.updated) })
				bs = slices.DeleteFunc(bs, func(x *Binding) bool { return x == oldest })
				r.total--
			}
			if r.cfg.MaxBindingsPerUser == 0 {
				continue
			}
			bs = append(bs, &Binding{User: user, Contact: ch.c.uri, Source: src, Transport: transport,
				Expires: now.Add(ch.exp), UserAgent: ua, key: ch.c.key, callID: callID, cseq: cseq, updated: now})
			r.total++
		}
	}
	var notes []reach
	if len(bs) == 0 {
		delete(r.users, user)
		if had {
			notes = append(notes, reach{user, false})
		}
	} else {
		r.users[user] = bs
		if !had {
			notes = append(notes, reach{user, true})
		}
	}
	res := registerResult{code: 200, reason: "OK", hdrs: bindingHeaders(bs, now)}
	r.commit(notes)
	return res
}

// removeAll handles "Contact: *" with Expires: 0.
func (r *Registrar) removeAll(user, callID string, cseq uint32, now time.Time) registerResult {
	r.mu.Lock()
	bs := r.users[user]
	for _, b := range bs {
		if b.callID == callID && cseq <= b.cseq {
			r.mu.Unlock()
			return registerResult{code: 500, reason: "Server Internal Error (out-of-order CSeq)", hdrs: []sipmsg.Header{sipmsg.NewHeader("Retry-After", "1")}}
		}
	}
	var notes []reach
	if len(bs) > 0 {
		r.total -= len(bs)
		delete(r.users, user)
		notes = append(notes, reach{user, false})
	}
	r.commit(notes)
	return registerResult{code: 200, reason: "OK"}
}

func findBinding(bs []*Binding, key string) *Binding {
	for _, b := range bs {
		if b.key == key {
			return b
		}
	}
	return nil
}

// bindingHeaders lists the bindings with their remaining expiry (RFC 3261 10.3 step 8).
func bindingHeaders(bs []*Binding, now time.Time) []sipmsg.Header {
	out := make([]sipmsg.Header, 0, len(bs))
	for _, b := range bs {
		left := int((b.Expires.Sub(now) + time.Second - 1) / time.Second)
		out = append(out, sipmsg.NewHeader("Contact", "<"+b.Contact+">;expires="+strconv.Itoa(max(left, 0))))
	}
	return out
}

// challenge answers 401 with one challenge per algorithm (RFC 8760 section 2.4).
func (r *Registrar) challenge(src netip.Addr, stale bool) registerResult {
	nonce := r.auth.nonce(src)
	res := registerResult{code: 401, reason: "Unauthorized"}
	for _, alg := range r.cfg.Algorithms {
		c := digest.Challenge{Realm: r.cfg.Realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		res.hdrs = append(res.hdrs, sipmsg.NewHeader("WWW-Authenticate", c.String()))
	}
	return res
}

// verify checks the digest response against the seat's HA1 (RFC 7616 section 3.4.1).
// The nonce's freshness is checked apart, so that a right answer to an old nonce gets
// stale=true and counts as no failure.
func (r *Registrar) verify(c *digest.Credentials) bool {
	if c.Realm != r.cfg.Realm || c.Username == "" {
		return false
	}
	alg := strings.ToUpper(c.Algorithm)
	if alg == "" {
		alg = "MD5"
	}
	if !slices.Contains(r.cfg.Algorithms, alg) {
		return false
	}
	ha1, ok := r.creds(c.Username, alg)
	if !ok {
		return false
	}
	return validResponseHA1(c, "REGISTER", strings.ToLower(ha1), alg)
}

// validResponseHA1 is authenticator.validResponse with the HA1 given instead of the
// password.
func validResponseHA1(c *digest.Credentials, method, ha1, alg string) bool {
	h := digestHash(alg)
	if h == nil {
		return false
	}
	sum := func(parts ...string) string {
		h.Reset()
		h.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(h.Sum(nil))
	}
	ha2 := sum(method, c.URI)
	var want string
	switch c.QOP {
	case "":
		want = sum(ha1, c.Nonce, ha2)
	case "auth":
		nc := strconv.FormatInt(int64(c.Nc), 16)
		nc = strings.Repeat("0", max(0, 8-len(nc))) + nc
		want = sum(ha1, c.Nonce, nc, c.Cnonce, c.QOP, ha2)
	default:
		return false
	}
	return hmac.Equal([]byte(want), []byte(strings.ToLower(c.Response)))
}

// registerContact is one Contact of a REGISTER.
type registerContact struct {
	uri     string
	key     string
	expires time.Duration // -1: none given
}

// registerContacts reads the Contact headers; wildcard is true for "Contact: *".
func registerContacts(req *sipmsg.Request) ([]registerContact, bool, error) {
	var out []registerContact
	wildcard := false
	for _, h := range req.GetHeaders("Contact") {
		var ch sipmsg.ContactHeader
		if c, ok := h.(*sipmsg.ContactHeader); ok {
			ch = *c
		} else {
			name, err := sipmsg.ParseAddressValue(h.Value(), &ch.Address, &ch.Params)
			if err != nil {
				return nil, false, fmt.Errorf("contact: %w", err)
			}
			ch.DisplayName = name
		}
		if ch.Address.Wildcard {
			wildcard = true
			continue
		}
		u := ch.Address
		if u.Scheme != "sip" && u.Scheme != "sips" && u.Scheme != "" {
			return nil, false, fmt.Errorf("contact scheme %q", clip(u.Scheme))
		}
		if u.Host == "" {
			return nil, false, errors.New("contact without host")
		}
		u.Headers = nil
		c := registerContact{uri: u.String(), key: contactKey(u), expires: -1}
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return nil, false, errors.New("contact expires")
			}
			c.expires = time.Duration(n) * time.Second
		}
		out = append(out, c)
	}
	if wildcard && len(out) > 0 {
		return nil, false, errors.New("contact * with other contacts")
	}
	return out, wildcard, nil
}

// contactKey identifies a contact for matching refreshes (a simplified RFC 3261
// 19.1.4 comparison: scheme, user, host, port and transport).
func contactKey(u sipmsg.Uri) string {
	tr := "udp"
	if u.UriParams != nil {
		if v, ok := u.UriParams.Get("transport"); ok && v != "" {
			tr = strings.ToLower(v)
		}
	}
	scheme := u.Scheme
	if scheme == "" {
		scheme = "sip"
	}
	return strings.ToLower(scheme) + ":" + u.User + "@" + strings.ToLower(u.Host) + ":" + strconv.Itoa(u.Port) + ";" + tr
}

func clipN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// failLimiter is a token bucket per source address for failed authentications.
// Its owner's mutex guards it.
type failLimiter struct {
	burst  int
	refill time.Duration
	max    int
	m      map[netip.Addr]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func (l *failLimiter) get(a netip.Addr, now time.Time) bucket {
	b, ok := l.m[a]
	if !ok {
		return bucket{tokens: float64(l.burst), at: now}
	}
	b.tokens = min(float64(l.burst), b.tokens+float64(now.Sub(b.at))/float64(l.refill))
	b.at = now
	return b
}

// blocked reports whether a has no failed attempt left.
func (l *failLimiter) blocked(a netip.Addr, now time.Time) bool {
	return l.get(a, now).tokens < 1
}

// fail takes one attempt from a.
func (l *failLimiter) fail(a netip.Addr, now time.Time) {
	b := l.get(a, now)
	b.tokens = max(0, b.tokens-1)
	if _, ok := l.m[a]; !ok && len(l.m) >= l.max {
		l.prune(now)
	}
	l.m[a] = b
}

// prune drops buckets that have refilled, and if none has, an arbitrary one.
func (l *failLimiter) prune(now time.Time) {
	for a := range l.m {
		if l.get(a, now).tokens >= float64(l.burst) {
			delete(l.m, a)
		}
	}
	for a := range l.m {
		if len(l.m) < l.max {
			break
		}
		delete(l.m, a)
	}
}

// SetRegistrar makes the server answer REGISTER with r; nil (the default) answers
// REGISTER with 405. Call it before Listen.
func (s *Server) SetRegistrar(r *Registrar) {
	s.agents.mu.Lock()
	s.agents.registrar = r
	s.agents.mu.Unlock()
}

func (s *Server) onRegister(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	s.metrics.request("REGISTER")
	s.agents.mu.Lock()
	r := s.agents.registrar
	s.agents.mu.Unlock()
	if r == nil {
		s.respond(req, tx, 405, "Method Not Allowed", allowHeader())
		return
	}
	res := r.handle(req)
	s.respond(req, tx, res.code, res.reason, res.hdrs...)
}
