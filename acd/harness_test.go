package acd

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/queue"
)

var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// harness drives a Router on a fake clock, records its events and actions, and
// checks the invariants and the recount after every step.
type harness struct {
	t      testing.TB
	clk    *clock.Fake
	r      *Router
	queues []queue.Config
	cfg    Config
	events []event.Event
	acts   []Action
	seen   int // actions already taken by take
}

func newHarness(t testing.TB, queues []queue.Config, agents []AgentConfig) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), queues: queues, cfg: Config{Agents: agents}}
	r, err := NewRouter(queues, h.cfg, Deps{
		Clock: h.clk,
		Sink:  SinkFunc(func(a Action) { h.acts = append(h.acts, a) }),
		Emit:  func(ev event.Event) { h.events = append(h.events, ev) },
		Seed:  1,
	})
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	h.r = r
	return h
}

// q returns a queue config with hold audio and the given name and skill.
func q(name, skill string) queue.Config {
	return queue.Config{Name: name, Skill: skill, Hold: []string{"music"}}
}

// ag returns an agent; skills are name, level pairs.
func ag(id, pool string, skills ...any) AgentConfig {
	m := map[string]int{}
	for i := 0; i < len(skills); i += 2 {
		m[skills[i].(string)] = skills[i+1].(int)
	}
	return AgentConfig{ID: id, Name: "agent " + id, Pool: pool, Skills: m}
}

func (h *harness) try(c Command) error {
	h.t.Helper()
	err := h.r.Apply(c)
	h.check()
	return err
}

func (h *harness) do(cs ...Command) {
	h.t.Helper()
	for _, c := range cs {
		if err := h.try(c); err != nil {
			h.t.Fatalf("%v %+v: %v", c.Kind, c, err)
		}
	}
}

func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.Advance(d)
	h.r.Tick()
	h.check()
}

func (h *harness) check() {
	h.t.Helper()
	if err := h.r.check(); err != nil {
		h.t.Fatalf("invariant: %v", err)
	}
	want := Recount(h.queues, h.cfg, h.events)
	got := h.r.Stats()
	got.Estimates = nil // live only
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("live stats differ from the recount:\n%s", statsDiff(got, want))
	}
}

func statsDiff(got, want Stats) string {
	s := ""
	for n, g := range got.Queues {
		if w := want.Queues[n]; g != w {
			s += fmt.Sprintf("queue %s: live %+v\n          recount %+v\n", n, g, w)
		}
	}
	for id, g := range got.Agents {
		if w := want.Agents[id]; g != w {
			s += fmt.Sprintf("agent %s: live %+v\n          recount %+v\n", id, g, w)
		}
	}
	if len(got.Queues) != len(want.Queues) || len(got.Agents) != len(want.Agents) {
		s += fmt.Sprintf("sizes: live %d/%d, recount %d/%d", len(got.Queues), len(got.Agents), len(want.Queues), len(want.Agents))
	}
	return s
}

// take returns the actions since the last take.
func (h *harness) take() []Action {
	a := h.acts[h.seen:]
	h.seen = len(h.acts)
	return a
}

// offers returns "call>agent" (ring-all: "call>a1,a2") for the offers since the last take.
func (h *harness) offers() []string {
	var out []string
	for _, a := range h.take() {
		if a.Kind == ActOffer {
			s := a.Call + ">"
			for i, id := range a.Agents {
				if i > 0 {
					s += ","
				}
				s += id
			}
			out = append(out, s)
		}
	}
	return out
}

func (h *harness) state(id string) (AgentState, string) {
	a := h.r.byAgent[id]
	return a.st.State, a.st.Reason
}

func (h *harness) wantState(id string, s AgentState, reason string) {
	h.t.Helper()
	if gs, gr := h.state(id); gs != s || gr != reason {
		h.t.Fatalf("agent %s is %v %q, want %v %q", id, gs, gr, s, reason)
	}
}

func (h *harness) wantOffers(want ...string) {
	h.t.Helper()
	got := h.offers()
	if !slices.Equal(got, want) {
		h.t.Fatalf("offers %q, want %q", got, want)
	}
}

func (h *harness) stats(queue string) QueueStats { return h.r.Stats().Queues[queue] }

// eventsOf returns the events of type typ, formatted as "call/agent/reason".
func (h *harness) eventsOf(typ event.Type) []string {
	var out []string
	for _, ev := range h.events {
		if ev.Type == typ {
			out = append(out, ev.Call+"/"+ev.Agent+"/"+ev.Reason)
		}
	}
	return out
}

