package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/recording"
	"github.com/hotline12345/hotline/store"
)

// TestSIPpLeavesMessage: outside hours the menu takes a message: the caller's audio is
// written to a WAV file as it arrives, and the call record lists it.
func TestSIPpLeavesMessage(t *testing.T) {
	t.Parallel()
	// What the caller says: a 440 Hz tone for 20 s (through the prompts and the 3 s the
	// menu takes; SIPp plays the file once from the start of the call).
	pcm := make([]int16, 20*8000)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	ulaw := make([]byte, len(pcm))
	media.EncodeFrame(media.PCMU, ulaw, pcm)
	audio := filepath.Join(t.TempDir(), "voice.ul")
	if err := os.WriteFile(audio, ulaw, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEngine(t, engineOptions{Config: `
ivr:
  languages: [zh]
  start: closed
  nodes:
    closed: {play: [closed], next: message}
    message: {message: {prompt: message_prompt, beep: true, max: 3s, saved: message_saved}, next: bye}
    bye: {play: [goodbye], hangup: true}
`})
	// menu_inband.xml streams the file from the start of the call; the engine ends the
	// call after its goodbye, so SIPp's own BYE may never be sent: only the engine's
	// record is judged.
	startSIPp(t, e, sippCall{Scenario: "menu_inband.xml", Replace: map[string]string{"WAV": audio},
		Args: []string{"-d", "30000"}, Timeout: 45 * time.Second})
	c := e.waitCall("a message recorded", 40*time.Second, func(c store.CallRecord) bool { return len(c.Messages) == 1 })
	m := c.Messages[0]
	if m.Duration < 2500*time.Millisecond || m.Duration > 3500*time.Millisecond {
		t.Errorf("message lasts %v, want about the 3 s maximum", m.Duration)
	}
	f, err := os.Open(m.File)
	if err != nil {
		t.Fatalf("message file: %v", err)
	}
	defer f.Close()
	// Messages go through the call recorder: stereo, the caller on the left.
	got, _, err := recording.ReadStereo(f)
	if err != nil {
		t.Fatalf("message is not an 8 kHz stereo WAV: %v", err)
	}
	if d := time.Duration(len(got)) * time.Second / 8000; d != m.Duration {
		t.Errorf("file holds %v of audio, record says %v", d, m.Duration)
	}
	var energy float64
	for _, s := range got {
		energy += float64(s) * float64(s)
	}
	if rms := math.Sqrt(energy / float64(max(1, len(got)))); rms < 1000 {
		t.Errorf("the message is silence (rms %.0f): the caller's audio was not recorded", rms)
	}
	// It is listed with the recordings, and a supervisor hears it.
	admin := e.login("admin")
	code, _, body := e.getAuth("/api/v1/recordings?call="+c.ID, admin)
	var list struct {
		Recordings []store.RecordingRecord `json:"recordings"`
	}
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list.Recordings) != 1 || list.Recordings[0].Kind != store.KindMessage {
		t.Fatalf("recordings of the call: %d %s", code, body)
	}
	if code, _, wav := e.getAuth("/api/v1/recordings/"+list.Recordings[0].ID+"/audio", admin); code != 200 || !bytes.HasPrefix(wav, []byte("RIFF")) {
		t.Fatalf("the message's audio: %d %.40q", code, wav)
	}
	ended := e.waitCall("ended by the engine", 20*time.Second, func(x store.CallRecord) bool { return x.ID == c.ID && x.State == store.StateEnded })
	if ended.Side != "engine" {
		t.Errorf("side %q, want engine (the menu said goodbye)", ended.Side)
	}
}
