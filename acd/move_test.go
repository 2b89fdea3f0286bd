package acd

import (
	"errors"
	"testing"
	"time"

	"github.com/hotline12345/hotline/queue"
)

// TestMoveWaitingCall: a supervisor raises a waiting call's priority (it is
// offered first) and moves another to a second queue (it leaves the first as
// moved, counted with the calls that left by rule, so the first queue still
// reconciles, and waits in the second); a ringing call cannot be moved.
func TestMoveWaitingCall(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking"), q("business", "business-environment")},
		[]AgentConfig{ag("1001", Primary, "call-taking", 5), ag("1002", Primary, "business-environment", 5)})
	h.do(Command{Kind: CmdLogin, Agent: "1001"}, Command{Kind: CmdLogin, Agent: "1002"})
	h.do(enq("a", "general", 5), enq("b", "general", 5), enq("c", "general", 5))
	h.do(Command{Kind: CmdMove, Call: "c", Priority: 9, Reason: "9001"})
	if p, _ := h.r.Position("c"); p.Place != 1 {
		t.Fatalf("c after its priority was raised: place %d, want 1", p.Place)
	}
	h.do(Command{Kind: CmdMove, Call: "b", Queue: "business", Reason: "9001"})
	var moved bool
	for _, a := range h.take() {
		moved = moved || (a.Kind == ActMoved && a.Call == "b" && a.Queue == "business")
	}
	if !moved {
		t.Fatal("no ActMoved for b")
	}
	if s := h.stats("general"); s.Offered != 3 || s.Exited != 1 || s.Waiting != 2 {
		t.Fatalf("general %+v: want offered 3 = exited 1 (moved) + waiting 2", s)
	}
	if s := h.stats("business"); s.Offered != 1 || s.Waiting != 1 {
		t.Fatalf("business %+v", s)
	}
	h.do(ready("1001"), ready("1002"))
	h.wantOffers("c>1001", "b>1002")
	if err := h.try(Command{Kind: CmdMove, Call: "c", Queue: "business"}); !errors.Is(err, ErrBadState) {
		t.Fatalf("moving a ringing call: %v, want ErrBadState", err)
	}
	if err := h.try(Command{Kind: CmdMove, Call: "a", Queue: "nowhere"}); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("moving to an unknown queue: %v", err)
	}
	if got := h.eventsOf("queue.moved"); len(got) != 2 {
		t.Fatalf("queue.moved events %v", got)
	}
}

// TestConsultCallsCountNowhere: a consult call is offered and answered like any
// call, but no queue figure and no agent's call count moves (the caller's call is
// counted already); missed or rejected consult offers still count for the agent.
func TestConsultCallsCountNowhere(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking")},
		[]AgentConfig{ag("1001", Primary, "call-taking", 5), ag("1002", Primary, "call-taking", 5)})
	h.do(Command{Kind: CmdLogin, Agent: "1001"}, Command{Kind: CmdLogin, Agent: "1002"}, ready("1001"), ready("1002"))
	h.do(enq("c", "general", 5))
	h.take()
	h.do(accept("c", "1001"))
	before := h.stats("general")
	h.do(Command{Kind: CmdEnqueue, Call: "c-consult1", Queue: "general", Agent: "1002", Consult: true})
	h.wantOffers("c-consult1>1002")
	h.do(accept("c-consult1", "1002"))
	if after := h.stats("general"); after.Offered != before.Offered || after.Answered != before.Answered || after.Waiting != before.Waiting {
		t.Fatalf("a consult moved the queue's figures: %+v -> %+v", before, after)
	}
	if a := h.r.Stats().Agents["1002"]; a.Calls != 0 || a.State != OnCall {
		t.Fatalf("1002 after answering a consult: %+v, want on call with no call counted", a)
	}
	if got := h.eventsOf("queue.joined"); len(got) != 2 {
		t.Fatalf("joined events %v", got)
	}
}

// TestConfigureAtRunTime: a logged-out agent given the business skill takes the
// business desk's calls once logged in; a logged-in agent cannot be changed; a
// queue's ring timeout changes for the next offer; its skill cannot change.
func TestConfigureAtRunTime(t *testing.T) {
	h := newHarness(t, []queue.Config{q("general", "call-taking"), q("business", "business-environment")},
		[]AgentConfig{ag("1001", Primary, "call-taking", 5), ag("1002", Primary, "call-taking", 5)})
	h.do(Command{Kind: CmdConfigureAgent, Agent: "1002", AgentConfig: &AgentConfig{Skills: map[string]int{"business-environment": 6}}})
	if err := h.try(Command{Kind: CmdConfigureAgent, Agent: "1002", AgentConfig: &AgentConfig{Skills: map[string]int{"juggling": 6}}}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("unknown skill: %v", err)
	}
	h.do(Command{Kind: CmdLogin, Agent: "1002"}, ready("1002"))
	if err := h.try(Command{Kind: CmdConfigureAgent, Agent: "1002", AgentConfig: &AgentConfig{Pool: Backup}}); !errors.Is(err, ErrBadState) {
		t.Fatalf("changing a logged-in agent: %v", err)
	}
	nc := q("business", "business-environment")
	nc.RingTimeout = 3 * time.Second
	h.do(Command{Kind: CmdConfigureQueue, Queue: "business", QueueConfig: &nc})
	h.do(enq("b", "business", 5))
	h.wantOffers("b>1002")
	h.advance(3 * time.Second)
	h.wantState("1002", NotReady, "missed")
	bad := q("business", "expert")
	if err := h.try(Command{Kind: CmdConfigureQueue, Queue: "business", QueueConfig: &bad}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("changing a queue's skill: %v", err)
	}
	if got := h.eventsOf("config.agent"); len(got) != 1 {
		t.Fatalf("config.agent events %v", got)
	}
}
