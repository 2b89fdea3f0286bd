package main

import (
	"testing"
	"time"

	"github.com/hotline12345/hotline/store"
)

// baresipConfig needs no sound card: the aubridge module's device "x" is both the
// audio source and the player (what baresip hears it sends back), and the stdio
// module reads commands and keys from stdin (it warns that stdin is no terminal
// and works anyway). net_interface 127.0.0.1: otherwise baresip advertises its
// first network address in the SDP while it sends from 127.0.0.1, and the engine's
// strict RTP latching rightly drops every packet (and so every digit).
const baresipConfig = `poll_method epoll
sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
audio_player aubridge,x
audio_source aubridge,x
audio_alert aubridge,x
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aubridge.so
module_app account.so
module_app menu.so
`

// TestBaresipCallAndDigit: baresip 1.0.0 dials 12345 and presses 3 (typed on its
// stdin; baresip sends keys as RFC 4733 events), the API shows the digit and the
// talent-policy desk, then baresip hangs up.
func TestBaresipCallAndDigit(t *testing.T) {
	t.Parallel()
	e := startEngine(t, engineOptions{})

	b := startBaresip(t, "<sip:13800138000@127.0.0.1>;regint=0\n")
	b.waitOutput("baresip is ready", 10*time.Second)
	b.send("/dial sip:12345@" + e.sip.String() + "\n")
	b.waitOutput("Call established", 10*time.Second)
	e.onlyCall("in the menu", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateIVR })
	time.Sleep(500 * time.Millisecond) // into the welcome prompt
	b.send("3")
	c := e.waitCall("routed", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	checkRouted(t, c, "3", "rfc4733")
	if c.Caller != "13800138000" {
		t.Errorf("caller %q", c.Caller)
	}

	b.send("/hangup\n")
	checkCallerHungUp(t, e.waitCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded }))
	b.send("q")
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
		t.Errorf("baresip did not quit on q")
	}
}
