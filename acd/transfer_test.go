package acd

import (
	"errors"
	"testing"
	"time"

	"github.com/hotline12345/hotline/queue"
)

// TestEnqueueToAgent: CmdEnqueue with Agent offers the call to that agent only
// (skills, pool and the queue's strategy do not matter), refuses an agent who is not
// ready without changing anything, and sends a missed or rejected offer back to the
// queue's line like any other.
func TestEnqueueToAgent(t *testing.T) {
	general := q("general", "call-taking")
	general.RingTimeout = 10 * time.Second
	general.MaxLength = 1
	agents := []AgentConfig{
		ag("1001", Primary, "call-taking", 5),
		ag("1002", Primary, "call-taking", 5),
		ag("2001", Backup, "dispatch", 5), // no call-taking skill, backup pool
	}
	direct := func(call, agent string) Command {
		return Command{Kind: CmdEnqueue, Call: call, Queue: "general", Agent: agent, Caller: "138" + call}
	}
	tests := []struct {
		name  string
		setup []Command // after 1001, 1002 and 2001 log in ready
		cmd   Command
		err   error    // want from cmd
		offer []string // offers made by cmd
		then  func(h *harness)
	}{
		{name: "ready agent rings alone, ahead of the strategy",
			cmd: direct("x", "1002"), offer: []string{"x>1002"},
			then: func(h *harness) {
				h.wantState("1001", Ready, "")
				h.do(accept("x", "1002"))
				h.wantState("1002", OnCall, "")
				if s := h.stats("general"); s.Answered != 1 || s.Waiting != 0 {
					t.Fatalf("stats %+v", s)
				}
			}},
		{name: "skills and pool do not matter",
			cmd: direct("x", "2001"), offer: []string{"x>2001"},
			then: func(h *harness) { h.do(accept("x", "2001")); h.wantState("2001", OnCall, "") }},
		{name: "queue full does not refuse a transfer",
			setup: []Command{{Kind: CmdSetState, Agent: "1001", State: NotReady, Reason: "break"},
				{Kind: CmdSetState, Agent: "1002", State: NotReady, Reason: "break"}, enq("w", "general", 0),
				ready("1002")},
			cmd: direct("x", "2001"), offer: []string{"x>2001"},
			then: func(h *harness) {
				if s := h.stats("general"); s.Waiting != 2 || s.Abandoned != 0 {
					t.Fatalf("stats %+v: want the ringing w and the transferred x", s)
				}
			}},
		{name: "missed: back to the queue, offered by the strategy",
			setup: []Command{{Kind: CmdSetState, Agent: "1001", State: NotReady, Reason: "break"}},
			cmd:   direct("x", "1002"), offer: []string{"x>1002"},
			then: func(h *harness) {
				h.advance(10 * time.Second)
				h.wantState("1002", NotReady, ReasonMissed)
				if p, ok := h.r.Position("x"); !ok || p.Place != 1 {
					t.Fatalf("after the miss: position %+v %v, want first in general", p, ok)
				}
				h.do(ready("1001"))
				h.wantOffers("x>1001")
			}},
		{name: "rejected: back to the queue, another agent takes it",
			cmd: direct("x", "1002"), offer: []string{"x>1002"},
			then: func(h *harness) {
				h.do(reject("x", "1002"))
				h.wantState("1002", NotReady, ReasonRejected)
				h.wantOffers("x>1001")
			}},
		{name: "agent not ready", setup: []Command{{Kind: CmdSetState, Agent: "1002", State: NotReady, Reason: "break"}},
			cmd: direct("x", "1002"), err: ErrBadState},
		{name: "agent ringing", setup: []Command{{Kind: CmdSetState, Agent: "1001", State: NotReady, Reason: "break"}, enq("a", "general", 0)},
			cmd: direct("x", "1002"), err: ErrBadState},
		{name: "agent logged out", setup: []Command{{Kind: CmdLogout, Agent: "1002"}},
			cmd: direct("x", "1002"), err: ErrNotLoggedIn},
		{name: "unknown agent", cmd: direct("x", "9999"), err: ErrUnknownAgent},
		{name: "callback cannot be directed",
			cmd: Command{Kind: CmdEnqueue, Call: "x", Queue: "general", Agent: "1002", Callback: true}, err: ErrBadCommand},
		{name: "unknown queue", cmd: Command{Kind: CmdEnqueue, Call: "x", Queue: "nope", Agent: "1002"}, err: ErrUnknownQueue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, []queue.Config{general}, agents)
			for _, id := range []string{"1001", "1002", "2001"} {
				h.do(Command{Kind: CmdLogin, Agent: id, State: Ready})
			}
			h.do(tt.setup...)
			h.take()
			before := len(h.events)
			err := h.try(tt.cmd)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Apply: %v, want %v", err, tt.err)
			}
			if err != nil {
				if len(h.events) != before || len(h.take()) != 0 {
					t.Fatalf("a refused transfer changed something: %v", h.events[before:])
				}
				if _, ok := h.r.calls["x"]; ok {
					t.Fatal("a refused transfer left the call in the ACD")
				}
				return
			}
			h.wantOffers(tt.offer...)
			if tt.then != nil {
				tt.then(h)
			}
		})
	}
}
