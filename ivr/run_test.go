package ivr

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/media"
)

func zh(prompts ...string) []string { return langs("zh", prompts...) }
func en(prompts ...string) []string { return langs("en", prompts...) }

func langs(l string, prompts ...string) []string {
	out := make([]string, len(prompts))
	for i, p := range prompts {
		out[i] = l + "/" + p
	}
	return out
}

func cat(lists ...[]string) []string { return slices.Concat(lists...) }

func checkPlayed(t *testing.T, leg *fakeLeg, want []string) {
	t.Helper()
	if got := leg.Played(); !slices.Equal(got, want) {
		t.Errorf("played\n got %v\nwant %v", got, want)
	}
}

func TestRunDefaultRoutes(t *testing.T) {
	tests := []struct {
		key   string
		route Route
		desk  []string
	}{
		{"1", Route{Queue: "general", Skill: "call-taking", Priority: 5, Language: "zh"}, zh("connecting", "desk_general")},
		{"2", Route{Queue: "business", Skill: "business-environment", Priority: 5, Language: "zh"}, zh("connecting", "desk_business")},
		{"3", Route{Queue: "talent", Skill: "talent-policy", Priority: 5, Language: "zh"}, zh("connecting", "desk_talent")},
		{"4", Route{Queue: "household", Skill: "household-registration", Priority: 5, Language: "zh"}, zh("connecting", "desk_household")},
		{"0", Route{Queue: "general", Skill: "call-taking", Priority: 3, Language: "zh"}, zh("connecting")},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			leg := newFakeLeg()
			h := start(t, Default(), leg)
			h.waitTimer()
			h.press(tt.key)
			res, err := h.wait()
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != ActionRoute || res.Route != tt.route {
				t.Errorf("result %v %+v, want route %+v", res.Action, res.Route, tt.route)
			}
			if res.Digits != tt.key {
				t.Errorf("digits %q, want %q", res.Digits, tt.key)
			}
			if want := []string{"welcome", "hours", "main"}; !slices.Equal(res.Path, want) {
				t.Errorf("path %v, want %v", res.Path, want)
			}
			checkPlayed(t, leg, cat(zh("welcome", "main_menu"), tt.desk))
		})
	}
}

func TestRunFollowUp(t *testing.T) {
	t.Run("terminator", func(t *testing.T) {
		leg := newFakeLeg()
		h := start(t, Default(), leg)
		h.waitTimer()
		h.pressWait("5") // followup_enter, then the first-key timer
		h.pressWait("4")
		h.pressWait("0")
		h.pressWait("7")
		h.press("#")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Vars["ticket"] != "407" || res.Digits != "5407#" {
			t.Errorf("vars %v digits %q", res.Vars, res.Digits)
		}
		want := Route{Queue: "followup", Skill: "follow-up", Priority: 5, Language: "zh"}
		if res.Action != ActionRoute || res.Route != want {
			t.Errorf("route %+v, want %+v", res.Route, want)
		}
		checkPlayed(t, leg, cat(zh("welcome", "main_menu", "followup_enter", "num_4", "num_0", "num_7", "connecting", "desk_followup")))
	})
	t.Run("inter-digit timeout", func(t *testing.T) {
		leg := newFakeLeg()
		h := start(t, Default(), leg)
		h.waitTimer()
		h.pressWait("5")
		h.pressWait("1")
		h.pressWait("2") // inter-digit timer (5s) armed
		h.clk.Advance(4 * time.Second)
		if n := h.clk.Pending(); n != 1 {
			t.Fatalf("after 4s %d timers pending, want the inter-digit timer still armed", n)
		}
		h.clk.Advance(time.Second)
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Vars["ticket"] != "12" || res.Route.Queue != "followup" {
			t.Errorf("vars %v route %+v", res.Vars, res.Route)
		}
	})
	t.Run("max digits", func(t *testing.T) {
		leg := newFakeLeg()
		h := start(t, Default(), leg)
		h.waitTimer()
		h.pressWait("5")
		for _, k := range "12345678901" {
			h.pressWait(string(k))
		}
		h.press("2") // the 12th digit ends the entry without '#'
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Vars["ticket"] != "123456789012" {
			t.Errorf("ticket %q", res.Vars["ticket"])
		}
	})
}

