package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// memShare is a SessionShare in memory (the engine's is Redis, tested end to end).
type memShare struct {
	mu sync.Mutex
	m  map[string]Session
}

func (m *memShare) Save(_ context.Context, key string, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[key] = s
	return nil
}

func (m *memShare) Load(_ context.Context, key string) (Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[key]
	return s, ok, nil
}

func (m *memShare) Remove(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
	return nil
}

func TestSharedSessions(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	share := &memShare{m: map[string]Session{}}
	acc := accounts{"1001": "right"}
	siteA, siteB := NewSessions(acc, clk, time.Hour), NewSessions(acc, clk, time.Hour)
	siteA.Share(share, nil)
	siteB.Share(share, nil)

	sess, ok, _ := siteA.Login("1001", "right", "10.0.0.1")
	if !ok {
		t.Fatal("login refused")
	}
	for k, v := range share.m {
		if v.Token != "" || k == sess.Token || strings.Contains(k, sess.Token) {
			t.Fatalf("the share holds a usable token: %q -> %+v", k, v)
		}
	}
	got, ok := siteB.Check(sess.Token)
	if !ok || got.ID != "1001" || got.Role != RoleAgent || got.Token != sess.Token {
		t.Fatalf("the other site's check: %+v %v, want agent 1001's session", got, ok)
	}
	if _, ok := siteB.Check("not-a-token"); ok {
		t.Error("an unknown token was accepted")
	}
	// Logging out at one site ends the session at a site that has not seen it.
	siteC := NewSessions(acc, clk, time.Hour)
	siteC.Share(share, nil)
	siteA.Logout(sess.Token)
	if _, ok := siteC.Check(sess.Token); ok {
		t.Error("the session still holds after the logout")
	}
	// An expired shared session is refused.
	sess2, _, _ := siteA.Login("1001", "right", "10.0.0.1")
	clk.Advance(2 * time.Hour)
	if _, ok := siteC.Check(sess2.Token); ok {
		t.Error("an expired session was accepted")
	}
}
