package ticket

import (
	"fmt"
	"time"
)

// Date is a civil date (no time of day, no zone), written YYYY-MM-DD in YAML and JSON.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("ticket: date %q: want YYYY-MM-DD: %w", s, err)
	}
	return DateOf(t), nil
}

// String returns the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// MarshalText writes YYYY-MM-DD (used by JSON and YAML).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD (used by JSON and YAML).
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Calendar knows which days are working days: Monday to Friday, except the public
// holidays in Holidays, plus the weekend days listed in Workdays (调休: a Saturday or
// Sunday made a working day to bridge a holiday). Workdays wins over Holidays when a
// date is in both. Days are counted in Loc (nil means time.Local; a hotline in China
// uses Asia/Shanghai). The zero Calendar knows only weekends.
type Calendar struct {
	Holidays []Date         `yaml:"holidays" json:"holidays,omitempty"`
	Workdays []Date         `yaml:"workdays" json:"workdays,omitempty"`
	Loc      *time.Location `yaml:"-" json:"-"`
}

func (c Calendar) loc() *time.Location {
	if c.Loc == nil {
		return time.Local
	}
	return c.Loc
}

func (c Calendar) isWorkingDate(d Date) bool {
	for _, w := range c.Workdays {
		if w == d {
			return true
		}
	}
	for _, h := range c.Holidays {
		if h == d {
			return false
		}
	}
	wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// IsWorkingDay reports whether the day on which t falls, in the calendar's location,
// is a working day.
func (c Calendar) IsWorkingDay(t time.Time) bool {
	return c.isWorkingDate(DateOf(t.In(c.loc())))
}

// AddWorkingDays returns the deadline for something received at from that must be done
// within n working days. The rule: the day of from (in Loc) never counts, whatever the
// hour and whether or not it is a working day; counting starts the next day and skips
// every day that is not a working day; the deadline is the last instant of the n-th
// working day (23:59:59.999999999 in Loc). n <= 0 gives the end of from's own day.
// Example: received Friday 2026-11-27 15:00 with n=3 -> Wednesday 2026-12-02 23:59:59.
func (c Calendar) AddWorkingDays(from time.Time, n int) time.Time {
	loc := c.loc()
	f := from.In(loc)
	y, m, d := f.Date()
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC) // civil-day arithmetic, no DST steps
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if c.isWorkingDate(DateOf(day)) {
			n--
		}
	}
	y, m, d = day.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
}