func TestRunEnglish(t *testing.T) {
	leg := newFakeLeg()
	h := start(t, Default(), leg)
	h.waitTimer()
	h.pressWait("9") // English menu waiting
	h.press("1")
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	want := Route{Queue: "general", Skill: "call-taking", Priority: 5, Language: "en"}
	if res.Route != want {
		t.Errorf("route %+v, want %+v", res.Route, want)
	}
	checkPlayed(t, leg, cat(zh("welcome", "main_menu"), en("main_menu", "connecting", "desk_general")))
	if want := []string{"welcome", "hours", "main", "english", "main_en"}; !slices.Equal(res.Path, want) {
		t.Errorf("path %v, want %v", res.Path, want)
	}
}

func TestRunBargeIn(t *testing.T) {
	leg := newFakeLeg("welcome")
	h := start(t, Default(), leg)
	h.waitPlay("welcome")
	h.press("1")
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Route.Queue != "general" {
		t.Errorf("route %+v", res.Route)
	}
	// The welcome was cut and the main menu skipped: the key was the choice.
	checkPlayed(t, leg, zh("welcome", "connecting", "desk_general"))
	want := []event.Event{
		{Type: event.MenuEntered, Node: "welcome", Language: "zh"},
		{Type: event.MenuEntered, Node: "hours", Language: "zh"},
		{Type: event.MenuEntered, Node: "main", Language: "zh"},
		{Type: event.MenuInput, Node: "main", Digits: "1", Via: event.ViaRFC4733},
		{Type: event.MenuRouted, Node: "main", Queue: "general", Skill: "call-taking", Priority: 5, Language: "zh"},
	}
	if got := h.Events(); !slices.Equal(got, want) {
		t.Errorf("events\n got %+v\nwant %+v", got, want)
	}
}

func TestRunTypeAhead(t *testing.T) {
	leg := newFakeLeg("welcome", "main_menu")
	// A caller who knows the menu presses 9 (English) then 1 (general) at once.
	leg.digits <- media.Digit{Key: '9', Via: event.ViaINFO}
	leg.digits <- media.Digit{Key: '1', Via: event.ViaInband}
	h := start(t, Default(), leg)
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	want := Route{Queue: "general", Skill: "call-taking", Priority: 5, Language: "en"}
	if res.Route != want || res.Digits != "91" {
		t.Errorf("route %+v digits %q, want %+v", res.Route, res.Digits, want)
	}
	checkPlayed(t, leg, cat(zh("welcome"), en("connecting", "desk_general")))
	var inputs []event.Event
	for _, e := range h.Events() {
		if e.Type == event.MenuInput {
			inputs = append(inputs, e)
		}
	}
	wantIn := []event.Event{
		{Type: event.MenuInput, Node: "main", Digits: "9", Via: event.ViaINFO},
		{Type: event.MenuInput, Node: "main_en", Digits: "1", Via: event.ViaInband},
	}
	if !slices.Equal(inputs, wantIn) {
		t.Errorf("inputs %+v, want %+v", inputs, wantIn)
	}
}

func TestRunInvalidThenRetry(t *testing.T) {
	leg := newFakeLeg()
	h := start(t, Default(), leg)
	h.waitTimer()
	h.pressWait("7") // invalid_choice, main_menu again, timer
	h.press("2")
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Route.Queue != "business" || res.Digits != "72" {
		t.Errorf("route %+v digits %q", res.Route, res.Digits)
	}
	checkPlayed(t, leg, zh("welcome", "main_menu", "invalid_choice", "main_menu", "connecting", "desk_business"))
	inputs := 0
	for _, e := range h.Events() {
		if e.Type == event.MenuInput {
			inputs++
		}
	}
	if inputs != 2 {
		t.Errorf("%d MenuInput events, want 2 (the invalid one counts)", inputs)
	}
}

func TestRunNoInputRetriesExhausted(t *testing.T) {
	leg := newFakeLeg()
	h := start(t, Default(), leg)
	h.timeout(5 * time.Second)
	h.timeout(5 * time.Second)
	h.timeout(5 * time.Second) // third failure: fail node
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionRoute || res.Route.Queue != "general" || res.Digits != "" {
		t.Errorf("result %+v", res)
	}
	checkPlayed(t, leg, zh("welcome", "main_menu", "no_input", "main_menu", "no_input", "main_menu", "connecting", "desk_general"))
	if want := []string{"welcome", "hours", "main", "fallback"}; !slices.Equal(res.Path, want) {
		t.Errorf("path %v, want %v", res.Path, want)
	}
}

