package ivr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// promptNames are the prompts the generator produces, per language.
func promptNames() map[string][]string {
	common := []string{"welcome", "main_menu", "invalid_choice", "no_input", "goodbye", "connecting",
		"desk_general", "desk_business", "desk_talent", "desk_household", "desk_followup", "desk_foreign",
		"followup_enter", "message_prompt", "message_saved", "closed",
		"ticket_not_found", "ticket_open", "ticket_dispatched", "ticket_replied", "ticket_closed"}
	var zhNums, enNums []string
	for i := 0; i <= 10; i++ {
		zhNums = append(zhNums, fmt.Sprintf("num_%d", i))
	}
	zhNums = append(zhNums, "num_100", "num_1000", "num_10000")
	for i := 0; i <= 19; i++ {
		enNums = append(enNums, fmt.Sprintf("num_%d", i))
	}
	for i := 20; i <= 90; i += 10 {
		enNums = append(enNums, fmt.Sprintf("num_%d", i))
	}
	enNums = append(enNums, "num_100", "num_1000")
	return map[string][]string{
		"zh":     slices.Concat(common, zhNums),
		"en":     slices.Concat(common, enNums),
		"common": {"beep", "music"},
	}
}

// testCatalog is an FSCatalog over the generator's names, minus the "lang/name" in drop.
func testCatalog(t testing.TB, drop ...string) *FSCatalog {
	t.Helper()
	fsys := fstest.MapFS{}
	for dir, names := range promptNames() {
		for _, n := range names {
			if !slices.Contains(drop, dir+"/"+n) {
				fsys[dir+"/"+n+".wav"] = &fstest.MapFile{}
			}
		}
	}
	c, err := NewCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func knownQueues(name string) bool { return slices.Contains(DefaultQueues, name) }

const baseYAML = `
languages: [zh, en]
start: welcome
calendars:
  city:
    timezone: Asia/Shanghai
    weekly: {mon: ["09:00-17:00"], sat: ["00:00-24:00"]}
    holidays: ["2026-10-01"]
    workdays: ["2026-09-27"]
nodes:
  welcome: {play: [welcome], next: hours}
  hours: {hours: {calendar: city, open: main, closed: closed}}
  main:
    play: [main_menu]
    collect: {max: 1, timeout: 5s, retries: 3, invalid: invalid_choice, no_input: no_input, fail: agent}
    options:
      "1": {route: {queue: general, skill: call-taking, priority: 5, play: [connecting]}}
      "5": {goto: followup}
      "6": {goto: status}
      "9": {goto: english}
      "*": {repeat: true}
  agent: {route: {queue: general}}
  status:
    lookup: {prompt: followup_enter, max_digits: 16, terminator: "#", timeout: 10s, inter_digit: 5s, retries: 2,
             no_input: no_input, invalid: ticket_not_found, var: order, not_found: sorry, fail: agent}
    next: status_read
  status_read: {say: {var: order}, next: status}
  sorry: {play: [ticket_not_found], next: agent}
  english: {language: en, next: main}
  followup: {play: [followup_enter], collect: {max: 12, terminator: "#", inter_digit: 5s, var: ticket}, next: readback}
  readback: {say: {var: ticket}, next: count}
  count: {say: {number: 342}, next: bye}
  closed: {play: [closed], next: message}
  message: {message: {prompt: message_prompt, beep: true, max: 120s, saved: message_saved}, next: bye}
  bye: {play: [goodbye], hangup: true}
`

func baseConfig(t testing.TB) *Config {
	t.Helper()
	c, err := Parse([]byte(baseYAML))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidateAccepts(t *testing.T) {
	if err := baseConfig(t).Validate(testCatalog(t), knownQueues); err != nil {
		t.Fatalf("base config rejected: %v", err)
	}
	// Without a catalogue or a queue list those checks are skipped.
	if err := baseConfig(t).Validate(nil, nil); err != nil {
		t.Fatalf("base config rejected without catalogue: %v", err)
	}
}

// TestValidateLookup checks what the base config's lookup node shows: it takes input, so
// a cycle through it (status -> status_read -> status) is no loop without input; a node
// reached only through not_found is reachable; a say may read the lookup's var; and the
// optional keys may be left out.
func TestValidateLookup(t *testing.T) {
	c := baseConfig(t)
	if err := c.Validate(testCatalog(t), knownQueues); err != nil {
		t.Fatalf("base config with a lookup rejected: %v", err)
	}
	c.Nodes["status"].Lookup = &Lookup{Prompt: "followup_enter"}
	c.Nodes["main"].Options["7"] = &Option{Goto: "sorry"}
	if err := c.Validate(testCatalog(t), knownQueues); err == nil || !strings.Contains(err.Error(), "nodes.status_read.say.var") {
		t.Fatalf("a lookup without var: got %v, want the say's unknown variable", err)
	}
	c.Nodes["status"].Lookup.Var = "order"
	if err := c.Validate(testCatalog(t), knownQueues); err != nil {
		t.Fatalf("a minimal lookup rejected: %v", err)
	}
	// A lookup on its own is not a loop: it waits for the caller.
	c.Nodes["status"].Lookup.NotFound = "status"
	if err := c.Validate(testCatalog(t), knownQueues); err != nil {
		t.Fatalf("a lookup that asks again when not found rejected: %v", err)
	}
	if got := c.Nodes["status"].Lookup.collect(); got.Max != DefaultLookupDigits || got.Terminator != "#" || got.timeout() != DefaultTimeout {
		t.Errorf("lookup defaults: %+v", got)
	}
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(testCatalog(t), knownQueues); err != nil {
		t.Fatalf("Default() rejected: %v", err)
	}
	// Default returns a fresh copy each time.
	a, b := Default(), Default()
	a.Nodes["main"].Play[0] = "changed"
	if b.Nodes["main"].Play[0] != "main_menu" {
		t.Error("Default() copies share state")
	}
	if string(DefaultYAML()) != string(defaultYAML) {
		t.Error("DefaultYAML differs from the embedded file")
	}
}

func TestDefaultNeedsItsQueues(t *testing.T) {
	err := Default().Validate(nil, func(q string) bool { return q != "foreign" })
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err %v, want a ValidationError", err)
	}
	var paths []string
	for _, fe := range ve.Errors {
		paths = append(paths, fe.Path)
	}
	want := []string{"nodes.fallback_en.route.queue", "nodes.main_en.options.0.route.queue"}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
}

func TestEmbeddedPrompts(t *testing.T) {
	cat, err := EmbeddedCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if err := Default().Validate(cat, knownQueues); err != nil {
		t.Errorf("the default menu does not find its prompts in the embedded set: %v", err)
	}
	for dir, names := range promptNames() {
		for _, n := range names {
			lang := dir
			if dir == CommonDir {
				lang = "zh"
			}
			if !cat.Has(lang, n) {
				t.Errorf("embedded prompt %s/%s missing", dir, n)
			}
		}
	}
}

func TestValidateRejects(t *testing.T) {
	n := func(c *Config, name string) *Node { return c.Nodes[name] }
	tests := []struct {
		name   string
		mutate func(c *Config)
		drop   []string // prompts missing from the catalogue
		path   string
		msg    string
	}{
		{"missing prompt in one language", nil, []string{"en/closed"},
			"nodes.closed.play.0", `prompt "closed" missing in language "en"`},
		{"missing invalid prompt", func(c *Config) { n(c, "main").Collect.Invalid = "nope" }, nil,
			"nodes.main.collect.invalid", `prompt "nope" missing in language "zh"`},
		{"missing route prompt", nil, []string{"zh/connecting"},
			"nodes.main.options.1.route.play.0", `prompt "connecting" missing in language "zh"`},
		{"missing message prompt", nil, []string{"en/message_saved"},
			"nodes.message.message.saved", `prompt "message_saved" missing in language "en"`},
		{"missing beep", nil, []string{"common/beep"},
			"nodes.message.message.beep", `prompt "beep" missing in language "zh"`},
		{"missing number prompt", nil, []string{"en/num_40"},
			"nodes.count.say", `prompt "num_40" missing in language "en"`},
		{"missing digit prompt", nil, []string{"zh/num_7"},
			"nodes.readback.say", `prompt "num_7" missing in language "zh"`},
		{"empty prompt", func(c *Config) { n(c, "closed").Play = []string{""} }, nil,
			"nodes.closed.play.0", "empty prompt name"},
		{"unknown goto", func(c *Config) { n(c, "main").Options["9"].Goto = "englsh" }, nil,
			"nodes.main.options.9.goto", `unknown node "englsh"`},
		{"unknown next", func(c *Config) { n(c, "welcome").Next = "hour" }, nil,
			"nodes.welcome.next", `unknown node "hour"`},
		{"unknown open", func(c *Config) { n(c, "hours").Hours.Open = "mian" }, nil,
			"nodes.hours.hours.open", `unknown node "mian"`},
		{"unknown closed", func(c *Config) { n(c, "hours").Hours.Closed = "" }, nil,
			"nodes.hours.hours.closed", "missing: name a node"},
		{"unknown fail", func(c *Config) { n(c, "main").Collect.Fail = "agnt" }, nil,
			"nodes.main.collect.fail", `unknown node "agnt"`},
		{"unknown node goto", func(c *Config) {
			c.Nodes["jump"] = &Node{Goto: "nowhere"}
			n(c, "main").Options["2"] = &Option{Goto: "jump"}
		}, nil,
			"nodes.jump.goto", `unknown node "nowhere"`},
		{"unreachable", func(c *Config) { c.Nodes["orphan"] = &Node{Play: []string{"goodbye"}, Hangup: true} }, nil,
			"nodes.orphan", `unreachable from start "welcome"`},
		{"loop without input", func(c *Config) {
			c.Nodes["a"] = &Node{Play: []string{"welcome"}, Next: "b"}
			c.Nodes["b"] = &Node{Language: "en", Next: "a"}
			n(c, "main").Options["2"] = &Option{Goto: "a"}
		}, nil, "nodes.a", "loop without input: a, b lead to each other"},
		{"loop through hours", func(c *Config) { n(c, "closed").Next = "welcome" }, nil,
			"nodes.closed", "loop without input: closed, hours, welcome"},
		{"self loop", func(c *Config) {
			c.Nodes["spin"] = &Node{Goto: "spin"}
			n(c, "main").Options["2"] = &Option{Goto: "spin"}
		}, nil,
			"nodes.spin", "loop without input: spin leads to itself"},
		{"unknown queue", func(c *Config) { n(c, "main").Options["1"].Route.Queue = "generl" }, nil,
			"nodes.main.options.1.route.queue", `unknown queue "generl"`},
		{"route without queue", func(c *Config) { n(c, "agent").Route.Queue = "" }, nil,
			"nodes.agent.route.queue", "missing: name a queue"},
		{"negative priority", func(c *Config) { n(c, "agent").Route.Priority = -1 }, nil,
			"nodes.agent.route.priority", "must be 0 or more"},
		{"route language", func(c *Config) { n(c, "agent").Route.Language = "fr" }, nil,
			"nodes.agent.route.language", `unknown language "fr"`},
		{"unknown calendar", func(c *Config) { n(c, "hours").Hours.Calendar = "town" }, nil,
			"nodes.hours.hours.calendar", `unknown calendar "town"`},
		{"bad span", func(c *Config) { c.Calendars["city"].Weekly["mon"] = []string{"09:00-17:00", "25:00-26:00"} }, nil,
			"calendars.city.weekly.mon.1", `bad time span "25:00-26:00"`},
		{"backwards span", func(c *Config) { c.Calendars["city"].Weekly["sat"] = []string{"17:00-09:00"} }, nil,
			"calendars.city.weekly.sat.0", `bad time span "17:00-09:00"`},
		{"unknown weekday", func(c *Config) { c.Calendars["city"].Weekly["monday"] = nil }, nil,
			"calendars.city.weekly.monday", `unknown weekday "monday"`},
		{"bad holiday", func(c *Config) { c.Calendars["city"].Holidays = []string{"2026-13-01"} }, nil,
			"calendars.city.holidays.0", `bad date "2026-13-01"`},
		{"bad workday", func(c *Config) { c.Calendars["city"].Workdays = []string{"27/09/2026"} }, nil,
			"calendars.city.workdays.0", `bad date "27/09/2026"`},
		{"bad workday hours", func(c *Config) { c.Calendars["city"].WorkdayHours = "monday" }, nil,
			"calendars.city.workday_hours", `unknown weekday "monday"`},
		{"bad timezone", func(c *Config) { c.Calendars["city"].Timezone = "Asia/Shanghia" }, nil,
			"calendars.city.timezone", `unknown time zone "Asia/Shanghia"`},
		{"empty calendar", func(c *Config) { c.Calendars["empty"] = nil }, nil,
			"calendars.empty", "empty calendar"},
		{"bad option key", func(c *Config) { n(c, "main").Options["a"] = &Option{Repeat: true} }, nil,
			"nodes.main.options.a", `bad option key "a": want one of 0-9 * #`},
		{"multi-digit key with max 1", func(c *Config) { n(c, "main").Options["12"] = &Option{Repeat: true} }, nil,
			"nodes.main.options.12", `bad option key "12"`},
		{"key longer than max", func(c *Config) {
			n(c, "followup").Collect.Max = 2
			n(c, "followup").Options = map[string]*Option{"123": {Repeat: true}}
		}, nil, "nodes.followup.options.123", `bad option key "123": want one to 2 of 0-9 * #`},
		{"key with terminator", func(c *Config) { n(c, "followup").Options = map[string]*Option{"1#": {Repeat: true}} }, nil,
			"nodes.followup.options.1#", `contains the terminator "#"`},
		{"option with two targets", func(c *Config) { n(c, "main").Options["9"].Repeat = true }, nil,
			"nodes.main.options.9", "option needs exactly one of goto, route, repeat"},
		{"empty option", func(c *Config) { n(c, "main").Options["2"] = nil }, nil,
			"nodes.main.options.2", "empty option"},
		{"no action", func(c *Config) { c.Nodes["nothing"] = &Node{}; n(c, "main").Options["2"] = &Option{Goto: "nothing"} }, nil,
			"nodes.nothing", "no action"},
		{"null node", func(c *Config) { c.Nodes["null"] = nil }, nil,
			"nodes.null", "empty node"},
		{"two actions", func(c *Config) { n(c, "agent").Play = []string{"connecting"} }, nil,
			"nodes.agent", "more than one action (play, route)"},
		{"options without collect", func(c *Config) { n(c, "closed").Options = map[string]*Option{"1": {Goto: "main"}} }, nil,
			"nodes.closed.options", "options without collect"},
		{"collect without play", func(c *Config) { n(c, "english").Collect = &Collect{} }, nil,
			"nodes.english.collect", "collect needs play"},
		{"collect going nowhere", func(c *Config) { n(c, "followup").Next = "" }, nil,
			"nodes.followup.collect", "collect needs options or next"},
		{"collect and hangup", func(c *Config) { n(c, "main").Hangup = true }, nil,
			"nodes.main.hangup", "hangup does not follow collect"},
		{"negative retries", func(c *Config) { n(c, "main").Collect.Retries = -1 }, nil,
			"nodes.main.collect.retries", "must be 0 or more, got -1"},
		{"negative max", func(c *Config) { n(c, "main").Collect.Max = -2 }, nil,
			"nodes.main.collect.max", "must be at least 1"},
		{"negative timeout", func(c *Config) { n(c, "main").Collect.Timeout = -1 }, nil,
			"nodes.main.collect.timeout", "negative duration"},
		{"negative inter-digit", func(c *Config) { n(c, "followup").Collect.InterDigit = -1 }, nil,
			"nodes.followup.collect.inter_digit", "negative duration"},
		{"bad terminator", func(c *Config) { n(c, "followup").Collect.Terminator = "x" }, nil,
			"nodes.followup.collect.terminator", `bad terminator "x"`},
		{"bad var name", func(c *Config) { n(c, "followup").Collect.Var = "a b" }, nil,
			"nodes.followup.collect.var", `bad variable name "a b"`},
		{"say unknown var", func(c *Config) { n(c, "readback").Say.Var = "tickt" }, nil,
			"nodes.readback.say.var", `unknown variable "tickt": no collect or lookup stores it`},
		{"say both", func(c *Config) { v := int64(1); n(c, "readback").Say.Number = &v }, nil,
			"nodes.readback.say", "exactly one of var and number"},
		{"say negative", func(c *Config) { v := int64(-1); n(c, "count").Say.Number = &v }, nil,
			"nodes.count.say.number", "must be 0 or more"},
		{"play going nowhere", func(c *Config) { n(c, "bye").Hangup = false }, nil,
			"nodes.bye", "play needs a continuation"},
		{"hangup and next", func(c *Config) { n(c, "bye").Next = "welcome" }, nil,
			"nodes.bye.hangup", "both hangup and next"},
		{"language without next", func(c *Config) { n(c, "english").Next = "" }, nil,
			"nodes.english.next", "missing: name the node after language"},
		{"message with hangup", func(c *Config) { n(c, "message").Hangup = true }, nil,
			"nodes.message.hangup", "hangup only follows play or say"},
		{"negative message max", func(c *Config) { n(c, "message").Message.Max = -1 }, nil,
			"nodes.message.message.max", "negative duration"},
		{"route with next", func(c *Config) { n(c, "agent").Next = "bye" }, nil,
			"nodes.agent.next", "next does not follow route"},
		{"unknown language", func(c *Config) { n(c, "english").Language = "fr" }, nil,
			"nodes.english.language", `unknown language "fr": not in languages`},
		{"bad node name", func(c *Config) {
			c.Nodes["a.b"] = &Node{Hangup: true}
			n(c, "main").Options["2"] = &Option{Goto: "a.b"}
		}, nil,
			"nodes.a.b", `bad node name "a.b"`},
		{"lookup without next", func(c *Config) { n(c, "status").Next = "" }, nil,
			"nodes.status.next", "missing: name the node after lookup"},
		{"lookup with hangup", func(c *Config) { n(c, "status").Hangup = true }, nil,
			"nodes.status.hangup", "hangup only follows play or say"},
		{"lookup and play", func(c *Config) { n(c, "status").Play = []string{"welcome"} }, nil,
			"nodes.status", "more than one action (play, lookup)"},
		{"lookup with collect", func(c *Config) { n(c, "status").Collect = &Collect{} }, nil,
			"nodes.status.collect", "collect needs play"},
		{"lookup with options", func(c *Config) { n(c, "status").Options = map[string]*Option{"1": {Goto: "main"}} }, nil,
			"nodes.status.options", "options without collect"},
		{"lookup without prompt", func(c *Config) { n(c, "status").Lookup.Prompt = "" }, nil,
			"nodes.status.lookup.prompt", "empty prompt name"},
		{"lookup prompt missing", nil, []string{"en/followup_enter"},
			"nodes.status.lookup.prompt", `prompt "followup_enter" missing in language "en"`},
		{"lookup invalid prompt missing", nil, []string{"zh/ticket_not_found"},
			"nodes.status.lookup.invalid", `prompt "ticket_not_found" missing in language "zh"`},
		{"lookup no_input prompt missing", func(c *Config) { n(c, "status").Lookup.NoInput = "nope" }, nil,
			"nodes.status.lookup.no_input", `prompt "nope" missing in language "zh"`},
		{"lookup negative max_digits", func(c *Config) { n(c, "status").Lookup.MaxDigits = -1 }, nil,
			"nodes.status.lookup.max_digits", "must be at least 1 (0 means 16), got -1"},
		{"lookup negative timeout", func(c *Config) { n(c, "status").Lookup.Timeout = -1 }, nil,
			"nodes.status.lookup.timeout", "negative duration"},
		{"lookup negative inter-digit", func(c *Config) { n(c, "status").Lookup.InterDigit = -1 }, nil,
			"nodes.status.lookup.inter_digit", "negative duration"},
		{"lookup negative retries", func(c *Config) { n(c, "status").Lookup.Retries = -1 }, nil,
			"nodes.status.lookup.retries", "must be 0 or more, got -1"},
		{"lookup bad terminator", func(c *Config) { n(c, "status").Lookup.Terminator = "##" }, nil,
			"nodes.status.lookup.terminator", `bad terminator "##"`},
		{"lookup unknown not_found", func(c *Config) { n(c, "status").Lookup.NotFound = "sory" }, nil,
			"nodes.status.lookup.not_found", `unknown node "sory"`},
		{"lookup unknown fail", func(c *Config) { n(c, "status").Lookup.Fail = "agnt" }, nil,
			"nodes.status.lookup.fail", `unknown node "agnt"`},
		{"lookup bad var", func(c *Config) { n(c, "status").Lookup.Var = "a b" }, nil,
			"nodes.status.lookup.var", `bad variable name "a b"`},
		{"say var of a lookup renamed", func(c *Config) { n(c, "status").Lookup.Var = "" }, nil,
			"nodes.status_read.say.var", `unknown variable "order": no collect or lookup stores it`},
		{"lookup targets still checked for reachability", func(c *Config) { n(c, "status").Lookup.NotFound = "" }, nil,
			"nodes.sorry", `unreachable from start "welcome"`},
		{"no start", func(c *Config) { c.Start = "" }, nil, "start", "missing"},
		{"unknown start", func(c *Config) { c.Start = "hello" }, nil, "start", `unknown node "hello"`},
		{"no languages", func(c *Config) { c.Languages = nil }, nil, "languages", "missing"},
		{"duplicate language", func(c *Config) { c.Languages = []string{"zh", "en", "zh"} }, nil,
			"languages.2", `language "zh" listed twice`},
		{"bad language", func(c *Config) { c.Languages = []string{"zh", "../en"} }, nil,
			"languages.1", `bad language "../en"`},
		{"no nodes", func(c *Config) { c.Nodes = nil }, nil, "nodes", "no nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseConfig(t)
			if tt.mutate != nil {
				tt.mutate(c)
			}
			err := c.Validate(testCatalog(t, tt.drop...), knownQueues)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			for _, fe := range ve.Errors {
				if fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg) {
					if !strings.Contains(err.Error(), fe.Error()) {
						t.Errorf("Error() %q does not list %q", err.Error(), fe.Error())
					}
					return
				}
			}
			t.Errorf("no error at %s containing %q; got:\n%v", tt.path, tt.msg, err)
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := baseConfig(t)
	c.Nodes["main"].Collect.Retries = -1
	c.Nodes["welcome"].Next = "nowhere"
	c.Calendars["city"].Timezone = "X/Y"
	err := c.Validate(testCatalog(t, "en/goodbye"), knownQueues)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"calendars.city.timezone", "nodes.bye.play.0", "nodes.main.collect.retries", "nodes.welcome.next"}
	for _, p := range want {
		if !slices.ContainsFunc(ve.Errors, func(fe FieldError) bool { return fe.Path == p }) {
			t.Errorf("missing error at %s; got %v", p, err)
		}
	}
	var nilCfg *Config
	if err := nilCfg.Validate(nil, nil); err == nil {
		t.Error("nil config validated")
	}
}

func TestParse(t *testing.T) {
	if _, err := Parse([]byte("nodes: {a: {play: [x], colect: {}}}")); err == nil {
		t.Error("unknown key accepted")
	}
	c, err := Parse(nil)
	if err != nil {
		t.Fatalf("empty input: %v", err)
	}
	if err := c.Validate(nil, nil); err == nil {
		t.Error("empty config validated")
	}
	c, err = Parse([]byte("nodes: {c: {play: [p], collect: {timeout: 1m30s, inter_digit: 2s}, next: c}}"))
	if err != nil {
		t.Fatal(err)
	}
	if col := c.Nodes["c"].Collect; col.Timeout.Seconds() != 90 || col.InterDigit.Seconds() != 2 {
		t.Errorf("durations %v %v", col.Timeout, col.InterDigit)
	}
}
