package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/store"
)

type accounts map[string]string // id -> password

func (a accounts) Authenticate(id, pw string) (string, bool) {
	want, ok := a[id]
	if !ok || want != pw {
		return "", false
	}
	if strings.HasPrefix(id, "9") {
		return RoleSupervisor, true
	}
	return RoleAgent, true
}

func post(t *testing.T, url, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewBufferString(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

func TestLoginTokensAndRateLimit(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	sessions := NewSessions(accounts{"1001": "right", "9001": "boss"}, clk, time.Hour)
	srv := httptest.NewServer(Handler(Options{Calls: store.NewCallView(10), Sessions: sessions}))
	defer srv.Close()

	res, out := post(t, srv.URL+"/api/v1/login", "", `{"agent":"1001","password":"right"}`)
	if res.StatusCode != 200 || out["token"] == "" || out["role"] != RoleAgent {
		t.Fatalf("login: %d %v", res.StatusCode, out)
	}
	token := out["token"].(string)

	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	me, err := http.DefaultClient.Do(req)
	if err != nil || me.StatusCode != 200 {
		t.Fatalf("me with token: %v %v", me.StatusCode, err)
	}
	me.Body.Close()
	if res, _ := post(t, srv.URL+"/api/v1/logout", "nope", ""); res.StatusCode != 401 {
		t.Fatalf("logout with a bad token: %d", res.StatusCode)
	}

	for _, body := range []string{``, `{}`, `{"agent":"1001"}`, `{"agent":"1001","password":"x","extra":1}`, `[1]`} {
		if res, out := post(t, srv.URL+"/api/v1/login", "", body); res.StatusCode != 400 || out["error"] == nil {
			t.Errorf("login %q: %d %v", body, res.StatusCode, out)
		}
	}
	// Five wrong passwords are answered 401; the sixth try is refused unchecked, even
	// with the right password, until the bucket refills.
	for i := range loginBurst {
		if res, _ := post(t, srv.URL+"/api/v1/login", "", `{"agent":"1001","password":"wrong"}`); res.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d", i, res.StatusCode)
		}
	}
	res, _ = post(t, srv.URL+"/api/v1/login", "", `{"agent":"1001","password":"right"}`)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	clk.Advance(loginRefill)
	if res, _ := post(t, srv.URL+"/api/v1/login", "", `{"agent":"1001","password":"right"}`); res.StatusCode != 200 {
		t.Fatalf("after refill: %d", res.StatusCode)
	}

	// Tokens expire.
	clk.Advance(2 * time.Hour)
	if _, ok := sessions.Check(token); ok {
		t.Fatal("token alive after its ttl")
	}
	if res, _ := post(t, srv.URL+"/api/v1/logout", token, ""); res.StatusCode != 401 {
		t.Fatalf("expired token accepted: %d", res.StatusCode)
	}
}
