package call

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
)

func TestEndOrphans(t *testing.T) {
	st, err := store.New(store.NewMemory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ev := range []event.Event{
		{Type: event.CallCreated, Call: "live", Caller: "1"},
		{Type: event.CallAnswered, Call: "live"},
		{Type: event.CallCreated, Call: "done", Caller: "2"},
		{Type: event.CallEnded, Call: "done", Side: event.SideCaller},
	} {
		if err := st.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewManager(DefaultConfig(), Deps{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if n := m.EndOrphans(); n != 1 {
		t.Fatalf("ended %d orphans, want 1", n)
	}
	rec, _ := st.Calls().Get("live")
	if rec.State != store.StateEnded || rec.Side != event.SideEngine || rec.Cause == "" {
		t.Fatalf("orphan not ended: %+v", rec)
	}
	if st.Calls().Active() != 0 {
		t.Fatalf("active = %d", st.Calls().Active())
	}
	if n := m.EndOrphans(); n != 0 {
		t.Fatalf("second pass ended %d", n)
	}
}

func TestMaskedNumber(t *testing.T) {
	for in, want := range map[string]string{"13812345678": "138****5678", "12345": "12***45", "110": "110", "": ""} {
		if got := Masked(in).LogValue().String(); got != want {
			t.Errorf("Masked(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnnouncement(t *testing.T) {
	sub, err := fs.Sub(ivr.Prompts, "prompts")
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPrompts(sub)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{prompts: p}
	for _, lang := range []string{"zh", "en"} {
		src := m.announcement(lang, acd.Position{Place: 4, Estimate: 90 * time.Second})
		if src == nil {
			t.Fatalf("%s: no announcement", lang)
		}
		// The sentence lasts as long as its prompts: position, 3, after, wait, 2, minutes.
		var want time.Duration
		for _, n := range append(append([]string{"queue_position"}, ivr.SayNumber(lang, 3)...), append([]string{"queue_position_after", "queue_wait"}, append(ivr.SayNumber(lang, 2), "queue_minutes")...)...) {
			c, ok := p.Get(lang, n)
			if !ok {
				t.Fatalf("%s: prompt %s missing", lang, n)
			}
			want += c.Duration()
		}
		buf := make([]byte, 160)
		var got time.Duration
		for {
			n, ok := src.Next(media.PCMU, buf)
			got += time.Duration(n) * time.Second / 8000
			if !ok {
				break
			}
		}
		if got != want {
			t.Errorf("%s: announcement lasts %v, want %v", lang, got, want)
		}
	}
	if m.announcement("fr", acd.Position{Place: 1}) != nil {
		t.Error("an announcement with missing prompts must be left out")
	}
}

// TestOperatorPromptsOverride: an operator's folder (16 kHz WAV or raw G.711) replaces
// the embedded prompt of the same name, and adds new ones.
func TestOperatorPromptsOverride(t *testing.T) {
	sub, err := fs.Sub(ivr.Prompts, "prompts")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zh"), 0o755); err != nil {
		t.Fatal(err)
	}
	// welcome: 1 s at 16 kHz (resampled to 8 kHz on load); goodbye: 0.5 s of raw u-law.
	f, err := os.Create(filepath.Join(dir, "zh", "welcome.wav"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := media.NewWAVWriter(f, 16000, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 16,000 samples (GenerateDTMF makes 8 kHz ones: 2 s of them) are 1 s at 16 kHz.
	if err := w.Write(media.GenerateDTMF('5', 2*time.Second, 0.3)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()
	ulaw := make([]byte, 4000)
	media.EncodeFrame(media.PCMU, ulaw, media.GenerateDTMF('1', 500*time.Millisecond, 0.3))
	if err := os.WriteFile(filepath.Join(dir, "zh", "goodbye.ul"), ulaw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zh", "extra.ul"), ulaw, 0o644); err != nil {
		t.Fatal(err)
	}
	embedded, _ := LoadPrompts(sub)
	p, err := LoadPrompts(sub, os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]time.Duration{"welcome": time.Second, "goodbye": 500 * time.Millisecond, "extra": 500 * time.Millisecond} {
		c, ok := p.Get("zh", name)
		if !ok || c.Duration() != want {
			t.Errorf("zh/%s: found %v, want %v long", name, ok, want)
		}
	}
	orig, _ := embedded.Get("zh", "welcome")
	if c, _ := p.Get("zh", "welcome"); c.Duration() == orig.Duration() {
		t.Error("welcome was not replaced")
	}
	if c, ok := p.Get("en", "welcome"); !ok || c.Duration() == time.Second {
		t.Error("the English welcome must stay the embedded one")
	}
}
