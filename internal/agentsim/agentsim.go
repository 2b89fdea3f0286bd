// Package agentsim simulates agents at their browsers: each logs in through the
// engine's HTTP API, opens its WebRTC media connection (pion, as a browser would),
// goes ready, answers offers after a delay, plays a tone while talking, checks that
// it hears the caller's tone, and hangs up after a talk time (or waits for the
// caller to). It is used by load tests, `hotline demo` and the failover drill.
package agentsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

// Options configure simulated agents.
type Options struct {
	// Base is the engine's HTTP base URL (http://127.0.0.1:8080).
	Base string
	// Password is every agent's password (the lab password).
	Password string
	// AnswerAfter is how long an offer rings before the agent answers.
	AnswerAfter time.Duration
	// TalkFor is how long the agent talks before hanging up; 0 waits for the caller.
	TalkFor time.Duration
	// WrapUp is how long after a call the agent takes before it is ready again
	// (0: at once; the agent ends its wrap-up).
	WrapUp time.Duration
	// ToneHz is the tone the agent plays (default 440); HearHz the caller's tone it
	// checks it hears (default 1000).
	ToneHz, HearHz float64
	// Logger receives one line per call; nil discards.
	Logger *slog.Logger
	// Supervisor logs in a supervisor: media only (to listen, whisper and barge),
	// no WebSocket, no state; Run is not for them.
	Supervisor bool
	// Sites are the base URLs of the sites of a hot-standby pair (Base among
	// them or not). When the agent's WebSocket is lost, Run moves the agent to
	// whichever site's /readyz says 200, as the agent page does: the same token
	// (the pair shares sessions), a new media connection, ready again. Empty: Run
	// returns the WebSocket's error.
	Sites []string
	// MoveTimeout bounds a move to another site (default 30 s).
	MoveTimeout time.Duration
}

func (o *Options) defaults() {
	if o.ToneHz == 0 {
		o.ToneHz = 440
	}
	if o.HearHz == 0 {
		o.HearHz = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MoveTimeout <= 0 {
		o.MoveTimeout = 30 * time.Second
	}
}

// CallResult is what one agent saw of one call.
type CallResult struct {
	Agent, Call string
	// Caller is the caller's number as the offer showed it.
	Caller string
	// Answered is when the agent clicked answer (sent the answer request);
	// FirstWord is when it started to play its tone, once the answer was
	// accepted; Ended is when the call was over for the agent.
	Answered, FirstWord, Ended time.Time
	// Heard reports that the caller's tone reached the agent.
	Heard bool
	// FirstAudio is the time from the agent's answer (the click) to the first
	// packet of the caller's tone at the agent; 0 if none came.
	FirstAudio time.Duration
	// Packets is how many RTP packets the agent received during the call.
	Packets int
}

// Agent is one simulated agent, logged in with its media connected.
type Agent struct {
	ID      string
	opts    Options
	client  *http.Client
	token   string
	browser *mediatest.Browser
	ws      *websocket.Conn

	mu       sync.Mutex
	base     string // the site the agent is at (Options.Base until a move)
	moves    int
	results  []CallResult
	offers   int
	answered int
	inCall   bool
}

// client trusts a self-signed lab certificate: the simulator talks to an engine
// its operator started.
var client = &http.Client{
	Timeout:   15 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // #nosec: lab engines use self-signed certificates
}

// Login logs agent id in, connects its media and its WebSocket, and sets it ready.
func Login(ctx context.Context, o Options, id string) (*Agent, error) {
	o.defaults()
	a := &Agent{ID: id, opts: o, client: client, base: o.Base}
	var login struct {
		Token string `json:"token"`
	}
	if err := a.do(ctx, "POST", "/api/v1/login", map[string]string{"agent": id, "password": o.Password}, &login); err != nil {
		return nil, fmt.Errorf("agent %s: login: %w", id, err)
	}
	a.token = login.Token
	b, err := mediatest.NewBrowser()
	if err != nil {
		return nil, err
	}
	a.browser = b
	if err := a.connectMedia(ctx, false); err != nil {
		b.Close()
		return nil, err
	}
	if o.Supervisor {
		return a, nil
	}
	if err := a.dialWS(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if err := a.setState(ctx, "ready"); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// dialWS opens the agent's WebSocket at its site.
func (a *Agent) dialWS(ctx context.Context) error {
	u, err := url.Parse(a.Site())
	if err != nil {
		return fmt.Errorf("agent %s: site %q: %w", a.ID, a.Site(), err)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/api/v1/agents/" + a.ID + "/ws"
	u.RawQuery = "token=" + url.QueryEscape(a.token)
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: a.client})
	if err != nil {
		return fmt.Errorf("agent %s: websocket: %w", a.ID, err)
	}
	ws.SetReadLimit(1 << 20)
	a.ws = ws
	return nil
}

// Site is the base URL of the site the agent is at.
func (a *Agent) Site() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.base
}

// Moves is how many times the agent moved to another site.
func (a *Agent) Moves() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.moves
}

