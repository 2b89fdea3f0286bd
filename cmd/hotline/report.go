package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hotline12345/hotline/config"
	"github.com/hotline12345/hotline/report"
)

// runReport serves "hotline report": the daily, weekly or monthly report of a data
// folder (a stopped engine's or a live one's) as CSV or one HTML page.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hotline report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data `folder` whose events.journal is read (default: the configuration's)")
	cfgFile := fs.String("config", "", "YAML configuration `file` for the queues' service-level targets (default: the embedded one)")
	fromS := fs.String("from", "", "first `day`, YYYY-MM-DD (default: today)")
	toS := fs.String("to", "", "last `day`, YYYY-MM-DD, included (default: --from)")
	format := fs.String("format", "csv", "csv or html")
	period := fs.String("period", report.PeriodDay, "day, week or month")
	tz := fs.String("tz", report.DefaultZone, "time `zone` whose midnight starts a day")
	out := fs.String("out", "", "write to `file` instead of standard output")
	short := fs.Duration("short-abandon", report.DefaultShortAbandon, "abandons under this wait are short")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report: unexpected argument %q (see hotline report -h)", fs.Arg(0))
	}
	if *format != "csv" && *format != "html" {
		return fmt.Errorf("report: --format %q: want csv or html", *format)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("report: --tz %q: %w", *tz, err)
	}
	cfg, _, err := loadConfig(flags{config: *cfgFile})
	if err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		dir = cfg.Data
	}
	if dir == "" {
		return errors.New("report: no data folder: pass --data DIR")
	}
	if *fromS == "" {
		*fromS = time.Now().In(loc).Format(time.DateOnly)
	}
	if *toS == "" {
		*toS = *fromS
	}
	from, err := report.ParseDay(*fromS, loc)
	if err != nil {
		return fmt.Errorf("report: --from: %w", err)
	}
	to, err := report.ParseDay(*toS, loc)
	if err != nil {
		return fmt.Errorf("report: --to: %w", err)
	}
	opts := reportOptions(cfg, loc, *short)

	start := time.Now()
	progress := func(events int, day string) {
		fmt.Fprintf(stderr, "\rreport: %d events read, at %s", events, day)
	}
	fold, st, err := report.FoldJournal(context.Background(), dir, opts, progress)
	if err != nil {
		return err
	}
	rep, err := fold.Report(from, to, *period, time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "\rreport: %d events read, %d days done (%s to %s) in %s\n",
		st.Events, days(from, to), rep.From, rep.To, time.Since(start).Round(time.Millisecond))
	if st.TornTail != "" {
		fmt.Fprintf(stderr, "report: stopped before an incomplete last record (%s): a live engine's write in progress, or a crash's\n", st.TornTail)
	}
	for _, v := range rep.Violations {
		fmt.Fprintf(stderr, "report: warning: figures do not reconcile: %s\n", v)
	}

	w := stdout
	var f *os.File
	if *out != "" {
		f, err = os.Create(*out)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		w = f
	}
	if *format == "html" {
		err = report.WriteHTML(w, rep)
	} else {
		err = report.WriteCSV(w, rep)
	}
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("report: %w", cerr)
		}
	}
	return err
}

// reportOptions are the fold's options for cfg: its queues' service-level targets and
// its agents. A nil loc is Asia/Shanghai; a zero short is 5 s.
func reportOptions(cfg config.Config, loc *time.Location, short time.Duration) report.Options {
	opts := report.Options{Location: loc, ShortAbandon: short}
	for _, q := range cfg.Queues {
		q = q.WithDefaults()
		opts.Queues = append(opts.Queues, report.Queue{Name: q.Name, Within: q.ServiceLevel.Within, Percent: q.ServiceLevel.Percent})
	}
	for _, a := range cfg.Agents.Agents {
		opts.Agents = append(opts.Agents, report.Agent{ID: a.ID, Pool: a.Pool})
	}
	return opts
}

func days(from, to time.Time) int {
	n := 0
	for t := from; !t.After(to); t = t.AddDate(0, 0, 1) {
		n++
	}
	return n
}
