package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
)

// desk is what the default menu (ivr/default.yaml) decides for a digit pressed in
// the main menu.
type desk struct {
	queue, skill string
	priority     int
}

var defaultDesks = map[string]desk{
	"1": {"general", "call-taking", 5},
	"2": {"business", "business-environment", 5},
	"3": {"talent", "talent-policy", 5},
	"4": {"household", "household-registration", 5},
	"0": {"general", "call-taking", 3},
}

// routedTimeout bounds the wait for the routing decision: the welcome prompt is cut
// short by the digit (barge-in) but the desk's "connecting ... desk" prompts play
// in full (about 7 s) before the route is recorded.
const routedTimeout = 20 * time.Second

// checkRouted checks a call the default menu routed after one digit pressed via.
func checkRouted(t *testing.T, c store.CallRecord, digit, via string) {
	t.Helper()
	want := defaultDesks[digit]
	if c.Digits != digit {
		t.Errorf("digits = %q, want %q", c.Digits, digit)
	}
	if len(c.Inputs) != 1 || c.Inputs[0].Node != "main" || c.Inputs[0].Digits != digit || c.Inputs[0].Via != via {
		t.Errorf("inputs = %+v, want one input of %q at node main via %s", c.Inputs, digit, via)
	}
	if c.Route == nil {
		t.Fatalf("route missing: %+v", c)
	}
	if c.Route.Queue != want.queue || c.Route.Skill != want.skill || c.Route.Priority != want.priority || c.Route.Language != "zh" {
		t.Errorf("route = %+v, want queue %s skill %s priority %d language zh", *c.Route, want.queue, want.skill, want.priority)
	}
	// The digit pressed during the welcome prompt barges in and is used by the main
	// menu at once (type-ahead): the main menu prompt is never needed.
	if !slices.Equal(c.Path, []string{"welcome", "hours", "main"}) {
		t.Errorf("path = %v, want [welcome hours main]", c.Path)
	}
	if c.Codec != "PCMU" || c.Answer.IsZero() || c.Caller != "13800138000" || c.Dialled != "12345" {
		t.Errorf("call record: codec %q answer %v caller %q dialled %q", c.Codec, c.Answer, c.Caller, c.Dialled)
	}
}

// checkCallerHungUp checks a call ended by the caller's BYE.
func checkCallerHungUp(t *testing.T, c store.CallRecord) {
	t.Helper()
	if c.State != store.StateEnded || c.Side != "caller" || c.Code != 200 || c.End.IsZero() {
		t.Errorf("ended call: state %q side %q code %d cause %q end %v; want ended by the caller (200)", c.State, c.Side, c.Code, c.Cause, c.End)
	}
}

// stillRunning reports whether SIPp has not finished yet.
func (r *sippRun) stillRunning() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// TestSIPpMenuDigits dials 12345 with SIPp and presses one digit 1.5 s into the
// welcome prompt, as RFC 4733 events (the pcaps shipped by sip-tester), as SIP INFO
// application/dtmf-relay and as SIP INFO application/dtmf. The API must show the
// digit, how it came, and the desk the default menu routes it to while the caller
// still listens to the hold audio; after SIPp's BYE the call is ended by the caller.
func TestSIPpMenuDigits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, scenario, digit, via string
	}{
		{"rfc4733/1", "menu_rfc4733.xml", "1", "rfc4733"},
		{"rfc4733/2", "menu_rfc4733.xml", "2", "rfc4733"},
		{"rfc4733/4", "menu_rfc4733.xml", "4", "rfc4733"},
		{"rfc4733/0", "menu_rfc4733.xml", "0", "rfc4733"},
		{"info-dtmf-relay/3", "menu_info.xml", "3", "info"},
		{"info-dtmf/2", "menu_info_dtmf.xml", "2", "info"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEngine(t, engineOptions{})
			// -d: the hold audio lasts long enough for the routing decision (the
			// desk prompts) and our look at it.
			r := startSIPp(t, e, sippCall{Scenario: tc.scenario, Replace: map[string]string{"DIGIT": tc.digit},
				Args: []string{"-d", "11000"}})
			c := e.onlyCall("routed", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateRouted })
			if !r.stillRunning() {
				t.Errorf("SIPp had already finished when the call was routed")
			}
			checkRouted(t, c, tc.digit, tc.via)
			if c.Side != "" || !c.End.IsZero() {
				t.Errorf("routed call already has an end: side %q end %v", c.Side, c.End)
			}
			if got := e.metric("hotline_calls_active"); got != 1 {
				t.Errorf("hotline_calls_active = %v during the call, want 1", got)
			}
			r.mustPass()
			ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.ID == c.ID && x.State == store.StateEnded })
			checkCallerHungUp(t, ended)
			if ended.Route == nil || ended.Digits != tc.digit {
				t.Errorf("the ended record lost the route or digits: %+v", ended)
			}
			if got := e.metric("hotline_dtmf_events_total", `via="`+tc.via+`"`); got < 1 {
				t.Errorf("hotline_dtmf_events_total{via=%q} = %v, want >= 1", tc.via, got)
			}
			// The default config has agents, so a routed call waits in the ACD: the
			// caller hanging up there abandons it in the queue.
			if got := e.metric("hotline_calls_total", `result="abandoned_in_queue"`); got != 1 {
				t.Errorf(`hotline_calls_total{result="abandoned_in_queue"} = %v, want 1`, got)
			}
			if got := e.metric("hotline_calls_active"); got != 0 {
				t.Errorf("hotline_calls_active = %v after the call, want 0", got)
			}
			// SIPp received the engine's RTP (the welcome prompt, the desk prompts,
			// the hold audio).
			if got := e.metric("hotline_rtp_packets_sent_total"); got < 100 {
				t.Errorf("hotline_rtp_packets_sent_total = %v, want hundreds", got)
			}
		})
	}
}

// TestSIPpInbandDTMF: a trunk that sends neither RFC 4733 nor INFO. SIPp offers PCMU
// only (no telephone-event) and streams audio holding the DTMF tone of 4; the engine
// detects it in-band (Goertzel) and routes to the household desk.
func TestSIPpInbandDTMF(t *testing.T) {
	t.Parallel()
	const digit = "4"
	// SIPp 3.6.1's rtp_stream sends the file's bytes as they are, 160 per packet for
	// payload type 0: write raw u-law. 300 ms of silence, the 120 ms tone, silence.
	var pcm []int16
	pcm = append(pcm, make([]int16, 2400)...)
	pcm = append(pcm, media.GenerateDTMF(digit[0], 120*time.Millisecond, 0.25)...)
	pcm = append(pcm, make([]int16, 4000)...)
	ulaw := make([]byte, len(pcm))
	media.EncodeFrame(media.PCMU, ulaw, pcm)
	audio := filepath.Join(t.TempDir(), "dtmf4.ul")
	if err := os.WriteFile(audio, ulaw, 0o600); err != nil {
		t.Fatal(err)
	}

	e := startEngine(t, engineOptions{})
	r := startSIPp(t, e, sippCall{Scenario: "menu_inband.xml", Replace: map[string]string{"WAV": audio},
		Args: []string{"-d", "11000"}})
	c := e.onlyCall("routed", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	checkRouted(t, c, digit, "inband")
	r.mustPass()
	checkCallerHungUp(t, e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded }))
	if got := e.metric("hotline_dtmf_events_total", `via="inband"`); got != 1 {
		t.Errorf(`hotline_dtmf_events_total{via="inband"} = %v, want 1`, got)
	}
}
