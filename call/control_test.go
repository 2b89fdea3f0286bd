package call

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/queue"
)

// TestControlRefuses: requests that cannot be right fail before reaching any call.
func TestControlRefuses(t *testing.T) {
	m := &Manager{
		endpoints: map[string]acd.Endpoint{"2001": {Kind: acd.EndpointSIP}, "2002": {Kind: acd.EndpointSIP}},
	}
	m.queues.Store(&map[string]queue.Config{"business": {Name: "business"}})
	tests := []struct {
		name  string
		agent string
		op    Op
		want  error
	}{
		{"unknown agent", "9999", Op{Kind: OpHold}, ErrUnknownAgent},
		{"zero op", "2001", Op{}, ErrBadOp},
		{"op out of range", "2001", Op{Kind: 99}, ErrBadOp},
		{"unknown queue", "2001", Op{Kind: OpTransferQueue, Queue: "nope"}, ErrUnknownQueue},
		{"not on a call", "2001", Op{Kind: OpHold}, ErrNotOnCall},
		{"transfer while not on a call", "2001", Op{Kind: OpTransferQueue, Queue: "business"}, ErrNotOnCall},
		{"transfer to an unknown agent", "2001", Op{Kind: OpTransferAgent, Agent: "9999"}, ErrBadTarget},
		{"transfer to oneself", "2001", Op{Kind: OpTransferAgent, Agent: "2001"}, ErrBadTarget},
		{"transfer to an agent while not on a call", "2001", Op{Kind: OpTransferAgent, Agent: "2002"}, ErrNotOnCall},
		{"transfer to a bad number", "2001", Op{Kind: OpTransferNumber, Number: "12a45"}, ErrBadNumber},
		{"transfer to an empty number", "2001", Op{Kind: OpTransferNumber}, ErrBadNumber},
		{"transfer to a number without a trunk", "2001", Op{Kind: OpTransferNumber, Number: "13900000000"}, ErrNoTrunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.Control(context.Background(), tt.agent, tt.op); !errors.Is(err, tt.want) {
				t.Errorf("Control = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestControlReachesTheCall: an operation is handed to the goroutine that
// registered the agent's call and its answer comes back; once the call has
// unregistered (or stopped reading) the agent is not on a call.
func TestControlReachesTheCall(t *testing.T) {
	m := &Manager{endpoints: map[string]acd.Endpoint{"2001": {Kind: acd.EndpointSIP}}}
	ctl, unregister := m.register("2001")
	got := make(chan Op, 1)
	go func() {
		req := <-ctl.ops
		got <- req.op
		req.reply <- ErrBadOp // any answer: it must come back as is
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Control(ctx, "2001", Op{Kind: OpHold}); !errors.Is(err, ErrBadOp) {
		t.Fatalf("Control = %v, want the call's answer", err)
	}
	if op := <-got; op.Kind != OpHold {
		t.Fatalf("the call got %v, want hold", op.Kind)
	}
	// Registered but the call's goroutine ends without reading: done unblocks Control.
	errc := make(chan error, 1)
	go func() { errc <- m.Control(ctx, "2001", Op{Kind: OpResume}) }()
	time.Sleep(10 * time.Millisecond) // let it reach the send; either order must give ErrNotOnCall
	unregister()
	if err := <-errc; !errors.Is(err, ErrNotOnCall) {
		t.Fatalf("Control after the call ended = %v, want ErrNotOnCall", err)
	}
	if err := m.Control(ctx, "2001", Op{Kind: OpHold}); !errors.Is(err, ErrNotOnCall) {
		t.Fatalf("Control after unregister = %v, want ErrNotOnCall", err)
	}
}

func TestValidNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"13900000000", true},
		{"+8613900000000", true},
		{"110", true},
		{"12", false},
		{"", false},
		{"+", false},
		{"139 0000 0000", false},
		{"139@evil", false},
		{"123456789012345678901", false},
		{"++123", false},
	}
	for _, tt := range tests {
		if got := ValidNumber(tt.in); got != tt.want {
			t.Errorf("ValidNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
