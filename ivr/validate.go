package ivr

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Validate checks the menu and returns every problem it finds as a *[ValidationError]
// (nil when there is none). cat, when not nil, must have every prompt the menu plays in
// every configured language; queues, when not nil, must know every queue a route names.
//
// Rejected: no languages or start; a node with no action or with two; play, language,
// message, lookup or say without a continuation; options without collect, or with a bad
// key (one of 0-9 * #, or with collect.max > 1 the exact digit string); negative max,
// max_digits, timeouts or retries; a missing prompt; a reference to an unknown node,
// language, calendar, queue or variable; bad time spans, dates or time zones; a node not
// reachable from start; and a loop without input: a cycle of nodes none of which
// collects digits (a collect or a lookup), which would keep a caller in the menu forever.
func (c *Config) Validate(cat Catalog, queues func(name string) bool) error {
	v := &validator{cfg: c, cat: cat, queues: queues}
	if c == nil {
		v.add("", "no menu config")
		return v.err()
	}
	v.languages()
	switch {
	case c.Start == "":
		v.add("start", "missing: name the first node")
	case c.Nodes[c.Start] == nil:
		v.add("start", "unknown node %q", c.Start)
	}
	for _, name := range sortedKeys(c.Calendars) {
		cal := c.Calendars[name]
		if cal == nil {
			v.add("calendars."+name, "empty calendar")
			continue
		}
		cal.validate(v, "calendars."+name)
	}
	v.vars = map[string]bool{}
	for _, n := range c.Nodes {
		if n != nil && n.Collect != nil && n.Collect.Var != "" {
			v.vars[n.Collect.Var] = true
		}
		if n != nil && n.Lookup != nil && n.Lookup.Var != "" {
			v.vars[n.Lookup.Var] = true
		}
	}
	if len(c.Nodes) == 0 {
		v.add("nodes", "no nodes")
	}
	for _, name := range sortedKeys(c.Nodes) {
		v.node(name, c.Nodes[name])
	}
	v.reachable()
	v.loops()
	return v.err()
}

type validator struct {
	cfg    *Config
	cat    Catalog
	queues func(string) bool
	vars   map[string]bool
	errs   []FieldError
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: v.errs}
}

func (v *validator) languages() {
	if len(v.cfg.Languages) == 0 {
		v.add("languages", "missing: list at least one language (the first is the default)")
	}
	seen := map[string]bool{}
	for i, l := range v.cfg.Languages {
		p := fmt.Sprintf("languages.%d", i)
		switch {
		case !validName(l) || l == CommonDir:
			v.add(p, "bad language %q: want a prompt folder name such as zh or en", l)
		case seen[l]:
			v.add(p, "language %q listed twice", l)
		}
		seen[l] = true
	}
}

// validName accepts letters, digits, '_' and '-' (names become YAML paths and folders).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (v *validator) hasLanguage(l string) bool { return slices.Contains(v.cfg.Languages, l) }

// prompt checks that prompt exists in every language.
func (v *validator) prompt(path, prompt string) {
	if prompt == "" {
		v.add(path, "empty prompt name")
		return
	}
	if v.cat == nil {
		return
	}
	for _, l := range v.cfg.Languages {
		if !v.cat.Has(l, prompt) {
			v.add(path, "prompt %q missing in language %q", prompt, l)
		}
	}
}

func (v *validator) prompts(path string, list []string) {
	for i, p := range list {
		v.prompt(fmt.Sprintf("%s.%d", path, i), p)
	}
}

// ref checks a node reference; empty is reported only when required.
func (v *validator) ref(path, target string, required bool) {
	if target == "" {
		if required {
			v.add(path, "missing: name a node")
		}
		return
	}
	if v.cfg.Nodes[target] == nil {
		v.add(path, "unknown node %q", target)
	}
}