func enq(call, queue string, prio int) Command {
	return Command{Kind: CmdEnqueue, Call: call, Queue: queue, Priority: prio, Caller: "138" + call}
}
func login(id string) Command { return Command{Kind: CmdLogin, Agent: id, State: Ready} }
func accept(call, id string) Command {
	return Command{Kind: CmdAccept, Call: call, Agent: id}
}
func reject(call, id string) Command {
	return Command{Kind: CmdReject, Call: call, Agent: id}
}
func hangup(call string) Command { return Command{Kind: CmdHangup, Call: call} }
func ready(id string) Command    { return Command{Kind: CmdSetState, Agent: id, State: Ready} }
func notReady(id, reason string) Command {
	return Command{Kind: CmdSetState, Agent: id, State: NotReady, Reason: reason}
}

// check verifies the Router's invariants: no call offered to two agents (except one
// ring-all offer), no agent holding two calls, every waiting call in exactly one
// queue line, the per-level counts and the settled state (no ready agent eligible
// for a waiting call).
func (r *Router) check() error {
	offers := map[*offer]bool{}
	for _, a := range r.agents {
		switch a.st.State {
		case Reserved:
			if a.offer == nil || a.offer.done || !slices.Contains(a.offer.ringing, a) || a.call != nil {
				return fmt.Errorf("agent %s reserved without a live offer (or with a call)", a.cfg.ID)
			}
		case OnCall:
			if a.call == nil || a.call.agent != a || a.call.state != esAnswered || a.offer != nil {
				return fmt.Errorf("agent %s on call without exactly one answered call", a.cfg.ID)
			}
		default:
			if a.offer != nil || a.call != nil {
				return fmt.Errorf("agent %s is %v but holds an offer or call", a.cfg.ID, a.st.State)
			}
		}
		if a.offer != nil {
			offers[a.offer] = true
		}
	}
	for o := range offers {
		seen := map[*agent]bool{}
		for _, a := range o.ringing {
			if seen[a] || a.offer != o {
				return fmt.Errorf("offer of %s rings agent %s twice or not at all", o.e.Call, a.cfg.ID)
			}
			seen[a] = true
		}
		if !o.ringAll && len(o.ringing) > 1 {
			return fmt.Errorf("call %s rings %d agents without ring-all", o.e.Call, len(o.ringing))
		}
		if r.calls[o.e.Call] != o.e || o.e.offer != o {
			return fmt.Errorf("offer of %s is not its call's offer", o.e.Call)
		}
	}
	inLine := map[*entry]int{}
	for _, q := range r.queues {
		var lvl, ovl [11]int
		for i := 0; i < q.line.Len(); i++ {
			e := q.line.At(i)
			inLine[e]++
			if e.q != q || e.state != esLine || r.calls[e.Call] != e {
				return fmt.Errorf("line %s holds %s which is not waiting there", q.cfg.Name, e.Call)
			}
			if i > 0 && !q.line.At(i-1).Before(&e.Entry) {
				return fmt.Errorf("line %s out of order at %d", q.cfg.Name, i)
			}
			lvl[e.Level]++
			if e.Overflowed {
				ovl[e.Level]++
			}
		}
		if lvl != q.lvl || ovl != q.ovl {
			return fmt.Errorf("line %s level counts %v/%v, want %v/%v", q.cfg.Name, q.lvl, q.ovl, lvl, ovl)
		}
	}
	live := map[*qstate]int{}
	for call, e := range r.calls {
		if e.Call != call {
			return fmt.Errorf("call %s filed as %s", e.Call, call)
		}
		switch e.state {
		case esLine:
			if inLine[e] != 1 {
				return fmt.Errorf("waiting call %s is in %d lines", call, inLine[e])
			}
		case esRinging:
			o := e.offer
			if o == nil || o.done || o.answered != nil || len(o.ringing) == 0 || inLine[e] != 0 {
				return fmt.Errorf("ringing call %s has no live offer or is also in line", call)
			}
		case esAnswered:
			if e.agent != nil && e.agent.call != e {
				return fmt.Errorf("answered call %s: its agent holds another call", call)
			}
		default:
			return fmt.Errorf("call %s in state %d", call, e.state)
		}
		if (e.state == esLine || e.state == esRinging) && !e.Callback {
			live[e.q]++
		}
	}
	for e := range inLine {
		if r.calls[e.Call] != e {
			return fmt.Errorf("line holds %s which the router forgot", e.Call)
		}
	}
	for _, q := range r.queues {
		if live[q] != q.live {
			return fmt.Errorf("queue %s counts %d live callers, has %d", q.cfg.Name, q.live, live[q])
		}
	}
	for _, a := range r.agents {
		if a.st.State != Ready {
			continue
		}
		for _, q := range a.queues {
			for i := 0; i < q.line.Len(); i++ {
				if e := q.line.At(i); r.eligible(a, e) {
					return fmt.Errorf("ready agent %s is eligible for waiting call %s", a.cfg.ID, e.Call)
				}
			}
		}
	}
	return nil
}

// isErr fails unless err wraps target.
func isErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
