package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/store"
)

// fakeControl records the operations it is asked for and answers as the call
// package would: 2001 is on a call, 2002 is logged in but idle, other ids unknown;
// of the transfer targets 2002 is ready, 2003 is not, others are unknown; numbers
// starting 110 find no outbound trunk.
type fakeControl struct {
	mu  sync.Mutex
	ops []string
}

func (f *fakeControl) Control(_ context.Context, agent string, op call.Op) error {
	switch {
	case agent != "2001" && agent != "2002":
		return fmt.Errorf("%w: %q", call.ErrUnknownAgent, agent)
	case op.Kind == call.OpTransferQueue && op.Queue != "business":
		return fmt.Errorf("%w %q", call.ErrUnknownQueue, op.Queue)
	case op.Kind == call.OpTransferAgent && (op.Agent == agent || op.Agent != "2002" && op.Agent != "2003"):
		return fmt.Errorf("%w: %q", call.ErrBadTarget, op.Agent)
	case op.Kind == call.OpTransferNumber && strings.HasPrefix(op.Number, "110"):
		return call.ErrNoTrunk
	case agent == "2002":
		return fmt.Errorf("%w: %s", call.ErrNotOnCall, agent)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if op.Kind == call.OpTransferAgent && op.Agent == "2003" {
		return fmt.Errorf("%w: 2003 is not-ready", call.ErrTargetNotReady)
	}
	f.ops = append(f.ops, fmt.Sprintf("%s %v q=%s a=%s n=%s", agent, op.Kind, op.Queue, op.Agent, op.Number))
	return nil
}

func TestCallControl(t *testing.T) {
	fc := &fakeControl{}
	sessions := NewSessions(accounts{"2001": "a", "2002": "b", "9001": "boss"}, nil, 0)
	srv := httptest.NewServer(Handler(Options{Calls: store.NewCallView(10), Sessions: sessions, CallControl: fc}))
	defer srv.Close()
	token := map[string]string{}
	for id, pw := range map[string]string{"2001": "a", "2002": "b", "9001": "boss"} {
		res, out := post(t, srv.URL+"/api/v1/login", "", fmt.Sprintf(`{"agent":%q,"password":%q}`, id, pw))
		if res.StatusCode != 200 {
			t.Fatalf("login %s: %d %v", id, res.StatusCode, out)
		}
		token[id] = out["token"].(string)
	}

	tests := []struct {
		name   string
		as     string // who is logged in ("" for no token)
		agent  string // {id} in the path
		body   string
		code   int
		errKey string // the error code in the body
		op     string // the operation the fake must have seen ("" for none)
	}{
		{"no token", "", "2001", `{"op":"hold"}`, 401, "unauthenticated", ""},
		{"another agent's call", "2002", "2001", `{"op":"hangup"}`, 403, "forbidden", ""},
		{"hold", "2001", "2001", `{"op":"hold"}`, 200, "", "2001 hold q= a= n="},
		{"resume", "2001", "2001", `{"op":"resume"}`, 200, "", "2001 resume q= a= n="},
		{"transfer", "2001", "2001", `{"op":"transfer","queue":"business"}`, 200, "", "2001 transfer q=business a= n="},
		{"supervisor hangs up", "9001", "2001", `{"op":"hangup"}`, 200, "", "2001 hangup q= a= n="},
		{"transfer to an agent", "2001", "2001", `{"op":"transfer","agent":"2002"}`, 200, "", "2001 transfer q= a=2002 n="},
		{"transfer to a number", "2001", "2001", `{"op":"transfer","number":"13900000000"}`, 200, "", "2001 transfer q= a= n=13900000000"},
		{"transfer to an international number", "2001", "2001", `{"op":"transfer","number":"+8613900000000"}`, 200, "", "2001 transfer q= a= n=+8613900000000"},
		{"target agent not ready", "2001", "2001", `{"op":"transfer","agent":"2003"}`, 409, "agent_not_ready", ""},
		{"unknown target agent", "2001", "2001", `{"op":"transfer","agent":"7777"}`, 400, "bad_agent", ""},
		{"transfer to oneself", "2001", "2001", `{"op":"transfer","agent":"2001"}`, 400, "bad_agent", ""},
		{"number not digits", "2001", "2001", `{"op":"transfer","number":"139-0000"}`, 400, "bad_number", ""},
		{"number too short", "2001", "2001", `{"op":"transfer","number":"12"}`, 400, "bad_number", ""},
		{"no outbound trunk", "2001", "2001", `{"op":"transfer","number":"110110"}`, 409, "no_outbound_trunk", ""},
		{"queue and agent", "2001", "2001", `{"op":"transfer","queue":"business","agent":"2002"}`, 400, "bad_transfer", ""},
		{"agent and number", "2001", "2001", `{"op":"transfer","agent":"2002","number":"13900000000"}`, 400, "bad_transfer", ""},
		{"agent without transfer", "2001", "2001", `{"op":"hold","agent":"2002"}`, 400, "bad_transfer", ""},
		{"number without transfer", "2001", "2001", `{"op":"hangup","number":"13900000000"}`, 400, "bad_transfer", ""},
		{"not on a call", "2002", "2002", `{"op":"hold"}`, 409, "not_on_call", ""},
		{"unknown agent", "9001", "7777", `{"op":"hold"}`, 404, "agent_not_found", ""},
		{"unknown op", "2001", "2001", `{"op":"park"}`, 400, "bad_op", ""},
		{"transfer without target", "2001", "2001", `{"op":"transfer"}`, 400, "bad_transfer", ""},
		{"queue without transfer", "2001", "2001", `{"op":"hold","queue":"business"}`, 400, "bad_transfer", ""},
		{"unknown queue", "2001", "2001", `{"op":"transfer","queue":"nope"}`, 400, "bad_queue", ""},
		{"not JSON", "2001", "2001", `hold`, 400, "bad_request", ""},
		{"unknown field", "2001", "2001", `{"op":"hold","extension":"2002"}`, 400, "bad_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc.mu.Lock()
			fc.ops = nil
			fc.mu.Unlock()
			res, out := post(t, srv.URL+"/api/v1/agents/"+tt.agent+"/call", token[tt.as], tt.body)
			if res.StatusCode != tt.code {
				t.Fatalf("status %d, want %d: %v", res.StatusCode, tt.code, out)
			}
			if tt.errKey != "" {
				e, _ := out["error"].(map[string]any)
				if e["code"] != tt.errKey {
					t.Errorf("error %v, want code %q", out, tt.errKey)
				}
			}
			fc.mu.Lock()
			defer fc.mu.Unlock()
			switch {
			case tt.op == "" && len(fc.ops) > 0:
				t.Errorf("the call was acted on: %v", fc.ops)
			case tt.op != "" && (len(fc.ops) != 1 || fc.ops[0] != tt.op):
				t.Errorf("operations %q, want [%q]", fc.ops, tt.op)
			}
		})
	}
}

// TestCallControlNotServed: without a CallControl the endpoint does not exist.
func TestCallControlNotServed(t *testing.T) {
	sessions := NewSessions(accounts{"2001": "a"}, nil, 0)
	srv := httptest.NewServer(Handler(Options{Calls: store.NewCallView(10), Sessions: sessions}))
	defer srv.Close()
	_, out := post(t, srv.URL+"/api/v1/login", "", `{"agent":"2001","password":"a"}`)
	res, _ := post(t, srv.URL+"/api/v1/agents/2001/call", out["token"].(string), `{"op":"hold"}`)
	if res.StatusCode != 404 {
		t.Errorf("status %d, want 404", res.StatusCode)
	}
}
