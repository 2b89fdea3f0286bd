package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/queue"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/web"
	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default configuration file.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Config is the whole engine configuration.
type Config struct {
	// Site names this engine's site in events and logs.
	Site string `yaml:"site"`
	// Data is the folder for the journal and messages; empty keeps everything in
	// memory (nothing survives a restart).
	Data string `yaml:"data"`
	// HTTP is the REST API, probes and metrics.
	HTTP HTTP `yaml:"http"`
	// WebRTC is the agents' browser media.
	WebRTC WebRTC `yaml:"webrtc"`
	// Log sets the log level and format.
	Log Log `yaml:"log"`
	// SIP is the signalling side: listeners and trunks.
	SIP sip.Config `yaml:"sip"`
	// Call holds the dialled numbers and the media (keys numbers, media).
	Call call.Config `yaml:",inline"`
	// Queues are the desks callers are routed to.
	Queues []queue.Config `yaml:"queues"`
	// Agents are the seats (key agents); left out, the demo's 1001-1200 (primary,
	// WebRTC) and 2001-2050 (backup, SIP phones).
	Agents acd.Config `yaml:",inline"`
	// Supervisors may change any agent's state (key supervisors); left out, the
	// demo's one supervisor 9001 with the lab password.
	Supervisors []Supervisor `yaml:"supervisors"`
	// LabPassword is the password of every agent and supervisor whose password_hash
	// is empty. The engine refuses to listen on anything but loopback while one such
	// account exists.
	LabPassword string `yaml:"lab_password"`
	// IVR is the voice menu; nil means the embedded 12345 menu.
	IVR *ivr.Config `yaml:"ivr"`
	// Prompts is a folder of the operator's own prompts (zh/, en/, common/) that
	// override the embedded ones.
	Prompts string `yaml:"prompts"`
	// Store is where the event log lives: the local journal (default) or Redis,
	// shared by the two sites of a hot-standby pair (config/store.go).
	Store Store `yaml:"store"`

	file string     // where it was loaded from, for messages
	root *yaml.Node // the decoded document, for line numbers
}

// HTTP is the HTTP listener.
type HTTP struct {
	// Listen is host:port; port 0 picks a free port.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files: with both, the HTTP listener serves HTTPS
	// (browsers give the agent page a microphone only on HTTPS or on localhost).
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Sites are the base URLs at which agents reach each site's pages in a
	// hot-standby pair (both sites list both, e.g. https://12345-a.city:8443 and
	// https://12345-b.city:8443). An agent page whose site is lost moves to the
	// one that is active, logged in with the same session (store.redis shares
	// sessions). Empty: the page stays where it is.
	Sites []string `yaml:"sites"`
}