// actions lists the node's actions in a fixed order.
func (n *Node) actions() []string {
	var a []string
	if len(n.Play) > 0 {
		a = append(a, "play")
	}
	if n.Language != "" {
		a = append(a, "language")
	}
	if n.Hours != nil {
		a = append(a, "hours")
	}
	if n.Message != nil {
		a = append(a, "message")
	}
	if n.Lookup != nil {
		a = append(a, "lookup")
	}
	if n.Route != nil {
		a = append(a, "route")
	}
	if n.Say != nil {
		a = append(a, "say")
	}
	if n.Goto != "" {
		a = append(a, "goto")
	}
	if len(a) == 0 {
		switch {
		case n.Hangup:
			a = append(a, "hangup")
		case n.Next != "":
			a = append(a, "next")
		}
	}
	return a
}

func (v *validator) node(name string, n *Node) {
	p := "nodes." + name
	if !validName(name) {
		v.add(p, "bad node name %q: use letters, digits, '_' and '-'", name)
	}
	if n == nil {
		v.add(p, "empty node: give it one action")
		return
	}
	acts := n.actions()
	kind := ""
	switch len(acts) {
	case 0:
		v.add(p, "no action: want one of play, language, hours, message, lookup, route, say, goto or hangup")
	case 1:
		kind = acts[0]
	default:
		v.add(p, "more than one action (%s): a node does one thing", strings.Join(acts, ", "))
	}
	switch kind {
	case "play", "say":
		if n.Hangup && n.Next != "" {
			v.add(p+".hangup", "both hangup and next: choose one")
		}
		if !n.Hangup && n.Next == "" && n.Collect == nil {
			v.add(p, "%s needs a continuation: next, hangup or collect", kind)
		}
	case "language", "message", "lookup":
		if n.Next == "" {
			v.add(p+".next", "missing: name the node after %s", kind)
		}
		if n.Hangup {
			v.add(p+".hangup", "hangup only follows play or say")
		}
	case "hours", "route", "goto", "hangup", "next":
		if n.Next != "" && kind != "next" {
			v.add(p+".next", "next does not follow %s", kind)
		}
		if n.Hangup && kind != "hangup" {
			v.add(p+".hangup", "hangup does not follow %s", kind)
		}
	}
	if n.Collect != nil {
		switch {
		case kind != "play" && kind != "":
			v.add(p+".collect", "collect needs play")
		case n.Hangup:
			v.add(p+".hangup", "hangup does not follow collect")
		case len(n.Options) == 0 && n.Next == "":
			v.add(p+".collect", "collect needs options or next (where the input goes)")
		}
		v.collect(p+".collect", n.Collect)
	}
	if len(n.Options) > 0 && n.Collect == nil {
		v.add(p+".options", "options without collect: add collect to read the choice")
	}
	for _, key := range sortedKeys(n.Options) {
		v.option(p+".options."+key, key, n.Collect, n.Options[key])
	}
	v.prompts(p+".play", n.Play)
	v.ref(p+".next", n.Next, false)
	v.ref(p+".goto", n.Goto, false)
	if n.Language != "" && !v.hasLanguage(n.Language) {
		v.add(p+".language", "unknown language %q: not in languages", n.Language)
	}
	if h := n.Hours; h != nil {
		switch {
		case h.Calendar == "":
			v.add(p+".hours.calendar", "missing: name a calendar")
		case v.cfg.Calendars[h.Calendar] == nil:
			v.add(p+".hours.calendar", "unknown calendar %q", h.Calendar)
		}
		v.ref(p+".hours.open", h.Open, true)
		v.ref(p+".hours.closed", h.Closed, true)
	}
	if m := n.Message; m != nil {
		v.prompt(p+".message.prompt", m.Prompt)
		if m.Saved != "" {
			v.prompt(p+".message.saved", m.Saved)
		}
		if m.Beep {
			v.prompt(p+".message.beep", "beep")
		}
		if m.Max < 0 {
			v.add(p+".message.max", "negative duration %v", m.Max)
		}
	}
	if l := n.Lookup; l != nil {
		v.lookup(p+".lookup", l)
	}
	if n.Route != nil {
		v.route(p+".route", n.Route)
	}
	if s := n.Say; s != nil {
		v.say(p+".say", s)
	}
}

