package report

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
)

func fnum(v *float64, prec int) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

func secs(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// WriteCSV writes the report as CSV: one table per section (queue, hour, agent, menu,
// and violation when there are any), each starting with its header row, whose first
// column names the section, and separated by an empty line. Rates are fractions
// (0.8125) with four decimals, times are seconds; an undefined rate or average is
// empty, a figure without data yet is "n/a".
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	qhead := []string{"queue", "period", "from", "to", "queue", "offered", "answered", "answer_rate",
		"answered_in_target", "service_level", "target_percent", "target_seconds", "abandoned", "short_abandoned",
		"overflowed", "exited", "waiting", "transfers", "consults", "callbacks_scheduled", "callbacks_made",
		"avg_answer_s", "avg_talk_s", "avg_wrap_up_s", "work_orders_direct", "work_orders_dispatched", "satisfaction"}
	rows := [][]string{qhead}
	qrow := func(p *Period, q *QueueRow) []string {
		tp, ts := "", ""
		if q.TargetPercent > 0 {
			tp, ts = strconv.Itoa(q.TargetPercent), secs(q.TargetSeconds)
		}
		return []string{"queue", p.Label, p.From, p.To, q.Queue, strconv.Itoa(q.Offered), strconv.Itoa(q.Answered),
			fnum(q.AnswerRate, 4), strconv.Itoa(q.AnsweredInTarget), fnum(q.ServiceLevel, 4), tp, ts,
			strconv.Itoa(q.Abandoned), strconv.Itoa(q.ShortAbandoned), strconv.Itoa(q.Overflowed),
			strconv.Itoa(q.Exited), strconv.Itoa(q.Waiting), strconv.Itoa(q.Transfers), strconv.Itoa(q.Consults),
			strconv.Itoa(q.CallbacksScheduled), strconv.Itoa(q.CallbacksMade),
			fnum(q.AverageAnswer, 1), fnum(q.AverageTalk, 1), fnum(q.AverageWrapUp, 1),
			fnum(q.WorkOrdersDirect, 4), fnum(q.WorkOrdersDispatched, 4), fnum(q.Satisfaction, 4)}
	}
	for i := range r.Periods {
		p := &r.Periods[i]
		for j := range p.Queues {
			rows = append(rows, qrow(p, &p.Queues[j]))
		}
		rows = append(rows, qrow(p, &p.Total))
	}
	rows = append(rows, nil, []string{"hour", "period", "hour", "calls", "offered", "answered", "answer_rate",
		"abandoned", "short_abandoned", "service_level", "avg_answer_s", "avg_talk_s"})
	for i := range r.Periods {
		p := &r.Periods[i]
		for _, h := range p.Hours {
			if h.Calls == 0 && h.Offered == 0 && h.Consults == 0 && h.AverageTalk == nil {
				continue
			}
			rows = append(rows, []string{"hour", p.Label, fmt.Sprintf("%02d", h.Hour), strconv.Itoa(h.Calls),
				strconv.Itoa(h.Offered), strconv.Itoa(h.Answered), fnum(h.AnswerRate, 4), strconv.Itoa(h.Abandoned),
				strconv.Itoa(h.ShortAbandoned), fnum(h.ServiceLevel, 4), fnum(h.AverageAnswer, 1), fnum(h.AverageTalk, 1)})
		}
	}
	rows = append(rows, nil, []string{"agent", "period", "agent", "pool", "calls", "consults", "missed", "rejected",
		"logged_in_s", "ready_s", "not_ready_s", "reserved_s", "talk_s", "wrap_up_s", "avg_talk_s", "occupancy"})
	for i := range r.Periods {
		p := &r.Periods[i]
		for _, a := range p.Agents {
			rows = append(rows, []string{"agent", p.Label, a.Agent, a.Pool, strconv.Itoa(a.Calls), strconv.Itoa(a.Consults),
				strconv.Itoa(a.Missed), strconv.Itoa(a.Rejected), secs(a.LoggedIn), secs(a.Ready), secs(a.NotReady),
				secs(a.Reserved), secs(a.Talk), secs(a.WrapUp), fnum(a.AverageTalk, 1), fnum(a.Occupancy, 4)})
		}
	}
	rows = append(rows, nil, []string{"menu", "period", "node", "digits", "count"})
	for i := range r.Periods {
		p := &r.Periods[i]
		for _, m := range p.Menu {
			rows = append(rows, []string{"menu", p.Label, m.Node, m.Digits, strconv.Itoa(m.Count)})
		}
	}
	if len(r.Violations) > 0 {
		rows = append(rows, nil, []string{"violation", "problem"})
		for _, v := range r.Violations {
			rows = append(rows, []string{"violation", v})
		}
	}
	for _, row := range rows {
		if row == nil {
			cw.Flush()
			if _, err := io.WriteString(w, "\n"); err != nil {
				return fmt.Errorf("report: write CSV: %w", err)
			}
			continue
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("report: write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	return nil
}

// chart dimensions.
const (
	chartW, chartH = 720, 220
	padL, padB     = 44, 28
	padT, padR     = 12, 8
)

type series struct {
	name  string
	class string
	vals  [24]float64
}

// barChart draws grouped bars per hour; max 0 means the largest value (at least 1).
func barChart(id, title string, max float64, pct bool, ss []series, target float64) template.HTML {
	if max <= 0 {
		for _, s := range ss {
			for _, v := range s.vals {
				if v > max {
					max = v
				}
			}
		}
		if max < 1 {
			max = 1
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" role="img" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		template.HTMLEscapeString(id), chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	plotW := float64(chartW - padL - padR)
	plotH := float64(chartH - padT - padB)
	y := func(v float64) float64 { return float64(padT) + plotH*(1-v/max) }
	for i := 0; i <= 4; i++ {
		v := max * float64(i) / 4
		label := strconv.FormatFloat(v, 'f', 0, 64)
		if pct {
			label = strconv.FormatFloat(v*100, 'f', 0, 64) + "%"
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y(v), y(v), padL-4, y(v)+4, label)
	}
	slot := plotW / 24
	bw := (slot - 4) / float64(len(ss))
	for h := 0; h < 24; h++ {
		x0 := float64(padL) + slot*float64(h) + 2
		for i, s := range ss {
			v := s.vals[h]
			if v <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%02d:00 %s %s</title></rect>`,
				s.class, x0+bw*float64(i), y(v), bw, float64(padT)+plotH-y(v), h, template.HTMLEscapeString(s.name), fmtVal(v, pct))
		}
		if h%3 == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%02d</text>`, x0+slot/2-2, chartH-padB+16, h)
		}
	}
	if target > 0 {
		fmt.Fprintf(&b, `<line class="target" x1="%d" x2="%d" y1="%.1f" y2="%.1f"><title>target %s</title></line>`,
			padL, chartW-padR, y(target), y(target), fmtVal(target, pct))
	}
	for i, s := range ss {
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%d" width="10" height="10"/><text class="legend" x="%d" y="%d">%s</text>`,
			s.class, chartW-padR-110, padT+14*i, chartW-padR-96, padT+14*i+9, template.HTMLEscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped names
}

func fmtVal(v float64, pct bool) string {
	if pct {
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

type htmlPeriod struct {
	*Period
	Volume, SL, Rate template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: tables and inline SVG
// charts (hourly volume, service level and answer rate per period), no scripts, no
// external fonts or styles.
func WriteHTML(w io.Writer, r *Report) error {
	data := struct {
		*Report
		Views []htmlPeriod
	}{Report: r}
	for i := range r.Periods {
		p := &r.Periods[i]
		var vol, ans, abd, sl, rate series
		vol = series{name: "offered", class: "s1"}
		ans = series{name: "answered", class: "s2"}
		abd = series{name: "abandoned", class: "s3"}
		sl = series{name: "service level", class: "s2"}
		rate = series{name: "answer rate", class: "s1"}
		for _, h := range p.Hours {
			vol.vals[h.Hour] = float64(h.Offered)
			ans.vals[h.Hour] = float64(h.Answered)
			abd.vals[h.Hour] = float64(h.Abandoned)
			if h.ServiceLevel != nil {
				sl.vals[h.Hour] = *h.ServiceLevel
			}
			if h.AnswerRate != nil {
				rate.vals[h.Hour] = *h.AnswerRate
			}
		}
		target := 0.0
		if len(p.Queues) > 0 {
			target = float64(p.Queues[0].TargetPercent) / 100
		}
		data.Views = append(data.Views, htmlPeriod{Period: p,
			Volume: barChart("volume-"+p.Label, "Calls by hour, "+p.Label, 0, false, []series{vol, ans, abd}, 0),
			SL:     barChart("service-level-"+p.Label, "Service level by hour, "+p.Label, 1, true, []series{sl}, target),
			Rate:   barChart("answer-rate-"+p.Label, "Answer rate by hour, "+p.Label, 1, true, []series{rate}, 0),
		})
	}
	if err := page.Execute(w, data); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	return nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
	},
	"sec": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(*v, 'f', 1, 64) + " s"
	},
	"dur": func(v float64) string {
		s := int(v + 0.5)
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>12345 hotline report {{.From}} to {{.To}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.2rem;border-bottom:2px solid #0b5cad;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}th,td{border:1px solid #ccd3db;padding:.2rem .45rem;text-align:right}
th{background:#eef2f6}td:first-child,th:first-child{text-align:left}tr.total td{font-weight:600;background:#f7f9fb}
.na{color:#888}.warn{color:#a40000}
svg.chart{display:block;margin:.5rem 0;max-width:100%;height:auto}
svg .grid{stroke:#e3e7eb}svg .axis,svg .legend{font-size:10px;fill:#555}
svg .s1{fill:#0b5cad}svg .s2{fill:#2e9e44}svg .s3{fill:#d9822b}svg .target{stroke:#a40000;stroke-dasharray:4 3}
</style></head><body>
<h1>12345 hotline report: {{.From}} to {{.To}} ({{.Period}})</h1>
<p>Time zone {{.Zone}}. {{.Events}} events. Short abandons: under {{.ShortAbandonSeconds}} s.
Service level = answered within target / (answered + abandoned − short abandons). Answer rate = answered / offered.
Offered = answered + abandoned + exited + still waiting. Consult calls are counted apart.
Work orders: the shares answered directly and dispatched; satisfaction: the share of survey answers (post-call and follow-up) that were satisfied or basically satisfied.</p>
{{if .Violations}}<div class="warn"><h2>Figures that do not reconcile</h2><ul>{{range .Violations}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{range .Views}}
<section class="period" id="period-{{.Label}}">
<h2>{{.Label}} ({{.From}} to {{.To}})</h2>
<p>{{.Calls}} calls reached the engine; {{.Total.Offered}} offered to queues, {{.Total.Answered}} answered (answer rate {{pct .Total.AnswerRate}}), service level {{pct .Total.ServiceLevel}}.</p>
<h3>Calls by hour</h3>{{.Volume}}
<h3>Service level by hour</h3>{{.SL}}
<h3>Answer rate by hour</h3>{{.Rate}}
<h3>Queues</h3>
<table class="queues"><tr><th>queue</th><th>offered</th><th>answered</th><th>answer rate</th><th>service level</th><th>target</th><th>abandoned</th><th>short</th><th>overflowed</th><th>exited</th><th>waiting</th><th>transfers</th><th>consults</th><th>callbacks</th><th>avg answer</th><th>avg talk</th><th>avg wrap-up</th><th>work orders direct</th><th>dispatched</th><th>satisfaction</th></tr>
{{range .Queues}}<tr><td>{{.Queue}}</td><td>{{.Offered}}</td><td>{{.Answered}}</td><td>{{pct .AnswerRate}}</td><td>{{pct .ServiceLevel}}</td><td>{{.TargetPercent}}% in {{.TargetSeconds}} s</td><td>{{.Abandoned}}</td><td>{{.ShortAbandoned}}</td><td>{{.Overflowed}}</td><td>{{.Exited}}</td><td>{{.Waiting}}</td><td>{{.Transfers}}</td><td>{{.Consults}}</td><td>{{.CallbacksMade}} / {{.CallbacksScheduled}}</td><td>{{sec .AverageAnswer}}</td><td>{{sec .AverageTalk}}</td><td>{{sec .AverageWrapUp}}</td><td>{{pct .WorkOrdersDirect}}</td><td>{{pct .WorkOrdersDispatched}}</td><td>{{pct .Satisfaction}}</td></tr>
{{end}}{{with .Total}}<tr class="total"><td>all</td><td>{{.Offered}}</td><td>{{.Answered}}</td><td>{{pct .AnswerRate}}</td><td>{{pct .ServiceLevel}}</td><td></td><td>{{.Abandoned}}</td><td>{{.ShortAbandoned}}</td><td>{{.Overflowed}}</td><td>{{.Exited}}</td><td>{{.Waiting}}</td><td>{{.Transfers}}</td><td>{{.Consults}}</td><td>{{.CallbacksMade}} / {{.CallbacksScheduled}}</td><td>{{sec .AverageAnswer}}</td><td>{{sec .AverageTalk}}</td><td>{{sec .AverageWrapUp}}</td><td>{{pct .WorkOrdersDirect}}</td><td>{{pct .WorkOrdersDispatched}}</td><td>{{pct .Satisfaction}}</td></tr>{{end}}
</table>
<h3>Hours</h3>
<table class="hours"><tr><th>hour</th><th>calls</th><th>offered</th><th>answered</th><th>answer rate</th><th>abandoned</th><th>service level</th><th>avg answer</th></tr>
{{range .Hours}}{{if or .Calls .Offered}}<tr><td>{{printf "%02d:00" .Hour}}</td><td>{{.Calls}}</td><td>{{.Offered}}</td><td>{{.Answered}}</td><td>{{pct .AnswerRate}}</td><td>{{.Abandoned}}</td><td>{{pct .ServiceLevel}}</td><td>{{sec .AverageAnswer}}</td></tr>{{end}}
{{end}}</table>
<h3>Agents</h3>
<table class="agents"><tr><th>agent</th><th>pool</th><th>calls</th><th>consults</th><th>missed</th><th>rejected</th><th>logged in</th><th>ready</th><th>not ready</th><th>talk</th><th>wrap-up</th><th>avg talk</th><th>occupancy</th></tr>
{{range .Agents}}<tr><td>{{.Agent}}</td><td>{{.Pool}}</td><td>{{.Calls}}</td><td>{{.Consults}}</td><td>{{.Missed}}</td><td>{{.Rejected}}</td><td>{{dur .LoggedIn}}</td><td>{{dur .Ready}}</td><td>{{dur .NotReady}}</td><td>{{dur .Talk}}</td><td>{{dur .WrapUp}}</td><td>{{sec .AverageTalk}}</td><td>{{pct .Occupancy}}</td></tr>
{{end}}</table>
<h3>Menu choices</h3>
<table class="menu"><tr><th>menu</th><th>digits</th><th>count</th></tr>
{{range .Menu}}<tr><td>{{.Node}}</td><td>{{.Digits}}</td><td>{{.Count}}</td></tr>
{{end}}</table>
</section>
{{end}}
</body></html>
`))
