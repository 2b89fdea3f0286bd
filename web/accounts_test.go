package web

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/internal/password"
	"github.com/hotline12345/hotline/store"
)

func testAccounts(t *testing.T) *AgentAccounts {
	t.Helper()
	own, err := password.Hash("own-secret")
	if err != nil {
		t.Fatal(err)
	}
	seat := acd.Endpoint{Kind: acd.EndpointSIP}
	return NewAccounts(
		[]acd.AgentConfig{{ID: "2001", Endpoint: seat}, {ID: "2002", Endpoint: seat}},
		[]Supervisor{{ID: "9001"}, {ID: "9002", PasswordHash: own}, {ID: "2002"}},
		"lab-pw", "hotline")
}

func TestAccountsRoles(t *testing.T) {
	a := testAccounts(t)
	tests := []struct {
		id, pw   string
		wantRole string // "" = refused
	}{
		{"2001", "lab-pw", RoleAgent},
		{"9001", "lab-pw", RoleSupervisor},
		{"9001", "wrong", ""},
		{"9002", "own-secret", RoleSupervisor},
		{"9002", "lab-pw", ""},        // a supervisor with a hash does not take the lab password
		{"2002", "lab-pw", RoleAgent}, // a supervisor clashing with an agent does not win
		{"9999", "lab-pw", ""},
	}
	for _, tt := range tests {
		role, ok := a.Authenticate(tt.id, tt.pw)
		if ok != (tt.wantRole != "") || role != tt.wantRole {
			t.Errorf("Authenticate(%s, %s) = %q %v, want %q", tt.id, tt.pw, role, ok, tt.wantRole)
		}
	}
	if _, ok := a.HA1("9001", "MD5"); ok {
		t.Error("a supervisor has no SIP seat, yet HA1 answered")
	}
	if _, ok := a.HA1("2001", "MD5"); !ok {
		t.Error("SIP seat 2001 with the lab password has no HA1")
	}
}

func TestSupervisorChangesAnotherAgentsState(t *testing.T) {
	fake := &fakeACD{}
	srv := httptest.NewServer(Handler(Options{
		Calls: store.NewCallView(10), ACD: fake,
		Sessions: NewSessions(testAccounts(t), nil, time.Hour),
	}))
	defer srv.Close()
	login := func(id, pw string) string {
		t.Helper()
		res, out := post(t, srv.URL+"/api/v1/login", "", `{"agent":"`+id+`","password":"`+pw+`"}`)
		if res.StatusCode != 200 {
			t.Fatalf("login %s: %d %v", id, res.StatusCode, out)
		}
		return out["token"].(string)
	}
	boss, agent := login("9001", "lab-pw"), login("2002", "lab-pw")

	tests := []struct {
		name  string
		token string
		want  int
		cmds  int // commands the ACD has seen after the request
	}{
		{"an agent may not change another's state", agent, 403, 0},
		{"a supervisor may", boss, 200, 1},
	}
	for _, tt := range tests {
		res, out := post(t, srv.URL+"/api/v1/agents/2001/state", tt.token, `{"state":"not-ready","reason":"meeting"}`)
		if res.StatusCode != tt.want {
			t.Fatalf("%s: %d %v, want %d", tt.name, res.StatusCode, out, tt.want)
		}
		if got := fake.commands(); len(got) != tt.cmds {
			t.Fatalf("%s: ACD saw %d commands %+v, want %d", tt.name, len(got), got, tt.cmds)
		}
	}
	got := fake.commands()[0]
	if got.Kind != acd.CmdSetState || got.Agent != "2001" || got.State != acd.NotReady || got.Reason != "meeting" {
		t.Fatalf("command: %+v", got)
	}
}
