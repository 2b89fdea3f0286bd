package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/media"
)

// Leg is what the interpreter needs from a call's media; the call package implements it
// on a media session. Run calls it from one goroutine, except that Play runs on a
// goroutine of its own while Run keeps reading Digits (Play and Record are never called
// concurrently with each other).
type Leg interface {
	// Play plays one prompt in the language; returns nil when it finished,
	// context.Cause(ctx) if ctx ended first.
	Play(ctx context.Context, lang, prompt string) error
	// Digits delivers key presses from all sources (RFC 4733, SIP INFO, in-band).
	Digits() <-chan media.Digit
	// Record records the caller until max, a '#' press, or ctx end, after an optional
	// beep; returns where it stored it and how long. Run does not read Digits while
	// Record runs, so Record may read them itself to see the '#'.
	Record(ctx context.Context, max time.Duration) (file string, d time.Duration, err error)
}

// StatusLeg is a Leg that can look up a work order by the digits a caller keyed and say
// which prompts read its status back (e.g. ["ticket_dispatched"] or ["ticket_not_found"]).
// Lookup nodes use it; with a Leg that does not implement it, every number is not found.
type StatusLeg interface {
	Leg
	// WorkOrderStatus looks up the work order whose number, without its letters and
	// punctuation, is digits (WO20261127-0001 is keyed 202611270001; digits holds the
	// keys as pressed, without the terminator, and may hold '*'). It returns the prompts
	// to play in the call's language (they may begin with SayDigits(digits) to read the
	// number back) and whether the work order exists. When found is false and prompts is
	// empty, the node's invalid prompt is played. Run calls it on its own goroutine, not
	// concurrently with Play or Record; it must return promptly when ctx ends.
	WorkOrderStatus(ctx context.Context, digits string) (prompts []string, found bool)
}

// Options are the per-call dependencies of Run. Zero fields get defaults: the real
// clock, no events, no logs.
type Options struct {
	// Clock times the collect timeouts and tells the time for hours nodes.
	Clock clock.Clock
	// Emit receives the menu's events in order: MenuEntered (Node, Language), MenuInput
	// (Node, Digits, Via of the first key; at a lookup node, the number keyed, before it
	// is looked up), MenuRouted (Node, Queue, Skill, Priority, Language) and MenuMessage
	// (Node, File, Duration). The caller sets Call, Time, Seq and the envelope. It is called on Run's goroutine and must not block for long.
	Emit func(event.Event)
	// Logger receives warnings (a prompt that failed to play, a recording that failed)
	// and debug traces; enrich it with the call_id before passing it.
	Logger *slog.Logger
}

// Action is how the menu ended.
type Action uint8

// The ways a menu ends.
const (
	// ActionHangup: the menu said goodbye (or ran out of retries with no fail node);
	// the caller should be hung up.
	ActionHangup Action = iota + 1
	// ActionRoute: the caller chose a desk; Result.Route says which.
	ActionRoute
)

