package sip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config is the signalling side of the engine.
type Config struct {
	// Listen is host:port for SIP over UDP and TCP. Port 0 picks a free port (the same
	// one for both transports); the real address is reported by Server.Addr.
	Listen string `yaml:"listen"`
	// Transports to serve: "udp", "tcp" or both.
	Transports []string `yaml:"transports"`
	// UserAgent is sent in the Server and User-Agent headers.
	UserAgent string `yaml:"user_agent"`
	// Realm names this engine in digest challenges.
	Realm string `yaml:"realm"`
	// MaxCalls is how many calls may be up at once; the next INVITE gets 503 with
	// Retry-After. 0 means the default (4000).
	MaxCalls int `yaml:"max_calls"`
	// RetryAfter is the Retry-After of that 503.
	RetryAfter time.Duration `yaml:"retry_after"`
	// MinSE is the smallest session interval accepted (RFC 4028 Min-SE); an INVITE
	// asking for less gets 422.
	MinSE time.Duration `yaml:"min_se"`
	// Trunks are the carriers (and test peers) allowed to send calls.
	Trunks []Trunk `yaml:"trunks"`
	// Registrar is how SIP seats (backup agents' phones) register.
	Registrar RegistrarConfig `yaml:"registrar"`
}

// Trunk is one carrier connection. A request is admitted when its source address is in
// Networks (if any are listed) and it carries valid digest credentials (if a Username
// is set). A trunk with neither admits nobody.
type Trunk struct {
	// Name appears in call records, logs and metrics.
	Name string `yaml:"name"`
	// Networks are the source networks (CIDR, or a bare address) the carrier sends from.
	Networks []string `yaml:"networks"`
	// Username and Password, when set, require digest authentication (RFC 8760).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Algorithms offered in challenges, strongest first: "SHA-256", "MD5".
	Algorithms []string `yaml:"algorithms"`
	// NAT says the carrier is behind NAT: RTP latches to the first packet from
	// anywhere, and in-dialog requests go to the source address, not the Contact.
	NAT bool `yaml:"nat"`
	// DTMF says how digits arrive: "auto" (RFC 4733 when offered, in-band detection
	// when not, INFO always), "rfc4733", "info" or "inband".
	DTMF string `yaml:"dtmf"`
	// Outbound is host:port where calls we place through this trunk go (callbacks to
	// citizens); empty means the trunk takes no outbound calls.
	Outbound string `yaml:"outbound"`

	prefixes []netip.Prefix
}

// Default returns the configuration of the embedded demo: UDP and TCP on
// 127.0.0.1:5060 and one trunk admitting loopback callers.
func Default() Config {
	return Config{
		Listen:     "127.0.0.1:5060",
		Transports: []string{"udp", "tcp"},
		UserAgent:  "hotline",
		Realm:      "hotline",
		MaxCalls:   4000,
		RetryAfter: 30 * time.Second,
		MinSE:      90 * time.Second,
		Registrar:  DefaultRegistrar(),
		Trunks: []Trunk{{
			Name:       "local",
			Networks:   []string{"127.0.0.0/8", "::1/128"},
			Algorithms: []string{"SHA-256", "MD5"},
			DTMF:       "auto",
		}},
	}
}

// FieldError is one problem in the configuration, at a key path such as
// "trunks.0.networks.1".
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks the configuration and fills defaults. It returns every problem found
// as FieldErrors joined with errors.Join; paths are relative to this section.
func (c *Config) Validate() []FieldError {
	var errs []FieldError
	add := func(path, format string, a ...any) {
		errs = append(errs, FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "not host:port: %v", err)
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{"udp", "tcp"}
	}
	for i, t := range c.Transports {
		if t != "udp" && t != "tcp" {
			add(fmt.Sprintf("transports.%d", i), "unknown transport %q (udp, tcp)", t)
		}
	}
	if c.UserAgent == "" {
		c.UserAgent = "hotline"
	}
	if c.Realm == "" {
		c.Realm = "hotline"
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = 4000
	}
	if c.MaxCalls < 0 {
		add("max_calls", "must not be negative")
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 30 * time.Second
	}
	if c.MinSE == 0 {
		c.MinSE = 90 * time.Second
	}
	if c.MinSE < 90*time.Second {
		add("min_se", "RFC 4028 forbids a Min-SE below 90s, got %v", c.MinSE)
	}
	seen := map[string]bool{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		p := fmt.Sprintf("trunks.%d", i)
		if t.Name == "" {
			add(p+".name", "missing")
		} else if seen[t.Name] {
			add(p+".name", "duplicate trunk %q", t.Name)
		}
		seen[t.Name] = true
		if len(t.Networks) == 0 && t.Username == "" {
			add(p, "trunk %q admits nobody: give networks, a username, or both", t.Name)
		}
		if t.Username != "" && t.Password == "" {
			add(p+".password", "missing for username %q", t.Username)
		}
		t.prefixes = t.prefixes[:0]
		for j, n := range t.Networks {
			pr, err := parsePrefix(n)
			if err != nil {
				add(fmt.Sprintf("%s.networks.%d", p, j), "%v", err)
				continue
			}
			t.prefixes = append(t.prefixes, pr)
		}
		if len(t.Algorithms) == 0 {
			t.Algorithms = []string{"SHA-256", "MD5"}
		}
		for j, a := range t.Algorithms {
			switch strings.ToUpper(a) {
			case "SHA-256", "MD5":
				t.Algorithms[j] = strings.ToUpper(a)
			default:
				add(fmt.Sprintf("%s.algorithms.%d", p, j), "unknown digest algorithm %q (SHA-256, MD5)", a)
			}
		}
		if t.Outbound != "" {
			if _, err := netip.ParseAddrPort(t.Outbound); err != nil {
				add(p+".outbound", "not ip:port: %q", t.Outbound)
			}
		}
		switch t.DTMF {
		case "":
			t.DTMF = "auto"
		case "auto", "rfc4733", "info", "inband":
		default:
			add(p+".dtmf", "unknown DTMF mode %q (auto, rfc4733, info, inband)", t.DTMF)
		}
	}
	if len(c.Trunks) == 0 {
		add("trunks", "no trunk: nobody could call")
	}
	if c.Registrar.Realm == "" {
		c.Registrar.Realm = c.Realm
	}
	for _, e := range c.Registrar.Validate() {
		errs = append(errs, FieldError{Path: "registrar." + e.Path, Msg: e.Msg})
	}
	return errs
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a network (CIDR): %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an address or network: %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// contains reports whether the trunk's networks hold addr.
func (t *Trunk) contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
