package ticket

import (
	"encoding/json"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// cal2026 holds the 2026 Mid-Autumn and National Day holidays as published by the State
// Council for 2026 (as recalled here: Mid-Autumn Fri 25 - Sun 27 September; National
// Day Thu 1 - Wed 7 October, with Sunday 20 September and Saturday 10 October made
// working days). Real-looking data for the tests; a deployment configures its own.
const cal2026YAML = `
holidays: [2026-09-25, 2026-09-26, 2026-09-27, 2026-10-01, 2026-10-02, 2026-10-03, 2026-10-04, 2026-10-05, 2026-10-06, 2026-10-07]
workdays: [2026-09-20, 2026-10-10]
`

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatalf("load Asia/Shanghai: %v", err)
	}
	return loc
}

func loadCal(t *testing.T) Calendar {
	t.Helper()
	var c Calendar
	if err := yaml.Unmarshal([]byte(cal2026YAML), &c); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	c.Loc = shanghai(t)
	return c
}

func TestCalendarYAMLAndJSON(t *testing.T) {
	c := loadCal(t)
	if len(c.Holidays) != 10 || c.Workdays[1] != (Date{2026, time.October, 10}) {
		t.Fatalf("parsed %+v", c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Calendar
	if err := json.Unmarshal(b, &back); err != nil || len(back.Holidays) != 10 || back.Holidays[0].String() != "2026-09-25" {
		t.Fatalf("json round trip: %s -> %+v, %v", b, back, err)
	}
	var bad Calendar
	if err := yaml.Unmarshal([]byte("holidays: [2026-13-01]"), &bad); err == nil {
		t.Fatal("month 13 accepted")
	}
}

func TestIsWorkingDay(t *testing.T) {
	c := loadCal(t)
	loc := c.Loc
	cases := []struct {
		day  string
		want bool
	}{
		{"2026-09-18", true},  // Friday
		{"2026-09-19", false}, // Saturday
		{"2026-09-20", true},  // Sunday made a working day
		{"2026-09-25", false}, // Mid-Autumn, a Friday
		{"2026-09-28", true},  // Monday
		{"2026-10-01", false}, // National Day
		{"2026-10-07", false}, // last day of the holiday, a Wednesday
		{"2026-10-08", true},  // Thursday
		{"2026-10-10", true},  // Saturday made a working day
		{"2026-10-11", false}, // Sunday
	}
	for _, tc := range cases {
		d, _ := ParseDate(tc.day)
		at := time.Date(d.Year, d.Month, d.Day, 10, 0, 0, 0, loc)
		if got := c.IsWorkingDay(at); got != tc.want {
			t.Errorf("%s (%s): working=%v, want %v", tc.day, at.Weekday(), got, tc.want)
		}
	}
	// The day is judged in the calendar's zone: 2026-10-08 01:00 in Shanghai is still
	// 2026-10-07 in UTC, but it is a Thursday, a working day, in Shanghai.
	if !c.IsWorkingDay(time.Date(2026, 10, 7, 17, 0, 0, 0, time.UTC)) {
		t.Error("2026-10-07 17:00 UTC is 2026-10-08 01:00 in Shanghai, a working day")
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := loadCal(t)
	loc := c.Loc
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	end := func(day string) time.Time { return at(day+" 00:00").AddDate(0, 0, 1).Add(-time.Nanosecond) }
	cases := []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"plain week", at("2026-11-23 09:00"), 3, end("2026-11-26")},           // Mon -> Thu
		{"over a weekend", at("2026-11-27 15:00"), 3, end("2026-12-02")},       // Fri -> Wed
		{"received on Saturday", at("2026-11-28 11:00"), 3, end("2026-12-02")}, // Mon, Tue, Wed
		{"late at night counts as that day", at("2026-11-23 23:59"), 1, end("2026-11-24")},
		{"zero days", at("2026-11-23 09:00"), 0, end("2026-11-23")},
		{"into National Day", at("2026-09-29 10:00"), 3, end("2026-10-09")},                // Wed 30, Thu 8, Fri 9
		{"working Saturday counts", at("2026-10-08 10:00"), 3, end("2026-10-12")},          // Fri 9, Sat 10, Mon 12
		{"make-up Sunday before Mid-Autumn", at("2026-09-18 10:00"), 5, end("2026-09-24")}, // Sun 20, Mon 21 .. Thu 24
		{"across both holidays", at("2026-09-24 10:00"), 5, end("2026-10-09")},             // Mon 28, Tue 29, Wed 30, Thu 8, Fri 9 = 5
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := c.AddWorkingDays(tc.from, tc.n)
			if !got.Equal(tc.want) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", tc.from, tc.n, got, tc.want)
			}
			if got.Location() != loc {
				t.Fatalf("deadline in %s, want %s", got.Location(), loc)
			}
		})
	}
	// Time zones: a call taken at 2026-11-27 17:30 UTC is Saturday 01:30 in Shanghai.
	got := c.AddWorkingDays(time.Date(2026, 11, 27, 17, 30, 0, 0, time.UTC), 1)
	if !got.Equal(end("2026-11-30")) {
		t.Fatalf("UTC input: %s, want Monday 2026-11-30 end in Shanghai", got)
	}
	// The same instant with a UTC calendar: Friday, so the next working day is Monday too,
	// but the end of Monday is in UTC.
	utc := Calendar{Loc: time.UTC}
	got = utc.AddWorkingDays(time.Date(2026, 11, 26, 17, 30, 0, 0, time.UTC), 1) // Thu
	if want := time.Date(2026, 11, 27, 23, 59, 59, 999999999, time.UTC); !got.Equal(want) {
		t.Fatalf("UTC calendar: %s, want %s", got, want)
	}
	// A DST zone: the end of the day is still 23:59:59 local across a change.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	got = Calendar{Loc: ny}.AddWorkingDays(time.Date(2026, 3, 6, 12, 0, 0, 0, ny), 1) // Fri; DST starts Sun 8 Mar
	if h, m, _ := got.Clock(); got.Day() != 9 || h != 23 || m != 59 {
		t.Fatalf("DST: %s, want Monday 9 March 23:59:59", got)
	}
}
