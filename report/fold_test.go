package report

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/queue"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func foldScript(t *testing.T) *Fold {
	t.Helper()
	f := NewFold(scriptOptions())
	for _, ev := range scriptDay() {
		f.Apply(&ev)
	}
	return f
}

var day0 = time.Date(2025, 3, 3, 0, 0, 0, 0, shanghai)

func dayReport(t *testing.T, f *Fold, period string, from, to time.Time) *Report {
	t.Helper()
	r, err := f.Report(from, to, period, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: nil, want %.4f", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s: %.6f, want %.6f", what, *got, want)
	}
}

// TestScriptedDay checks the day's figures against those computed by hand from the
// script (comments in script_test.go), then the whole CSV against the golden file.
func TestScriptedDay(t *testing.T) {
	f := foldScript(t)
	r := dayReport(t, f, PeriodDay, day0, day0)
	if len(r.Periods) != 1 {
		t.Fatalf("periods: %d", len(r.Periods))
	}
	p := r.Periods[0]
	if p.Calls != 10 {
		t.Errorf("calls %d, want 10", p.Calls)
	}
	q := map[string]QueueRow{}
	for _, row := range p.Queues {
		q[row.Queue] = row
	}
	g := q["general"]
	// general: offered c1,c2,c3,c4,c6,c7,c8,c9,c10; answered c1(10 s) c4(30) c7(630)
	// c9(5) c10(20); abandoned c2 (3 s, short) c3 (40 s); exited c6; waiting c8.
	if g.Offered != 9 || g.Answered != 5 || g.AnsweredInTarget != 3 || g.Abandoned != 2 || g.ShortAbandoned != 1 ||
		g.Exited != 1 || g.Waiting != 1 || g.Overflowed != 0 || g.Transfers != 1 || g.Consults != 0 ||
		g.CallbacksScheduled != 1 || g.CallbacksMade != 1 {
		t.Errorf("general: %+v", g)
	}
	near(t, "general answer rate", g.AnswerRate, 5.0/9)
	near(t, "general service level", g.ServiceLevel, 3.0/6)
	near(t, "general average answer", g.AverageAnswer, 695.0/5)
	near(t, "general average talk", g.AverageTalk, 780.0/5)      // 300+120+120+180+60
	near(t, "general average wrap-up", g.AverageWrapUp, 150.0/5) // 5 x 30
	c := q["complaints"]
	// complaints: c4 (transferred in, 15 s), c5 (overflowed, 25 s); the consult apart.
	if c.Offered != 2 || c.Answered != 2 || c.AnsweredInTarget != 2 || c.Abandoned != 0 || c.Overflowed != 1 ||
		c.Consults != 1 || c.Waiting != 0 {
		t.Errorf("complaints: %+v", c)
	}
	near(t, "complaints service level", c.ServiceLevel, 1)
	near(t, "complaints average answer", c.AverageAnswer, 20)
	near(t, "complaints average talk", c.AverageTalk, 150)     // 120 + 180
	near(t, "complaints average wrap-up", c.AverageWrapUp, 45) // 30 + 60
	tot := p.Total
	if tot.Offered != 11 || tot.Answered != 7 || tot.AnsweredInTarget != 5 {
		t.Errorf("total: %+v", tot)
	}
	near(t, "total service level", tot.ServiceLevel, 5.0/8)
	near(t, "total answer rate", tot.AnswerRate, 7.0/11)

	a := map[string]AgentRow{}
	for _, row := range p.Agents {
		a[row.Agent] = row
	}
	// 1001: 08:00-17:00 logged in; talk 300+120+120+60(consult)+60; wrap-up 5 x 30.
	if x := a["1001"]; x.LoggedIn != 9*3600 || x.Talk != 660 || x.WrapUp != 150 || x.Calls != 4 || x.Consults != 1 || x.Pool != "primary" {
		t.Errorf("1001: %+v", x)
	}
	near(t, "1001 occupancy", a["1001"].Occupancy, 810.0/32400)
	// 1002: talk 120+180, wrap-up 2 x 30, one missed offer, not ready 15:00:15-15:30.
	if x := a["1002"]; x.Talk != 300 || x.WrapUp != 60 || x.Calls != 2 || x.Missed != 1 || x.NotReady != 1785 {
		t.Errorf("1002: %+v", x)
	}
	if x := a["2001"]; x.Talk != 180 || x.WrapUp != 60 || x.Calls != 1 || x.Pool != "backup" {
		t.Errorf("2001: %+v", x)
	}
	// Menu: main 1 x7, 2 x2, 3 x1.
	want := []MenuRow{{"main", "1", 7}, {"main", "2", 2}, {"main", "3", 1}}
	if len(p.Menu) != len(want) {
		t.Fatalf("menu %+v", p.Menu)
	}
	for i := range want {
		if p.Menu[i] != want[i] {
			t.Errorf("menu[%d] = %+v, want %+v", i, p.Menu[i], want[i])
		}
	}
	if h := p.Hours[9]; h.Offered != 3 || h.Answered != 1 || h.Abandoned != 2 || h.Calls != 3 {
		t.Errorf("09:00: %+v", h)
	}
	if len(r.Violations) != 0 {
		t.Errorf("violations: %v", r.Violations)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "day.csv", buf.Bytes())
}

