package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// authFixture is an authenticator with a network trunk and a digest-only trunk, on a
// clock the test moves.
type authFixture struct {
	a   *authenticator
	now time.Time
}

func newAuthFixture(t *testing.T, digestAlgs ...string) *authFixture {
	t.Helper()
	cfg := Default()
	cfg.Trunks = []Trunk{
		{Name: "carrier-net", Networks: []string{"192.0.2.0/24"}},
		{Name: "carrier-digest", Username: "alice", Password: "s3cret", Algorithms: digestAlgs},
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	f := &authFixture{now: time.Unix(1_800_000_000, 0)}
	f.a = newAuthenticator(cfg.Realm, cfg.Trunks, func() time.Time { return f.now })
	return f
}

// answer computes an Authorization value for the challenge with the given password.
func answer(t *testing.T, chal, method, uri, password string) string {
	t.Helper()
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatalf("challenge %q: %v", chal, err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: method, URI: uri, Username: "alice", Password: password, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestAdmitBySourceNetwork(t *testing.T) {
	f := newAuthFixture(t)
	tests := []struct {
		src   string
		want  admission
		trunk string
	}{
		{"192.0.2.7:5060", admitted, "carrier-net"},
		{"[::ffff:192.0.2.7]:5060", admitted, "carrier-net"},
		{"not-an-address", forbidden, ""},
	}
	for _, tt := range tests {
		trunk, got, _ := f.a.admit("INVITE", tt.src, "")
		if got != tt.want {
			t.Errorf("%s: admission %d, want %d", tt.src, got, tt.want)
		}
		if tt.trunk != "" && (trunk == nil || trunk.Name != tt.trunk) {
			t.Errorf("%s: trunk %v, want %s", tt.src, trunk, tt.trunk)
		}
	}
}

func TestUnknownSourceIsForbiddenWithoutDigestTrunk(t *testing.T) {
	cfg := Default()
	cfg.Trunks = []Trunk{{Name: "net-only", Networks: []string{"192.0.2.0/24"}}}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	a := newAuthenticator(cfg.Realm, cfg.Trunks, time.Now)
	if _, got, _ := a.admit("INVITE", "198.51.100.1:5060", ""); got != forbidden {
		t.Fatalf("admission %d, want forbidden", got)
	}
}

func TestDigestAdmission(t *testing.T) {
	const src, method, uri = "198.51.100.9:5060", "INVITE", "sip:12345@hotline.example"
	for _, alg := range []string{"SHA-256", "MD5"} {
		t.Run(alg, func(t *testing.T) {
			f := newAuthFixture(t)
			_, verdict, needs := f.a.admit(method, src, "")
			if verdict != unauthorised {
				t.Fatalf("no Authorization: admission %d, want unauthorised", verdict)
			}
			chals := f.a.challenges(src, needs, false)
			if len(chals) != 2 {
				t.Fatalf("challenges %q, want one per algorithm (SHA-256, MD5)", chals)
			}
			var chal string
			for _, c := range chals {
				pc, err := digest.ParseChallenge(c)
				if err != nil {
					t.Fatalf("challenge %q: %v", c, err)
				}
				if pc.Realm != "hotline" || !pc.SupportsQOP("auth") || pc.Stale {
					t.Fatalf("challenge %+v", pc)
				}
				if pc.Algorithm == alg {
					chal = c
				}
			}
			if chal == "" {
				t.Fatalf("no %s challenge in %q", alg, chals)
			}

			trunk, verdict, _ := f.a.admit(method, src, answer(t, chal, method, uri, "s3cret"))
			if verdict != admitted || trunk == nil || trunk.Name != "carrier-digest" {
				t.Fatalf("right password: admission %d trunk %v, want admitted by carrier-digest", verdict, trunk)
			}
			if _, verdict, _ := f.a.admit(method, src, answer(t, chal, method, uri, "guess")); verdict != unauthorised {
				t.Fatalf("wrong password: admission %d, want unauthorised", verdict)
			}
			if _, verdict, _ := f.a.admit(method, "198.51.100.10:5060", answer(t, chal, method, uri, "s3cret")); verdict == admitted {
				t.Fatal("a nonce issued to another address was accepted")
			}
			if _, verdict, _ := f.a.admit("BYE", src, answer(t, chal, method, uri, "s3cret")); verdict == admitted {
				t.Fatal("credentials for INVITE were accepted for BYE")
			}
			f.now = f.now.Add(nonceLife + time.Second)
			if _, verdict, _ := f.a.admit(method, src, answer(t, chal, method, uri, "s3cret")); verdict != staleNonce {
				t.Fatalf("expired nonce: admission %d, want staleNonce", verdict)
			}
			stale := f.a.challenges(src, needs, true)
			if pc, err := digest.ParseChallenge(stale[0]); err != nil || !pc.Stale {
				t.Fatalf("stale challenge %q (%v) lacks stale=true", stale[0], err)
			}
		})
	}
}

func TestDigestAlgorithmNotAllowed(t *testing.T) {
	const src, method, uri = "198.51.100.9:5060", "INVITE", "sip:12345@hotline.example"
	f := newAuthFixture(t, "SHA-256")
	_, _, needs := f.a.admit(method, src, "")
	chals := f.a.challenges(src, needs, false)
	if len(chals) != 1 || !strings.Contains(chals[0], "SHA-256") {
		t.Fatalf("challenges %q, want SHA-256 only", chals)
	}
	// A client that answers with MD5 anyway, on our nonce, with the right password.
	md5 := strings.Replace(chals[0], "algorithm=SHA-256", "algorithm=MD5", 1)
	if md5 == chals[0] {
		t.Fatalf("cannot rewrite the algorithm of %q", chals[0])
	}
	if _, verdict, _ := f.a.admit(method, src, answer(t, md5, method, uri, "s3cret")); verdict == admitted {
		t.Fatal("MD5 credentials admitted by a SHA-256-only trunk")
	}
	if _, verdict, _ := f.a.admit(method, src, answer(t, chals[0], method, uri, "s3cret")); verdict != admitted {
		t.Fatalf("SHA-256 credentials: admission %d, want admitted", verdict)
	}
}

func TestDigestOverTheWire(t *testing.T) {
	cfg := loopConfig()
	cfg.Trunks = []Trunk{{Name: "carrier", Username: "alice", Password: "s3cret"}}
	h := &fakeHandler{}
	srv := listenLoop(t, cfg, h, Options{})

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("auth-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := sipmsg.NewRequest(sipmsg.INVITE, sipmsg.Uri{Scheme: "sip", User: "4040", Host: "127.0.0.1", Port: int(srv.Addr().Port())})
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(cannedSDP))
	req.SetTransport("UDP")

	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 || len(res.GetHeaders("WWW-Authenticate")) != 2 {
		t.Fatalf("first INVITE: %d with %d challenges, want 401 with 2:\n%s", res.StatusCode, len(res.GetHeaders("WWW-Authenticate")), res)
	}
	if len(h.seen()) != 0 {
		t.Fatal("an unauthenticated INVITE reached the handler")
	}
	res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 404 {
		t.Fatalf("authenticated INVITE: %d, want the handler's 404", res.StatusCode)
	}
	if got := h.seen(); len(got) != 1 || got[0] != (admitCall{"carrier", "4040"}) {
		t.Fatalf("handler saw %v, want one Admit by trunk carrier for 4040", got)
	}
	if a := srv.Active(); a != 0 {
		t.Fatalf("Active() = %d", a)
	}
}
