package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/ivr"
)

// catalog is a prompt catalog that holds every prompt except the ones listed.
type catalog struct{ missing map[string]bool }

func (c catalog) Has(lang, name string) bool { return !c.missing[lang+"/"+name] && !c.missing[name] }

func embedded(t *testing.T) ivr.Catalog {
	t.Helper()
	cat, err := ivr.EmbeddedCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(embedded(t)); err != nil {
		t.Fatalf("embedded default does not validate: %v", err)
	}
	if c.SIP.Listen != "127.0.0.1:5060" || c.HTTP.Listen != "127.0.0.1:8080" || c.Data != "./hotline-data" {
		t.Fatalf("default addresses: sip %s http %s data %s", c.SIP.Listen, c.HTTP.Listen, c.Data)
	}
	if _, ok := c.Call.Numbers["12345"]; !ok {
		t.Fatal("default does not answer 12345")
	}
	if c.Menu().Start == "" {
		t.Fatal("default has no menu")
	}
}

func TestOverride(t *testing.T) {
	base := Default()
	c, err := Parse("f.yaml", []byte("sip:\n  listen: 127.0.0.1:0\nnumbers:\n  \"999\": {ring: 2s}\n"), &base)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(embedded(t)); err != nil {
		t.Fatal(err)
	}
	if c.SIP.Listen != "127.0.0.1:0" {
		t.Errorf("listen not overridden: %s", c.SIP.Listen)
	}
	if len(c.SIP.Trunks) != 1 || c.SIP.Trunks[0].Name != "local" {
		t.Errorf("trunks not kept from the default: %+v", c.SIP.Trunks)
	}
	if _, ok := c.Call.Numbers["12345"]; ok {
		t.Errorf("numbers given in the file must replace the default's, got %v", c.Call.Numbers)
	}
	if c.Call.Numbers["999"].Ring != 2*time.Second {
		t.Errorf("ring = %v", c.Call.Numbers["999"].Ring)
	}
	if c.HTTP.Listen != "127.0.0.1:8080" {
		t.Errorf("http not kept: %s", c.HTTP.Listen)
	}
}

