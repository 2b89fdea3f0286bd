package queue

import (
	"fmt"
	"slices"
	"time"
)

// Defaults used for keys left out (zero) of a queue's configuration.
const (
	DefaultStrategy    = "longest-idle"
	DefaultMinLevel    = 1
	DefaultRingTimeout = 15 * time.Second
	DefaultWrapUp      = 30 * time.Second
	DefaultSLPercent   = 80
	DefaultSLWithin    = 20 * time.Second
)

// Where a call goes when it waited longer than MaxWait or found the queue full
// (Exit.Action).
const (
	ExitMessage  = "message"  // the caller may leave a voice message (the default)
	ExitCallback = "callback" // the caller is called back; the entry keeps its place
	ExitQueue    = "queue"    // the call moves to Exit.Queue, joining it at its tail
)

// Config describes one queue. Zero values of RingTimeout, WrapUp, MinLevel, Strategy
// and ServiceLevel mean the defaults above (see WithDefaults); a zero MaxWait,
// MaxLength or AnnounceEvery means "no limit" or "never".
type Config struct {
	// Name is how menus, the API and reports name the queue.
	Name string `yaml:"name"`
	// Skill is the agent skill the queue needs.
	Skill string `yaml:"skill"`
	// MinLevel is the lowest skill level (1-10) an agent needs to take a call from
	// this queue, until Widen lowers it for a call that waits.
	MinLevel int `yaml:"min_level"`
	// Strategy names the routing strategy that chooses among ready agents
	// (longest-idle, fewest-calls, least-talk-time, round-robin, skill-level-first,
	// linear, random, ring-all); the acd package checks the name.
	Strategy string `yaml:"strategy"`
	// RingTimeout is how long an offered call rings at an agent before the offer
	// counts as missed and the call goes back to its place.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// WrapUp is the after-call work time of an agent after a call from this queue; the
	// agent may end it earlier. A negative value means no wrap-up.
	WrapUp time.Duration `yaml:"wrap_up"`
	// MaxWait is the longest a caller waits before Exit applies (0: no limit).
	// Callbacks waiting for their turn are exempt.
	MaxWait time.Duration `yaml:"max_wait"`
	// MaxLength is the most callers that may wait (callbacks not counted); a caller
	// who finds the queue full goes where Exit says (0: no limit).
	MaxLength int `yaml:"max_length"`
	// Exit is where a call goes after MaxWait or when the queue is full.
	Exit Exit `yaml:"exit"`
	// ServiceLevel is the target the queue is measured against.
	ServiceLevel ServiceLevel `yaml:"service_level"`
	// AnnounceEvery is how often a waiting caller hears their position and estimated
	// wait (0: never).
	AnnounceEvery time.Duration `yaml:"announce_every"`
	// Hold are the prompts a waiting caller hears, in order; the last one loops
	// (typically an announcement of the desk, then music).
	Hold []string `yaml:"hold"`
	// Overflow says when a call may also go to the backup pool.
	Overflow Overflow `yaml:"overflow"`
	// Widen lowers the skill level a call accepts as it waits, in order of After.
	Widen []Step `yaml:"widen"`
	// Record says when the calls of this queue are recorded: "agent" (default:
	// from the agent's answer), "answer" (from the engine's answer, the menu
	// included) or "off". A recording follows its call across transfers.
	Record string `yaml:"record"`
}

// Recording modes (Config.Record).
const (
	RecordAgent  = "agent"
	RecordAnswer = "answer"
	RecordOff    = "off"
)

// Exit is where a call goes when it leaves a queue by rule.
type Exit struct {
	// Action is message (default), callback or queue.
	Action string `yaml:"action"`
	// Queue is the queue the call moves to when Action is queue.
	Queue string `yaml:"queue"`
}

// ServiceLevel is a target such as "80% of calls answered within 20 s". Calls
// abandoned in under 5 s are not counted against it.
type ServiceLevel struct {
	// Percent of calls to answer within Within (1-100).
	Percent int `yaml:"percent"`
	// Within is the answer time that counts as served in time.
	Within time.Duration `yaml:"within"`
}

// Overflow lists when a waiting call becomes eligible for the backup pool as well as
// the primary one. Any rule that fires overflows the call; it stays overflowed.
type Overflow struct {
	// After overflows a call that has waited this long (0: never).
	After time.Duration `yaml:"after"`
	// Estimate overflows a call whose estimated wait on joining exceeds this (0: never).
	Estimate time.Duration `yaml:"estimate"`
	// WaitForPrimary turns off the default rule: calls overflow at once while no
	// primary agent with the queue's skill is logged in.
	WaitForPrimary bool `yaml:"wait_for_primary"`
}

// Step is one skill-widening step: after waiting After, a call accepts agents whose
// level is at least MinLevel.
type Step struct {
	// After is the wait after which the step applies.
	After time.Duration `yaml:"after"`
	// MinLevel is the lowest level accepted from then on (1-10), lower than before.
	MinLevel int `yaml:"min_level"`
}

// Default returns a queue with every default filled in and no name, skill or hold
// audio.
func Default() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with its zero-valued keys set to the defaults.
func (c Config) WithDefaults() Config {
	if c.MinLevel == 0 {
		c.MinLevel = DefaultMinLevel
	}
	if c.Record == "" {
		c.Record = RecordAgent
	}
	if c.Strategy == "" {
		c.Strategy = DefaultStrategy
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = DefaultRingTimeout
	}
	if c.WrapUp == 0 {
		c.WrapUp = DefaultWrapUp
	}
	if c.Exit.Action == "" {
		c.Exit.Action = ExitMessage
	}
	if c.ServiceLevel.Percent == 0 {
		c.ServiceLevel.Percent = DefaultSLPercent
	}
	if c.ServiceLevel.Within == 0 {
		c.ServiceLevel.Within = DefaultSLWithin
	}
	return c
}

