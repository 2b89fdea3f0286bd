// Command hotline runs the 12345 citizen service hotline engine.
//
//	hotline [--config FILE] [--sip ADDR] [--http ADDR] [--data DIR] [--webrtc ADDR] [--self-signed]
//	hotline demo [--agents N] [--callers M] [--duration D] [--attach-http URL --attach-sip ADDR]
//
// With no flags it serves the embedded default configuration: SIP on 127.0.0.1:5060
// (UDP and TCP), HTTP on 127.0.0.1:8080, data under ./hotline-data. SIGTERM stops
// taking calls and lets the calls in progress finish (up to --drain); SIGINT ends
// them at once. This file only wires packages together.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/config"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/report"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hotline:", err)
		os.Exit(1)
	}
}

type flags struct {
	config, sip, http, data string
	webrtc                  string
	drain                   time.Duration
	printConfig             bool
	selfSigned              bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("hotline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "YAML configuration `file` (default: the embedded 12345 demo)")
	fs.StringVar(&f.sip, "sip", "", "SIP listen `address` for UDP and TCP (port 0: any free port)")
	fs.StringVar(&f.http, "http", "", "HTTP listen `address` (port 0: any free port)")
	fs.StringVar(&f.data, "data", "", "data `folder` (journal, messages)")
	fs.StringVar(&f.webrtc, "webrtc", "", "UDP `address` of the agents' browser media (port 0: any free port)")
	fs.BoolVar(&f.selfSigned, "self-signed", false, "serve HTTPS with a self-signed certificate made at start-up (a lab)")
	fs.DurationVar(&f.drain, "drain", 30*time.Second, "on SIGTERM, how long calls in progress may go on")
	fs.BoolVar(&f.printConfig, "print-default-config", false, "print the embedded default configuration and exit")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	return f, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "demo" {
		return runDemo(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "report" {
		return runReport(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "failover" {
		return runFailover(args[1:], stdout, stderr)
	}
	return serve(nil, args, stdout, stderr)
}

// serve runs the engine until a signal; closing quit (hotline demo's own engine)
// ends it as SIGINT does.
func serve(quit <-chan struct{}, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.printConfig {
		_, err := stdout.Write(config.DefaultYAML())
		return err
	}
	cfg, prompts, err := loadConfig(f)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr).With("site", cfg.Site)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	st, site, err := openSite(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer st.Close()
	defer site.close()

	live, err := report.Attach(st, reg, report.LiveOptions{Options: reportOptions(cfg, nil, 0)})
	if err != nil {
		return err
	}
	defer live.Close()

	mgr, err := call.NewManager(cfg.Call, call.Deps{
		Menu: cfg.Menu(), Queues: cfg.Queues, Prompts: prompts, Store: st,
		Registry: reg, Logger: log, MessagesDir: messagesDir(cfg.Data), Agents: cfg.Agents,
		CallbackVia: callbackVia(cfg.SIP.Trunks),
		WebRTC:      webrtcConfig(cfg.WebRTC, log), RestoreTimeout: cfg.WebRTC.RestoreTimeout,
		RecordingsDir: recordingsDir(cfg.Data), Supervisors: supervisorIDs(cfg.Supervisors), TicketsDir: cfg.Data, ReplicateHooks: cfg.Store.Redis != nil,
	})
	if err != nil {
		return err
	}
	defer mgr.Close()
	site.loc = live.Location()
	mgr.SeedACD(live.Location())
	if !site.shared() { // a site of a pair repairs when it becomes active (it writes then)
		if n := mgr.RepairRecordings(false, nil); n > 0 {
			log.Warn("recordings cut by the last stop were repaired", "recordings", n)
		}
	}
	// The ACD runs until the calls have drained, not only until the first signal.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	mgr.Start(runCtx)
	site.recoverCalls(mgr)
	// The ACD's counters are today's, like the reports': they start again at
	// midnight in the reports' time zone.
	go mgr.ResetAtMidnight(runCtx, live.Location())

	accounts := web.NewAccounts(cfg.Agents.Agents, supervisors(cfg.Supervisors), cfg.LabPassword, cfg.SIP.Registrar.Realm)
	registrar, err := sip.NewRegistrar(cfg.SIP.Registrar, accounts.HA1, sip.RegistrarOptions{
		Logger: log, OnReachable: mgr.SeatReachable,
	})
	if err != nil {
		return err
	}
	defer registrar.Close()
	sipSrv, err := sip.NewServer(cfg.SIP, mgr, sip.Options{Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	sipSrv.SetRegistrar(registrar)
	mgr.Attach(sipSrv, registrar)
	site.start(sipSrv, mgr)
	if err := sipSrv.Listen(ctx); err != nil {
		return err
	}
	defer sipSrv.Close()

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	httpSrv := &http.Server{
		Handler: web.Handler(web.Options{
			Calls: st.Calls(), Gatherer: reg, Logger: log, ACD: acdOf(mgr),
			Sessions: site.sessions(web.NewSessions(accounts, nil, 0)), CallControl: mgr, Sites: cfg.HTTP.Sites,
			Events:     st, // the agents' WebSocket
			Softphones: softphones(mgr, cfg.WebRTC), ICEServers: cfg.WebRTC.ICEServers,
			Recordings: mgr,
			Directory:  directory(cfg), Auditor: mgr, Monitor: mgr, Reports: live, Tickets: mgr, Configurer: mgr, Callbacks: mgr,
			Standby: site.standby,
			Ready: func() error {
				if ctx.Err() != nil {
					return errors.New("shutting down")
				}
				return site.ready()
			},
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	scheme := "http"
	if cfg.HTTP.TLSCert != "" || f.selfSigned {
		tc, err := tlsConfig(cfg.HTTP, f.selfSigned, ln.Addr())
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Serve(ln) }()

	base := scheme + "://" + ln.Addr().String()
	sa := sipSrv.Addr()
	fmt.Fprintf(stdout, "hotline: the 12345 engine is up (site %s)\n", cfg.Site)
	for _, t := range cfg.SIP.Transports {
		fmt.Fprintf(stdout, "  sip %s   %s   (call sip:12345@%s)\n", t, sa, sa)
	}
	fmt.Fprintf(stdout, "  http      %s\n", base)
	fmt.Fprintf(stdout, "  calls     %s/api/v1/calls\n", base)
	fmt.Fprintf(stdout, "  metrics   %s/metrics\n", base)
	fmt.Fprintf(stdout, "  health    %s/healthz  %s/readyz\n", base, base)
	fmt.Fprintf(stdout, "  agents    %s/api/v1/agents   queues %s/api/v1/queues\n", base, base)
	if a := mgr.WebRTCAddr(); a.IsValid() {
		fmt.Fprintf(stdout, "  agent page %s/agent/   (media: udp %s)\n", base, a)
	}
	fmt.Fprintf(stdout, "  supervisor %s/supervisor/   reports %s/api/v1/reports\n", base, base)
	if n := cfg.LabAccounts(); n > 0 {
		fmt.Fprintf(stdout, "  login     %d accounts (agents and supervisors) use the lab password %q (loopback only)\n", n, cfg.LabPassword)
	}
	if cfg.Data != "" {
		fmt.Fprintf(stdout, "  data      %s\n", cfg.Data)
	} else {
		fmt.Fprintf(stdout, "  data      (memory only)\n")
	}
	log.Info("engine started", "sip", sa.String(), "http", ln.Addr().String(), "prompts", prompts.Len())

	var sig os.Signal
	select {
	case sig = <-sigs:
	case <-quit:
		sig = syscall.SIGINT
	case err := <-httpDone:
		return fmt.Errorf("http: %w", err)
	}
	stop()
	sipSrv.SetAccepting(false)
	if sig == syscall.SIGTERM {
		log.Info("SIGTERM: taking no new calls, letting calls finish", "calls", mgr.Active(), "drain", f.drain)
		dctx, cancel := context.WithTimeout(context.Background(), f.drain)
		go func() {
			select {
			case <-sigs: // a second signal ends the wait
				cancel()
			case <-dctx.Done():
			}
		}()
		if err := mgr.Drain(dctx); err != nil {
			log.Warn("drain time over: ending the remaining calls", "calls", mgr.Active())
		}
		cancel()
	} else {
		log.Info("SIGINT: ending all calls", "calls", mgr.Active())
	}
	sipSrv.Close() // ends the remaining calls (BYE)
	ectx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = mgr.Drain(ectx)
	_ = httpSrv.Shutdown(ectx)
	log.Info("engine stopped")
	return nil
}

// loadConfig reads the file (if any) over the embedded default, applies the flags,
// loads the prompts and validates everything.
func loadConfig(f flags) (config.Config, *call.Prompts, error) {
	cfg := config.Default()
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return cfg, nil, fmt.Errorf("config: %w", err)
		}
		base := cfg
		if cfg, err = config.Parse(f.config, data, &base); err != nil {
			return cfg, nil, fmt.Errorf("config: %w", err)
		}
	}
	if f.sip != "" {
		cfg.SIP.Listen = f.sip
	}
	if f.http != "" {
		cfg.HTTP.Listen = f.http
	}
	if f.data != "" {
		cfg.Data = f.data
	}
	if f.webrtc != "" {
		cfg.WebRTC.Listen = f.webrtc
	}
	trees := []fs.FS{mustSub(ivr.Prompts, "prompts")}
	if cfg.Prompts != "" {
		if _, err := os.Stat(cfg.Prompts); err != nil {
			return cfg, nil, fmt.Errorf("config: prompts folder: %w", err)
		}
		trees = append(trees, os.DirFS(cfg.Prompts))
	}
	prompts, err := call.LoadPrompts(trees...)
	if err != nil {
		return cfg, nil, fmt.Errorf("prompts: %w", err)
	}
	if err := cfg.Validate(prompts); err != nil {
		return cfg, nil, err
	}
	return cfg, prompts, nil
}

// callbackVia is the outbound address of the first trunk that takes outbound calls.
func callbackVia(trunks []sip.Trunk) string {
	for _, t := range trunks {
		if t.Outbound != "" {
			return t.Outbound
		}
	}
	return ""
}

// supervisors hands the configured supervisors to the web layer's accounts.
func supervisors(cs []config.Supervisor) []web.Supervisor {
	out := make([]web.Supervisor, 0, len(cs))
	for _, s := range cs {
		out = append(out, web.Supervisor{ID: s.ID, PasswordHash: s.PasswordHash})
	}
	return out
}

// acdOf returns the manager's matcher as the web layer's interface, or a nil
// interface when there are no agents (never a typed nil).
func acdOf(m *call.Manager) web.ACD {
	if a := m.ACD(); a != nil {
		return a
	}
	return nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func openStore(dir string, log *slog.Logger) (*store.Store, error) {
	var lg store.Log
	if dir == "" {
		lg = store.NewMemory()
	} else {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
		j, err := store.OpenJournal(dir, store.JournalOptions{Logger: log})
		if err != nil {
			return nil, err
		}
		lg = j
	}
	return store.New(lg, store.Options{})
}

func messagesDir(data string) string {
	if data == "" {
		return os.TempDir()
	}
	return filepath.Join(data, "messages")
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// recordingsDir is where calls are recorded: recordings/ in the data folder; none
// without a data folder (memory only: nothing is recorded).
func recordingsDir(data string) string {
	if data == "" {
		return ""
	}
	return filepath.Join(data, "recordings")
}

// supervisorIDs are the supervisors' ids.
func supervisorIDs(cs []config.Supervisor) []string {
	out := make([]string, 0, len(cs))
	for _, s := range cs {
		out = append(out, s.ID)
	}
	return out
}

// directory is what the supervisor page shows of the configuration.
func directory(cfg config.Config) web.Directory {
	var d web.Directory
	for _, a := range cfg.Agents.Agents {
		pool := a.Pool
		if pool == "" {
			pool = "primary"
		}
		d.Agents = append(d.Agents, web.AgentInfo{ID: a.ID, Name: a.Name, Pool: pool, Skills: a.Skills})
	}
	for _, q := range cfg.Queues {
		q = q.WithDefaults()
		d.Queues = append(d.Queues, web.QueueInfo{Name: q.Name, Skill: q.Skill,
			TargetPercent: q.ServiceLevel.Percent, TargetWithin: q.ServiceLevel.Within})
	}
	return d
}
