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
	"github.com/hotline12345/hotline/queue"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
)

// TestTakeoverAfterARestart: a single site's last run stopped with a call in the
// menu, a caller waiting in the general queue and a callback request waiting
// there. Started again, Takeover (as the engine runs it at start-up) ends the two
// live calls with the restart's cause, and the ACD holds three callback requests:
// the waiting caller and the request keep their wait (not offered again), the
// caller who was in the menu is a new one. The ACD's numbers equal the recount of
// the whole log, and a second pass changes nothing.
func TestTakeoverAfterARestart(t *testing.T) {
	st, err := store.New(store.NewMemory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ev := range []event.Event{
		{Type: event.CallCreated, Call: "menu", Caller: "13800000001"},
		{Type: event.CallAnswered, Call: "menu"},
		{Type: event.CallCreated, Call: "waits", Caller: "13800000002"},
		{Type: event.CallAnswered, Call: "waits"},
		{Type: event.MenuRouted, Call: "waits", Queue: "general"},
		{Type: event.QueueJoined, Call: "waits", Queue: "general", Caller: "13800000002"},
		{Type: event.CallCreated, Call: "asked", Caller: "13800000003"},
		{Type: event.CallAnswered, Call: "asked"},
		{Type: event.QueueJoined, Call: "asked", Queue: "general", Caller: "13800000003"},
		{Type: event.CallbackScheduled, Call: "asked", Queue: "general", Caller: "13800000003", Reason: "requested"},
		{Type: event.CallEnded, Call: "asked", Side: event.SideEngine, Cause: "callback requested"},
		{Type: event.CallCreated, Call: "done", Caller: "13800000004"},
		{Type: event.CallEnded, Call: "done", Side: event.SideCaller},
		// Its wait in general ran out and the queue's exit sent it to business.
		{Type: event.CallCreated, Call: "moved", Caller: "13800000005"},
		{Type: event.CallAnswered, Call: "moved"},
		{Type: event.MenuRouted, Call: "moved", Queue: "general"},
		{Type: event.QueueJoined, Call: "moved", Queue: "general", Caller: "13800000005"},
		{Type: event.QueueLeft, Call: "moved", Queue: "general", Reason: "timed_out", Caller: "13800000005"},
		{Type: event.QueueJoined, Call: "moved", Queue: "business", Caller: "13800000005"},
		// A withheld number: it cannot be called back.
		{Type: event.CallCreated, Call: "anon"},
		{Type: event.CallAnswered, Call: "anon"},
		{Type: event.MenuRouted, Call: "anon", Queue: "general"},
		{Type: event.QueueJoined, Call: "anon", Queue: "general"},
	} {
		if err := st.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	queues := []queue.Config{{Name: "general", Skill: "call-taking", Hold: []string{"music"}},
		{Name: "business", Skill: "call-taking", Hold: []string{"music"}}}
	agents := acd.Config{Agents: []acd.AgentConfig{{ID: "1001", Skills: map[string]int{"call-taking": 5}}}}
	m, err := NewManager(DefaultConfig(), Deps{Store: st, Queues: queues, Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	m.SeedACD(time.UTC)
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	m.Start(runCtx)
	opts := TakeoverOptions{Queue: "general", Cause: "engine restarted", Reason: "restart", Lost: "the last run's stop"}
	res, err := m.Takeover(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ended != 4 || res.Callbacks != 4 || res.Unreachable != 1 {
		t.Fatalf("takeover after a restart: %+v, want 4 ended, 4 callbacks, 1 unreachable", res)
	}
	for _, id := range []string{"menu", "waits", "moved", "anon"} {
		if rec, _ := st.Calls().Get(id); rec.State != store.StateEnded || rec.Side != event.SideEngine || rec.Cause != "engine restarted" {
			t.Errorf("call %s after the restart: %+v, want ended by the engine, cause engine restarted", id, rec)
		}
	}
	live, err := m.ACD().Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, b := live.Queues["general"], live.Queues["business"]
	if g.Offered != 5 || g.Waiting != 3 || g.Callbacks != 3 || g.Exited != 2 {
		t.Errorf("general after the restart: %+v, want 5 offered (4 before, 1 new), 3 waiting callback requests, 2 exited (moved on, and the withheld number lost)", g)
	}
	if b.Offered != 1 || b.Waiting != 1 || b.Callbacks != 1 {
		t.Errorf("business after the restart: %+v, want the moved caller: 1 offered, waiting as a callback request", b)
	}
	var all []event.Event
	stopFollow, err := st.Follow(ctx, 0, func(ev *event.Event) { all = append(all, *ev) })
	if err != nil {
		t.Fatal(err)
	}
	stopFollow()
	rc := acd.Recount(queues, agents, all)
	for name, l := range live.Queues {
		r := rc.Queues[name]
		if r.Offered != l.Offered || r.Waiting != l.Waiting || r.Callbacks != l.Callbacks || r.Exited != l.Exited {
			t.Errorf("%s: recount of the log %+v, live %+v: they must agree", name, r, l)
		}
	}
	if res, err := m.Takeover(ctx, opts); err != nil || res.Ended != 0 || res.Callbacks != 0 {
		t.Errorf("second pass: %+v %v, want nothing done", res, err)
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
