package main

// hotline demo: a live centre without any phone. Simulated agents (internal/agentsim,
// pion WebRTC, logged in through the HTTP API) answer simulated citizens
// (internal/callersim, SIP + RTP through the real trunk path) for a while, and the
// run ends with one line per figure. Without --attach-http/--attach-sip the engine
// runs in this process (serve, with a stop channel instead of a signal) on free
// loopback ports with a temporary data folder.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/config"
	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/internal/callersim"
)

type demoFlags struct {
	agents, callers                       int
	duration, talk, answerAfter, patience time.Duration
	config, attachHTTP, attachSIP         string
	firstAgent                            string
}

func parseDemoFlags(args []string, stderr io.Writer) (demoFlags, error) {
	var f demoFlags
	fs := flag.NewFlagSet("hotline demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hotline demo [--agents N] [--callers M] [--duration D] [flags]")
		fmt.Fprintln(stderr, "Runs the engine with N simulated agents (WebRTC) and M simulated callers (SIP) and sums up.")
		fs.PrintDefaults()
	}
	fs.IntVar(&f.agents, "agents", 10, "simulated agents (WebRTC seats of the configuration, from --first-agent on)")
	fs.IntVar(&f.callers, "callers", 5, "simulated callers; each places one call after another")
	fs.DurationVar(&f.duration, "duration", time.Minute, "how long new calls are placed (calls being talked then finish)")
	fs.DurationVar(&f.talk, "talk", 20*time.Second, "how long an agent talks before hanging up")
	fs.DurationVar(&f.answerAfter, "answer-after", time.Second, "how long an offer rings before the agent answers")
	fs.DurationVar(&f.patience, "patience", time.Minute, "how long a caller waits in the queue before hanging up (abandoned)")
	fs.StringVar(&f.config, "config", "", "engine configuration `file` (default: the embedded 12345 demo)")
	fs.StringVar(&f.attachHTTP, "attach-http", "", "drive an engine already running at this HTTP base `URL` (with --attach-sip)")
	fs.StringVar(&f.attachSIP, "attach-sip", "", "the running engine's SIP UDP `address` host:port (with --attach-http)")
	fs.StringVar(&f.firstAgent, "first-agent", "1001", "the first simulated agent's `id`")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("demo: unexpected argument %q (see hotline demo -h)", fs.Arg(0))
	case f.agents < 1:
		return f, errors.New("demo: --agents must be at least 1")
	case f.callers < 1:
		return f, errors.New("demo: --callers must be at least 1")
	case f.duration <= 0:
		return f, errors.New("demo: --duration must be positive")
	case f.talk <= 0:
		return f, errors.New("demo: --talk must be positive (the simulated agents hang up)")
	case f.answerAfter < 0 || f.patience < 0:
		return f, errors.New("demo: --answer-after and --patience may not be negative")
	case (f.attachHTTP == "") != (f.attachSIP == ""):
		return f, errors.New("demo: --attach-http and --attach-sip go together")
	}
	return f, nil
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	f, err := parseDemoFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, _, err := loadConfig(flags{config: f.config})
	if err != nil {
		return err
	}
	ids, err := demoAgents(cfg, f.firstAgent, f.agents)
	if err != nil {
		return err
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()

	// sipgo logs its own bookkeeping (UDP reference counts) on its package-wide
	// logger when a caller's UA closes: not news.
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	var base string
	var sipAddr netip.AddrPort
	var eng *demoEngine
	if f.attachHTTP != "" {
		base = strings.TrimSuffix(f.attachHTTP, "/")
		if sipAddr, err = netip.ParseAddrPort(f.attachSIP); err != nil {
			return fmt.Errorf("demo: --attach-sip %q: want ip:port: %w", f.attachSIP, err)
		}
		fmt.Fprintf(stdout, "hotline demo: driving the engine at %s (SIP udp %s)\n", base, sipAddr)
	} else {
		if eng, err = startDemoEngine(f.config, stdout, stderr); err != nil {
			return err
		}
		defer eng.close(stderr)
		base, sipAddr = eng.http, eng.sip
	}
	fmt.Fprintf(stdout, "hotline demo: %d agents (%s-%s), %d callers, %v of calls, talk %v, answer after %v\n",
		len(ids), ids[0], ids[len(ids)-1], f.callers, f.duration, f.talk, f.answerAfter)

	agents, err := loginAgents(ctx, agentsim.Options{
		Base: base, Password: cfg.LabPassword, AnswerAfter: f.answerAfter, TalkFor: f.talk,
	}, ids)
	if err != nil {
		return err
	}
	agentCtx, stopAgents := context.WithCancel(context.Background())
	var agentWG sync.WaitGroup
	agentErrs := make(chan error, len(agents))
	for _, a := range agents {
		agentWG.Go(func() {
			if err := a.Run(agentCtx); err != nil {
				agentErrs <- err
			}
		})
	}
	defer func() {
		if eng != nil {
			eng.logs.mute()
		}
		stopAgents()
		agentWG.Wait()
		closeAgents(agents)
	}()

	callerCtx, hardStop := context.WithCancel(context.Background())
	defer hardStop()
	callers := make([]*callersim.Caller, f.callers)
	var callerWG sync.WaitGroup
	for i := range callers {
		// A caller hangs up by itself only if its agent did not (a safety net).
		c := callersim.New(callersim.Options{SIP: sipAddr, Patience: f.patience, TalkFor: f.talk + 10*time.Second}, i+1)
		callers[i] = c
		callerWG.Go(func() { c.Run(callerCtx) })
	}

	start := time.Now()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	end := time.NewTimer(f.duration)
	defer end.Stop()
	interrupted := false
	for running := true; running; {
		select {
		case <-progress.C:
			printProgress(stdout, time.Since(start), callers)
		case <-end.C:
			running = false
		case <-ctx.Done():
			interrupted, running = true, false
		case err := <-agentErrs:
			fmt.Fprintf(stderr, "hotline demo: %v\n", err)
		}
	}

	// No new calls; callers still waiting hang up; calls being talked finish.
	for _, c := range callers {
		c.Stop()
	}
	callersDone := make(chan struct{})
	go func() { callerWG.Wait(); close(callersDone) }()
	select {
	case <-callersDone:
	case <-time.After(f.talk + 20*time.Second):
		hardStop()
		<-callersDone
	case <-ctx.Done():
		if !interrupted { // a signal during the wind-down: stop at once
			hardStop()
			<-callersDone
		}
		select {
		case <-callersDone:
		case <-time.After(10 * time.Second):
			hardStop()
			<-callersDone
		}
	}
	// The agents note a call once its end reached them.
	deadline := time.Now().Add(10 * time.Second)
	for slices.ContainsFunc(agents, (*agentsim.Agent).InCall) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	printProgress(stdout, time.Since(start), callers)

	s := summarise(callers, agents)
	s.print(stdout, f)
	if interrupted {
		fmt.Fprintln(stdout, "  (interrupted)")
	}
	switch {
	case s.offered > 0 && s.answered == 0:
		return errors.New("demo: no call was answered")
	case s.verified < s.answered:
		return fmt.Errorf("demo: %d of %d answered calls lacked audio in at least one direction", s.answered-s.verified, s.answered)
	}
	return nil
}

