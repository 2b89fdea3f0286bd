package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// admission is the outcome of checking a request against the trunks.
type admission uint8

const (
	admitted     admission = iota
	forbidden              // no trunk admits this source: 403
	unauthorised           // a trunk needs digest and the credentials are missing or wrong: 401
	staleNonce             // credentials right but the nonce expired: 401 stale=true
)

// nonceLife is how long a nonce we issued stays valid.
const nonceLife = 5 * time.Minute

// authenticator checks sources and digest credentials. Nonces are stateless (a
// timestamp and an HMAC of it and the source address under a per-process key), so a
// challenge leaves no state behind.
type authenticator struct {
	realm  string
	trunks []Trunk
	key    [32]byte
	now    func() time.Time
}

func newAuthenticator(realm string, trunks []Trunk, now func() time.Time) *authenticator {
	a := &authenticator{realm: realm, trunks: trunks, now: now}
	if _, err := rand.Read(a.key[:]); err != nil {
		panic("sip: no randomness for nonces: " + err.Error())
	}
	return a
}

// candidates returns the trunks that may admit a request from src: those whose
// networks hold it, else those that admit any source with digest credentials.
func (a *authenticator) candidates(src netip.Addr) []*Trunk {
	var byNet, byDigest []*Trunk
	for i := range a.trunks {
		t := &a.trunks[i]
		switch {
		case len(t.prefixes) > 0 && t.contains(src):
			byNet = append(byNet, t)
		case len(t.prefixes) == 0 && t.Username != "":
			byDigest = append(byDigest, t)
		}
	}
	if len(byNet) > 0 {
		return byNet
	}
	return byDigest
}

// admit decides whether a request from src with the given Authorization header value
// (may be empty) is let in, and by which trunk.
func (a *authenticator) admit(method, src string, authz string) (*Trunk, admission, []*Trunk) {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return nil, forbidden, nil
	}
	cands := a.candidates(ap.Addr().Unmap())
	if len(cands) == 0 {
		return nil, forbidden, nil
	}
	var needDigest []*Trunk
	for _, t := range cands {
		if t.Username == "" {
			return t, admitted, nil
		}
		needDigest = append(needDigest, t)
	}
	if authz == "" {
		return nil, unauthorised, needDigest
	}
	cred, err := digest.ParseCredentials(authz)
	if err != nil {
		return nil, unauthorised, needDigest
	}
	for _, t := range needDigest {
		if cred.Username != t.Username || cred.Realm != a.realm {
			continue
		}
		if !a.validResponse(cred, method, t.Password, t.Algorithms) {
			continue
		}
		if !a.freshNonce(cred.Nonce, ap.Addr()) {
			return nil, staleNonce, needDigest
		}
		return t, admitted, nil
	}
	return nil, unauthorised, needDigest
}

// challenges returns the WWW-Authenticate values for the trunks, strongest algorithm
// first (RFC 8760 section 2.4: one challenge per algorithm).
func (a *authenticator) challenges(src string, trunks []*Trunk, stale bool) []string {
	ap, _ := netip.ParseAddrPort(src)
	nonce := a.nonce(ap.Addr())
	var algs []string
	seen := map[string]bool{}
	for _, t := range trunks {
		for _, alg := range t.Algorithms {
			if !seen[alg] {
				seen[alg] = true
				algs = append(algs, alg)
			}
		}
	}
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		c := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

func (a *authenticator) nonce(src netip.Addr) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(a.now().Unix()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(a.mac(ts[:], src))
}

func (a *authenticator) mac(ts []byte, src netip.Addr) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write(ts)
	b, _ := src.Unmap().MarshalBinary()
	m.Write(b)
	return m.Sum(nil)[:16]
}

func (a *authenticator) freshNonce(nonce string, src netip.Addr) bool {
	raw, err := hex.DecodeString(nonce)
	if err != nil || len(raw) != 8+16 {
		return false
	}
	if !hmac.Equal(raw[8:], a.mac(raw[:8], src)) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	age := a.now().Sub(issued)
	return age >= -time.Minute && age <= nonceLife
}

// validResponse recomputes the digest response (RFC 7616 section 3.4.1) and compares it
// in constant time. Only algorithms the trunk allows are accepted.
func (a *authenticator) validResponse(c *digest.Credentials, method, password string, allowed []string) bool {
	alg := strings.ToUpper(c.Algorithm)
	if alg == "" {
		alg = "MD5"
	}
	if !slices.Contains(allowed, alg) {
		return false
	}
	ha1, err := HA1(alg, c.Username, c.Realm, password)
	if err != nil {
		return false
	}
	return validResponseHA1(c, method, ha1, alg)
}
