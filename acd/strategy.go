package acd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Strategy chooses which of the ready, eligible agents rings for a call. The matcher
// keeps one Strategy per queue and calls it from its own goroutine only, so a
// Strategy may keep state (round-robin remembers where it stopped) without locks.
type Strategy interface {
	// Pick returns the index in cands of the agent to ring, or All to ring every
	// candidate. cands is never empty and is in agent configuration order.
	Pick(cands []Candidate) int
}

// All is what Pick returns to ring every candidate at once (ring-all).
const All = -1

// Candidate is what a Strategy knows of a ready agent eligible for a call.
type Candidate struct {
	// ID is the agent's id.
	ID string
	// Order is the agent's position in the configuration (linear order).
	Order int
	// Level is the agent's level in the queue's skill.
	Level int
	// IdleSince is when the agent last became ready after login, not-ready or
	// wrap-up (an offer withdrawn or answered elsewhere does not reset it).
	IdleSince time.Time
	// Calls is the number of offers the agent accepted since the counters' reset.
	Calls int
	// Talk is the agent's finished talk time since the counters' reset.
	Talk time.Duration
}

// strategies are the built-in strategies by name; seed feeds random ones.
var strategies = map[string]func(seed int64) Strategy{
	"longest-idle":      func(int64) Strategy { return longestIdle{} },
	"fewest-calls":      func(int64) Strategy { return fewestCalls{} },
	"least-talk-time":   func(int64) Strategy { return leastTalk{} },
	"round-robin":       func(int64) Strategy { return &roundRobin{last: -1} },
	"skill-level-first": func(int64) Strategy { return levelFirst{} },
	"linear":            func(int64) Strategy { return linear{} },
	"random": func(seed int64) Strategy {
		return &random{r: rand.New(rand.NewPCG(uint64(seed), 0x12345))}
	},
	"ring-all": func(int64) Strategy { return ringAll{} },
}

// NewStrategy returns a new instance of the named strategy. seed makes "random"
// repeatable; the others ignore it.
func NewStrategy(name string, seed int64) (Strategy, error) {
	f, ok := strategies[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownStrategy, name)
	}
	return f(seed), nil
}

// StrategyNames returns the names of the strategies, sorted.
func StrategyNames() []string {
	names := make([]string, 0, len(strategies))
	for n := range strategies {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// best returns the index of the candidate that less ranks first; ties go to the
// earlier candidate (configuration order).
func best(cands []Candidate, less func(a, b *Candidate) bool) int {
	b := 0
	for i := 1; i < len(cands); i++ {
		if less(&cands[i], &cands[b]) {
			b = i
		}
	}
	return b
}

func idleLonger(a, b *Candidate) bool { return a.IdleSince.Before(b.IdleSince) }

// longestIdle rings the agent who has been ready the longest.
type longestIdle struct{}

func (longestIdle) Pick(c []Candidate) int { return best(c, idleLonger) }

// fewestCalls rings the agent with the fewest calls; ties by longest idle.
type fewestCalls struct{}

func (fewestCalls) Pick(c []Candidate) int {
	return best(c, func(a, b *Candidate) bool {
		if a.Calls != b.Calls {
			return a.Calls < b.Calls
		}
		return idleLonger(a, b)
	})
}

// leastTalk rings the agent with the least talk time; ties by longest idle.
type leastTalk struct{}

func (leastTalk) Pick(c []Candidate) int {
	return best(c, func(a, b *Candidate) bool {
		if a.Talk != b.Talk {
			return a.Talk < b.Talk
		}
		return idleLonger(a, b)
	})
}

// levelFirst rings the agent with the highest level in the skill; ties by longest
// idle.
type levelFirst struct{}

func (levelFirst) Pick(c []Candidate) int {
	return best(c, func(a, b *Candidate) bool {
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		return idleLonger(a, b)
	})
}

// linear rings the first agent in configuration order.
type linear struct{}

func (linear) Pick([]Candidate) int { return 0 }

// roundRobin rings the next agent in configuration order after the one it rang last,
// wrapping round.
type roundRobin struct{ last int }

func (r *roundRobin) Pick(c []Candidate) int {
	i := slices.IndexFunc(c, func(x Candidate) bool { return x.Order > r.last })
	if i < 0 {
		i = 0
	}
	r.last = c[i].Order
	return i
}

// random rings a uniformly chosen agent.
type random struct{ r *rand.Rand }

func (r *random) Pick(c []Candidate) int { return r.r.IntN(len(c)) }

// ringAll rings every candidate; the first to answer wins.
type ringAll struct{}

func (ringAll) Pick([]Candidate) int { return All }