// demoAgents picks n WebRTC agents of the configuration from first on (in the
// configuration's order) that have the lab password and the skill of the general
// desk the callers choose.
func demoAgents(cfg config.Config, first string, n int) ([]string, error) {
	skill := ""
	for _, q := range cfg.Queues {
		if q.Name == "general" {
			skill = q.Skill
		}
	}
	var all []string
	for _, a := range cfg.Agents.Agents {
		if a.Endpoint.Kind != "" && a.Endpoint.Kind != acd.EndpointWebRTC || a.PasswordHash != "" {
			continue
		}
		if skill != "" && a.Skills[skill] == 0 {
			continue
		}
		all = append(all, a.ID)
	}
	what := "WebRTC agents with the lab password"
	if skill != "" {
		what += " and the skill " + skill
	}
	i := slices.Index(all, first)
	if i < 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("demo: the configuration has no %s", what)
		}
		return nil, fmt.Errorf("demo: --first-agent %s is not one of the configuration's %d %s (%s-%s)", first, len(all), what, all[0], all[len(all)-1])
	}
	if len(all)-i < n {
		return nil, fmt.Errorf("demo: --agents %d: the configuration has only %d %s from %s on (%s-%s)", n, len(all)-i, what, first, first, all[len(all)-1])
	}
	return all[i : i+n], nil
}

// loginAgents logs the agents in, eight at a time; on an error it logs out those
// already in.
func loginAgents(ctx context.Context, o agentsim.Options, ids []string) ([]*agentsim.Agent, error) {
	agents := make([]*agentsim.Agent, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			agents[i], errs[i] = agentsim.Login(lctx, o, id)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAgents(slices.DeleteFunc(agents, func(a *agentsim.Agent) bool { return a == nil }))
		return nil, fmt.Errorf("demo: logging the agents in: %w", err)
	}
	return agents, nil
}

func closeAgents(agents []*agentsim.Agent) {
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() { _ = a.Close() })
	}
	wg.Wait()
}