// WebRTC is the agents' browser media side.
type WebRTC struct {
	// Listen is the one UDP host:port of every agent's media (ICE-lite, one
	// firewall rule); port 0 picks a free port. Empty turns WebRTC seats off.
	Listen string `yaml:"listen"`
	// PublicIPs are advertised to browsers instead of the listen address (1:1 NAT).
	PublicIPs []string `yaml:"public_ips"`
	// ICEServers are STUN/TURN servers handed to the browsers.
	ICEServers []web.ICEServer `yaml:"ice_servers"`
	// RestoreTimeout is how long a dropped agent connection may take to come back
	// (ICE restart) before its call goes back to the head of the queue.
	RestoreTimeout time.Duration `yaml:"restore_timeout"`
	// DisconnectedAfter: no packet from a browser for this long marks its
	// connection down.
	DisconnectedAfter time.Duration `yaml:"disconnected_after"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// SlogLevel returns the configured level.
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(l.Level))
	return lv
}

// Default returns the embedded default configuration.
func Default() Config {
	c, err := Parse("(default)", defaultYAML, nil)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return c
}

// Parse decodes data (the contents of file) over base, or over nothing when base is
// nil. Keys left out keep base's values; a list or map given replaces base's whole.
// Unknown keys are errors with their line. It does not validate.
func Parse(file string, data []byte, base *Config) (Config, error) {
	var c Config
	if base != nil {
		c = *base
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	if root.Kind == 0 { // empty file
		c.file = file
		return c, nil
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return c, fmt.Errorf("%s: the configuration must be a mapping of keys (site, sip, queues ...)", file)
	}
	// Maps given in the file replace the base's whole (a file listing numbers means
	// those numbers only).
	if keyNode(root.Content[0], "numbers") != nil {
		c.Call.Numbers = nil
	}
	if base == nil && keyNode(root.Content[0], "agents") == nil {
		c.Agents = acd.Default()
	}
	if base == nil && keyNode(root.Content[0], "supervisors") == nil {
		c.Supervisors = defaultSupervisors()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	c.file, c.root = file, &root
	return c, nil
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	File string
	Line int // 0 when the key is not in the file (a default is wrong)
	Path string
	Msg  string
}

func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Path, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, p.Path, p.Msg)
}

// Invalid holds every problem found by Validate.
type Invalid struct{ Problems []Problem }

func (e *Invalid) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Validate checks every section and fills defaults; prompts tells which prompts exist
// (for the menu and the queues' hold audio). It returns an *Invalid listing every
// problem, each with file, line and key.
func (c *Config) Validate(prompts ivr.Catalog) error {
	var probs []Problem
	add := func(path, msg string) {
		probs = append(probs, Problem{File: c.file, Line: c.line(path), Path: path, Msg: msg})
	}
	if c.Site == "" {
		c.Site = "primary"
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		add("http.listen", "not host:port: "+err.Error())
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		add("http.tls_cert", "tls_cert and tls_key go together")
	}
	for i, site := range c.HTTP.Sites {
		u, err := url.Parse(site)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			add(fmt.Sprintf("http.sites.%d", i), fmt.Sprintf("%q is not a base URL like https://host:8443", site))
		}
	}
	c.validateWebRTC(add)
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.Log.Level)); err != nil {
		add("log.level", fmt.Sprintf("unknown level %q (debug, info, warn, error)", c.Log.Level))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("log.format", fmt.Sprintf("unknown format %q (text, json)", c.Log.Format))
	}
	for _, e := range c.SIP.Validate() {
		add("sip."+e.Path, e.Msg)
	}
	for _, e := range c.Call.Validate() {
		add(e.Path, e.Msg)
	}
	langs := []string{"zh"}
	menu := c.IVR
	if menu == nil {
		menu = ivr.Default()
	}
	if len(menu.Languages) > 0 {
		langs = menu.Languages
	}
	inAll := func(name string) bool {
		for _, l := range langs {
			if !prompts.Has(l, name) {
				return false
			}
		}
		return true
	}
	for _, e := range queue.Validate(c.Queues, inAll) {
		add(e.Path, e.Msg)
	}
	for _, e := range c.Agents.Validate(c.Queues) {
		add(e.Path, e.Msg)
	}
	c.validateSupervisors(add)
	if c.LabPassword == "" {
		c.LabPassword = "hotline-lab"
	}
	if lab := c.labAccounts(); lab > 0 {
		for _, addr := range []struct{ key, v string }{{"sip.listen", c.SIP.Listen}, {"http.listen", c.HTTP.Listen}} {
			if _, _, err := net.SplitHostPort(addr.v); err == nil && !loopback(addr.v) {
				add(addr.key, fmt.Sprintf("%d accounts (agents and supervisors) still have the lab password: give each a password_hash before listening on %s", lab, addr.v))
			}
		}
	}
	queues := func(name string) bool {
		return slices.ContainsFunc(c.Queues, func(q queue.Config) bool { return q.Name == name })
	}
	if err := menu.Validate(prompts, queues); err != nil {
		var ve *ivr.ValidationError
		if errors.As(err, &ve) {
			for _, e := range ve.Errors {
				add("ivr."+e.Path, e.Msg)
			}
		} else {
			add("ivr", err.Error())
		}
	}
	if len(probs) > 0 {
		return &Invalid{Problems: probs}
	}
	return nil
}

// labAccounts counts the agents and supervisors with no password of their own.
func (c *Config) labAccounts() int {
	n := 0
	for _, a := range c.Agents.Agents {
		if a.PasswordHash == "" {
			n++
		}
	}
	for _, s := range c.Supervisors {
		if s.PasswordHash == "" {
			n++
		}
	}
	return n
}

// LabAccounts is how many agents and supervisors log in with the lab password.
func (c *Config) LabAccounts() int { return c.labAccounts() }

// loopback reports whether host:port names a loopback address (or localhost).
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Menu returns the configured menu, or the embedded default.
func (c *Config) Menu() *ivr.Config {
	if c.IVR != nil {
		return c.IVR
	}
	return ivr.Default()
}

// line finds the line of a dotted key path ("sip.trunks.0.networks.1") in the file;
// when the path is only partly there, the line of its deepest part; 0 if none.
func (c *Config) line(path string) int {
	if c.root == nil || len(c.root.Content) == 0 {
		return 0
	}
	n := c.root.Content[0]
	line := 0
	parts := strings.Split(path, ".")
	for _, p := range parts {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			if k := keyNode(n, p); k != nil {
				line = k.Line
				next = valueOf(n, k)
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(p); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

func keyNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func valueOf(m *yaml.Node, key *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func (c *Config) validateWebRTC(add func(path, msg string)) {
	w := &c.WebRTC
	if w.Listen != "" {
		host, _, err := net.SplitHostPort(w.Listen)
		if err != nil {
			add("webrtc.listen", "not host:port: "+err.Error())
		} else if _, err := netip.ParseAddr(host); err != nil && host != "" {
			add("webrtc.listen", fmt.Sprintf("%q is not an IP address", host))
		}
	}
	for i, ip := range w.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			add(fmt.Sprintf("webrtc.public_ips[%d]", i), fmt.Sprintf("%q is not an IP address", ip))
		}
	}
	for i, s := range w.ICEServers {
		if len(s.URLs) == 0 {
			add(fmt.Sprintf("webrtc.ice_servers[%d].urls", i), "missing")
		}
		for _, u := range s.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				add(fmt.Sprintf("webrtc.ice_servers[%d].urls", i), fmt.Sprintf("%q is not a stun:, turn: or turns: URL", u))
			}
		}
	}
	if w.RestoreTimeout == 0 {
		w.RestoreTimeout = 10 * time.Second
	} else if w.RestoreTimeout < time.Second {
		add("webrtc.restore_timeout", "at least 1s")
	}
	if w.DisconnectedAfter == 0 {
		w.DisconnectedAfter = 4 * time.Second
	} else if w.DisconnectedAfter < 500*time.Millisecond {
		add("webrtc.disconnected_after", "at least 500ms")
	}
}