// String returns "hangup" or "route".
func (a Action) String() string {
	switch a {
	case ActionHangup:
		return "hangup"
	case ActionRoute:
		return "route"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Result is what the menu decided and what it saw.
type Result struct {
	// Action says how the menu ended.
	Action Action
	// Route is the routing decision when Action is ActionRoute; Route.Language is always
	// set (the call's language when the config did not name one).
	Route Route
	// Digits is every key the menu read, in order, including terminators and keys that
	// were typed ahead but never used.
	Digits string
	// Vars holds the inputs stored by collects with a var (the work-order number).
	Vars map[string]string
	// Path lists the nodes entered, in order.
	Path []string
}

// Run runs the menu cfg (which should have passed Validate) on leg until it routes the
// call or ends it, and returns the decision. When ctx ends (the caller hung up) it
// returns context.Cause(ctx) promptly from any state; on any error the Result holds what
// happened until then (digits, path). See the package documentation for the input rules
// (barge-in, type-ahead, timeouts, retries).
//
// Run never fails a call because a prompt failed to play: it logs the error and goes on,
// so a caller still reaches a desk with a broken prompt file.
func Run(ctx context.Context, leg Leg, cfg *Config, opts Options) (Result, error) {
	r := &runner{leg: leg, cfg: cfg, clock: opts.Clock, emit: opts.Emit, log: opts.Logger}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.emit == nil {
		r.emit = func(event.Event) {}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.res.Vars = map[string]string{}
	if cfg == nil || cfg.Start == "" {
		return r.res, ErrNoStart
	}
	if len(cfg.Languages) > 0 {
		r.lang = cfg.Languages[0]
	}
	r.digits = leg.Digits()
	err := r.run(ctx)
	return r.res, err
}

type runner struct {
	leg     Leg
	cfg     *Config
	clock   clock.Clock
	emit    func(event.Event)
	log     *slog.Logger
	digits  <-chan media.Digit // nil once closed
	lang    string
	pending []media.Digit // keys read but not yet used (type-ahead)
	res     Result
}

// errBargeIn cancels a prompt when the caller presses a key.
var errBargeIn = errors.New("ivr: barge-in")

func (r *runner) run(ctx context.Context) error {
	name := r.cfg.Start
	idle := 0 // nodes entered since the last collect
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if name == "" {
			// A node with nowhere to go (only in an unvalidated config): end politely.
			r.res.Action = ActionHangup
			return nil
		}
		n := r.cfg.Nodes[name]
		if n == nil {
			return fmt.Errorf("%w %q", ErrUnknownNode, name)
		}
		if n.Collect != nil || n.Lookup != nil {
			idle = 0
		} else if idle++; idle > len(r.cfg.Nodes) {
			return fmt.Errorf("%w at node %q", ErrLoop, name)
		}
		r.res.Path = append(r.res.Path, name)
		r.log.Debug("menu node", "node", name, "language", r.lang)
		r.emit(event.Event{Type: event.MenuEntered, Node: name, Language: r.lang})
		next, done, err := r.step(ctx, name, n)
		if err != nil || done {
			return err
		}
		name = next
	}
}

// step runs one node and returns the next node, or done when the menu ended.
func (r *runner) step(ctx context.Context, name string, n *Node) (next string, done bool, err error) {
	switch {
	case len(n.Play) > 0 && n.Collect != nil:
		return r.collect(ctx, name, n)
	case len(n.Play) > 0:
		if _, err := r.play(ctx, n.Play); err != nil {
			return "", false, err
		}
	case n.Language != "":
		r.lang = n.Language
	case n.Hours != nil:
		if r.open(n.Hours) {
			return n.Hours.Open, false, nil
		}
		return n.Hours.Closed, false, nil
	case n.Message != nil:
		if err := r.message(ctx, name, n.Message); err != nil {
			return "", false, err
		}
	case n.Lookup != nil:
		return r.lookup(ctx, name, n)
	case n.Route != nil:
		return "", true, r.route(ctx, name, n.Route)
	case n.Say != nil:
		var prompts []string
		if n.Say.Number != nil {
			prompts = SayNumber(r.lang, *n.Say.Number)
		} else {
			prompts = SayDigits(r.res.Vars[n.Say.Var])
		}
		if _, err := r.play(ctx, prompts); err != nil {
			return "", false, err
		}
	case n.Goto != "":
		return n.Goto, false, nil
	}
	if n.Hangup {
		r.res.Action = ActionHangup
		return "", true, nil
	}
	return n.Next, false, nil
}

// open evaluates an hours node; a broken calendar counts as open (serve the caller).
func (r *runner) open(h *Hours) bool {
	cal := r.cfg.Calendars[h.Calendar]
	if cal == nil {
		r.log.Warn("menu calendar unknown; treating as open", "calendar", h.Calendar)
		return true
	}
	open, err := cal.Open(r.clock.Now())
	if err != nil {
		r.log.Warn("menu calendar broken; treating as open", "calendar", h.Calendar, "err", err)
		return true
	}
	return open
}

// collect runs a play+collect node: prompts, input, options, retries.
func (r *runner) collect(ctx context.Context, name string, n *Node) (string, bool, error) {
	c := n.Collect
	failures := 0
	for {
		r.drain()
		if len(r.pending) == 0 {
			if _, err := r.play(ctx, n.Play); err != nil {
				return "", false, err
			}
		}
		input, via, err := r.gather(ctx, c)
		if err != nil {
			return "", false, err
		}
		if input != "" {
			r.emit(event.Event{Type: event.MenuInput, Node: name, Digits: input, Via: via})
			if o := n.Options[input]; o != nil {
				r.setVar(c.Var, input)
				switch {
				case o.Route != nil:
					return "", true, r.route(ctx, name, o.Route)
				case o.Repeat:
					return name, false, nil
				default:
					return o.Goto, false, nil
				}
			}
			if len(n.Options) == 0 || n.Next != "" {
				r.setVar(c.Var, input)
				return n.Next, false, nil
			}
		}
		failures++
		r.log.Debug("menu input failed", "node", name, "input", input, "failures", failures)
		if failures >= max(c.Retries, 1) {
			if c.Fail == "" {
				r.res.Action = ActionHangup
				return "", true, nil
			}
			return c.Fail, false, nil
		}
		prompt := c.Invalid
		if input == "" {
			prompt = c.NoInput
		}
		if prompt != "" {
			if _, err := r.play(ctx, []string{prompt}); err != nil {
				return "", false, err
			}
		}
	}
}

// lookup runs a lookup node: prompt, number, status, retries.
func (r *runner) lookup(ctx context.Context, name string, n *Node) (string, bool, error) {
	l := n.Lookup
	c := l.collect()
	sl, _ := r.leg.(StatusLeg)
	failures := 0
	for {
		r.drain()
		if len(r.pending) == 0 {
			if _, err := r.play(ctx, []string{l.Prompt}); err != nil {
				return "", false, err
			}
		}
		input, via, err := r.gather(ctx, c)
		if err != nil {
			return "", false, err
		}
		var prompts []string
		found := false
		if input != "" {
			r.emit(event.Event{Type: event.MenuInput, Node: name, Digits: input, Via: via})
			r.setVar(l.Var, input)
			if sl != nil {
				prompts, found = sl.WorkOrderStatus(ctx, input)
				if ctx.Err() != nil {
					return "", false, context.Cause(ctx)
				}
			} else {
				r.log.Debug("menu lookup: the leg cannot look up work orders; treating as not found", "node", name)
			}
			if !found && len(prompts) == 0 && l.Invalid != "" {
				prompts = []string{l.Invalid}
			}
		} else if l.NoInput != "" {
			prompts = []string{l.NoInput}
		}
		r.log.Debug("menu lookup", "node", name, "input", input, "found", found)
		if found {
			if _, err := r.play(ctx, prompts); err != nil {
				return "", false, err
			}
			return n.Next, false, nil
		}
		failures++
		last := failures >= max(l.Retries, 1)
		if input == "" && last {
			// No input: the caller hears no "please try again" before leaving.
			if l.Fail == "" {
				r.res.Action = ActionHangup
				return "", true, nil
			}
			return l.Fail, false, nil
		}
		if _, err := r.play(ctx, prompts); err != nil {
			return "", false, err
		}
		if last {
			if l.NotFound != "" {
				return l.NotFound, false, nil
			}
			return n.Next, false, nil
		}
	}
}

func (r *runner) setVar(name, value string) {
	if name != "" {
		r.res.Vars[name] = value
	}
}

// gather reads one input: pending keys first, then the leg's, until max keys, the
// terminator, or a timeout. An empty input means no input.
func (r *runner) gather(ctx context.Context, c *Collect) (input, via string, err error) {
	limit := c.max()
	var term byte
	if limit > 1 && len(c.Terminator) == 1 {
		term = c.Terminator[0]
	}
	var got []byte
	var t clock.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		var d media.Digit
		if len(r.pending) > 0 {
			d = r.pending[0]
			r.pending = r.pending[1:]
		} else {
			if t == nil {
				wait := c.timeout()
				if len(got) > 0 {
					wait = c.interDigit()
				}
				t = r.clock.NewTimer(wait)
			}
			select {
			case k, ok := <-r.digits:
				if !ok {
					r.digits = nil
					continue
				}
				r.res.Digits += string(k.Key)
				d = k
			case <-t.C():
				t = nil
				return string(got), via, nil
			case <-ctx.Done():
				return "", "", context.Cause(ctx)
			}
			t.Stop()
			t = nil
		}
		if term != 0 && d.Key == term {
			return string(got), via, nil
		}
		if len(got) == 0 {
			via = d.Via
		}
		got = append(got, d.Key)
		if len(got) >= limit {
			return string(got), via, nil
		}
	}
}

// drain moves the keys already waiting on the leg into pending, without blocking.
func (r *runner) drain() {
	for {
		select {
		case d, ok := <-r.digits:
			if !ok {
				r.digits = nil
				return
			}
			r.res.Digits += string(d.Key)
			r.pending = append(r.pending, d)
		default:
			return
		}
	}
}

// play plays prompts in order until one is interrupted by a key (barge-in), which ends
// the list; the key stays pending for the next collect.
func (r *runner) play(ctx context.Context, prompts []string) (interrupted bool, err error) {
	for _, p := range prompts {
		interrupted, err := r.playOne(ctx, p)
		if err != nil || interrupted {
			return interrupted, err
		}
	}
	return false, nil
}

// playOne plays one prompt on its own goroutine while reading keys: the first key
// cancels the prompt; every key is kept pending. It waits for Play to return before it
// returns, so two prompts never overlap, except when ctx ends: then it returns at once.
func (r *runner) playOne(ctx context.Context, prompt string) (interrupted bool, err error) {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	lang := r.lang
	go func() { done <- r.leg.Play(pctx, lang, prompt) }()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return false, context.Cause(ctx)
			}
			if err != nil && !interrupted {
				r.log.Warn("menu prompt failed", "prompt", prompt, "language", lang, "err", err)
			}
			return interrupted, nil
		case d, ok := <-r.digits:
			if !ok {
				r.digits = nil
				continue
			}
			r.res.Digits += string(d.Key)
			r.pending = append(r.pending, d)
			if !interrupted {
				interrupted = true
				cancel(errBargeIn)
			}
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
}