func TestRunTimeoutIsFromTheClock(t *testing.T) {
	leg := newFakeLeg()
	h := start(t, Default(), leg)
	h.waitTimer()
	h.clk.Advance(5*time.Second - time.Millisecond)
	if h.clk.Pending() != 1 {
		t.Fatal("the 5s timeout fired early")
	}
	h.tc = h.clk.TimerCreated()
	h.clk.Advance(time.Millisecond)
	h.waitTimer() // the second attempt's timer: the first one fired
	if got := leg.Played(); !slices.Contains(got, "zh/no_input") {
		t.Errorf("no no_input prompt after the timeout: %v", got)
	}
}

func TestRunRetriesWithoutFailHangsUp(t *testing.T) {
	cfg := Default()
	cfg.Nodes["main"].Collect.Fail = ""
	cfg.Nodes["main"].Collect.Retries = 1
	leg := newFakeLeg()
	h := start(t, cfg, leg)
	h.waitTimer()
	h.press("8")
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionHangup {
		t.Errorf("action %v, want hangup", res.Action)
	}
	checkPlayed(t, leg, zh("welcome", "main_menu"))
}

func TestRunRepeat(t *testing.T) {
	leg := newFakeLeg()
	h := start(t, Default(), leg)
	h.waitTimer()
	h.pressWait("*")
	h.press("3")
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Route.Queue != "talent" {
		t.Errorf("route %+v", res.Route)
	}
	if want := []string{"welcome", "hours", "main", "main"}; !slices.Equal(res.Path, want) {
		t.Errorf("path %v, want %v", res.Path, want)
	}
	checkPlayed(t, leg, zh("welcome", "main_menu", "main_menu", "connecting", "desk_talent"))
}

// officeHours is the default menu with a real office calendar.
func officeHours() *Config {
	cfg := Default()
	cfg.Calendars["city"] = &Calendar{
		Timezone: "Asia/Shanghai",
		Weekly: map[string][]string{
			"mon": {"09:00-12:00", "13:30-17:30"}, "tue": {"09:00-17:30"}, "wed": {"09:00-17:30"},
			"thu": {"09:00-17:30"}, "fri": {"09:00-17:30"},
		},
		Holidays: []string{"2026-10-01"},
		Workdays: []string{"2026-09-27"},
	}
	return cfg
}

func TestRunHours(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	tests := []struct {
		name string
		now  time.Time
		open bool
	}{
		{"monday morning", at("2026-09-28 10:00"), true},
		{"monday lunch", at("2026-09-28 12:30"), false},
		{"monday night", at("2026-09-28 20:00"), false},
		{"saturday", at("2026-09-26 10:00"), false},
		{"holiday thursday", at("2026-10-01 10:00"), false},
		{"sunday made a working day", at("2026-09-27 10:00"), true},
		{"working sunday lunch uses monday hours", at("2026-09-27 12:30"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leg := newFakeLeg()
			h := startAt(t, officeHours(), leg, tt.now)
			if tt.open {
				h.waitTimer()
				h.press("1")
			}
			res, err := h.wait()
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(res.Path, "main"); got != tt.open {
				t.Errorf("open = %v, want %v (path %v)", got, tt.open, res.Path)
			}
			if !tt.open && res.Action != ActionHangup {
				t.Errorf("closed call ended with %v, want hangup after the message", res.Action)
			}
		})
	}
}

func TestRunMessage(t *testing.T) {
	leg := newFakeLeg()
	h := startAt(t, officeHours(), leg, time.Date(2026, 9, 26, 2, 0, 0, 0, time.UTC)) // Saturday
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionHangup {
		t.Errorf("action %v, want hangup", res.Action)
	}
	if leg.recMax != 120*time.Second {
		t.Errorf("Record max %v, want 120s", leg.recMax)
	}
	checkPlayed(t, leg, cat(zh("welcome", "closed", "message_prompt", "beep", "message_saved", "goodbye")))
	var msgs []event.Event
	for _, e := range h.Events() {
		if e.Type == event.MenuMessage {
			msgs = append(msgs, e)
		}
	}
	want := []event.Event{{Type: event.MenuMessage, Node: "message", File: "messages/1.wav", Duration: 7 * time.Second}}
	if !slices.Equal(msgs, want) {
		t.Errorf("message events %+v, want %+v", msgs, want)
	}
	if want := []string{"welcome", "hours", "closed", "message", "bye"}; !slices.Equal(res.Path, want) {
		t.Errorf("path %v, want %v", res.Path, want)
	}
}

