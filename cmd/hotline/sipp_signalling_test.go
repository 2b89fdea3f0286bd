package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/store"
)

// TestSIPpCancelWhileRinging: 12345 rings for 3 s before it answers; SIPp cancels on
// the first provisional response (100 or 180, whichever comes first). SIPp checks 200 to the CANCEL and 487 to the
// INVITE; the API shows the call ended by the caller with 487.
func TestSIPpCancelWhileRinging(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{Config: `
numbers:
  "12345": {ring: 3s}
`})
	r := startSIPp(t, e, sippCall{Scenario: "cancel.xml"})
	r.mustPass()
	c := e.onlyCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded })
	if c.Side != "caller" || c.Code != 487 || !c.Answer.IsZero() {
		t.Errorf("cancelled call: side %q code %d cause %q answer %v; want side caller, code 487, never answered", c.Side, c.Code, c.Cause, c.Answer)
	}
	if got := e.metric("hotline_calls_total", `result="cancelled"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="cancelled"} = %v, want 1`, got)
	}
}

// TestSIPpByeInMenu: the caller hangs up 1 s into the welcome prompt.
func TestSIPpByeInMenu(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{})
	startSIPp(t, e, sippCall{Scenario: "bye_in_menu.xml"}).mustPass()
	c := e.onlyCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded })
	checkCallerHungUp(t, c)
	if c.Route != nil || c.Digits != "" || c.Answer.IsZero() {
		t.Errorf("call ended in the menu: route %+v digits %q answer %v", c.Route, c.Digits, c.Answer)
	}
	if !slices.Equal(c.Path, []string{"welcome"}) {
		t.Errorf("path = %v, want [welcome] (hung up during the welcome prompt)", c.Path)
	}
	if got := e.metric("hotline_calls_total", `result="abandoned_in_menu"`); got != 1 {
		t.Errorf(`hotline_calls_total{result="abandoned_in_menu"} = %v, want 1`, got)
	}
}

// TestSIPpHoldResume: re-INVITE with a=sendonly (hold) must be answered a=recvonly
// (SIPp checks), the API shows held; re-INVITE with sendrecv resumes (held false),
// and neither ends the call.
func TestSIPpHoldResume(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{})
	r := startSIPp(t, e, sippCall{Scenario: "hold.xml", Args: []string{"-d", "3000"}})
	held := e.onlyCall("held", 10*time.Second, func(c store.CallRecord) bool { return c.Held })
	if held.State == store.StateEnded {
		t.Fatalf("the hold ended the call: %+v", held)
	}
	resumed := e.waitCall("resumed", 10*time.Second, func(c store.CallRecord) bool {
		return c.ID == held.ID && !c.Held && c.State != store.StateEnded
	})
	if resumed.State != store.StateIVR {
		t.Errorf("resumed call is in state %q, want ivr", resumed.State)
	}
	if !r.stillRunning() {
		t.Errorf("SIPp had finished before the call was seen resumed")
	}
	r.mustPass()
	c := e.waitCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded })
	checkCallerHungUp(t, c)
	if c.Held {
		t.Errorf("ended call still shows held")
	}
}

