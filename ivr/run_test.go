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

// order is a work order the fake leg knows, as a caller keys it (WO20261127-0001).
const order = "202611270001"

// enterOrder presses 5 in the main menu (which must be waiting) and keys number and
// '#' at the lookup's prompt.
func (h *harness) enterOrder(number string) {
	h.t.Helper()
	h.pressWait("5") // followup_enter, then the first-key timer
	h.keyOrder(number)
}

// keyOrder keys number and '#' at a lookup that is waiting for the first key.
func (h *harness) keyOrder(number string) {
	h.t.Helper()
	for i := 0; i < len(number); i++ {
		h.pressWait(number[i : i+1])
	}
	h.press("#")
}

// waitLookup waits until the leg was asked for a work order's status.
func (h *harness) waitLookup() {
	h.t.Helper()
	select {
	case <-h.leg.looking:
	case <-time.After(safety):
		h.t.Fatalf("no work order lookup; played %v", h.leg.Played())
	}
}

func TestRunFollowUp(t *testing.T) {
	desk := Route{Queue: "followup", Skill: "follow-up", Priority: 5, Language: "zh"}
	t.Run("found, then 0 for the follow-up desk", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders[order] = []string{"ticket_dispatched"}
		h := start(t, Default(), leg)
		h.waitTimer()
		h.enterOrder(order)
		h.waitLookup()
		h.waitTimer() // the menu after the status waits for a key
		h.press("0")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Action != ActionRoute || res.Route != desk {
			t.Errorf("result %v %+v, want route %+v", res.Action, res.Route, desk)
		}
		if res.Vars["ticket"] != order || res.Digits != "5"+order+"#0" {
			t.Errorf("vars %v digits %q", res.Vars, res.Digits)
		}
		if got := leg.Lookups(); !slices.Equal(got, []string{order}) {
			t.Errorf("lookups %q, want %q", got, order)
		}
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_dispatched", "main_menu", "connecting", "desk_followup"))
		want := []string{"welcome", "hours", "main", "followup", "followup_after", "followup_desk"}
		if !slices.Equal(res.Path, want) {
			t.Errorf("path %v, want %v", res.Path, want)
		}
		wantIn := []event.Event{
			{Type: event.MenuInput, Node: "main", Digits: "5", Via: event.ViaRFC4733},
			{Type: event.MenuInput, Node: "followup", Digits: order, Via: event.ViaRFC4733},
			{Type: event.MenuInput, Node: "followup_after", Digits: "0", Via: event.ViaRFC4733},
		}
		if got := h.inputs(); !eventsEqual(got, wantIn) {
			t.Errorf("inputs\n got %+v\nwant %+v", got, wantIn)
		}
	})
	t.Run("found, then silence says goodbye", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders[order] = []string{"ticket_closed"}
		h := start(t, Default(), leg)
		h.waitTimer()
		h.enterOrder(order)
		h.timeout(5 * time.Second)
		h.timeout(5 * time.Second)
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Action != ActionHangup {
			t.Errorf("action %v, want hangup", res.Action)
		}
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_closed", "main_menu", "no_input", "main_menu", "goodbye"))
	})
	t.Run("found, then 5 for another", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders[order] = []string{"ticket_open"}
		leg.orders["202611270002"] = []string{"ticket_replied"}
		h := start(t, Default(), leg)
		h.waitTimer()
		h.enterOrder(order)
		h.waitLookup()
		h.waitTimer()
		h.enterOrder("202611270002")
		h.waitLookup()
		h.waitTimer()
		h.press("0")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Route != desk || res.Vars["ticket"] != "202611270002" {
			t.Errorf("route %+v vars %v", res.Route, res.Vars)
		}
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_open", "main_menu",
			"followup_enter", "ticket_replied", "main_menu", "connecting", "desk_followup"))
	})
	t.Run("not found, then found", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders[order] = []string{"ticket_dispatched"}
		h := start(t, Default(), leg)
		h.waitTimer()
		h.enterOrder("2026112700")
		h.waitLookup()
		h.waitTimer() // asked again
		h.keyOrder(order)
		h.waitLookup()
		h.waitTimer()
		h.press("0")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Route != desk || res.Vars["ticket"] != order {
			t.Errorf("route %+v vars %v", res.Route, res.Vars)
		}
		if got, want := leg.Lookups(), []string{"2026112700", order}; !slices.Equal(got, want) {
			t.Errorf("lookups %q, want %q", got, want)
		}
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_not_found", "followup_enter",
			"ticket_dispatched", "main_menu", "connecting", "desk_followup"))
		var nodes []string
		for _, e := range h.inputs() {
			nodes = append(nodes, e.Node+"="+e.Digits)
		}
		if want := []string{"main=5", "followup=2026112700", "followup=" + order, "followup_after=0"}; !slices.Equal(nodes, want) {
			t.Errorf("inputs %v, want %v", nodes, want)
		}
	})
	t.Run("not found three times: the follow-up desk", func(t *testing.T) {
		leg := newFakeLeg()
		h := start(t, Default(), leg)
		h.waitTimer()
		h.enterOrder("1")
		h.waitTimer()
		h.keyOrder("2")
		h.waitTimer()
		h.keyOrder("3")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Action != ActionRoute || res.Route != desk || res.Vars["ticket"] != "3" {
			t.Errorf("result %v %+v vars %v", res.Action, res.Route, res.Vars)
		}
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_not_found", "followup_enter",
			"ticket_not_found", "followup_enter", "ticket_not_found", "connecting", "desk_followup"))
		if want := []string{"welcome", "hours", "main", "followup", "followup_desk"}; !slices.Equal(res.Path, want) {
			t.Errorf("path %v, want %v", res.Path, want)
		}
	})
	t.Run("no input: timeouts from the clock, then the follow-up desk", func(t *testing.T) {
		leg := newFakeLeg()
		h := start(t, Default(), leg)
		h.waitTimer()
		h.pressWait("5")
		h.clk.Advance(10*time.Second - time.Millisecond)
		if n := h.clk.Pending(); n != 1 {
			t.Fatalf("the lookup's 10s first-key timeout fired early (%d timers pending)", n)
		}
		h.clk.Advance(time.Millisecond)
		h.timeout(10 * time.Second)
		h.timeout(10 * time.Second)
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Route != desk || res.Digits != "5" || len(leg.Lookups()) != 0 {
			t.Errorf("route %+v digits %q lookups %q", res.Route, res.Digits, leg.Lookups())
		}
		if _, ok := res.Vars["ticket"]; ok {
			t.Errorf("ticket set without input: %v", res.Vars)
		}
		// The third silence goes to the desk without another "please try again".
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "no_input", "followup_enter", "no_input",
			"followup_enter", "connecting", "desk_followup"))
		if got := len(h.inputs()); got != 1 {
			t.Errorf("%d MenuInput events, want 1 (the 5)", got)
		}
	})
	t.Run("inter-digit timeout ends the number", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders["12"] = []string{"ticket_open"}
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
		h.waitLookup()
		if got := leg.Lookups(); !slices.Equal(got, []string{"12"}) {
			t.Errorf("lookups %q, want 12", got)
		}
		h.waitPlay("ticket_open")
	})
	t.Run("max digits ends the number", func(t *testing.T) {
		leg := newFakeLeg()
		h := start(t, Default(), leg)
		h.waitTimer()
		h.pressWait("5")
		for _, k := range "123456789012345" {
			h.pressWait(string(k))
		}
		h.press("6") // the 16th digit ends the entry without '#'
		h.waitLookup()
		if got := leg.Lookups(); !slices.Equal(got, []string{"1234567890123456"}) {
			t.Errorf("lookups %q", got)
		}
	})
	t.Run("a leg without StatusLeg finds nothing", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders[order] = []string{"ticket_dispatched"} // never asked
		h := startLeg(t, Default(), leg, plainLeg{leg}, t0)
		h.waitTimer()
		h.enterOrder(order)
		h.waitTimer()
		h.keyOrder(order)
		h.waitTimer()
		h.keyOrder(order)
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Route != desk || res.Vars["ticket"] != order || len(leg.Lookups()) != 0 {
			t.Errorf("route %+v vars %v lookups %q", res.Route, res.Vars, leg.Lookups())
		}
		// The node's invalid prompt stands in for the leg's.
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_not_found", "followup_enter",
			"ticket_not_found", "followup_enter", "ticket_not_found", "connecting", "desk_followup"))
	})
	t.Run("type-ahead: the whole entry at once", func(t *testing.T) {
		leg := newFakeLeg("welcome", "main_menu")
		leg.orders[order] = []string{"ticket_replied"}
		for _, k := range "5" + order + "#0" {
			leg.digits <- media.Digit{Key: byte(k), Via: event.ViaINFO}
		}
		h := start(t, Default(), leg)
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Route != desk {
			t.Errorf("route %+v", res.Route)
		}
		// The status is never skipped by keys typed before it; the menu after it is.
		checkPlayed(t, leg, zh("welcome", "ticket_replied", "connecting", "desk_followup"))
	})
	t.Run("English", func(t *testing.T) {
		leg := newFakeLeg()
		leg.orders[order] = []string{"ticket_open"}
		h := start(t, Default(), leg)
		h.waitTimer()
		h.pressWait("9")
		h.enterOrder(order)
		h.waitLookup()
		h.waitTimer()
		h.press("0")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		want := desk
		want.Language = "en"
		if res.Route != want {
			t.Errorf("route %+v, want %+v", res.Route, want)
		}
		checkPlayed(t, leg, cat(zh("welcome", "main_menu"), en("main_menu", "followup_enter", "ticket_open", "main_menu", "connecting", "desk_followup")))
	})
	t.Run("not_found empty goes to next", func(t *testing.T) {
		cfg := Default()
		cfg.Nodes["followup"].Lookup.NotFound = ""
		cfg.Nodes["followup"].Lookup.Retries = 0
		leg := newFakeLeg()
		leg.notFound = nil // the leg names no prompts: the node's invalid prompt plays
		h := start(t, cfg, leg)
		h.waitTimer()
		h.enterOrder("7")
		h.waitTimer()
		h.press("0")
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"welcome", "hours", "main", "followup", "followup_after", "followup_desk"}; !slices.Equal(res.Path, want) {
			t.Errorf("path %v, want %v", res.Path, want)
		}
		checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter", "ticket_not_found", "main_menu", "connecting", "desk_followup"))
	})
	t.Run("no fail node: silence hangs up", func(t *testing.T) {
		cfg := Default()
		cfg.Nodes["followup"].Lookup.Fail = ""
		cfg.Nodes["followup"].Lookup.Retries = 1
		leg := newFakeLeg()
		h := start(t, cfg, leg)
		h.waitTimer()
		h.pressWait("5")
		h.clk.Advance(10 * time.Second)
		res, err := h.wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.Action != ActionHangup {
			t.Errorf("action %v, want hangup", res.Action)
		}
	})
}

func TestRunHangupDuringLookup(t *testing.T) {
	hungUp := errors.New("caller hung up")
	leg := newFakeLeg()
	leg.statusBlock = true
	h := start(t, Default(), leg)
	h.waitTimer()
	h.enterOrder(order)
	h.waitLookup()
	h.cancel(hungUp)
	res, err := h.wait()
	if !errors.Is(err, hungUp) {
		t.Fatalf("err %v, want the cancel cause", err)
	}
	if res.Action != 0 || res.Vars["ticket"] != order {
		t.Errorf("action %v vars %v after a hang-up during the lookup", res.Action, res.Vars)
	}
	checkPlayed(t, leg, zh("welcome", "main_menu", "followup_enter"))
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
	if got := h.Events(); !eventsEqual(got, want) {
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
	if !eventsEqual(inputs, wantIn) {
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
	if !eventsEqual(msgs, want) {
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