// move takes the agent to the site of Options.Sites that is active, with the
// same token: a new media connection and WebSocket, and ready again.
func (a *Agent) move(ctx context.Context, cause error) error {
	deadline := time.Now().Add(a.opts.MoveTimeout)
	a.opts.Logger.Warn("simulated agent: lost its site, looking for the active one", "agent_id", a.ID, "site", a.Site(), "error", cause)
	for time.Now().Before(deadline) {
		for _, site := range a.opts.Sites {
			if !a.siteReady(ctx, site) {
				continue
			}
			err := a.moveTo(ctx, site)
			if err == nil {
				a.opts.Logger.Info("simulated agent: moved to the active site", "agent_id", a.ID, "site", site)
				return nil
			}
			a.opts.Logger.Warn("simulated agent: move failed", "agent_id", a.ID, "site", site, "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("agent %s: no site of %v became active within %v (after: %w)", a.ID, a.opts.Sites, a.opts.MoveTimeout, cause)
}

// siteReady reports whether the site's /readyz says 200 (within 2 s).
func (a *Agent) siteReady(ctx context.Context, site string) bool {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, site+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := a.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// moveTo switches the agent to site.
func (a *Agent) moveTo(ctx context.Context, site string) error {
	a.mu.Lock()
	a.base = site
	a.mu.Unlock()
	if a.ws != nil {
		a.ws.CloseNow()
	}
	if a.browser != nil {
		_ = a.browser.Close()
	}
	b, err := mediatest.NewBrowser()
	if err != nil {
		return err
	}
	a.browser = b
	if err := a.connectMedia(ctx, false); err != nil {
		return err
	}
	if err := a.dialWS(ctx); err != nil {
		return err
	}
	if err := a.setState(ctx, "ready"); err != nil {
		return err
	}
	a.mu.Lock()
	a.moves++
	a.mu.Unlock()
	return nil
}

func (a *Agent) connectMedia(ctx context.Context, restart bool) error {
	offer, err := a.browser.Offer(ctx, restart)
	if err != nil {
		return fmt.Errorf("agent %s: offer: %w", a.ID, err)
	}
	var ans struct {
		SDP string `json:"sdp"`
	}
	if err := a.do(ctx, "POST", "/api/v1/agents/"+a.ID+"/media", map[string]any{"sdp": offer, "restart": restart}, &ans); err != nil {
		return fmt.Errorf("agent %s: media: %w", a.ID, err)
	}
	if err := a.browser.Answer(ans.SDP); err != nil {
		return fmt.Errorf("agent %s: answer: %w", a.ID, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return a.browser.WaitConnected(cctx)
}

func (a *Agent) setState(ctx context.Context, state string) error {
	return a.do(ctx, "POST", "/api/v1/agents/"+a.ID+"/state", map[string]string{"state": state}, nil)
}

// Control posts op (answer, reject, hangup, hold, resume) on the agent's call.
func (a *Agent) Control(ctx context.Context, op, call string) error {
	body := map[string]string{"op": op}
	if call != "" {
		body["call"] = call
	}
	return a.do(ctx, "POST", "/api/v1/agents/"+a.ID+"/call", body, nil)
}

// do sends a JSON request and decodes a 2xx JSON answer into out (if not nil).
func (a *Agent) do(ctx context.Context, method, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Site()+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// message is the part of an agent WebSocket message the simulator reads.
type message struct {
	Seq    uint64 `json:"seq"`
	Type   string `json:"type"`
	Call   string `json:"call"`
	Caller string `json:"caller"`
}

// Run serves offers until ctx ends: answer after AnswerAfter, talk (playing the
// tone) until TalkFor passes or the call ends, check what was heard, wrap up.
//
// With Options.Sites, a lost WebSocket moves the agent to the active site (see
// Options.Sites) and Run goes on there.
func (a *Agent) Run(ctx context.Context) error {
	for {
		err := a.runAt(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if len(a.opts.Sites) == 0 {
			return err
		}
		if merr := a.move(ctx, err); merr != nil {
			if ctx.Err() != nil {
				return nil
			}
			return merr
		}
	}
}

// runAt serves offers over the current WebSocket until it fails or ctx ends.
func (a *Agent) runAt(ctx context.Context) error {
	ws := a.ws
	msgs := make(chan message, 64)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				readErr <- err
				close(msgs)
				return
			}
			var m message
			if json.Unmarshal(data, &m) == nil {
				msgs <- m
			}
		}
	}()
	for {
		var m message
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case m, ok = <-msgs:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("agent %s: websocket: %w", a.ID, <-readErr)
			}
		}
		if m.Type != "offer" {
			continue
		}
		a.mu.Lock()
		a.offers++
		a.mu.Unlock()
		if err := a.serve(ctx, m.Call, m.Caller, msgs); err != nil && ctx.Err() == nil {
			a.opts.Logger.Warn("simulated agent: call", "agent_id", a.ID, "call_id", m.Call, "error", err)
		}
	}
}

// serve answers one offer and talks until the call is over for the agent.
func (a *Agent) serve(ctx context.Context, call, caller string, msgs <-chan message) error {
	if a.opts.AnswerAfter > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.opts.AnswerAfter):
		}
	}
	click := time.Now()
	if err := a.Control(ctx, "answer", call); err != nil {
		return err // withdrawn meanwhile
	}
	a.mu.Lock()
	a.answered++
	a.inCall = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inCall = false
		a.mu.Unlock()
	}()
	tctx, stopTone := context.WithCancel(ctx)
	defer stopTone()
	firstWord := time.Now()
	go a.browser.Play(tctx, tone(a.opts.ToneHz).Loop())
	var hangup <-chan time.Time
	if a.opts.TalkFor > 0 {
		t := time.NewTimer(a.opts.TalkFor)
		defer t.Stop()
		hangup = t.C
	}
	ended := false
	for !ended {
		select {
		case <-ctx.Done():
			return nil
		case <-hangup:
			hangup = nil
			if err := a.Control(ctx, "hangup", ""); err != nil {
				a.opts.Logger.Info("simulated agent: hang-up", "agent_id", a.ID, "error", err)
			}
		case m, ok := <-msgs:
			if !ok {
				return errors.New("websocket closed")
			}
			if m.Type == "call_connected" {
				// Only this agent's calls reach its stream: the first connection
				// after the answer is this call (a callback is connected under
				// its outbound leg's id); a later one with another id is a
				// consult this agent answered that was completed and became the
				// caller's call.
				call = m.Call
			}
			if m.Call == call && (m.Type == "call_ended" || m.Type == "call_transferred" || m.Type == "offer_withdrawn") {
				ended = true
			}
		}
	}
	stopTone()
	res := CallResult{Agent: a.ID, Call: call, Caller: caller, Answered: click, FirstWord: firstWord, Ended: time.Now()}
	pk := a.browser.Received(click)
	res.Packets = len(pk)
	res.FirstAudio, res.Heard = firstTone(pk, a.opts.HearHz, click)
	a.mu.Lock()
	a.results = append(a.results, res)
	a.inCall = false
	a.mu.Unlock()
	a.opts.Logger.Info("simulated agent: call done", "agent_id", a.ID, "call_id", call, "heard", res.Heard,
		"first_audio", res.FirstAudio, "packets", res.Packets)
	if a.opts.WrapUp > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.opts.WrapUp):
		}
	}
	return a.setState(ctx, "ready")
}

