package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboard: the dashboard is valid JSON and every hotline_* metric it
// queries is defined somewhere in the engine's source.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana/hotline.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var src strings.Builder
	for _, glob := range []string{"*.go", "../call/*.go", "../media/*.go", "../sip/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			c, _ := os.ReadFile(f)
			src.Write(c)
		}
	}
	for _, m := range regexp.MustCompile(`hotline_[a-z_]+`).FindAllString(string(b), -1) {
		base := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(m, "")
		if m == "hotline_12345" || strings.HasPrefix(m, "hotline_12345") {
			continue
		}
		if !strings.Contains(src.String(), `"`+base+`"`) {
			t.Errorf("the dashboard queries %s, which no source file defines", m)
		}
	}
}
