package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	bin := requireTool(t, "baresip", "baresip")
	e := startEngine(t, engineOptions{})

	home := t.TempDir()
	cfg := filepath.Join(home, ".baresip")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freeMediaPort(t, "127.0.0.1") // a free UDP port for baresip's SIP
	if err := os.WriteFile(filepath.Join(cfg, "config"), fmt.Appendf(nil, baresipConfig, port), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "accounts"), []byte("<sip:13800138000@127.0.0.1>;regint=0\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, bin, "-f", cfg)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("baresip output:\n%s", lastLines(out.String(), 40))
		}
	})
	waitOutput := func(what string, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("baresip did not say %q within %v", what, d)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(stdin, s); err != nil {
			t.Fatalf("baresip stdin: %v", err)
		}
	}

	waitOutput("baresip is ready", 10*time.Second)
	send("/dial sip:12345@" + e.sip.String() + "\n")
	waitOutput("Call established", 10*time.Second)
	e.onlyCall("in the menu", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateIVR })
	time.Sleep(500 * time.Millisecond) // into the welcome prompt
	send("3")
	c := e.waitCall("routed", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateRouted })
	checkRouted(t, c, "3", "rfc4733")
	if c.Caller != "13800138000" {
		t.Errorf("caller %q", c.Caller)
	}

	send("/hangup\n")
	checkCallerHungUp(t, e.waitCall("ended", 10*time.Second, func(c store.CallRecord) bool { return c.State == store.StateEnded }))
	send("q")
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("baresip did not quit on q")
	}
}
