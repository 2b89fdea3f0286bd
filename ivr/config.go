package ivr

import "time"

// Config is one voice menu: its languages, business-hours calendars and nodes. It is
// decoded from YAML (the config file's `ivr` section, or the embedded default.yaml) and
// must pass [Config.Validate] before [Run] uses it. Run never modifies it, so one Config
// serves every call concurrently.
type Config struct {
	// Languages the menu speaks, as prompt folder names (zh, en). The first is the
	// language a call starts in. Every prompt must exist in every language.
	Languages []string `yaml:"languages"`
	// Start is the name of the first node.
	Start string `yaml:"start"`
	// Calendars by name, used by hours nodes.
	Calendars map[string]*Calendar `yaml:"calendars"`
	// Nodes by name. Names are letters, digits, '_' and '-'.
	Nodes map[string]*Node `yaml:"nodes"`
}

// Calendar says when a desk is open: weekly spans in a time zone, with public holidays
// (closed all day) and weekend days made working days (as happens around Chinese public
// holidays).
type Calendar struct {
	// Timezone is an IANA zone name (Asia/Shanghai); empty means UTC.
	Timezone string `yaml:"timezone"`
	// Weekly lists the open spans per weekday, keyed mon, tue, wed, thu, fri, sat, sun.
	// A span is "HH:MM-HH:MM" in local time, the end excluded; "24:00" ends at midnight.
	// A day without spans is closed.
	Weekly map[string][]string `yaml:"weekly"`
	// Holidays are dates (YYYY-MM-DD) closed all day, whatever the weekday.
	Holidays []string `yaml:"holidays"`
	// Workdays are dates (YYYY-MM-DD), usually a Saturday or Sunday, worked as a normal
	// working day: open with the spans of the weekday named by WorkdayHours.
	Workdays []string `yaml:"workdays"`
	// WorkdayHours names the weekday (mon ... sun) whose spans a made-working day uses;
	// empty means mon.
	WorkdayHours string `yaml:"workday_hours"`
}

// Node is one step of the menu. It has exactly one action: play (optionally with
// collect and options), language, hours, message, lookup, route, say, goto (or a bare
// next), or a bare hangup. Play, language, message, lookup and say continue with next
// (or end with hangup: true after play or say).
type Node struct {
	// Play lists prompts to play in order, in the call's current language.
	Play []string `yaml:"play"`
	// Collect reads digits after the prompts (only with play).
	Collect *Collect `yaml:"collect"`
	// Options branch on the collected digits: keys are one of 0-9 * #, or, when
	// collect.max > 1, the exact digit string. Needs collect.
	Options map[string]*Option `yaml:"options"`
	// Language switches the call's language (one of Config.Languages).
	Language string `yaml:"language"`
	// Hours branches on a business-hours calendar.
	Hours *Hours `yaml:"hours"`
	// Message lets the caller leave a voice message.
	Message *Message `yaml:"message"`
	// Lookup reads a work-order number and plays its status (see [StatusLeg]).
	Lookup *Lookup `yaml:"lookup"`
	// Route ends the menu with a routing decision.
	Route *RouteStep `yaml:"route"`
	// Say reads a number or a collected variable.
	Say *Say `yaml:"say"`
	// Goto jumps to another node (the same as a node with only next).
	Goto string `yaml:"goto"`
	// Next is the node that follows play, language, message, lookup or say. After a
	// lookup it receives the caller whose work order was found. After a collect
	// without options it receives any non-empty input; after a collect with options, any
	// input that matches no option (instead of the invalid prompt).
	Next string `yaml:"next"`
	// Hangup ends the menu with a hang-up: alone, or after play or say (a goodbye).
	Hangup bool `yaml:"hangup"`
}

// Collect says how to read digits.
type Collect struct {
	// Max is the most digits read; 0 means 1. Input ends at Max digits, the terminator,
	// or the inter-digit timeout.
	Max int `yaml:"max"`
	// Terminator is the key that ends a multi-digit entry (usually "#"); it is not part
	// of the input. Ignored when Max is 1.
	Terminator string `yaml:"terminator"`
	// Timeout is how long to wait for the first key after the prompts; 0 means 5s.
	Timeout time.Duration `yaml:"timeout"`
	// InterDigit is how long to wait for each further key; 0 means Timeout.
	InterDigit time.Duration `yaml:"inter_digit"`
	// Retries is how many failed attempts (no input, or an invalid choice) send the caller
	// to Fail; before that each failure plays NoInput or Invalid and offers the menu
	// again. 0 and 1 both mean the first failure goes to Fail.
	Retries int `yaml:"retries"`
	// Invalid is the prompt played after input that matches no option.
	Invalid string `yaml:"invalid"`
	// NoInput is the prompt played after a timeout without input.
	NoInput string `yaml:"no_input"`
	// Fail is the node to go to when the retries are used up; empty means hang up.
	Fail string `yaml:"fail"`
	// Var, when set, stores the accepted input under this name (Result.Vars, say.var).
	Var string `yaml:"var"`
}

// Option is what one choice does: exactly one of Goto, Route and Repeat.
type Option struct {
	// Goto jumps to a node.
	Goto string `yaml:"goto"`
	// Route ends the menu with this routing decision.
	Route *RouteStep `yaml:"route"`
	// Repeat plays the node again from the start, with fresh retries.
	Repeat bool `yaml:"repeat"`
}