func TestReconciliation(t *testing.T) {
	f := foldScript(t)
	if v := f.Check(); len(v) != 0 {
		t.Fatalf("the scripted day does not reconcile: %v", v)
	}
	// A leave with a reason nobody counts, and a second leave of the same call.
	f.Apply(&event.Event{Type: event.QueueJoined, Call: "x1", Queue: "general", Time: day0.Add(16 * time.Hour)})
	f.Apply(&event.Event{Type: event.QueueLeft, Call: "x1", Queue: "general", Reason: "vanished", Time: day0.Add(16*time.Hour + time.Second)})
	f.Apply(&event.Event{Type: event.QueueLeft, Call: "x1", Queue: "general", Reason: "answered", Time: day0.Add(16*time.Hour + 2*time.Second)})
	v := f.Check()
	if len(v) != 1 || v[0].Day != "2025-03-03" || v[0].Queue != "general" {
		t.Fatalf("violations %v, want one for 2025-03-03 general", v)
	}
	if f.Orphans() != 1 {
		t.Errorf("orphans %d, want 1 (the second leave)", f.Orphans())
	}
	r := dayReport(t, f, PeriodDay, day0, day0)
	if len(r.Violations) != 1 {
		t.Errorf("the report lists %v", r.Violations)
	}
}

// TestReconcileRandom folds random interleavings of joins and leaves over several days
// and checks the invariant holds for every day0.
func TestReconcileRandom(t *testing.T) {
	f := NewFold(Options{Location: shanghai})
	reasons := []string{"answered", "abandoned", "timed_out", "full"}
	tm := day0
	waiting := []string{}
	for i := range 5000 {
		tm = tm.Add(time.Duration(i%97) * time.Minute / 3)
		if i%3 != 2 || len(waiting) == 0 {
			id := "r" + string(rune('a'+i%26)) + time.Duration(i).String()
			f.Apply(&event.Event{Type: event.QueueJoined, Call: id, Queue: []string{"a", "b"}[i%2], Time: tm})
			waiting = append(waiting, id)
			continue
		}
		k := (i * 7) % len(waiting)
		id := waiting[k]
		waiting = append(waiting[:k], waiting[k+1:]...)
		f.Apply(&event.Event{Type: event.QueueLeft, Call: id, Reason: reasons[i%4], Duration: time.Duration(i%40) * time.Second, Time: tm})
	}
	if v := f.Check(); len(v) != 0 {
		t.Fatalf("violations: %v", v)
	}
	if len(f.days) < 3 {
		t.Fatalf("only %d days: the test should span several", len(f.days))
	}
}

