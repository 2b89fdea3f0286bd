package ivr

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // calendars name IANA zones; do not depend on the host's tzdata
)

// dateLayout is the format of holidays and workdays.
const dateLayout = "2006-01-02"

// weekdayKeys maps the Weekly keys to time.Weekday.
var weekdayKeys = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// span is an open interval of the day in minutes, [from, to).
type span struct{ from, to int }

var errSpan = errors.New(`want "HH:MM-HH:MM" with start before end, up to 24:00`)

// parseSpan parses "HH:MM-HH:MM".
func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return span{}, errSpan
	}
	from, err1 := parseClock(a)
	to, err2 := parseClock(b)
	if err1 != nil || err2 != nil || from >= to {
		return span{}, errSpan
	}
	return span{from, to}, nil
}

// parseClock parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) != 5 || s[2] != ':' {
		return 0, errSpan
	}
	var v [4]int
	for i, j := range [4]int{0, 1, 3, 4} {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, errSpan
		}
		v[i] = int(c - '0')
	}
	h, m := v[0]*10+v[1], v[2]*10+v[3]
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, errSpan
	}
	return h*60 + m, nil
}

// Open reports whether the calendar is open at t. It returns an error when the
// calendar itself is invalid (Validate reports the same problems with their paths).
func (c *Calendar) Open(t time.Time) (bool, error) {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return false, fmt.Errorf("ivr: calendar timezone %q: %w", c.Timezone, err)
	}
	t = t.In(loc)
	day := t.Format(dateLayout)
	for _, h := range c.Holidays {
		if strings.TrimSpace(h) == day {
			return false, nil
		}
	}
	key := weekdayNames[t.Weekday()]
	for _, w := range c.Workdays {
		if strings.TrimSpace(w) == day {
			key = c.workdayHours()
			break
		}
	}
	minute := t.Hour()*60 + t.Minute()
	for _, s := range c.Weekly[key] {
		sp, err := parseSpan(s)
		if err != nil {
			return false, fmt.Errorf("ivr: calendar span %q: %w", s, err)
		}
		if minute >= sp.from && minute < sp.to {
			return true, nil
		}
	}
	return false, nil
}

func (c *Calendar) workdayHours() string {
	if c.WorkdayHours == "" {
		return "mon"
	}
	return c.WorkdayHours
}

// validate appends the calendar's problems under path.
func (c *Calendar) validate(v *validator, path string) {
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		v.add(path+".timezone", "unknown time zone %q", c.Timezone)
	}
	for _, key := range sortedKeys(c.Weekly) {
		if _, ok := weekdayKeys[key]; !ok {
			v.add(path+".weekly."+key, "unknown weekday %q: want mon, tue, wed, thu, fri, sat or sun", key)
			continue
		}
		for i, s := range c.Weekly[key] {
			if _, err := parseSpan(s); err != nil {
				v.add(fmt.Sprintf("%s.weekly.%s.%d", path, key, i), "bad time span %q: %v", s, err)
			}
		}
	}
	for _, list := range []struct {
		name  string
		dates []string
	}{{"holidays", c.Holidays}, {"workdays", c.Workdays}} {
		for i, d := range list.dates {
			if _, err := time.Parse(dateLayout, strings.TrimSpace(d)); err != nil {
				v.add(fmt.Sprintf("%s.%s.%d", path, list.name, i), "bad date %q: want YYYY-MM-DD", d)
			}
		}
	}
	if c.WorkdayHours != "" {
		if _, ok := weekdayKeys[c.WorkdayHours]; !ok {
			v.add(path+".workday_hours", "unknown weekday %q: want mon, tue, wed, thu, fri, sat or sun", c.WorkdayHours)
		}
	}
}