// firstTone finds the first run of packets carrying hz (five in a row, share > 0.6)
// and returns how long after since the first packet of it that carries hz by
// itself came; heard reports whether the tone was there at all.
func firstTone(pk []mediatest.Packet, hz float64, since time.Time) (time.Duration, bool) {
	audio := slices.DeleteFunc(slices.Clone(pk), func(p mediatest.Packet) bool {
		return p.Header.PayloadType != 0 && p.Header.PayloadType != 8
	})
	const run = 5
	for i := 0; i+run <= len(audio); i++ {
		if mediatest.ToneShare(audio[i:i+run], hz) > 0.6 {
			// The run may begin with a packet or two of what came before the tone:
			// its start is the first packet that carries the tone by itself.
			for j := i; j < i+run; j++ {
				if mediatest.ToneShare(audio[j:j+1], hz) > 0.6 {
					return audio[j].At.Sub(since), true
				}
			}
			return audio[i].At.Sub(since), true
		}
	}
	return 0, false
}

// Results returns the calls the agent has finished.
func (a *Agent) Results() []CallResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.results)
}

// Offers is how many offers reached the agent.
func (a *Agent) Offers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.offers
}

// Answered is how many offers the agent answered (the engine accepted the answer).
func (a *Agent) Answered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answered
}