// route announces and records the routing decision.
func (r *runner) route(ctx context.Context, name string, rt *RouteStep) error {
	dec := Route{Queue: rt.Queue, Skill: rt.Skill, Priority: rt.Priority, Language: rt.Language}
	if dec.Language == "" {
		dec.Language = r.lang
	}
	if _, err := r.play(ctx, rt.Play); err != nil {
		return err
	}
	r.res.Action = ActionRoute
	r.res.Route = dec
	r.emit(event.Event{Type: event.MenuRouted, Node: name, Queue: dec.Queue, Skill: dec.Skill,
		Priority: dec.Priority, Language: dec.Language})
	return nil
}

// message plays the prompt and beep, records, and confirms.
func (r *runner) message(ctx context.Context, name string, m *Message) error {
	prompts := []string{m.Prompt}
	if m.Beep {
		prompts = append(prompts, "beep")
	}
	// A key during the prompt skips to the beep, not past it.
	for _, p := range prompts {
		if _, err := r.playOne(ctx, p); err != nil {
			return err
		}
	}
	file, d, err := r.leg.Record(ctx, m.max())
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err != nil {
		r.log.Warn("menu message not recorded", "node", name, "err", err)
		return nil
	}
	r.emit(event.Event{Type: event.MenuMessage, Node: name, File: file, Duration: d})
	if m.Saved != "" {
		if _, err := r.play(ctx, []string{m.Saved}); err != nil {
			return err
		}
	}
	return nil
}
