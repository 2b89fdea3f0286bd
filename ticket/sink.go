package ticket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Sink receives events. Deliver returns nil once the event is safely handed over (the
// receiver acknowledged it); any error means "try again later". A sink may be slow:
// Hooks calls Deliver from its own goroutines, with a context that Close cancels.
// Deliver may be called again with an event it already took (same Key) after a crash
// or a lost acknowledgement; receivers deduplicate by Key.
type Sink interface {
	Name() string
	Deliver(ctx context.Context, ev Event) error
}

// SinkConfig is one entry under hooks: in the YAML config.
type SinkConfig struct {
	Type    string        `yaml:"type" json:"type"`                 // webhook, file, builtin, or a registered kind
	Name    string        `yaml:"name" json:"name,omitempty"`       // unique among the sinks; defaults to Type
	URL     string        `yaml:"url" json:"url,omitempty"`         // webhook
	Secret  string        `yaml:"secret" json:"-"`                  // webhook: the HMAC key
	Path    string        `yaml:"path" json:"path,omitempty"`       // file
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"` // per attempt (webhook; default 10s)
	// MaxAge: an event still undelivered this long after it was published (or retried)
	// goes to the dead-letter list. 0 means HooksOptions.MaxAge.
	MaxAge time.Duration `yaml:"max_age" json:"max_age,omitempty"`
}

// SinkName returns the sink's name: Name, or Type when Name is empty.
func (c SinkConfig) SinkName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Type
}

// MaxAger is implemented by sinks that carry their own dead-letter age (the built-in
// ones, from SinkConfig.MaxAge).
type MaxAger interface{ MaxAge() time.Duration }

var (
	registryMu sync.Mutex
	registry   = map[string]func(SinkConfig) (Sink, error){
		"webhook": func(c SinkConfig) (Sink, error) { return NewWebhook(c) },
		"file":    func(c SinkConfig) (Sink, error) { return NewFileSink(c) },
		"builtin": func(c SinkConfig) (Sink, error) { return builtinSink{name: c.SinkName()}, nil },
	}
)

// Register makes a sink type available by name for NewSink; a later Register of the same
// kind replaces the earlier one. "webhook", "file" and "builtin" are built in.
func Register(kind string, factory func(SinkConfig) (Sink, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[kind] = factory
}

// Kinds returns the registered sink types, sorted.
func Kinds() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	var ks []string
	for k := range registry {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// NewSink builds the sink that c's Type names.
func NewSink(c SinkConfig) (Sink, error) {
	registryMu.Lock()
	f, ok := registry[c.Type]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("ticket: hooks: unknown sink type %q (known: %v)", c.Type, Kinds())
	}
	s, err := f(c)
	if err != nil {
		return nil, fmt.Errorf("ticket: hooks: sink %q: %w", c.SinkName(), err)
	}
	return s, nil
}

// NewSinks builds every configured sink, refusing duplicate names.
func NewSinks(cs []SinkConfig) ([]Sink, error) {
	seen := map[string]bool{}
	var out []Sink
	for i, c := range cs {
		if seen[c.SinkName()] {
			return nil, fmt.Errorf("ticket: hooks[%d]: duplicate sink name %q (set name:)", i, c.SinkName())
		}
		seen[c.SinkName()] = true
		s, err := NewSink(c)
		if err != nil {
			return nil, fmt.Errorf("hooks[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// builtinSink stands for the engine's own store: the engine keeps work orders in its
// Book folded from its event log, so delivering to it is a no-op that succeeds.
type builtinSink struct{ name string }

func (b builtinSink) Name() string                       { return b.name }
func (builtinSink) Deliver(context.Context, Event) error { return nil }

// Webhook is the webhook sink: each event is POSTed as JSON to URL with the headers
// X-Hotline-Timestamp, X-Hotline-Signature (Sign with the secret), Idempotency-Key and
// X-Hotline-Event. A 2xx answer means delivered; so does 409 Conflict (the receiver
// already has that key). Anything else, a timeout or a network error is an error.
type Webhook struct {
	name   string
	url    string
	secret []byte
	maxAge time.Duration
	client *http.Client
	now    func() time.Time
}

// NewWebhook builds a webhook sink; URL (http or https) and Secret are required.
func NewWebhook(c SinkConfig) (*Webhook, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: url %q: want http(s)://host/path", c.URL)
	}
	if c.Secret == "" {
		return nil, errors.New("webhook: secret is required (the HMAC-SHA256 key of the signature)")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Webhook{name: c.SinkName(), url: c.URL, secret: []byte(c.Secret), maxAge: c.MaxAge,
		client: &http.Client{Timeout: timeout}, now: time.Now}, nil
}

// Name returns the sink's configured name.
func (w *Webhook) Name() string { return w.name }

// MaxAge returns the configured dead-letter age (0: the Hooks default).
func (w *Webhook) MaxAge() time.Duration { return w.maxAge }

// Deliver POSTs ev once.
func (w *Webhook) Deliver(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook %s: encode %s: %w", w.name, ev.Key, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.name, err)
	}
	ts := w.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	req.Header.Set(HeaderIdempotency, ev.Key)
	req.Header.Set(HeaderEvent, ev.Type)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: POST %s: %w", w.name, w.url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
		return nil
	}
	return fmt.Errorf("webhook %s: POST %s: %s: %s", w.name, w.url, resp.Status, bytes.TrimSpace(msg))
}

// FileSink is the file sink: one JSON line per event appended to Path, fsync'd before
// Deliver returns. After a crash an event may appear twice (same key).
type FileSink struct {
	name   string
	path   string
	maxAge time.Duration
	mu     sync.Mutex
}

// NewFileSink builds a file sink; Path is required and its folder must exist.
func NewFileSink(c SinkConfig) (*FileSink, error) {
	if c.Path == "" {
		return nil, errors.New("file: path is required")
	}
	if st, err := os.Stat(filepath.Dir(c.Path)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("file: folder of path %q does not exist", c.Path)
	}
	return &FileSink{name: c.SinkName(), path: c.Path, maxAge: c.MaxAge}, nil
}

// Name returns the sink's configured name.
func (f *FileSink) Name() string { return f.name }

// MaxAge returns the configured dead-letter age (0: the Hooks default).
func (f *FileSink) MaxAge() time.Duration { return f.maxAge }

// Deliver appends ev as one JSON line and fsyncs the file.
func (f *FileSink) Deliver(_ context.Context, ev Event) error {
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("file sink %s: encode %s: %w", f.name, ev.Key, err)
	}
	line = append(line, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("file sink %s: %w", f.name, err)
	}
	_, err = fh.Write(line)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("file sink %s: write %s: %w", f.name, f.path, err)
	}
	return nil
}