// InCall reports whether the agent is talking: it answered a call that has not
// ended yet.
func (a *Agent) InCall() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inCall
}

// Close logs the agent out and closes its connections.
func (a *Agent) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !a.opts.Supervisor {
		_ = a.setState(ctx, "logged-out")
	}
	if a.ws != nil {
		a.ws.Close(websocket.StatusNormalClosure, "bye")
	}
	return a.browser.Close()
}

// tone is one second of a sine at hz.
func tone(hz float64) *media.Clip {
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
	}
	return media.NewClip(fmt.Sprintf("tone%.0f", hz), pcm)
}

// Tone is one second of a sine at hz, for the simulated callers.
func Tone(hz float64) *media.Clip { return tone(hz) }

// DropMedia closes the agent's media connection as a crashed browser tab would,
// without logging out.
func (a *Agent) DropMedia() error { return a.browser.Close() }

// RestartMedia renegotiates the agent's media connection with an ICE restart, as
// the page does after a network change.
func (a *Agent) RestartMedia(ctx context.Context) error { return a.connectMedia(ctx, true) }

// PauseMedia makes the agent's media connection send nothing (on) or send again
// (off), as a network that goes away and comes back; RestartMedia then
// renegotiates it as the page would.
func (a *Agent) PauseMedia(on bool) { a.browser.Pause(on) }

// Browser is the agent's simulated browser (to play and to look at what it heard).
func (a *Agent) Browser() *mediatest.Browser { return a.browser }

// Post sends a JSON request with the agent's token and decodes a 2xx answer into
// out (if not nil).
func (a *Agent) Post(ctx context.Context, path string, body, out any) error {
	return a.do(ctx, "POST", path, body, out)
}