func printProgress(w io.Writer, since time.Duration, callers []*callersim.Caller) {
	var t callersim.State
	talking, waiting := 0, 0
	for _, c := range callers {
		s := c.State()
		t.Offered += s.Offered
		t.Answered += s.Answered
		t.Abandoned += s.Abandoned
		if s.Talking {
			talking++
			t.Answered++ // answered, not finished yet
		}
		if s.Waiting {
			waiting++
		}
	}
	fmt.Fprintf(w, "  %4.0fs  offered %d  answered %d  talking %d  waiting %d  abandoned %d\n",
		since.Seconds(), t.Offered, t.Answered, talking, waiting, t.Abandoned)
}

// demoSummary is the figures of a run, from the callers' calls joined with what
// the agents saw of them (by the caller's number, which the offer shows).
type demoSummary struct {
	offered, answered, abandoned, verified int
	unfinished, dropped, failed            int
	answerLatency, firstWord, wait         []time.Duration
	problems                               []string
}

// raceWindow: a caller who gave up this soon after an agent's answer is counted
// abandoned (the two crossed), not as an answered call without audio.
const raceWindow = time.Second

func summarise(callers []*callersim.Caller, agents []*agentsim.Agent) demoSummary {
	byCaller := map[string][]agentsim.CallResult{}
	for _, a := range agents {
		for _, r := range a.Results() {
			byCaller[r.Caller] = append(byCaller[r.Caller], r)
		}
	}
	var s demoSummary
	for _, c := range callers {
		for _, r := range c.Results() {
			if !r.Invited.IsZero() {
				s.offered++
			}
			ars := byCaller[r.Caller]
			answeredLate := len(ars) == 0 || !ars[0].Answered.Before(r.Ended.Add(-raceWindow))
			switch {
			case r.Outcome == callersim.Failed:
				s.failed++
				if len(s.problems) < 5 {
					s.problems = append(s.problems, fmt.Sprintf("call from %s failed: %v", r.Caller, r.Err))
				}
				continue
			case r.Outcome == callersim.Abandoned && answeredLate:
				s.abandoned++
				continue
			case r.Outcome == callersim.Unfinished && answeredLate:
				s.unfinished++
				continue
			case r.Outcome == callersim.Dropped && len(ars) == 0:
				s.dropped++
				continue
			}
			// Answered by an agent (or heard one): both directions must be verified.
			s.answered++
			agentHeard := slices.ContainsFunc(ars, func(a agentsim.CallResult) bool { return a.Heard })
			callerHeard := !r.Answered.IsZero()
			if agentHeard && callerHeard {
				s.verified++
			} else if len(s.problems) < 10 {
				agent := "no agent"
				if len(ars) > 0 {
					agent = "agent " + ars[len(ars)-1].Agent
				}
				s.problems = append(s.problems, fmt.Sprintf("call %s from %s (%s): agent heard the caller %v, caller heard the agent %v (caller's outcome %s)",
					r.CallID, r.Caller, agent, agentHeard, callerHeard, r.Outcome))
			}
			if callerHeard {
				s.wait = append(s.wait, r.Wait())
			}
			for _, a := range ars {
				if a.Heard {
					s.answerLatency = append(s.answerLatency, a.FirstAudio)
				}
			}
			// The agent whose tone the caller heard first started it last before.
			var fw time.Time
			for _, a := range ars {
				if !a.FirstWord.IsZero() && !a.FirstWord.After(r.Answered) {
					fw = a.FirstWord
				}
			}
			if callerHeard && !fw.IsZero() {
				s.firstWord = append(s.firstWord, r.Answered.Sub(fw))
			}
		}
	}
	return s
}

func (s demoSummary) print(w io.Writer, f demoFlags) {
	line := func(label, value, note string) {
		fmt.Fprintf(w, "  %-30s %-22s %s\n", label, value, note)
	}
	fmt.Fprintln(w, "hotline demo: summary")
	line("calls offered", strconv.Itoa(s.offered), "(INVITEs to 12345 through the SIP trunk)")
	line("calls answered", strconv.Itoa(s.answered), "(an agent answered)")
	line("calls abandoned", strconv.Itoa(s.abandoned), fmt.Sprintf("(the caller gave up after %v without an agent)", f.patience))
	line("audio verified both ways", strconv.Itoa(s.verified), fmt.Sprintf("of %d answered (the agent heard 1 kHz and the caller heard 440 Hz)", s.answered))
	line("answer latency p50/p99", percentiles(s.answerLatency), "(agent's answer click -> first caller audio at the agent)")
	line("first-word latency p50/p99", percentiles(s.firstWord), "(agent's first word -> first of it at the caller)")
	line("caller wait p50/p99", percentiles(s.wait), fmt.Sprintf("(caller chose the desk -> first agent audio; agents answer after %v)", f.answerAfter))
	if s.unfinished > 0 || s.dropped > 0 || s.failed > 0 {
		line("calls not counted", fmt.Sprintf("%d/%d/%d", s.unfinished, s.dropped, s.failed),
			"(still waiting at the end / ended by the engine before an agent / failed)")
	}
	for _, p := range s.problems {
		fmt.Fprintln(w, "  problem:", p)
	}
}

