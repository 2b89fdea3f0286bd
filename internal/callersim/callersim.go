package callersim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

// Options configure simulated callers.
type Options struct {
	// SIP is the engine's SIP UDP address (the trunk the calls come in on).
	SIP netip.AddrPort
	// Number is the dialled number (default 12345); Digits what the caller presses
	// in the menu, one RFC 4733 event each (default "1": the general desk).
	Number, Digits string
	// ToneHz is the tone the caller plays (default 1000); HearHz the agent's tone
	// that tells the caller it was answered (default 440).
	ToneHz, HearHz float64
	// Patience is how long a caller waits after choosing the desk for an agent
	// before it hangs up (abandoned); 0 waits until it is stopped.
	Patience time.Duration
	// TalkFor is how long the caller talks once answered before it hangs up; 0
	// waits for the engine's BYE (the agent hangs up).
	TalkFor time.Duration
	// Pause is the time between two calls of one caller (default 200 ms; after a
	// failed call at least 1 s).
	Pause time.Duration
	// Logger receives one line per call; nil discards.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Number == "" {
		o.Number = "12345"
	}
	if o.Digits == "" {
		o.Digits = "1"
	}
	if o.ToneHz == 0 {
		o.ToneHz = 1000
	}
	if o.HearHz == 0 {
		o.HearHz = 440
	}
	if o.Pause == 0 {
		o.Pause = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Outcome is how a call ended for the caller.
type Outcome string

// The outcomes of a call.
const (
	// Answered: the caller heard the agent's tone.
	Answered Outcome = "answered"
	// Abandoned: the caller gave up after its patience without hearing an agent.
	Abandoned Outcome = "abandoned"
	// Unfinished: the caller was still waiting when it was stopped.
	Unfinished Outcome = "unfinished"
	// Dropped: the engine hung up before the caller heard an agent.
	Dropped Outcome = "dropped"
	// Failed: the INVITE was refused or the call could not be set up.
	Failed Outcome = "failed"
)

// CallResult is what the caller saw of one call.
type CallResult struct {
	// Caller is the calling number (From), unique to this call within the process.
	Caller string
	// CallID is the SIP Call-ID.
	CallID  string
	Outcome Outcome
	// Invited is when the INVITE was sent; Queued when the last menu digit had
	// been sent (the caller chose the desk); Answered the arrival of the first
	// packet of the agent's tone (zero if none came); Ended when the call was over.
	Invited, Queued, Answered, Ended time.Time
	// HungUpBy is "caller" or "engine" (empty for a failed call).
	HungUpBy string
	// Err says why a call failed.
	Err error
}

// Wait is the time from choosing the desk to the first audio of the agent; 0 for
// a call that was not answered.
func (r CallResult) Wait() time.Duration {
	if r.Answered.IsZero() || r.Queued.IsZero() {
		return 0
	}
	return r.Answered.Sub(r.Queued)
}

// State is a caller's tally so far.
type State struct {
	// Offered counts the calls placed (INVITEs sent), Answered those in which the
	// agent was heard, Abandoned those given up.
	Offered, Answered, Abandoned int
	// Waiting reports a call in the menu or the queue now, Talking one answered.
	Waiting, Talking bool
}

// Caller is one simulated citizen placing calls one after another.
type Caller struct {
	opts Options
	id   int
	stop chan struct{}
	once sync.Once

	mu      sync.Mutex
	results []CallResult
	state   State
}

// seq numbers the calls of the whole process, so that every call has its own
// calling number.
var seq atomic.Uint64

// New returns caller number id (it appears in its calling numbers).
func New(o Options, id int) *Caller {
	o.defaults()
	return &Caller{opts: o, id: id, stop: make(chan struct{})}
}

// Stop ends the run gently: no new calls, a call still waiting hangs up
// (Unfinished), a call being talked goes on to its end. Run then returns.
func (c *Caller) Stop() { c.once.Do(func() { close(c.stop) }) }

// Run places calls until Stop (gently) or until ctx ends (at once: the call in
// progress is hung up).
func (c *Caller) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.stop:
			return
		default:
		}
		res := c.call(ctx)
		c.mu.Lock()
		c.results = append(c.results, res)
		c.state.Waiting, c.state.Talking = false, false
		switch res.Outcome {
		case Answered:
			c.state.Answered++
		case Abandoned:
			c.state.Abandoned++
		}
		c.mu.Unlock()
		c.opts.Logger.Info("simulated caller: call done", "caller", res.Caller, "call_id", res.CallID,
			"outcome", res.Outcome, "wait", res.Wait(), "hung_up_by", res.HungUpBy, "error", res.Err)
		pause := c.opts.Pause
		if res.Outcome == Failed {
			pause = max(pause, time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.stop:
			return
		case <-time.After(pause):
		}
	}
}

// Results returns the calls finished so far.
func (c *Caller) Results() []CallResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.results)
}

// State returns the caller's tally so far.
func (c *Caller) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Caller) setState(f func(*State)) {
	c.mu.Lock()
	f(&c.state)
	c.mu.Unlock()
}

