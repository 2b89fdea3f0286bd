package ivr

import (
	"testing"
	"testing/fstest"
)

func TestFSCatalog(t *testing.T) {
	fsys := fstest.MapFS{
		"zh/welcome.wav":  {},
		"zh/menu.alaw":    {},
		"zh/menu.wav":     {},
		"en/welcome.ul":   {},
		"en/menu.al":      {},
		"common/beep.wav": {},
		"zh/sub/deep.wav": {},
		"root.wav":        {},
		"zh/notes.txt":    {},
		"zh/.wav":         {},
	}
	c, err := NewCatalog(fsys)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang, name string
		path       string
	}{
		{"zh", "welcome", "zh/welcome.wav"},
		{"en", "welcome", "en/welcome.ul"},
		{"zh", "menu", "zh/menu.wav"}, // WAV preferred over G.711
		{"en", "menu", "en/menu.al"},
		{"zh", "beep", "common/beep.wav"}, // falls back to common
		{"fr", "beep", "common/beep.wav"},
		{"fr", "welcome", ""},
		{"zh", "deep", ""},
		{"zh", "root", ""},
		{"zh", "notes", ""},
		{"zh", "", ""},
		{"", "welcome", ""},
	}
	for _, tt := range tests {
		p, ok := c.Path(tt.lang, tt.name)
		if p != tt.path || ok != (tt.path != "") || c.Has(tt.lang, tt.name) != ok {
			t.Errorf("Path(%q, %q) = %q, %v; want %q", tt.lang, tt.name, p, ok, tt.path)
		}
	}
	if c.FS() == nil {
		t.Error("FS() is nil")
	}
}
