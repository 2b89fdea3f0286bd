package ticket

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"status":"closed"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := Sign(secret, now, body)
	if err := Verify(secret, ts, sig, body, now.Add(30*time.Second), time.Minute); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	cases := []struct {
		name    string
		secret  []byte
		ts, sig string
		body    string
		now     time.Time
		want    error
	}{
		{"other secret", []byte("guess"), ts, sig, string(body), now, ErrSignature},
		{"forged body", secret, ts, sig, `{"status":"reopened"}`, now, ErrSignature},
		{"timestamp changed", secret, strconv.FormatInt(now.Unix()+1, 10), sig, string(body), now, ErrSignature},
		{"stale", secret, ts, sig, string(body), now.Add(10 * time.Minute), ErrStale},
		{"from the future", secret, ts, sig, string(body), now.Add(-10 * time.Minute), ErrStale},
		{"no timestamp", secret, "", sig, string(body), now, ErrSignature},
		{"bad timestamp", secret, "12x", sig, string(body), now, ErrSignature},
		{"short signature", secret, ts, sig[:10], string(body), now, ErrSignature},
		{"not hex", secret, ts, "zz" + sig[2:], string(body), now, ErrSignature},
	}
	for _, tc := range cases {
		if err := Verify(tc.secret, tc.ts, tc.sig, []byte(tc.body), tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	g := NewReplayGuard(5 * time.Minute)
	if err := g.Check(sig, now); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(sig, now.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay accepted: %v", err)
	}
	if err := g.Check(sig, now.Add(11*time.Minute)); err != nil {
		t.Fatalf("after the window (Verify refuses it as stale anyway): %v", err)
	}
}