// call places one call and follows it to its end.
func (c *Caller) call(ctx context.Context) (res CallResult) {
	n := seq.Add(1)
	res.Caller = fmt.Sprintf("139%04d%04d", c.id%10000, n%10000)
	fail := func(err error) CallResult {
		res.Outcome, res.Err, res.Ended = Failed, err, time.Now()
		return res
	}
	peer, err := mediatest.NewPeer(media.PCMU, 101)
	if err != nil {
		return fail(err)
	}
	defer peer.Close()
	uac, err := siptest.New(c.opts.SIP, siptest.Options{User: res.Caller})
	if err != nil {
		return fail(err)
	}
	defer uac.Close()

	c.setState(func(s *State) { s.Offered++; s.Waiting = true })
	res.Invited = time.Now()
	ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
	call, err := uac.Invite(ictx, c.opts.Number, siptest.Offer(peer.Addr(), 1, "", 101, media.PCMU))
	cancel()
	if err != nil {
		return fail(fmt.Errorf("calling %s: %w", c.opts.Number, err))
	}
	res.CallID = call.Response.CallID().Value()
	hangup := func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = call.Hangup(hctx)
	}
	remote, err := call.RemoteMedia()
	if err != nil {
		hangup()
		return fail(fmt.Errorf("the engine's answer: %w", err))
	}
	peer.SetRemote(remote)

	// The caller's side of the audio: silence, the menu choice, then its tone.
	sendCtx, stopSend := context.WithCancel(ctx)
	queued := make(chan time.Time, 1)
	sent := make(chan error, 1)
	go func() {
		sent <- c.speak(sendCtx, peer, queued)
	}()
	defer func() {
		stopSend()
		if err := <-sent; err != nil && !errors.Is(err, context.Canceled) && res.Err == nil && res.Outcome != Answered {
			res.Err = err
		}
	}()

	// Wait for the agent: the first packet of its tone.
	var patience <-chan time.Time
	var det detector
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	end := func(o Outcome, by string) CallResult {
		if by == "caller" {
			hangup()
		}
		res.Outcome, res.HungUpBy, res.Ended = o, by, time.Now()
		return res
	}
	stop := c.stop
	for res.Answered.IsZero() {
		select {
		case t := <-queued:
			res.Queued = t
			if c.opts.Patience > 0 {
				pt := time.NewTimer(c.opts.Patience)
				defer pt.Stop()
				patience = pt.C
			}
		case <-patience:
			return end(Abandoned, "caller")
		case <-stop:
			return end(Unfinished, "caller")
		case <-ctx.Done():
			return end(Unfinished, "caller")
		case <-call.Done():
			return end(Dropped, "engine")
		case <-poll.C:
			if at, ok := det.feed(peer, c.opts.HearHz); ok {
				res.Answered = at
			}
		}
	}
	c.setState(func(s *State) { s.Waiting, s.Talking = false, true })
	peer.Reset()

	// Talk until the agent hangs up, the talk time is over, or the hard stop.
	var talk <-chan time.Time
	if c.opts.TalkFor > 0 {
		t := time.NewTimer(c.opts.TalkFor)
		defer t.Stop()
		talk = t.C
	}
	select {
	case <-call.Done():
		return end(Answered, "engine")
	case <-talk:
		return end(Answered, "caller")
	case <-ctx.Done():
		return end(Answered, "caller")
	}
}

// speak sends 300 ms of silence, the menu digits, and then the caller's tone
// until ctx ends; it reports the time the last digit was sent on queued.
func (c *Caller) speak(ctx context.Context, peer *mediatest.Peer, queued chan<- time.Time) error {
	if err := peer.Stream(ctx, media.Silence(300*time.Millisecond)); err != nil {
		return err
	}
	for i := 0; i < len(c.opts.Digits); i++ {
		if err := peer.SendDigit(ctx, c.opts.Digits[i], 100*time.Millisecond); err != nil {
			return err
		}
	}
	queued <- time.Now()
	return peer.Stream(ctx, agentsim.Tone(c.opts.ToneHz).Loop())
}

// detector finds the first run of packets carrying a tone in what a Peer
// received. It takes the packets out of the Peer as it goes (Reset), so that a
// long wait in the queue does not make every look copy all the hold music again.
type detector struct {
	tail []mediatest.Packet // the last packets seen, fewer than a run
}

// run is how many packets in a row must carry the tone, and share the share of
// their power at its frequency.
const (
	run   = 5
	share = 0.6
)

// feed looks at the packets received since the last call; it returns the arrival
// of the first packet of the first run that carries hz.
func (d *detector) feed(peer *mediatest.Peer, hz float64) (time.Time, bool) {
	pk := peer.Packets()
	peer.Reset()
	audio := append(d.tail, slices.DeleteFunc(pk, func(p mediatest.Packet) bool {
		return p.Header.PayloadType != 0 && p.Header.PayloadType != 8
	})...)
	for i := 0; i+run <= len(audio); i++ {
		if mediatest.ToneShare(audio[i:i+run], hz) > share {
			// The run may begin with a packet or two of what came before the tone:
			// its start is the first packet that carries the tone by itself.
			for j := i; j < i+run; j++ {
				if mediatest.ToneShare(audio[j:j+1], hz) > share {
					return audio[j].At, true
				}
			}
			return audio[i].At, true
		}
	}
	d.tail = slices.Clone(audio[max(0, len(audio)-run+1):])
	return time.Time{}, false
}