// TestSIPpRejections covers the calls refused before a dialog exists or before the
// answer: unknown number 404, untrusted source 403, no common codec 488, OPTIONS
// 200, and digest authentication (MD5; SIPp 3.6.1 has no SHA-256: see
// TestUACDigestSHA256).
func TestSIPpRejections(t *testing.T) {
	t.Parallel()

	t.Run("unknown number 404", func(t *testing.T) {
		t.Parallel()
		e := startEngine(t, engineOptions{})
		startSIPp(t, e, sippCall{Scenario: "unknown_number.xml", Service: "99999"}).mustPass()
		expectNoCalls(t, e)
		if got := e.metric("hotline_sip_responses_total", `code="404"`); got != 1 {
			t.Errorf(`hotline_sip_responses_total{code="404"} = %v, want 1`, got)
		}
	})

	t.Run("unauthorised source 403", func(t *testing.T) {
		t.Parallel()
		// The only trunk admits 127.0.0.2; SIPp calls from 127.0.0.1.
		e := startEngine(t, engineOptions{Config: `
sip:
  trunks:
    - {name: carrier, networks: [127.0.0.2/32]}
`})
		startSIPp(t, e, sippCall{Scenario: "forbidden.xml"}).mustPass()
		expectNoCalls(t, e)
		if got := e.metric("hotline_sip_rejected_total", `reason="forbidden"`); got != 1 {
			t.Errorf(`hotline_sip_rejected_total{reason="forbidden"} = %v, want 1`, got)
		}
	})

	t.Run("no common codec 488", func(t *testing.T) {
		t.Parallel()
		e := startEngine(t, engineOptions{})
		startSIPp(t, e, sippCall{Scenario: "no_codec.xml"}).mustPass()
		c := e.onlyCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded })
		if c.Side != "engine" || c.Code != 488 || !c.Answer.IsZero() {
			t.Errorf("call with no common codec: side %q code %d cause %q answer %v; want the engine's 488, unanswered", c.Side, c.Code, c.Cause, c.Answer)
		}
	})

	t.Run("OPTIONS 200", func(t *testing.T) {
		t.Parallel()
		e := startEngine(t, engineOptions{})
		r := startSIPp(t, e, sippCall{Scenario: "options.xml"})
		r.mustPass()
		if m := r.messages(); !regexp.MustCompile(`(?m)^Allow:.*INVITE`).MatchString(m) {
			t.Errorf("the 200 to OPTIONS has no Allow header listing INVITE:\n%s", m)
		}
		expectNoCalls(t, e)
	})

	t.Run("digest MD5", func(t *testing.T) {
		t.Parallel()
		e := startEngine(t, engineOptions{Config: `
sip:
  trunks:
    - {name: carrier, username: user, password: secret, algorithms: [MD5]}
`})
		r := startSIPp(t, e, sippCall{Scenario: "auth.xml", Args: []string{"-au", "user", "-ap", "secret"}})
		r.mustPass()
		if m := r.messages(); !strings.Contains(m, `algorithm=MD5`) || !strings.Contains(m, "Authorization: Digest") {
			t.Errorf("no MD5 challenge and answer seen by SIPp:\n%s", lastLines(m, 60))
		}
		c := e.onlyCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded })
		checkCallerHungUp(t, c)
		if c.Trunk != "carrier" {
			t.Errorf("trunk = %q, want carrier", c.Trunk)
		}
	})

	t.Run("digest MD5 wrong password", func(t *testing.T) {
		t.Parallel()
		e := startEngine(t, engineOptions{Config: `
sip:
  trunks:
    - {name: carrier, username: user, password: secret, algorithms: [MD5]}
`})
		r := startSIPp(t, e, sippCall{Scenario: "auth.xml", Args: []string{"-au", "user", "-ap", "wrong"}})
		if code := r.wait(); code == 0 {
			t.Errorf("SIPp's call passed with a wrong password")
		}
		if n := strings.Count(r.messages(), "SIP/2.0 401 Unauthorized"); n < 2 {
			t.Errorf("SIPp saw %d 401s, want the second INVITE challenged again:\n%s", n, lastLines(r.messages(), 60))
		}
		expectNoCalls(t, e)
		if got := e.metric("hotline_sip_rejected_total", `reason="unauthorised"`); got < 2 {
			t.Errorf(`hotline_sip_rejected_total{reason="unauthorised"} = %v, want 2 or more`, got)
		}
	})
}

// TestSIPpDelayedOffer: an INVITE without SDP; the engine offers in the 200 (SIPp
// checks PCMU is in it) and takes SIPp's answer from the ACK.
func TestSIPpDelayedOffer(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{})
	r := startSIPp(t, e, sippCall{Scenario: "delayed_offer.xml"})
	c := e.onlyCall("in the menu", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateIVR })
	if c.Codec != "PCMU" {
		t.Errorf("codec = %q, want PCMU (the answer in the ACK)", c.Codec)
	}
	r.mustPass()
	checkCallerHungUp(t, e.waitCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded }))
	if m := r.messages(); !strings.Contains(m, "a=rtpmap:101 telephone-event/8000") {
		t.Errorf("the engine's offer has no telephone-event:\n%s", lastLines(m, 60))
	}
	// The prompt went to the address in the ACK's answer.
	if got := e.metric("hotline_rtp_packets_sent_total"); got < 50 {
		t.Errorf("hotline_rtp_packets_sent_total = %v after 2 s of call, want about 100", got)
	}
}

// TestSIPpOverCallLimit: with sip.max_calls 1 a second call while the first is up gets
// 503 with Retry-After (SIPp checks the header); the first call is not disturbed.
func TestSIPpOverCallLimit(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{Config: `
sip:
  max_calls: 1
  retry_after: 7s
`})
	first := startSIPp(t, e, sippCall{Scenario: "hold.xml", Args: []string{"-d", "3000"}})
	e.onlyCall("up", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateIVR })
	second := startSIPp(t, e, sippCall{Scenario: "over_limit.xml"})
	second.mustPass()
	if m := second.messages(); !strings.Contains(m, "Retry-After: 7") {
		t.Errorf("503 without Retry-After: 7:\n%s", lastLines(m, 40))
	}
	if !first.stillRunning() {
		t.Errorf("the first call had ended before the second was refused")
	}
	if got := e.metric("hotline_sip_rejected_total", `reason="limit"`); got != 1 {
		t.Errorf(`hotline_sip_rejected_total{reason="limit"} = %v, want 1`, got)
	}
	first.mustPass()
	calls, err := e.calls()
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 {
		t.Errorf("the engine lists %d calls, want only the first", len(calls))
	}
}

// expectNoCalls checks the API lists no call at all (the request left no state).
func expectNoCalls(t *testing.T, e *engine) {
	t.Helper()
	calls, err := e.calls()
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 0 {
		t.Errorf("the API lists %d calls, want none: %+v", len(calls), calls)
	}
}