// DefaultQueues returns the six desks of the default 12345 menu: general
// (call-taking), business, talent, household, followup and foreign, each with the
// defaults (longest-idle, 15 s ring, 30 s wrap-up, 80% within 20 s) and music on hold.
func DefaultQueues() []Config {
	desks := []struct{ name, skill string }{
		{"general", "call-taking"},
		{"business", "business-environment"},
		{"talent", "talent-policy"},
		{"household", "household-registration"},
		{"followup", "follow-up"},
		{"foreign", "foreign-language"},
	}
	qs := make([]Config, len(desks))
	for i, d := range desks {
		qs[i] = Config{Name: d.name, Skill: d.skill, Hold: []string{"music"}, AnnounceEvery: 60 * time.Second}.WithDefaults()
	}
	return qs
}

// FieldError is one problem in the queue configuration, at a key path.
type FieldError struct {
	Path string
	Msg  string
}

// Error returns "path: message".
func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks a list of queues: names present and unique, hold audio given,
// levels, durations and limits in range, widening steps in order, exits to queues
// that exist without a cycle. hasPrompt tells whether a prompt exists (in every
// language). Strategy names are checked by the acd package, which owns them.
func Validate(qs []Config, hasPrompt func(name string) bool) []FieldError {
	var errs []FieldError
	add := func(path, format string, a ...any) {
		errs = append(errs, FieldError{path, fmt.Sprintf(format, a...)})
	}
	seen := map[string]bool{}
	for _, q := range qs {
		seen[q.Name] = true
	}
	names := map[string]bool{}
	for i, q := range qs {
		p := fmt.Sprintf("queues.%d", i)
		switch {
		case q.Name == "":
			add(p+".name", "missing")
		case names[q.Name]:
			add(p+".name", "duplicate queue %q", q.Name)
		}
		names[q.Name] = true
		if len(q.Hold) == 0 {
			add(p+".hold", "no hold audio: give at least one prompt")
		}
		for j, h := range q.Hold {
			if !hasPrompt(h) {
				add(fmt.Sprintf("%s.hold.%d", p, j), "unknown prompt %q", h)
			}
		}
		if q.MinLevel < 0 || q.MinLevel > 10 {
			add(p+".min_level", "%d is not a level from 1 to 10", q.MinLevel)
		}
		switch q.Record {
		case "", RecordAgent, RecordAnswer, RecordOff:
		default:
			add(p+".record", "%q is not agent, answer or off", q.Record)
		}
		for _, d := range []struct {
			key string
			v   time.Duration
		}{
			{"ring_timeout", q.RingTimeout}, {"max_wait", q.MaxWait}, {"announce_every", q.AnnounceEvery},
			{"service_level.within", q.ServiceLevel.Within}, {"overflow.after", q.Overflow.After},
			{"overflow.estimate", q.Overflow.Estimate},
		} {
			if d.v < 0 {
				add(p+"."+d.key, "negative duration %v", d.v)
			}
		}
		if q.MaxLength < 0 {
			add(p+".max_length", "negative length %d", q.MaxLength)
		}
		if q.ServiceLevel.Percent < 0 || q.ServiceLevel.Percent > 100 {
			add(p+".service_level.percent", "%d is not a percentage", q.ServiceLevel.Percent)
		}
		switch q.Exit.Action {
		case "", ExitMessage, ExitCallback:
			if q.Exit.Queue != "" {
				add(p+".exit.queue", "given but exit.action is not %q", ExitQueue)
			}
		case ExitQueue:
			switch {
			case q.Exit.Queue == "":
				add(p+".exit.queue", "missing: name the queue the call moves to")
			case q.Exit.Queue == q.Name:
				add(p+".exit.queue", "a queue cannot exit to itself")
			case !seen[q.Exit.Queue]:
				add(p+".exit.queue", "unknown queue %q", q.Exit.Queue)
			}
		default:
			add(p+".exit.action", "unknown action %q (want %s, %s or %s)", q.Exit.Action, ExitMessage, ExitCallback, ExitQueue)
		}
		level := q.WithDefaults().MinLevel
		var after time.Duration
		for j, s := range q.Widen {
			sp := fmt.Sprintf("%s.widen.%d", p, j)
			if s.After <= after {
				add(sp+".after", "%v: steps need increasing, positive waits", s.After)
			}
			if s.MinLevel < 1 || s.MinLevel >= level {
				add(sp+".min_level", "%d: each step must lower the level (below %d, at least 1)", s.MinLevel, level)
			}
			after, level = s.After, min(level, max(s.MinLevel, 1))
		}
	}
	errs = append(errs, exitCycles(qs)...)
	return errs
}

// exitCycles reports queues whose exits lead back to themselves (a full queue would
// otherwise pass a call round forever).
func exitCycles(qs []Config) []FieldError {
	next := map[string]string{}
	for _, q := range qs {
		if q.Exit.Action == ExitQueue && q.Exit.Queue != q.Name {
			next[q.Name] = q.Exit.Queue
		}
	}
	var errs []FieldError
	for i, q := range qs {
		path := []string{q.Name}
		for cur := next[q.Name]; cur != ""; cur = next[cur] {
			if cur == q.Name {
				errs = append(errs, FieldError{fmt.Sprintf("queues.%d.exit.queue", i),
					fmt.Sprintf("exits form a cycle: %v", append(path, cur))})
				break
			}
			if slices.Contains(path, cur) {
				break // a cycle that does not include q; reported at its own queues
			}
			path = append(path, cur)
		}
	}
	return errs
}
