package call

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/ticket"
)

// Config is what the call flow needs besides the menu and the queues.
type Config struct {
	// Numbers are the dialled numbers the engine answers; any other gets 404.
	Numbers map[string]Number `yaml:"numbers"`
	// Media is the RTP side.
	Media MediaConfig `yaml:"media"`
	// Recording is where and how calls are recorded (queues say when).
	Recording RecordingConfig `yaml:"recording"`
	// Survey is the satisfaction survey.
	Survey SurveyConfig `yaml:"survey"`
	// Tickets are the work orders: deadlines, departments, calendar, follow-up.
	Tickets TicketConfig `yaml:"tickets"`
	// Hooks are the sinks work-order events go to (webhook, file, builtin).
	Hooks []ticket.SinkConfig `yaml:"hooks"`
}

// SurveyConfig is the satisfaction survey.
type SurveyConfig struct {
	// PostCall takes the caller to a short survey (1 satisfied, 2 basically
	// satisfied, 3 dissatisfied) when the agent ends the call.
	PostCall bool `yaml:"post_call"`
	// Timeout is how long the survey waits for a key after its prompt (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

// RecordingConfig is where recordings go, how they are kept and for how long.
type RecordingConfig struct {
	// Dir is the recordings folder; empty: "recordings" in the data folder.
	Dir string `yaml:"dir"`
	// Key (64 hex digits) or KeyFile (a file holding them, or 32 raw bytes)
	// turns on AES-256-GCM encryption at rest.
	Key     string `yaml:"key"`
	KeyFile string `yaml:"key_file"`
	// RetentionDays deletes recordings older than this many days (0: keep them).
	RetentionDays int `yaml:"retention_days"`
	// SweepEvery is how often the retention sweep runs (default 1h).
	SweepEvery time.Duration `yaml:"sweep_every"`

	key []byte
}

// Number says how calls to one dialled number are taken.
type Number struct {
	// Ring, when set, sends 180 Ringing and waits this long before answering (a
	// carrier that wants early ringback; also how tests reach CANCEL).
	Ring time.Duration `yaml:"ring"`
	// Start overrides the menu's first node for this number.
	Start string `yaml:"start"`
}

// MediaConfig is the RTP side of calls.
type MediaConfig struct {
	// IP is the address RTP sockets bind to and the SDP advertises.
	IP string `yaml:"ip"`
	// PortMin and PortMax bound the RTP ports (even ports are used). 0 and 0 means
	// any free port.
	PortMin int `yaml:"port_min"`
	PortMax int `yaml:"port_max"`
	// Codecs in our order of preference when we make the offer (delayed offer);
	// when the caller offers, its order wins (RFC 3264 6.1).
	Codecs []string `yaml:"codecs"`
	// RTPTimeout ends a call whose RTP stops for this long (paused while the caller
	// holds). 0 means the default, 60s; negative disables it.
	RTPTimeout time.Duration `yaml:"rtp_timeout"`
	// DTMFPayloadType is the telephone-event payload type we offer (96-127).
	DTMFPayloadType uint8 `yaml:"dtmf_payload_type"`

	codecs []media.Codec
	ip     netip.Addr
}

// DefaultConfig is the embedded demo: 12345 answered at once, RTP on loopback.
func DefaultConfig() Config {
	return Config{
		Numbers: map[string]Number{"12345": {}},
		Survey:  SurveyConfig{PostCall: true, Timeout: 5 * time.Second},
		Media: MediaConfig{
			IP: "127.0.0.1", PortMin: 20000, PortMax: 29998,
			Codecs: []string{"PCMA", "PCMU"}, RTPTimeout: 60 * time.Second, DTMFPayloadType: 101,
		},
	}
}

// FieldError is one problem in this section, at a key path.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks the section and fills defaults.
func (c *Config) Validate() []FieldError {
	var errs []FieldError
	add := func(p, f string, a ...any) { errs = append(errs, FieldError{p, fmt.Sprintf(f, a...)}) }
	if len(c.Numbers) == 0 {
		add("numbers", "no number to answer")
	}
	for n, num := range c.Numbers {
		if n == "" {
			add("numbers", "empty number")
		}
		if num.Ring < 0 || num.Ring > 2*time.Minute {
			add("numbers."+n+".ring", "must be between 0 and 2m, got %v", num.Ring)
		}
	}
	m := &c.Media
	ip, err := netip.ParseAddr(m.IP)
	if err != nil {
		add("media.ip", "not an IP address: %q", m.IP)
	}
	m.ip = ip
	if m.PortMin != 0 || m.PortMax != 0 {
		if m.PortMin < 1024 || m.PortMax > 65534 || m.PortMin > m.PortMax {
			add("media.port_min", "RTP port range %d-%d is not within 1024-65534", m.PortMin, m.PortMax)
		}
	}
	if len(m.Codecs) == 0 {
		m.Codecs = []string{"PCMA", "PCMU"}
	}
	m.codecs = m.codecs[:0]
	for i, name := range m.Codecs {
		cd, ok := media.CodecByName(name)
		if !ok {
			add(fmt.Sprintf("media.codecs.%d", i), "unsupported codec %q (PCMU, PCMA)", name)
			continue
		}
		m.codecs = append(m.codecs, cd)
	}
	if m.RTPTimeout == 0 {
		m.RTPTimeout = 60 * time.Second
	}
	if m.DTMFPayloadType == 0 {
		m.DTMFPayloadType = 101
	}
	if m.DTMFPayloadType < 96 || m.DTMFPayloadType > 127 {
		add("media.dtmf_payload_type", "must be a dynamic payload type (96-127), got %d", m.DTMFPayloadType)
	}
	if c.Survey.Timeout == 0 {
		c.Survey.Timeout = 5 * time.Second
	} else if c.Survey.Timeout < time.Second || c.Survey.Timeout > time.Minute {
		add("survey.timeout", "between 1s and 1m, got %v", c.Survey.Timeout)
	}
	if _, _, err := c.Tickets.FollowUp.hours(); err != nil {
		add("tickets.followup.hours", "%v", err)
	}
	for i, h := range c.Hooks {
		if _, err := ticket.NewSink(h); err != nil {
			add(fmt.Sprintf("hooks.%d", i), "%v", err)
		}
	}
	r := &c.Recording
	if r.Key != "" && r.KeyFile != "" {
		add("recording.key", "give key or key_file, not both")
	}
	r.key = nil
	switch {
	case r.Key != "":
		k, err := hex.DecodeString(strings.TrimSpace(r.Key))
		if err != nil || len(k) != 32 {
			add("recording.key", "must be 64 hex digits (an AES-256 key)")
		}
		r.key = k
	case r.KeyFile != "":
		b, err := os.ReadFile(r.KeyFile)
		switch {
		case err != nil:
			add("recording.key_file", "%v", err)
		case len(b) == 32:
			r.key = b
		default:
			k, err := hex.DecodeString(strings.TrimSpace(string(b)))
			if err != nil || len(k) != 32 {
				add("recording.key_file", "must hold 32 bytes or 64 hex digits, holds %d bytes", len(b))
			}
			r.key = k
		}
	}
	if r.RetentionDays < 0 {
		add("recording.retention_days", "must be 0 (keep) or more, got %d", r.RetentionDays)
	}
	if r.SweepEvery == 0 {
		r.SweepEvery = time.Hour
	} else if r.SweepEvery < time.Second {
		add("recording.sweep_every", "at least 1s, got %v", r.SweepEvery)
	}
	return errs
}