func (v *validator) collect(p string, c *Collect) {
	if c.Max < 0 {
		v.add(p+".max", "must be at least 1 (0 means 1), got %d", c.Max)
	}
	if c.Timeout < 0 {
		v.add(p+".timeout", "negative duration %v", c.Timeout)
	}
	if c.InterDigit < 0 {
		v.add(p+".inter_digit", "negative duration %v", c.InterDigit)
	}
	if c.Retries < 0 {
		v.add(p+".retries", "must be 0 or more, got %d", c.Retries)
	}
	if c.Terminator != "" && (len(c.Terminator) != 1 || !isKey(c.Terminator[0])) {
		v.add(p+".terminator", "bad terminator %q: want one of 0-9 * #", c.Terminator)
	}
	if c.Invalid != "" {
		v.prompt(p+".invalid", c.Invalid)
	}
	if c.NoInput != "" {
		v.prompt(p+".no_input", c.NoInput)
	}
	v.ref(p+".fail", c.Fail, false)
	if c.Var != "" && !validName(c.Var) {
		v.add(p+".var", "bad variable name %q: use letters, digits, '_' and '-'", c.Var)
	}
}

func (v *validator) lookup(p string, l *Lookup) {
	v.prompt(p+".prompt", l.Prompt)
	if l.MaxDigits < 0 {
		v.add(p+".max_digits", "must be at least 1 (0 means %d), got %d", DefaultLookupDigits, l.MaxDigits)
	}
	if l.Timeout < 0 {
		v.add(p+".timeout", "negative duration %v", l.Timeout)
	}
	if l.InterDigit < 0 {
		v.add(p+".inter_digit", "negative duration %v", l.InterDigit)
	}
	if l.Retries < 0 {
		v.add(p+".retries", "must be 0 or more, got %d", l.Retries)
	}
	if l.Terminator != "" && (len(l.Terminator) != 1 || !isKey(l.Terminator[0])) {
		v.add(p+".terminator", "bad terminator %q: want one of 0-9 * #", l.Terminator)
	}
	if l.NoInput != "" {
		v.prompt(p+".no_input", l.NoInput)
	}
	if l.Invalid != "" {
		v.prompt(p+".invalid", l.Invalid)
	}
	v.ref(p+".not_found", l.NotFound, false)
	v.ref(p+".fail", l.Fail, false)
	if l.Var != "" && !validName(l.Var) {
		v.add(p+".var", "bad variable name %q: use letters, digits, '_' and '-'", l.Var)
	}
}

func isKey(b byte) bool { return b >= '0' && b <= '9' || b == '*' || b == '#' }

func (v *validator) option(p, key string, c *Collect, o *Option) {
	limit := 1
	if c != nil {
		limit = c.max()
	}
	badKey := key == "" || len(key) > limit
	for i := 0; i < len(key); i++ {
		badKey = badKey || !isKey(key[i])
	}
	switch {
	case badKey && limit == 1:
		v.add(p, "bad option key %q: want one of 0-9 * #", key)
	case badKey:
		v.add(p, "bad option key %q: want one to %d of 0-9 * #", key, limit)
	case limit > 1 && c.Terminator != "" && strings.Contains(key, c.Terminator):
		v.add(p, "option key %q contains the terminator %q and cannot be entered", key, c.Terminator)
	}
	if o == nil {
		v.add(p, "empty option: want one of goto, route, repeat")
		return
	}
	n := 0
	for _, set := range []bool{o.Goto != "", o.Route != nil, o.Repeat} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.add(p, "option needs exactly one of goto, route, repeat")
	}
	v.ref(p+".goto", o.Goto, false)
	if o.Route != nil {
		v.route(p+".route", o.Route)
	}
}

func (v *validator) route(p string, r *RouteStep) {
	switch {
	case r.Queue == "":
		v.add(p+".queue", "missing: name a queue")
	case v.queues != nil && !v.queues(r.Queue):
		v.add(p+".queue", "unknown queue %q", r.Queue)
	}
	if r.Priority < 0 {
		v.add(p+".priority", "must be 0 or more (higher is more urgent), got %d", r.Priority)
	}
	if r.Language != "" && !v.hasLanguage(r.Language) {
		v.add(p+".language", "unknown language %q: not in languages", r.Language)
	}
	v.prompts(p+".play", r.Play)
}