// percentiles formats the 50th and 99th percentile (nearest rank) of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	r := func(d time.Duration) string {
		if d >= 100*time.Millisecond {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(100 * time.Microsecond).String()
	}
	return r(at(0.50)) + " / " + r(at(0.99))
}

// demoEngine is the engine the demo runs in this process.
type demoEngine struct {
	http string
	sip  netip.AddrPort
	dir  string
	stop chan struct{}
	done chan error
	logs *engineLog
}

// startDemoEngine serves the engine (configFile, if any) in this process on free
// loopback ports with a temporary data folder, and waits until it printed its
// addresses; those lines are passed on to stdout.
func startDemoEngine(configFile string, stdout, stderr io.Writer) (*demoEngine, error) {
	dir, err := os.MkdirTemp("", "hotline-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: data folder: %w", err)
	}
	e := &demoEngine{dir: dir, stop: make(chan struct{}), done: make(chan error, 1), logs: &engineLog{out: stderr}}
	args := []string{"--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--webrtc", "127.0.0.1:0", "--data", dir, "--drain", "5s"}
	if configFile != "" {
		args = append(args, "--config", configFile)
	}
	pr, pw := io.Pipe()
	go func() {
		err := serve(e.stop, args, pw, e.logs)
		pw.Close()
		e.done <- err
	}()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	sipLine := regexp.MustCompile(`^\s+sip udp\s+(\S+)`)
	httpLine := regexp.MustCompile(`^\s+http\s+(https?://\S+)`)
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for !e.sip.IsValid() || e.http == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				err := <-e.done
				os.RemoveAll(dir)
				if err == nil {
					err = errors.New("it has no UDP SIP listener (sip.transports)")
				}
				return nil, fmt.Errorf("demo: the engine did not start: %w", err)
			}
			fmt.Fprintln(stdout, l)
			if m := sipLine.FindStringSubmatch(l); m != nil {
				if e.sip, err = netip.ParseAddrPort(m[1]); err != nil {
					e.close(stderr)
					return nil, fmt.Errorf("demo: the engine's SIP address %q: %w", m[1], err)
				}
			}
			if m := httpLine.FindStringSubmatch(l); m != nil {
				e.http = m[1]
			}
		case <-timeout.C:
			e.close(stderr)
			return nil, errors.New("demo: the engine did not print its addresses within 30s")
		}
	}
	// The rest of the banner ends with the data folder's line.
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if ok {
				fmt.Fprintln(stdout, l)
			}
			done = !ok || strings.HasPrefix(strings.TrimSpace(l), "data ")
		case <-time.After(2 * time.Second):
			done = true
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	return e, nil
}

// close stops the engine (as SIGINT would: calls still up are ended), waits for
// it (at most 30 s) and removes its data folder.
func (e *demoEngine) close(stderr io.Writer) {
	close(e.stop)
	select {
	case err := <-e.done:
		if err != nil {
			fmt.Fprintf(stderr, "hotline demo: the engine: %v\n", err)
		}
	case <-time.After(30 * time.Second):
		fmt.Fprintln(stderr, "hotline demo: the engine did not stop within 30s; last log lines:")
		fmt.Fprintln(stderr, e.logs.tail())
	}
	_ = os.RemoveAll(e.dir)
}

// engineLog takes the engine's log: it passes warnings and errors on (prefixed
// "engine: ") and keeps the last lines for a report.
type engineLog struct {
	out   io.Writer
	mu    sync.Mutex
	part  []byte
	last  []string
	muted bool
}

// mute stops passing lines on: at the end of the run, when the agents log out and
// the engine stops, its warnings about that are expected.
func (l *engineLog) mute() {
	l.mu.Lock()
	l.muted = true
	l.mu.Unlock()
}

func (l *engineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := slices.Index(l.part, '\n')
		if i < 0 {
			break
		}
		line := string(l.part[:i])
		l.part = l.part[i+1:]
		if len(l.last) == 50 {
			l.last = l.last[1:]
		}
		l.last = append(l.last, line)
		if !l.muted && strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") ||
			strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) ||
			strings.HasPrefix(line, "WARNING: DATA RACE") || strings.HasPrefix(line, "panic:") {
			fmt.Fprintln(l.out, "engine:", line)
		}
	}
	return len(p), nil
}

func (l *engineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
