package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/store"
	"github.com/zaf/g711"
)

// baresipPhone is a running baresip 1.0.0 with its own HOME and configuration.
type baresipPhone struct {
	t      *testing.T
	out    *lockedBuffer
	stdin  io.Writer
	exited chan struct{} // closed when baresip has exited
}

// startBaresip runs baresip with baresipConfig (aubridge audio, stdio commands) and
// the given accounts file; it is stopped in t.Cleanup.
func startBaresip(t *testing.T, accounts string) *baresipPhone {
	t.Helper()
	bin := requireTool(t, "baresip", "baresip")
	home := t.TempDir()
	cfg := filepath.Join(home, ".baresip")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freeMediaPort(t, "127.0.0.1") // a free UDP port for baresip's SIP
	if err := os.WriteFile(filepath.Join(cfg, "config"), fmt.Appendf(nil, baresipConfig, port), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "accounts"), []byte(accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	p := &baresipPhone{t: t, out: &lockedBuffer{}}
	cmd := exec.CommandContext(ctx, bin, "-f", cfg)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("baresip output:\n%s", lastLines(p.out.String(), 60))
		}
	})
	return p
}

// send types s on baresip's stdin (commands, or keys sent as RFC 4733 events).
func (p *baresipPhone) send(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, s); err != nil {
		p.t.Fatalf("baresip stdin: %v", err)
	}
}

// waitOutput waits at most d for baresip to print what.
func (p *baresipPhone) waitOutput(what string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.out.String(), what) {
		if time.Now().After(deadline) {
			p.t.Fatalf("baresip did not say %q within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// toneShare is the share of the power of the u-law payloads at hz (Goertzel): near 1
// for a pure tone at hz, near 0 for silence, music or another tone.
func toneShare(payloads [][]byte, hz float64) float64 {
	var s1, s2, total float64
	coeff := 2 * math.Cos(2*math.Pi*hz/8000)
	n := 0
	for _, p := range payloads {
		for _, b := range p {
			x := float64(g711.DecodeUlawFrame(b))
			total += x * x
			s0 := x + coeff*s1 - s2
			s2, s1 = s1, s0
			n++
		}
	}
	if n == 0 || total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(hz)|^2
	return 2 * power / (float64(n) * total)
}

// TestBaresipSeat: baresip 1.0.0 (a real phone nobody here wrote) registers as SIP
// seat 2001 with MD5 digest and auto-answers; a caller dials 12345, presses 1 and is
// connected to 2001. baresip's aubridge plays what it hears back into its
// microphone, so the caller's 400 Hz tone that comes back to the caller has crossed
// the bridge both ways. The caller's hang-up ends baresip's leg with BYE and puts
// 2001 into wrap-up.
func TestBaresipSeat(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: acdConfig})
	phone := startBaresip(t, fmt.Sprintf("<sip:2001@%s>;auth_pass=%s;regint=60;answermode=auto\n", e.sip, labPassword))
	phone.waitOutput("baresip is ready", 10*time.Second)
	e.waitAgent("2001", "ready after baresip's REGISTER", 10*time.Second, func(a agentStat) bool { return a.State == "ready" })

	callerTone, _ := tone(400)
	call, caller := pressOne(ctx, t, e, callerTone.Loop())
	engineRTP, _ := call.RemoteMedia()
	c := e.waitCall("connected", routedTimeout, func(c store.CallRecord) bool { return c.State == store.StateConnected })
	if c.Agent != "2001" || c.Route == nil || c.Route.Queue != "general" {
		t.Errorf("connected call: agent %q route %+v; want agent 2001 from the general queue", c.Agent, c.Route)
	}
	phone.waitOutput("call: answering call on line 1 from sip:13800138000@", 5*time.Second) // answermode=auto
	phone.waitOutput("Call established", 5*time.Second)
	e.waitAgent("2001", "on a call", 5*time.Second, func(a agentStat) bool { return a.State == "on-call" })

	// Before the bridge the caller hears the prompts and hold music; from now on
	// what reaches the caller is baresip's audio, which is the caller's own tone.
	before := caller.Count()
	deadline := time.Now().Add(5 * time.Second)
	var share float64
	for {
		var got [][]byte
		for _, p := range caller.Packets()[before:] {
			if p.From == engineRTP && p.Header.PayloadType == media.PCMU.PayloadType {
				got = append(got, p.Payload)
			}
		}
		if len(got) >= 50 {
			// the last second: the loop through baresip has settled by then
			share = toneShare(got[len(got)-50:], 400)
			if share > 0.8 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the caller's 400 Hz tone did not come back through baresip: %d packets, share of 400 Hz %.2f", len(got), share)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.metric("hotline_rtp_packets_forwarded_total"); got < 100 {
		t.Errorf("hotline_rtp_packets_forwarded_total = %v, want at least 50 each way", got)
	}

	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	// baresip (libre's sipsess) reports a BYE from the far end as ECONNRESET.
	phone.waitOutput("session closed: Connection reset by peer", 10*time.Second)
	ended := e.waitCall("ended", 10*time.Second, func(x store.CallRecord) bool { return x.State == store.StateEnded })
	checkCallerHungUp(t, ended)
	if ended.Agent != "2001" {
		t.Errorf("ended call: agent %q, want 2001", ended.Agent)
	}
	a := e.waitAgent("2001", "in wrap-up", 5*time.Second, func(a agentStat) bool { return a.State == "wrap-up" })
	if a.Calls != 1 || a.Missed != 0 || a.Rejected != 0 {
		t.Errorf("agent 2001: %+v, want 1 call, none missed or rejected", a)
	}
}