func (v *validator) say(p string, s *Say) {
	switch {
	case (s.Var == "") == (s.Number == nil):
		v.add(p, "say needs exactly one of var and number")
	case s.Var != "" && !v.vars[s.Var]:
		v.add(p+".var", "unknown variable %q: no collect or lookup stores it", s.Var)
	case s.Number != nil && *s.Number < 0:
		v.add(p+".number", "must be 0 or more, got %d", *s.Number)
	}
	if v.cat == nil {
		return
	}
	// Report each missing number prompt once per language.
	for _, l := range v.cfg.Languages {
		var need []string
		switch {
		case s.Var != "":
			need = SayDigits("0123456789")
		case s.Number != nil && *s.Number >= 0:
			need = SayNumber(l, *s.Number)
		}
		seen := map[string]bool{}
		for _, name := range need {
			if !seen[name] && !v.cat.Has(l, name) {
				v.add(p, "prompt %q missing in language %q", name, l)
			}
			seen[name] = true
		}
	}
}

// edges returns the nodes n can go to, known or not.
func (n *Node) edges(self string) []string {
	var e []string
	add := func(s string) {
		if s != "" {
			e = append(e, s)
		}
	}
	add(n.Next)
	add(n.Goto)
	if n.Hours != nil {
		add(n.Hours.Open)
		add(n.Hours.Closed)
	}
	if n.Collect != nil {
		add(n.Collect.Fail)
	}
	if n.Lookup != nil {
		add(n.Lookup.NotFound)
		add(n.Lookup.Fail)
	}
	for _, k := range sortedKeys(n.Options) {
		if o := n.Options[k]; o != nil {
			add(o.Goto)
			if o.Repeat {
				add(self)
			}
		}
	}
	return e
}

func (v *validator) reachable() {
	start := v.cfg.Nodes[v.cfg.Start]
	if start == nil {
		return
	}
	seen := map[string]bool{v.cfg.Start: true}
	stack := []string{v.cfg.Start}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, to := range v.cfg.Nodes[name].edges(name) {
			if v.cfg.Nodes[to] != nil && !seen[to] {
				seen[to] = true
				stack = append(stack, to)
			}
		}
	}
	for _, name := range sortedKeys(v.cfg.Nodes) {
		if !seen[name] {
			v.add("nodes."+name, "unreachable from start %q", v.cfg.Start)
		}
	}
}

// loops reports every cycle of nodes that do not collect digits (collect or lookup) (a strongly connected
// component of the non-collecting subgraph with more than one node, or a node that
// leads to itself), once, at its first node by name.
func (v *validator) loops() {
	nodes := v.cfg.Nodes
	passive := func(name string) bool { n := nodes[name]; return n != nil && n.Collect == nil && n.Lookup == nil }
	// Tarjan's algorithm, iterating names in sorted order for stable output.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	next := 0
	var visit func(string)
	visit = func(name string) {
		index[name], low[name] = next, next
		next++
		stack = append(stack, name)
		onStack[name] = true
		for _, to := range nodes[name].edges(name) {
			if !passive(to) {
				continue
			}
			if _, ok := index[to]; !ok {
				visit(to)
				low[name] = min(low[name], low[to])
			} else if onStack[to] {
				low[name] = min(low[name], index[to])
			}
		}
		if low[name] == index[name] {
			var comp []string
			for {
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[top] = false
				comp = append(comp, top)
				if top == name {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for _, name := range sortedKeys(nodes) {
		if _, ok := index[name]; !ok && passive(name) {
			visit(name)
		}
	}
	var bad [][]string
	for _, comp := range comps {
		if len(comp) == 1 && !slices.Contains(nodes[comp[0]].edges(comp[0]), comp[0]) {
			continue
		}
		slices.Sort(comp)
		bad = append(bad, comp)
	}
	slices.SortFunc(bad, func(a, b []string) int { return cmp.Compare(a[0], b[0]) })
	for _, comp := range bad {
		if len(comp) == 1 {
			v.add("nodes."+comp[0], "loop without input: %s leads to itself and does not collect digits", comp[0])
			continue
		}
		v.add("nodes."+comp[0], "loop without input: %s lead to each other and none collects digits",
			strings.Join(comp, ", "))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
