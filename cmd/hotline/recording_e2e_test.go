package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/recording"
	"github.com/hotline12345/hotline/store"
)

// getAuth GETs path with a bearer token (and extra headers: k, v, ...).
func (e *engine) getAuth(path, token string, hdr ...string) (int, http.Header, []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// recordingOf waits until the recording of call is in state (as supervisor tok sees it).
func (e *engine) recordingOf(call, tok, state string, d time.Duration) store.RecordingRecord {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		code, _, body := e.getAuth("/api/v1/recordings?call="+call, tok)
		var out struct {
			Recordings []store.RecordingRecord `json:"recordings"`
		}
		if code == 200 && json.Unmarshal(body, &out) == nil {
			for _, r := range out.Recordings {
				if r.Call == call && r.Kind == store.KindCall && r.State == state {
					return r
				}
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s recording of call %s within %v: %d %s", state, call, d, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// share is the share of the power of pcm at hz (Goertzel).
func share(pcm []int16, hz float64) float64 {
	var s1, s2, total float64
	coeff := 2 * math.Cos(2*math.Pi*hz/8000)
	for _, v := range pcm {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if total == 0 {
		return 0
	}
	return 2 * (s1*s1 + s2*s2 - coeff*s1*s2) / (float64(len(pcm)) * total)
}

// rms is the root mean square of pcm.
func rms(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	if len(pcm) == 0 {
		return 0
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// TestCallRecording: a caller (1 kHz) talks to a WebRTC agent (440 Hz), the agent
// pauses the recording for a card number and resumes, the caller hangs up. The
// recording is one stereo WAV with the caller's tone on the left and the agent's
// on the right, silence in the pause, a duration equal to the talk time, its
// SHA-256 and the pause kept with its record. Supervisors list and hear it (with
// Range), the agent hears their own, another agent and a stranger do not, and
// every listen is in the audit log.
func TestCallRecording(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	webrtcAgent(ctx, t, e, "1012", agentsim.Options{})
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	rec := e.waitCall("connected to 1012", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1012" && c.State == "connected" })

	agentTok := e.login("1012")
	time.Sleep(2 * time.Second)
	e.callOp(agentTok, "1012", `{"op": "pause_recording"}`, 200)
	e.callOp(agentTok, "1012", `{"op": "pause_recording"}`, 409) // paused already
	time.Sleep(1500 * time.Millisecond)
	e.callOp(agentTok, "1012", `{"op": "resume_recording"}`, 200)
	time.Sleep(2 * time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	admin := e.login("admin")
	r := e.recordingOf(rec.ID, admin, store.RecComplete, 10*time.Second)
	if len(r.Agents) != 1 || r.Agents[0] != "1012" || r.Queue != "general" || r.From != "agent" || len(r.SHA256) != 64 {
		t.Fatalf("recording record %+v", r)
	}
	if len(r.Pauses) != 1 || r.Pauses[0].By != "1012" || r.Pauses[0].Duration < time.Second || r.Pauses[0].Duration > 3*time.Second {
		t.Fatalf("pauses %+v", r.Pauses)
	}
	ended := e.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" })
	talk := ended.End.Sub(ended.Connected)
	if d := r.Duration - talk; d < -500*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("recording lasts %v, the talk %v", r.Duration, talk)
	}

	// Hear it: the supervisor, with a Range first.
	path := "/api/v1/recordings/" + r.ID + "/audio"
	code, hdr, part := e.getAuth(path, admin, "Range", "bytes=0-43")
	if code != http.StatusPartialContent || len(part) != 44 || !bytes.HasPrefix(part, []byte("RIFF")) || !strings.HasPrefix(hdr.Get("Content-Range"), "bytes 0-43/") {
		t.Fatalf("Range: %d %q %q", code, hdr.Get("Content-Range"), part)
	}
	code, _, wav := e.getAuth(path, admin)
	if code != 200 {
		t.Fatalf("audio: %d %s", code, wav)
	}
	left, right, err := recording.ReadStereo(bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(len(left)) * time.Second / 8000; got-r.Duration > 100*time.Millisecond || r.Duration-got > 100*time.Millisecond {
		t.Errorf("the file holds %v of audio, its record says %v", got, r.Duration)
	}
	// The pause, in the file: from its start (relative to the recording's) for its duration.
	pauseFrom := int(r.Pauses[0].At.Sub(r.Start) * 8000 / time.Second)
	pauseLen := int(r.Pauses[0].Duration * 8000 / time.Second)
	second := func(ch []int16, at int) []int16 { return ch[max(0, at):min(len(ch), at+4000)] }
	before, during, after := pauseFrom-6000, pauseFrom+pauseLen/2-2000, pauseFrom+pauseLen+2000
	for _, c := range []struct {
		what string
		pcm  []int16
		hz   float64
	}{
		{"caller before the pause (left)", second(left, before), 1000},
		{"agent before the pause (right)", second(right, before), 440},
		{"caller after the pause (left)", second(left, after), 1000},
		{"agent after the pause (right)", second(right, after), 440},
	} {
		if s := share(c.pcm, c.hz); s < 0.6 {
			t.Errorf("%s: share of %.0f Hz %.2f", c.what, c.hz, s)
		}
	}
	if v := rms(second(left, during)) + rms(second(right, during)); v > 50 {
		t.Errorf("the paused span is not silence (rms %.0f)", v)
	}

	// Who may hear it.
	if code, _, _ := e.getAuth(path, agentTok); code != 200 {
		t.Errorf("the agent of the call: %d, want 200", code)
	}
	if code, _, _ := e.getAuth(path, e.login("1013")); code != 404 {
		t.Errorf("another agent: %d, want 404", code)
	}
	if code, _, _ := e.getAuth(path, ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _, body := e.getAuth("/api/v1/recordings?agent=1012", e.login("1013")); code != 403 {
		t.Errorf("another agent listing 1012's recordings: %d %s, want 403", code, body)
	}
	r = e.recordingOf(rec.ID, admin, store.RecComplete, time.Second)
	var who []string
	for _, l := range r.Listens {
		who = append(who, l.By+"/"+l.Role)
	}
	if got := strings.Join(who, ","); got != "admin/supervisor,admin/supervisor,1012/agent" {
		t.Errorf("audit log %q, want the two supervisor requests and the agent's", got)
	}
	if got := e.metric("hotline_recordings_total", `state="complete"`); got != 1 {
		t.Errorf("hotline_recordings_total{state=complete} = %v", got)
	}
}

// TestRecordingRepairedAfterKill: the engine is killed (SIGKILL) during a recorded
// call; started again on the same data folder it repairs the recording (playable
// up to the last written audio, the caller's tone on its channel) and marks it
// repaired. With encryption at rest: the file on disk is not a WAV, the API
// serves it decrypted.
func TestRecordingRepairedAfterKill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := t.TempDir()
	cfg := fmt.Sprintf("recording:\n  key: %s\n", strings.Repeat("5a", 32))
	e := startEngine(t, engineOptions{Data: data, Config: cfg})
	webrtcAgent(ctx, t, e, "1014", agentsim.Options{})
	toneClip, _ := tone(1000)
	_, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	rec := e.waitCall("connected", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1014" && c.State == "connected" })
	time.Sleep(3 * time.Second)
	e.kill()

	e2 := startEngine(t, engineOptions{Data: data, Config: cfg})
	admin := e2.login("admin")
	r := e2.recordingOf(rec.ID, admin, store.RecRepaired, 10*time.Second)
	if !strings.HasSuffix(r.File, ".enc") {
		t.Errorf("encrypted recording file %q", r.File)
	}
	code, _, wav := e2.getAuth("/api/v1/recordings/"+r.ID+"/audio", admin)
	if code != 200 {
		t.Fatalf("audio of the repaired recording: %d %s", code, wav)
	}
	left, _, err := recording.ReadStereo(bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) < 8000 {
		t.Fatalf("the repaired recording holds %d samples, want at least a second", len(left))
	}
	if s := share(left[len(left)/2:len(left)/2+4000], 1000); s < 0.6 {
		t.Errorf("the caller's tone in the repaired recording: share %.2f", s)
	}
	if !strings.Contains(e2.stderr.String(), "recording cut by a crash: repaired") {
		t.Error("no log line says the recording was repaired")
	}
}

// TestRecordingFollowsTransfer: a call transferred from one agent to another is
// one recording: both agents in its record, the first agent's tone on the right
// channel before the transfer and the second's after, the caller's all along.
func TestRecordingFollowsTransfer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{})
	webrtcAgent(ctx, t, e, "1015", agentsim.Options{})
	webrtcAgent(ctx, t, e, "1016", agentsim.Options{ToneHz: 600})
	setAgentState(t, e, "1016", "not-ready")
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the first agent's tone", peer, frames440, netip.AddrPort{}, 10, 15*time.Second)
	rec := e.waitCall("connected to 1015", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1015" && c.State == "connected" })
	time.Sleep(2 * time.Second)
	setAgentState(t, e, "1016", "ready")
	e.callOp(e.login("1015"), "1015", `{"op": "transfer", "agent": "1016"}`, 200)
	_, frames600 := tone(600)
	waitFrames(t, "the second agent's tone", peer, frames600, netip.AddrPort{}, 25, 15*time.Second)
	time.Sleep(2 * time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	admin := e.login("admin")
	r := e.recordingOf(rec.ID, admin, store.RecComplete, 10*time.Second)
	if strings.Join(r.Agents, ",") != "1015,1016" {
		t.Fatalf("agents of the recording %v, want 1015,1016", r.Agents)
	}
	code, _, wav := e.getAuth("/api/v1/recordings/"+r.ID+"/audio", admin)
	if code != 200 {
		t.Fatalf("audio: %d", code)
	}
	left, right, err := recording.ReadStereo(bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	n := len(right)
	first, last := right[8000:12000], right[n-12000:n-8000]
	if s := share(first, 440); s < 0.6 {
		t.Errorf("the first agent on the right before the transfer: share %.2f", s)
	}
	if s := share(last, 600); s < 0.6 {
		t.Errorf("the second agent on the right after the transfer: share %.2f", s)
	}
	if s := share(left[n-12000:n-8000], 1000); s < 0.6 {
		t.Errorf("the caller on the left after the transfer: share %.2f", s)
	}
	var files int
	code, _, body := e.getAuth("/api/v1/recordings?call="+rec.ID, admin)
	var list struct {
		Total int `json:"total"`
	}
	if code != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	files = list.Total
	if files != 1 {
		t.Errorf("%d recordings of the call, want one", files)
	}
}

// TestRecordingFromAnswer: the general queue records from the engine's answer (the
// menu included): the recording starts when the engine answered, the caller's tone
// is on the left while the menu still plays (before any agent), and it lasts the
// whole call.
func TestRecordingFromAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: `
survey: {post_call: false}
queues:
  - {name: general,   skill: call-taking,            hold: [music], record: answer}
  - {name: business,  skill: business-environment,   hold: [music]}
  - {name: talent,    skill: talent-policy,          hold: [music]}
  - {name: household, skill: household-registration, hold: [music]}
  - {name: followup,  skill: follow-up,              hold: [music]}
  - {name: foreign,   skill: foreign-language,       hold: [music]}
`})
	webrtcAgent(ctx, t, e, "1031", agentsim.Options{})
	toneClip, _ := tone(1000)
	call, peer := pressOne(ctx, t, e, toneClip.Loop())
	_, frames440 := tone(440)
	waitFrames(t, "the agent's tone", peer, frames440, netip.AddrPort{}, 10, 20*time.Second)
	time.Sleep(time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	admin := e.login("admin")
	rec := e.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.Agent == "1031" && c.State == "ended" })
	r := e.recordingOf(rec.ID, admin, store.RecComplete, 10*time.Second)
	if r.From != "answer" {
		t.Fatalf("recording from %q, want answer", r.From)
	}
	if d := r.Start.Sub(rec.Answer); d < -500*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("recording started %v after the engine answered, want at the answer", d)
	}
	if whole := rec.End.Sub(rec.Answer); r.Duration < whole-time.Second {
		t.Errorf("recording lasts %v, the answered call %v", r.Duration, whole)
	}
	_, _, wav := e.getAuth("/api/v1/recordings/"+r.ID+"/audio", admin)
	left, right, err := recording.ReadStereo(bytes.NewReader(wav))
	if err != nil {
		t.Fatal(err)
	}
	// A second before the agent answered: the caller's tone, in the menu (or the
	// queue), with nobody on the right.
	at := int(rec.Connected.Sub(r.Start)*8000/time.Second) - 8000
	if at < 0 || at+4000 > len(left) {
		t.Fatalf("the menu part is not in the recording (at %d of %d samples)", at, len(left))
	}
	if s := share(left[at:at+4000], 1000); s < 0.6 {
		t.Errorf("the caller's tone before the agent answered: share %.2f", s)
	}
	if v := rms(right[at : at+4000]); v > 50 {
		t.Errorf("the centre's side before the agent answered is not silence (rms %.0f)", v)
	}
}