func TestRunMessageFailed(t *testing.T) {
	leg := newFakeLeg()
	leg.recErr = errors.New("disk full")
	h := startAt(t, officeHours(), leg, time.Date(2026, 9, 26, 2, 0, 0, 0, time.UTC))
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	checkPlayed(t, leg, cat(zh("welcome", "closed", "message_prompt", "beep", "goodbye")))
	for _, e := range h.Events() {
		if e.Type == event.MenuMessage {
			t.Errorf("MenuMessage emitted for a failed recording: %+v", e)
		}
	}
	if res.Action != ActionHangup {
		t.Errorf("action %v", res.Action)
	}
}

func TestRunHangup(t *testing.T) {
	hungUp := errors.New("caller hung up")
	tests := []struct {
		name  string
		block []string
		reach func(h *harness)
	}{
		{"mid-prompt", []string{"welcome"}, func(h *harness) { h.waitPlay("welcome") }},
		{"waiting for a key", nil, func(h *harness) { h.waitTimer() }},
		{"mid multi-digit entry", nil, func(h *harness) { h.waitTimer(); h.pressWait("5"); h.pressWait("1") }},
		{"during the route announcement", []string{"desk_general"}, func(h *harness) {
			h.waitTimer()
			h.press("1")
			h.waitPlay("desk_general")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leg := newFakeLeg(tt.block...)
			h := start(t, Default(), leg)
			tt.reach(h)
			h.cancel(hungUp)
			res, err := h.wait()
			if !errors.Is(err, hungUp) {
				t.Fatalf("err %v, want the cancel cause", err)
			}
			if res.Action != 0 {
				t.Errorf("action %v after a hang-up, want none", res.Action)
			}
			for _, e := range h.Events() {
				if e.Type == event.MenuRouted {
					t.Errorf("routed after hang-up: %+v", e)
				}
			}
		})
	}
}

func TestRunHangupDuringRecord(t *testing.T) {
	hungUp := errors.New("caller hung up")
	leg := newFakeLeg()
	leg.recBlock = true
	h := startAt(t, officeHours(), leg, time.Date(2026, 9, 26, 2, 0, 0, 0, time.UTC))
	select {
	case <-leg.recorded:
	case <-time.After(safety):
		t.Fatal("Record never called")
	}
	h.cancel(hungUp)
	_, err := h.wait()
	if !errors.Is(err, hungUp) {
		t.Fatalf("err %v, want the cancel cause", err)
	}
	for _, e := range h.Events() {
		if e.Type == event.MenuMessage {
			t.Errorf("MenuMessage after a hang-up: %+v", e)
		}
	}
}

func TestRunSayNumber(t *testing.T) {
	n := int64(105)
	cfg := &Config{
		Languages: []string{"zh"},
		Start:     "say",
		Nodes: map[string]*Node{
			"say": {Say: &Say{Number: &n}, Hangup: true},
		},
	}
	leg := newFakeLeg()
	h := start(t, cfg, leg)
	res, err := h.wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionHangup {
		t.Errorf("action %v", res.Action)
	}
	checkPlayed(t, leg, zh("num_1", "num_100", "num_0", "num_5"))
}

func TestRunBrokenConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
		want error
	}{
		{"nil", nil, ErrNoStart},
		{"no start", &Config{}, ErrNoStart},
		{"unknown node", &Config{Start: "a", Nodes: map[string]*Node{"a": {Goto: "b"}}}, ErrUnknownNode},
		{"loop", &Config{Start: "a", Nodes: map[string]*Node{"a": {Goto: "b"}, "b": {Next: "a"}}}, ErrLoop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), newFakeLeg(), tt.cfg, Options{})
			if !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{ActionHangup: "hangup", ActionRoute: "route", 0: "Action(0)"} {
		if got := a.String(); got != want || !strings.Contains(got, want) {
			t.Errorf("%d.String() = %q, want %q", a, got, want)
		}
	}
}
