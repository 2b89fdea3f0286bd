package ivr

import (
	"testing"
	"time"
)

func TestParseSpan(t *testing.T) {
	tests := []struct {
		in       string
		from, to int
		ok       bool
	}{
		{"09:00-17:30", 9 * 60, 17*60 + 30, true},
		{"00:00-24:00", 0, 24 * 60, true},
		{" 08:15 - 12:00 ", 8*60 + 15, 12 * 60, true},
		{"9:00-17:00", 0, 0, false},
		{"17:00-09:00", 0, 0, false},
		{"09:00-09:00", 0, 0, false},
		{"24:00-24:30", 0, 0, false},
		{"25:00-26:00", 0, 0, false},
		{"09:60-10:00", 0, 0, false},
		{"09:00", 0, 0, false},
		{"ab:cd-ef:gh", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		sp, err := parseSpan(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (sp.from != tt.from || sp.to != tt.to)) {
			t.Errorf("parseSpan(%q) = %+v, %v; want %d-%d ok=%v", tt.in, sp, err, tt.from, tt.to, tt.ok)
		}
	}
}

func TestCalendarOpen(t *testing.T) {
	cal := &Calendar{
		Timezone: "Asia/Shanghai",
		Weekly: map[string][]string{
			"mon": {"09:00-12:00", "13:30-17:30"},
			"fri": {"09:00-24:00"},
			"sun": {"10:00-11:00"},
		},
		Holidays:     []string{"2026-10-01", "2026-10-02"},
		Workdays:     []string{"2026-09-27", "2026-10-11"},
		WorkdayHours: "fri",
	}
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		local string
		open  bool
	}{
		{"2026-09-28 08:59", false}, // Monday
		{"2026-09-28 09:00", true},
		{"2026-09-28 11:59", true},
		{"2026-09-28 12:00", false}, // end excluded
		{"2026-09-28 13:30", true},
		{"2026-09-28 17:30", false},
		{"2026-09-29 10:00", false}, // Tuesday: no spans
		{"2026-10-02 10:00", false}, // Friday, a holiday
		{"2026-09-25 23:59", true},  // Friday to 24:00
		{"2026-09-27 15:00", true},  // Sunday made a working day, with Friday's hours
		{"2026-09-27 08:00", false},
		{"2026-10-04 10:30", true}, // an ordinary Sunday
		{"2026-10-04 15:00", false},
	}
	for _, tt := range tests {
		tm, err := time.ParseInLocation("2006-01-02 15:04", tt.local, sh)
		if err != nil {
			t.Fatal(err)
		}
		// The clock hands out UTC: the calendar must convert to its zone.
		got, err := cal.Open(tm.UTC())
		if err != nil || got != tt.open {
			t.Errorf("Open(%s Shanghai) = %v, %v; want %v", tt.local, got, err, tt.open)
		}
	}
}

func TestCalendarOpenErrors(t *testing.T) {
	for _, cal := range []*Calendar{
		{Timezone: "Mars/Olympus"},
		{Weekly: map[string][]string{"mon": {"9-17"}}},
	} {
		if _, err := cal.Open(time.Date(2026, 9, 28, 10, 0, 0, 0, time.UTC)); err == nil {
			t.Errorf("Open on %+v: no error", cal)
		}
	}
	// Empty time zone is UTC; workday_hours defaults to mon.
	cal := &Calendar{Weekly: map[string][]string{"mon": {"10:00-11:00"}}, Workdays: []string{"2026-09-27"}}
	if open, err := cal.Open(time.Date(2026, 9, 27, 10, 30, 0, 0, time.UTC)); err != nil || !open {
		t.Errorf("working Sunday at 10:30 UTC: %v, %v; want open", open, err)
	}
}