// TestProblemsNameFileLineAndKey checks that every kind of mistake is reported with the
// file, the line of the offending key and what is wrong.
func TestProblemsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error, each must appear
	}{
		{"unknown key", "sip:\n  lisen: 1.2.3.4:5\n", []string{"f.yaml", "line 2", "lisen"}},
		{"bad network", "sip:\n  trunks:\n    - name: t\n      networks: [10.0.0.0/33]\n", []string{"f.yaml:4: sip.trunks.0.networks.0", "not a network"}},
		{"bad listen", "http:\n  listen: nope\n", []string{"f.yaml:2: http.listen", "host:port"}},
		{"bad codec", "media:\n  codecs: [G729]\n", []string{"f.yaml:2: media.codecs.0", "G729"}},
		{"site not a base URL", "http:\n  sites: [\"https://a.example:8443\", \"b.example/agent\"]\n", []string{"f.yaml:2: http.sites.1", "base URL"}},
		{"bad log level", "log:\n  level: loud\n", []string{"f.yaml:2: log.level"}},
		{"unknown hold prompt", "queues:\n  - {name: q, hold: [nosuch]}\n", []string{"queues.0.hold.0", "nosuch"}},
		{"menu routes to unknown queue", "queues:\n  - {name: general, hold: [music]}\n", []string{"ivr.nodes", "business"}},
		{"menu goto unknown node", "ivr:\n  languages: [zh]\n  start: a\n  nodes:\n    a: {play: [welcome], next: b}\n", []string{"f.yaml:5: ivr.nodes.a.next", "b"}},
		{"not a mapping", "- 1\n- 2\n", []string{"f.yaml", "mapping"}},
		{"syntax", "sip: [\n", []string{"f.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := Default()
			c, err := Parse("f.yaml", []byte(tt.yaml), &base)
			if err == nil {
				err = c.Validate(embedded(t))
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestInvalidListsEveryProblem(t *testing.T) {
	base := Default()
	c, err := Parse("f.yaml", []byte("http:\n  listen: x\nlog:\n  format: xml\n"), &base)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate(embedded(t))
	var inv *Invalid
	if !errors.As(err, &inv) || len(inv.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if inv.Problems[0].Line != 2 || inv.Problems[1].Line != 4 {
		t.Errorf("lines %d, %d; want 2, 4", inv.Problems[0].Line, inv.Problems[1].Line)
	}
}

func TestExampleFilesValidate(t *testing.T) {
	files, _ := filepath.Glob("../testdata/config/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		base := Default()
		c, err := Parse(f, data, &base)
		if err == nil {
			err = c.Validate(embedded(t))
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// FuzzParse feeds arbitrary YAML to the loader and the validator: an error is fine, a
// panic is not.
func FuzzParse(f *testing.F) {
	f.Add([]byte(defaultYAML))
	f.Add([]byte("sip:\n  trunks:\n    - {name: a, networks: [1.2.3.4]}\n"))
	f.Add([]byte("ivr:\n  start: x\n  nodes: {x: {goto: x}}\n"))
	f.Add([]byte("numbers: {\"\": {ring: -1s}}\nmedia: {port_min: 5, port_max: 1}\n"))
	f.Add([]byte("&a [*a]"))
	cat := catalog{missing: map[string]bool{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := Default()
		c, err := Parse("fuzz.yaml", data, &base)
		if err != nil {
			return
		}
		_ = c.Validate(cat)
	})
}

func TestLabPasswordOnlyOnLoopback(t *testing.T) {
	base := Default()
	c, err := Parse("f.yaml", []byte("sip:\n  listen: 0.0.0.0:5060\n"), &base)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate(embedded(t))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2: sip.listen: 252 accounts (agents and supervisors) still have the lab password") {
		t.Fatalf("want a refusal naming sip.listen, got %v", err)
	}
	c, err = Parse("f.yaml", []byte("sip:\n  listen: 0.0.0.0:5060\nhttp:\n  listen: 10.1.2.3:80\nagents:\n  - {id: \"1\", password_hash: x, skills: {call-taking: 5}}\nsupervisors:\n  - {id: \"9\", password_hash: y}\n"), &base)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(embedded(t)); err != nil {
		t.Fatalf("agents with their own passwords may listen anywhere: %v", err)
	}
	if len(c.Agents.Agents) != 1 {
		t.Fatalf("agents given in the file must replace the demo's: %d", len(c.Agents.Agents))
	}
}

func TestSupervisors(t *testing.T) {
	if got := Default().Supervisors; len(got) != 2 || got[0].ID != "9001" || got[1].ID != "admin" || got[0].PasswordHash != "" {
		t.Fatalf("default supervisors: %+v", got)
	}
	d := Default()
	if n := d.LabAccounts(); n != 252 {
		t.Fatalf("lab accounts in the default: %d, want 250 agents + 2 supervisors", n)
	}
	tests := []struct {
		name string
		file string
		ids  []string // the supervisors after parsing, when valid
		err  string   // part of the validation error, when not
	}{
		{name: "left out keeps the demo's", file: "site: x\n", ids: []string{"9001", "admin"}},
		{name: "given replaces the demo's", file: "supervisors:\n  - {id: \"8001\", name: Lee}\n  - {id: \"8002\"}\n", ids: []string{"8001", "8002"}},
		{name: "empty list means none", file: "supervisors: []\n", ids: []string{}},
		{name: "clash with an agent", file: "supervisors:\n  - {id: \"2001\"}\n", err: `f.yaml:2: supervisors.0.id: "2001" is already an agent's id`},
		{name: "duplicate", file: "supervisors:\n  - {id: \"8001\"}\n  - {id: \"8001\"}\n", err: `f.yaml:3: supervisors.1.id: duplicate supervisor "8001"`},
		{name: "missing id", file: "supervisors:\n  - {name: Lee}\n", err: "supervisors.0.id: missing"},
		{name: "unknown key", file: "supervisors:\n  - {id: \"8001\", skills: {x: 1}}\n", err: "field skills not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := Default()
			c, err := Parse("f.yaml", []byte(tt.file), &base)
			if err == nil {
				err = c.Validate(embedded(t))
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("want an error containing %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range c.Supervisors {
				ids = append(ids, s.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Fatalf("supervisors %v, want %v", ids, tt.ids)
			}
		})
	}
}

func TestSupervisorWithLabPasswordKeepsLoopback(t *testing.T) {
	base := Default()
	c, err := Parse("f.yaml", []byte("http:\n  listen: 10.1.2.3:80\nagents:\n  - {id: \"1\", password_hash: x, skills: {call-taking: 5}}\n"), &base)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate(embedded(t))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2: http.listen: 2 accounts (agents and supervisors) still have the lab password") {
		t.Fatalf("the demo supervisor's lab password must keep the engine on loopback, got %v", err)
	}
}