// Route is a routing decision: which queue, which skill, how urgent, in what language.
type Route struct {
	// Queue is the name of a configured queue.
	Queue string `yaml:"queue" json:"queue"`
	// Skill is the agent skill the call needs.
	Skill string `yaml:"skill" json:"skill,omitempty"`
	// Priority orders calls in a queue: a higher value is more urgent.
	Priority int `yaml:"priority" json:"priority"`
	// Language the caller wants to be served in; empty in config means the call's
	// current language (in a Result it is always set).
	Language string `yaml:"language" json:"language,omitempty"`
}

// RouteStep is a route in the config: the decision plus what to announce first.
type RouteStep struct {
	// Route is the decision (its keys sit directly in the route mapping).
	Route `yaml:",inline"`
	// Play lists prompts announced before the menu ends (connecting, the desk's name).
	Play []string `yaml:"play"`
}

// Hours branches on a calendar.
type Hours struct {
	// Calendar names an entry of Config.Calendars.
	Calendar string `yaml:"calendar"`
	// Open is the node to go to while the calendar is open.
	Open string `yaml:"open"`
	// Closed is the node to go to otherwise.
	Closed string `yaml:"closed"`
}

// Message records a voice message from the caller.
type Message struct {
	// Prompt is played first ("please leave a message after the tone").
	Prompt string `yaml:"prompt"`
	// Beep plays the common "beep" prompt just before recording.
	Beep bool `yaml:"beep"`
	// Max is the longest message; 0 means 120s. The caller may end it with '#'.
	Max time.Duration `yaml:"max"`
	// Saved is played after a message was recorded ("your message was saved").
	Saved string `yaml:"saved"`
}

// Say reads a number: exactly one of Var and Number.
type Say struct {
	// Var reads the digits stored by a collect with this var, one by one (a work-order
	// number is read digit by digit).
	Var string `yaml:"var"`
	// Number reads a constant non-negative integer as a number in the call's language.
	Number *int64 `yaml:"number"`
}

// Lookup asks for a work-order number and reads its status back: it plays Prompt,
// reads digits until Terminator, MaxDigits or a timeout (with the same barge-in,
// type-ahead and timeout rules as a collect), asks the leg ([StatusLeg]) for the status,
// plays the prompts the leg returns, and goes to the node's next when the work order was
// found.
//
// A number that is not found, and no input at all, are failed attempts, counted like a
// collect's: before Retries is reached, the not-found prompts (or NoInput) are played and
// the caller is asked again; the attempt that reaches Retries plays the not-found prompts
// and goes to NotFound (or, when it is empty, to next), or after no input goes to Fail
// (or hangs up when it is empty). A leg that does not implement StatusLeg finds nothing:
// every number is not found, so the caller ends at NotFound and is never stuck.
type Lookup struct {
	// Prompt asks for the number ("please enter your work order number, followed by the
	// hash key").
	Prompt string `yaml:"prompt"`
	// MaxDigits is the most digits read; 0 means 16. A work order WO20261127-0001 is
	// keyed as its 12 digits.
	MaxDigits int `yaml:"max_digits"`
	// Terminator is the key that ends the number; it is not part of it. Empty means "#".
	Terminator string `yaml:"terminator"`
	// Timeout is how long to wait for the first key after the prompt; 0 means 5s.
	Timeout time.Duration `yaml:"timeout"`
	// InterDigit is how long to wait for each further key; 0 means Timeout.
	InterDigit time.Duration `yaml:"inter_digit"`
	// Retries is how many failed attempts (no input, or a number not found) end the
	// node; 0 and 1 both mean the first failure does.
	Retries int `yaml:"retries"`
	// NoInput is the prompt played after a timeout without input, before asking again.
	NoInput string `yaml:"no_input"`
	// Invalid is the prompt played for a number not found when the leg names no prompts
	// of its own (always, for a leg without StatusLeg); usually ticket_not_found.
	Invalid string `yaml:"invalid"`
	// NotFound is the node to go to when the last attempt's number was not found; empty
	// means next.
	NotFound string `yaml:"not_found"`
	// Fail is the node to go to when the last attempt had no input; empty means hang up.
	Fail string `yaml:"fail"`
	// Var, when set, stores the last number keyed, found or not, under this name
	// (Result.Vars, say.var).
	Var string `yaml:"var"`
}

// Defaults applied where a field is zero.
const (
	DefaultTimeout      = 5 * time.Second   // Collect.Timeout, Lookup.Timeout
	DefaultMessageMax   = 120 * time.Second // Message.Max
	DefaultLookupDigits = 16                // Lookup.MaxDigits
	DefaultTerminator   = "#"               // Lookup.Terminator
)

func (c *Collect) max() int {
	if c.Max <= 0 {
		return 1
	}
	return c.Max
}

func (c *Collect) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Collect) interDigit() time.Duration {
	if c.InterDigit <= 0 {
		return c.timeout()
	}
	return c.InterDigit
}

func (m *Message) max() time.Duration {
	if m.Max <= 0 {
		return DefaultMessageMax
	}
	return m.Max
}

// collect returns the digit-reading rules of a lookup as a Collect.
func (l *Lookup) collect() *Collect {
	c := &Collect{Max: l.MaxDigits, Terminator: l.Terminator, Timeout: l.Timeout, InterDigit: l.InterDigit}
	if c.Max <= 0 {
		c.Max = DefaultLookupDigits
	}
	if c.Terminator == "" {
		c.Terminator = DefaultTerminator
	}
	return c
}