// TestAgreesWithACD compares the fold with acd.Recount, the reference of the ACD's live
// counters (GET /api/v1/queues), on the scripted day0 without its consult call (which
// the ACD counts as a call and the reports count apart).
func TestAgreesWithACD(t *testing.T) {
	var evs []event.Event
	for _, ev := range scriptDay() {
		if !IsConsult(ev.Call) {
			evs = append(evs, ev)
		}
	}
	qs := []queue.Config{
		{Name: "general", Skill: "call-taking", ServiceLevel: queue.ServiceLevel{Percent: 80, Within: 20 * time.Second}},
		{Name: "complaints", Skill: "call-taking", ServiceLevel: queue.ServiceLevel{Percent: 80, Within: 30 * time.Second}},
	}
	cfg := acd.Config{Agents: []acd.AgentConfig{{ID: "1001"}, {ID: "1002"}, {ID: "2001", Pool: "backup"}}}
	want := acd.Recount(qs, cfg, evs)

	l := NewLive(LiveOptions{Options: scriptOptions(), Now: func() time.Time { return day0.Add(17 * time.Hour) }})
	for i := range evs {
		l.Apply(&evs[i])
	}
	got := l.Today()
	for name, w := range want.Queues {
		g := got[name]
		if g.Offered != w.Offered || g.Answered != w.Answered || g.AnsweredInTarget != w.AnsweredInTarget ||
			g.Abandoned != w.Abandoned || g.ShortAbandoned != w.ShortAbandoned || g.Overflowed != w.Overflowed ||
			g.Exited != w.Exited || g.Waiting != w.Waiting || g.AnswerWait != w.AnswerWait {
			t.Errorf("%s: fold %+v\nacd %+v", name, g, w)
		}
		gs, gok := g.ServiceLevel()
		ws, wok := w.ServiceLevel()
		if gs != ws || gok != wok {
			t.Errorf("%s service level: fold %v, acd %v", name, gs, ws)
		}
	}
	r, err := l.Report(context.Background(), day0, day0, PeriodDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.Periods[0].Agents {
		w := want.Agents[a.Agent]
		if a.Calls != w.Calls || a.Missed != w.Missed || a.Rejected != w.Rejected ||
			a.Talk != w.Time[acd.OnCall].Seconds() || a.WrapUp != w.Time[acd.WrapUp].Seconds() ||
			a.NotReady != w.Time[acd.NotReady].Seconds() || a.Ready != w.Time[acd.Ready].Seconds() {
			t.Errorf("agent %s: fold %+v\nacd %+v", a.Agent, a, w)
		}
	}
}

// TestRestoredJoin: a callback request waits when the engine stops; the next run
// takes the wait up again (queue.joined with Reason restored) and an agent answers
// it. The fold counts one offer, as acd.Recount does, and the day reconciles.
func TestRestoredJoin(t *testing.T) {
	at := func(m int) time.Time { return day0.Add(10*time.Hour + time.Duration(m)*time.Minute) }
	evs := []event.Event{
		{Type: event.QueueJoined, Call: "k1", Queue: "general", Time: at(0)},
		{Type: event.CallbackScheduled, Call: "k1", Queue: "general", Reason: "requested", Time: at(1)},
		{Type: event.QueueJoined, Call: "k1", Queue: "general", Reason: event.JoinRestored, Time: at(5)},
		{Type: event.CallbackScheduled, Call: "k1", Queue: "general", Reason: event.JoinRestored, Time: at(5)},
	}
	qs := []queue.Config{{Name: "general", Skill: "call-taking"}}
	check := func(stage string, offered, answered, waiting int) {
		t.Helper()
		l := NewLive(LiveOptions{Options: scriptOptions(), Now: func() time.Time { return day0.Add(17 * time.Hour) }})
		f := NewFold(scriptOptions())
		for i := range evs {
			l.Apply(&evs[i])
			f.Apply(&evs[i])
		}
		g, w := l.Today()["general"], acd.Recount(qs, acd.Config{}, evs).Queues["general"]
		if g.Offered != offered || g.Answered != answered || g.Waiting != waiting {
			t.Errorf("%s: fold offered %d answered %d waiting %d; want %d, %d, %d", stage, g.Offered, g.Answered, g.Waiting, offered, answered, waiting)
		}
		if g.Offered != w.Offered || g.Answered != w.Answered || g.Waiting != w.Waiting {
			t.Errorf("%s: fold %+v, acd.Recount %+v", stage, g, w)
		}
		if v := f.Check(); len(v) != 0 {
			t.Errorf("%s: violations %v", stage, v)
		}
	}
	check("restored", 1, 0, 1)
	evs = append(evs, event.Event{Type: event.QueueLeft, Call: "k1", Queue: "general", Reason: "answered", Duration: 6 * time.Minute, Time: at(6)})
	check("answered", 1, 1, 0)
}

// TestRollUps: the same day0 seen by week and by month; a second day0 in the next week.
func TestRollUps(t *testing.T) {
	evs := scriptDay()
	f := NewFold(scriptOptions())
	for _, ev := range evs {
		f.Apply(&ev)
	}
	// The same calls a week later (Monday 2025-03-10).
	for _, ev := range scriptDay() {
		ev.Time = ev.Time.AddDate(0, 0, 7)
		if ev.Call != "" {
			ev.Call = "w2-" + ev.Call
		}
		f.Apply(&ev)
	}
	w := dayReport(t, f, PeriodWeek, day0.AddDate(0, 0, -2), day0.AddDate(0, 0, 8))
	if len(w.Periods) != 3 {
		t.Fatalf("weeks %d, want 3 (W09 clipped, W10, W11 clipped)", len(w.Periods))
	}
	labels := []string{w.Periods[0].Label, w.Periods[1].Label, w.Periods[2].Label}
	if labels[0] != "2025-W09" || labels[1] != "2025-W10" || labels[2] != "2025-W11" {
		t.Errorf("labels %v", labels)
	}
	if p := w.Periods[0]; p.From != "2025-03-01" || p.To != "2025-03-02" || p.Total.Offered != 0 {
		t.Errorf("W09: %+v", p.Total)
	}
	if p := w.Periods[1]; p.From != "2025-03-03" || p.To != "2025-03-09" || p.Total.Offered != 11 || p.Total.Answered != 7 {
		t.Errorf("W10 %s..%s: %+v", p.From, p.To, p.Total)
	}
	if p := w.Periods[2]; p.Total.Offered != 11 {
		t.Errorf("W11: %+v", p.Total)
	}
	m := dayReport(t, f, PeriodMonth, time.Date(2025, 3, 1, 0, 0, 0, 0, shanghai), time.Date(2025, 3, 31, 0, 0, 0, 0, shanghai))
	if len(m.Periods) != 1 || m.Periods[0].Label != "2025-03" {
		t.Fatalf("months %+v", m.Periods)
	}
	mp := m.Periods[0]
	if mp.Total.Offered != 22 || mp.Total.Answered != 14 || mp.Total.AnsweredInTarget != 10 || mp.Calls != 20 {
		t.Errorf("month: %+v", mp.Total)
	}
	near(t, "month service level", mp.Total.ServiceLevel, 10.0/16)
	for _, a := range mp.Agents {
		if a.Agent == "1001" && (a.LoggedIn != 2*9*3600 || a.Talk != 2*660) {
			t.Errorf("1001 month: %+v", a)
		}
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, m); err != nil {
		t.Fatal(err)
	}
	golden(t, "month.csv", buf.Bytes())
	if _, err := f.Report(day0, day0, "year", time.Time{}); err == nil {
		t.Error("period year accepted")
	}
	if _, err := f.Report(day0, day0.AddDate(0, 0, -1), "", time.Time{}); err == nil {
		t.Error("a range ending before it starts accepted")
	}
}

// TestMidnight: an agent's state across midnight is split between the days, and a
// call is counted on the day0 it joined even when answered after midnight.
func TestMidnight(t *testing.T) {
	f := NewFold(Options{Location: shanghai})
	late := time.Date(2025, 3, 3, 23, 59, 0, 0, shanghai)
	f.Apply(&event.Event{Type: event.AgentState, Agent: "a", State: "ready", Time: late})
	f.Apply(&event.Event{Type: event.QueueJoined, Call: "m1", Queue: "q", Time: late})
	f.Apply(&event.Event{Type: event.QueueLeft, Call: "m1", Queue: "q", Reason: "answered", Duration: 2 * time.Minute, Time: late.Add(2 * time.Minute)})
	f.Apply(&event.Event{Type: event.AgentState, Agent: "a", State: "logged-out", Time: late.Add(3 * time.Minute)})
	r := dayReport(t, f, PeriodDay, day0, day0.AddDate(0, 0, 1))
	if r.Periods[0].Agents[0].Ready != 60 || r.Periods[1].Agents[0].Ready != 120 {
		t.Errorf("ready split %v / %v, want 60 / 120", r.Periods[0].Agents[0].Ready, r.Periods[1].Agents[0].Ready)
	}
	if r.Periods[0].Total.Answered != 1 || r.Periods[1].Total.Offered != 0 {
		t.Errorf("day0 1 %+v, day0 2 %+v", r.Periods[0].Total, r.Periods[1].Total)
	}
}

// TestHTML parses the page and checks its three charts per period and that nothing
// is fetched from elsewhere.
func TestHTML(t *testing.T) {
	f := foldScript(t)
	r := dayReport(t, f, PeriodDay, day0, day0)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "<link", "@import", "url(", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it must be self-contained", bad)
		}
	}
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	charts := map[string]int{} // chart id -> rects
	var in string
	tables := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("HTML does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "svg":
				for _, a := range el.Attr {
					if a.Name.Local == "id" {
						in = a.Value
						charts[in] = 0
					}
				}
			case "rect":
				if in != "" {
					charts[in]++
				}
			case "table":
				tables++
			}
		case xml.EndElement:
			if el.Name.Local == "svg" {
				in = ""
			}
		}
	}
	for _, id := range []string{"volume-2025-03-03", "service-level-2025-03-03", "answer-rate-2025-03-03"} {
		n, ok := charts[id]
		if !ok {
			t.Errorf("chart %s missing (have %v)", id, charts)
		} else if n < 2 {
			t.Errorf("chart %s has %d bars", id, n)
		}
	}
	if tables != 4 {
		t.Errorf("%d tables, want 4 (queues, hours, agents, menu)", tables)
	}
	if !strings.Contains(page, "50.0%") {
		t.Error("the work orders' direct and dispatched shares (50% each on the scripted day) are not on the page")
	}
}
