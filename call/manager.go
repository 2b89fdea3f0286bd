package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline12345/hotline/acd"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/clock"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/queue"
	"github.com/hotline12345/hotline/recording"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
	"github.com/prometheus/client_golang/prometheus"
)

// Manager runs calls: it is the sip.Handler of the engine.
type Manager struct {
	cfg     Config
	menu    *ivr.Config
	queues  atomic.Pointer[map[string]queue.Config]      // replaced whole when a queue is reconfigured
	agents  atomic.Pointer[map[string]acd.AgentSettings] // the same for the agents' name, pool, skills
	prompts *Prompts
	store   *store.Store
	pool    *media.PortPool
	media   *media.Metrics
	metrics *Metrics
	log     *slog.Logger
	clock   clock.Clock
	dataDir string

	matcher   *acd.Matcher
	router    *acd.Router // seeded from the log before the matcher runs
	queueList []queue.Config
	agentCfg  acd.Config
	endpoints map[string]acd.Endpoint

	wg       sync.WaitGroup
	mu       sync.Mutex
	draining bool
	dialer   Dialer
	locator  Locator
	inbox    map[string]chan acd.Action // by call id: the ACD's actions for the call
	cbInbox  map[string]chan acd.Action // by call id: the actions for a callback being served
	controls map[string]*control        // by agent id: the call the agent is talking on (Control)
	seats    chan seatChange
	runCtx   context.Context // Start's: callbacks live as long as the ACD

	callbackVia string // host:port of the trunk callbacks are dialled through

	supervisors map[string]bool // supervisors' ids: their browsers connect media too

	book  *ticket.Book  // work orders; nil without a data folder
	hooks *ticket.Hooks // the sinks behind the durable outbox
	// With Deps.ReplicateHooks: deliveries to note in the log (hook.delivered),
	// written by one goroutine so that the outbox's workers never wait for it.
	delivered      chan ticket.DeliveryReport
	deliveredDone  chan struct{}
	handoverMu     sync.Mutex
	handover       chan struct{} // closed by HandOverQueued; a new one after EndHandOver
	callbackSecret []byte
	follow         FollowUpConfig
	recs           map[string]*callRecording // by call id, guarded by mu
	recCfg         recording.Config
	recordAnswer   atomic.Bool // some queue records from the engine's answer

	rtc     *media.WebRTC         // nil: no WebRTC seats
	phones  map[string]*softphone // by agent id, guarded by mu
	restore time.Duration         // how long a dropped media connection may take to come back
}

var (
	_ sip.Handler        = (*Manager)(nil)
	_ sip.CancelRecorder = (*Manager)(nil)
)

// Deps are the collaborators of a Manager.
type Deps struct {
	Menu     *ivr.Config
	Queues   []queue.Config
	Prompts  *Prompts
	Store    *store.Store
	Registry prometheus.Registerer
	Logger   *slog.Logger
	Clock    clock.Clock
	// MessagesDir is where messages left in the menu are written.
	MessagesDir string
	// Agents are the seats of the ACD; with none, routed callers hear the hold audio
	// until they hang up.
	Agents acd.Config
	// CallbackVia is host:port of the trunk through which citizens are called back;
	// empty means no callbacks are offered.
	CallbackVia string
	// WebRTC, when not nil, opens the agents' browser side (its Metrics are the
	// manager's); nil leaves WebRTC seats unreachable.
	WebRTC *media.WebRTCConfig
	// TicketsDir is where the hooks' outbox lives (the data folder); empty: no
	// work orders.
	TicketsDir string
	// ReplicateHooks writes every hook event to the log before handing it to the
	// sinks (hook.published) and every delivery after it (hook.delivered), so
	// that a site taking over (Takeover) delivers what the lost site had not. For
	// a log shared by two sites; the local outbox alone is durable on one site.
	ReplicateHooks bool
	// Supervisors are the supervisors' ids (their browsers connect media to
	// listen, whisper and barge).
	Supervisors []string
	// RecordingsDir is where recordings go (Config.Recording.Dir wins when set).
	RecordingsDir string
	// RestoreTimeout is how long an agent's dropped media connection may take to
	// come back (ICE restart) before the call on it goes back to the head of its
	// queue and the agent is logged out; default 10 s.
	RestoreTimeout time.Duration
}

// NewManager validates cfg (the menu and queues are validated by the caller with the
// prompts at hand) and makes the RTP port pool.
func NewManager(cfg Config, d Deps) (*Manager, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("call config: %w", errors.Join(asErrors(errs)...))
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	pool, err := media.NewPortPool(cfg.Media.ip, cfg.Media.PortMin, cfg.Media.PortMax)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg: cfg, menu: d.Menu, prompts: d.Prompts, store: d.Store, pool: pool,
		media: media.NewMetrics(d.Registry), metrics: NewMetrics(d.Registry),
		log: d.Logger, clock: d.Clock, dataDir: d.MessagesDir,
	}
	qs := map[string]queue.Config{}
	for _, q := range d.Queues {
		qs[q.Name] = q
	}
	m.queues.Store(&qs)
	as := map[string]acd.AgentSettings{}
	for _, a := range d.Agents.Agents {
		as[a.ID] = acd.AgentSettings{Name: a.Name, Pool: a.Pool, Skills: a.Skills}
	}
	m.agents.Store(&as)
	m.inbox = map[string]chan acd.Action{}
	m.cbInbox = map[string]chan acd.Action{}
	m.callbackVia = d.CallbackVia
	m.seats = make(chan seatChange, 1024)
	m.endpoints = map[string]acd.Endpoint{}
	m.phones = map[string]*softphone{}
	m.recs = map[string]*callRecording{}
	m.supervisors = map[string]bool{}
	for _, id := range d.Supervisors {
		m.supervisors[id] = true
	}
	m.recCfg = recording.Config{Dir: cfg.Recording.Dir, Key: cfg.Recording.key, Clock: d.Clock, Logger: d.Logger}
	if m.recCfg.Dir == "" {
		m.recCfg.Dir = d.RecordingsDir
	}
	for _, q := range d.Queues {
		if q.Record == queue.RecordAnswer {
			m.recordAnswer.Store(true)
		}
	}
	m.restore = d.RestoreTimeout
	if m.restore <= 0 {
		m.restore = 10 * time.Second
	}
	if d.WebRTC != nil {
		wc := *d.WebRTC
		wc.Metrics = m.media
		if wc.Logger == nil {
			wc.Logger = d.Logger
		}
		if m.rtc, err = media.NewWebRTC(wc); err != nil {
			return nil, err
		}
	}
	if d.TicketsDir != "" && d.Store != nil {
		if d.ReplicateHooks {
			m.delivered, m.deliveredDone = make(chan ticket.DeliveryReport, 1024), make(chan struct{})
			go m.noteDeliveries()
		}
		if err := m.openTickets(cfg.Tickets, cfg.Hooks, d.TicketsDir, d.Logger); err != nil {
			return nil, err
		}
	}
	if len(d.Agents.Agents) > 0 {
		for _, a := range d.Agents.Agents {
			m.endpoints[a.ID] = a.Endpoint
		}
		router, err := acd.NewRouter(d.Queues, d.Agents, acd.Deps{Clock: d.Clock, Sink: m, Emit: m.emitACD})
		if err != nil {
			return nil, err
		}
		m.router, m.queueList, m.agentCfg = router, d.Queues, d.Agents
		m.replayConfig()
		m.matcher = acd.NewMatcher(router)
	}
	return m, nil
}

// Start runs the ACD matcher until ctx ends.
func (m *Manager) Start(ctx context.Context) {
	m.mu.Lock()
	m.runCtx = ctx
	m.mu.Unlock()
	m.watchOverdue(ctx)
	go m.returnMemory(ctx, 30*time.Second)
	if m.recCfg.Dir != "" {
		go m.sweepRecordings(ctx.Done())
	}
	if m.matcher != nil {
		go func() { _ = m.matcher.Run(ctx) }()
		go m.applySeats(ctx)
	}
}

// WebRTCAddr is the UDP address agents' browsers send their media to; invalid
// without WebRTC.
func (m *Manager) WebRTCAddr() netip.AddrPort {
	if m.rtc == nil {
		return netip.AddrPort{}
	}
	return m.rtc.Addr()
}

// Close closes the agents' media connections and the WebRTC port. Calls still
// running lose their agents' audio; call it after Drain.
func (m *Manager) Close() {
	m.mu.Lock()
	phones := make([]*softphone, 0, len(m.phones))
	for _, ph := range m.phones {
		phones = append(phones, ph)
	}
	m.mu.Unlock()
	for _, ph := range phones {
		ph.peer.Close()
	}
	if m.rtc != nil {
		_ = m.rtc.Close()
	}
	if m.hooks != nil {
		_ = m.hooks.Close()
	}
	if m.delivered != nil {
		close(m.delivered)
		<-m.deliveredDone
	}
}

// HandOverQueued is a planned switchover's step: every caller waiting in a queue
// (now, or arriving there later until EndHandOver) becomes a callback request that
// keeps its place, hears the callback confirmation and is hung up: the site that
// takes over calls them back (Takeover). Callers talking to agents go on.
func (m *Manager) HandOverQueued() {
	m.handoverMu.Lock()
	defer m.handoverMu.Unlock()
	if m.handover == nil {
		m.handover = make(chan struct{})
	}
	select {
	case <-m.handover:
	default:
		close(m.handover)
	}
}

// EndHandOver ends HandOverQueued's effect (the site may be active again later).
func (m *Manager) EndHandOver() {
	m.handoverMu.Lock()
	defer m.handoverMu.Unlock()
	m.handover = make(chan struct{})
}

// handoverCh is the channel HandOverQueued closes.
func (m *Manager) handoverCh() chan struct{} {
	m.handoverMu.Lock()
	defer m.handoverMu.Unlock()
	if m.handover == nil {
		m.handover = make(chan struct{})
	}
	return m.handover
}

// SeedACD sets the ACD's counters of today (midnight in loc) from the log, so that
// after a restart the wallboard goes on from where the day stands, as the reports
// and the metrics do. Call it before Start (a standby that becomes active uses
// ACDCounters and ReseedACD).
func (m *Manager) SeedACD(loc *time.Location) {
	if m.router == nil || m.store == nil {
		return
	}
	today, err := m.eventsToday(context.Background(), loc, math.MaxUint64)
	if err != nil {
		m.log.Warn("ACD counters not seeded from the log", "error", err)
		return
	}
	if len(today) == 0 {
		return
	}
	m.router.SeedCounters(acd.Recount(m.queueList, m.agentCfg, today))
	m.log.Info("ACD counters go on from the log", "events_today", len(today))
}

// ACDCounters returns the ACD's numbers now (the base of a later ReseedACD).
func (m *Manager) ACDCounters(ctx context.Context) (acd.Stats, error) {
	if m.matcher == nil {
		return acd.Stats{}, nil
	}
	return m.matcher.Stats(ctx)
}

// ReseedACD sets the running ACD's counters of today (midnight in loc) to the
// Recount of the log's events up to seq upTo, plus what the ACD counted since its
// numbers were base (ACDCounters taken when the log stood at upTo). A standby
// that becomes active calls it after it takes calls: the day's figures are then
// the log's, the lost site's included, and nothing counted meanwhile is lost.
func (m *Manager) ReseedACD(ctx context.Context, loc *time.Location, upTo uint64, base acd.Stats) error {
	if m.matcher == nil || m.store == nil {
		return nil
	}
	today, err := m.eventsToday(ctx, loc, upTo)
	if err != nil {
		return fmt.Errorf("reseed the ACD's counters: %w", err)
	}
	if err := m.matcher.ReseedCounters(ctx, base, acd.Recount(m.queueList, m.agentCfg, today)); err != nil {
		return fmt.Errorf("reseed the ACD's counters: %w", err)
	}
	m.log.Info("ACD counters take up the day from the log", "events_today", len(today), "up_to_seq", upTo)
	return nil
}

// eventsToday reads the log's events of today (from midnight in loc) up to seq
// upTo.
func (m *Manager) eventsToday(ctx context.Context, loc *time.Location, upTo uint64) ([]event.Event, error) {
	now := m.clock.Now().In(loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	var today []event.Event
	stop, err := m.store.Follow(ctx, 0, func(ev *event.Event) {
		if ev.Seq <= upTo && !ev.Time.Before(midnight) {
			today = append(today, *ev)
		}
	})
	if err != nil {
		return nil, err
	}
	stop()
	return today, nil
}

// ResetAtMidnight starts the ACD's counters again at every midnight in loc (a new
// day for the wallboard, as for the reports), until ctx ends.
func (m *Manager) ResetAtMidnight(ctx context.Context, loc *time.Location) {
	if m.matcher == nil {
		return
	}
	for {
		now := m.clock.Now().In(loc)
		next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
		t := m.clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		if err := m.matcher.Do(ctx, acd.Command{Kind: acd.CmdResetCounters}); err != nil && ctx.Err() == nil {
			m.log.Warn("ACD counters not reset at midnight", "error", err)
		} else {
			m.log.Info("a new day: ACD counters start again")
		}
	}
}

// Audit writes a supervisor's action to the event log (web.Auditor).
func (m *Manager) Audit(ev event.Event) {
	m.log.Info("supervisor action", "supervisor", ev.Agent, "action", ev.Reason, "call_id", ev.Call, "agent_id", ev.Dialled,
		"state", ev.State, "queue", ev.Queue)
	m.emitID(ev.Call, m.log, ev)
}

// queue is the configuration of queue name (zero and false when unknown).
func (m *Manager) queue(name string) queue.Config {
	return (*m.queues.Load())[name]
}

// hasQueue reports whether a queue is configured.
func (m *Manager) hasQueue(name string) bool {
	_, ok := (*m.queues.Load())[name]
	return ok
}

// queueMap is the queues' configuration (read only).
func (m *Manager) queueMap() map[string]queue.Config { return *m.queues.Load() }

// ACD is the matcher the web layer changes agent states through; nil without agents.
func (m *Manager) ACD() *acd.Matcher { return m.matcher }

// emitACD writes the matcher's events to the log. It runs on the matcher's goroutine:
// the journal append is one write(2), never an fsync.
func (m *Manager) emitACD(ev event.Event) {
	if err := m.store.Append(context.Background(), &ev); err != nil {
		m.log.Error("ACD event not stored", "type", string(ev.Type), "error", err)
	}
}

func asErrors(fe []FieldError) []error {
	out := make([]error, len(fe))
	for i := range fe {
		out[i] = fe[i]
	}
	return out
}

// Admit implements sip.Handler: numbers not configured get 404.
func (m *Manager) Admit(_ *sip.Trunk, dialled string) int {
	if _, ok := m.cfg.Numbers[dialled]; !ok {
		m.metrics.result("not_found")
		return 404
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining {
		m.metrics.result("rejected")
		return 503
	}
	return 0
}

// Drain stops admitting calls and waits until the calls in progress have ended or ctx
// ends.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Active is the number of calls being served.
func (m *Manager) Active() int { return m.metrics.activeCount() }

// emit writes one event of the call; a store failure is logged, never fatal to the call.
func (m *Manager) emit(c *sip.Call, ev event.Event) { m.emitID(c.ID, c.Log, ev) }

// emitID writes one event of the call with that id.
func (m *Manager) emitID(id string, log *slog.Logger, ev event.Event) {
	ev.Call = id
	if ev.Time.IsZero() {
		ev.Time = m.clock.Now()
	}
	// No timeout context per event: a journal append is a mutex and one write(2), and
	// a timer per event was a measurable share of the CPU at 1,500 calls/s.
	if err := m.store.Append(context.Background(), &ev); err != nil {
		log.Error("event not stored", "type", string(ev.Type), "error", err)
	}
}

// ServeCall implements sip.Handler: the script of one call.
func (m *Manager) ServeCall(c *sip.Call) {
	m.wg.Add(1)
	defer m.wg.Done()
	m.metrics.started()
	defer m.metrics.finished()
	start := m.clock.Now()
	c.Log.Info("call arrived", "caller", Masked(c.Caller), "dialled", c.Dialled, "trunk", c.Trunk.Name, "transport", c.Transport, "source", c.Source)
	m.emit(c, event.Event{Type: event.CallCreated, Time: start, Caller: c.Caller, Dialled: c.Dialled,
		Trunk: c.Trunk.Name, Direction: "inbound", Transport: c.Transport})

	end := m.run(c)
	end.ev.Type = event.CallEnded
	m.emit(c, end.ev)
	m.metrics.result(end.result)
	c.Log.Info("call ended", "side", end.ev.Side, "cause", end.ev.Cause, "code", end.ev.Code, "result", end.result,
		"duration", m.clock.Now().Sub(start).Round(time.Millisecond))
}

// ending is how a call ended: the CallEnded event and the metric label.
type ending struct {
	ev     event.Event
	result string
}

func rejected(code int, cause string) ending {
	return ending{ev: event.Event{Side: event.SideEngine, Cause: cause, Code: code}, result: "rejected"}
}

// run answers the call, runs the menu and holds the caller until the call ends.
func (m *Manager) run(c *sip.Call) ending {
	num := m.cfg.Numbers[c.Dialled]
	if num.Ring > 0 {
		if err := c.Ringing(); err != nil {
			c.Log.Debug("180 not sent", "error", err)
		}
		t := m.clock.NewTimer(num.Ring)
		select {
		case <-t.C():
		case <-c.Context().Done():
			t.Stop()
			return m.unanswered(c)
		}
	}

	conn, err := m.pool.Listen()
	if err != nil {
		c.Log.Error("no RTP port", "error", err)
		_ = c.Reject(503, "Service Unavailable")
		return rejected(503, "no RTP port free")
	}
	local := netip.AddrPortFrom(m.cfg.Media.ip, uint16(conn.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()))
	origin := media.Origin{Username: "hotline", SessionID: rand.Uint64() >> 1, Version: 1, Addr: m.cfg.Media.ip}

	var neg media.Negotiated
	var sdp []byte
	if c.Offer != nil {
		desc, err := media.ParseSDP(c.Offer)
		if err == nil {
			neg, err = media.Negotiate(desc, m.cfg.Media.codecs)
		}
		if err != nil {
			m.pool.Release(conn)
			code, cause := offerStatus(err)
			c.Log.Info("offer refused", "code", code, "error", err)
			_ = c.Reject(code, "")
			return rejected(code, cause)
		}
		sdp = media.Answer(local, neg, origin)
	} else {
		sdp = media.Offer(local, m.cfg.Media.codecs, m.cfg.Media.DTMFPayloadType, media.DefaultPTime, origin)
	}

	// A re-INVITE can come right after the ACK, before the media leg below exists:
	// it waits (briefly) for the leg instead of being refused.
	legReady := make(chan func([]byte) ([]byte, error), 1)
	c.OnReoffer(func(offer []byte) ([]byte, error) {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case fn := <-legReady:
			legReady <- fn
			return fn(offer)
		case <-t.C:
		case <-c.Context().Done():
		}
		return nil, &sip.RejectError{Code: 491, Reason: "Request Pending", Err: errors.New("call media not set up yet")}
	})
	ack, err := c.Answer(sdp)
	if err != nil {
		m.pool.Release(conn)
		if errors.Is(err, sip.ErrNoACK) {
			m.hangup(c, 16, "no ACK") // RFC 3261 13.3.1.4: end the session with BYE
			return ending{ev: event.Event{Side: event.SideEngine, Cause: "no ACK for the 200 OK"}, result: "failed"}
		}
		return m.unanswered(c)
	}
	if c.Offer == nil {
		desc, err := media.ParseSDP(ack)
		if err == nil {
			neg, err = media.AnswerTo(desc, m.cfg.Media.codecs)
		}
		if err != nil {
			m.pool.Release(conn)
			c.Log.Info("answer in the ACK refused", "error", err)
			m.hangup(c, 488, "no acceptable answer in the ACK")
			return ending{ev: event.Event{Side: event.SideEngine, Cause: "no acceptable SDP answer in the ACK", Code: 488}, result: "failed"}
		}
	}
	m.emit(c, event.Event{Type: event.CallAnswered, Codec: neg.Codec.Name})

	sess := media.NewSession(conn, m.pool, media.SessionConfig{
		Codec: neg.Codec, DTMF: neg.DTMF, PTime: neg.PTime, Remote: neg.Remote,
		Latch: latchMode(c.Trunk), Inband: inband(c.Trunk, neg), Timeout: m.rtpTimeout(),
		Metrics: m.media, Logger: c.Log,
	})
	sess.Start()
	defer sess.Close()
	if cr := m.startRecording(c, sess); cr != nil {
		defer cr.finish() // before the session closes: the file ends with the call
	}
	if !neg.Direction.Sends() || !neg.Direction.Receives() {
		sess.Update(neg.Remote, neg.Codec, neg.DTMF, neg.Direction.Sends(), neg.Direction.Receives())
	}

	ctx, cancel := context.WithCancelCause(c.Context())
	defer cancel(nil)
	go func() {
		select {
		case <-sess.Done():
			cancel(sess.Err())
		case <-ctx.Done():
		}
	}()

	leg := newLeg(ctx, m, c, sess, neg)
	legReady <- leg.reoffer(&origin, local)

	res, err := ivr.Run(ctx, leg, m.menu, ivr.Options{
		Clock: m.clock, Logger: c.Log,
		Emit: func(ev event.Event) { m.emit(c, ev) },
	})
	answered := false
	if err == nil && res.Action == ivr.ActionRoute {
		c.Log.Info("routed", "queue", res.Route.Queue, "skill", res.Route.Skill, "priority", res.Route.Priority, "language", res.Route.Language, "digits", res.Digits)
		err = m.queueCall(ctx, c, sess, leg.Digits(), neg, res.Route, &answered)
		if errors.Is(err, errNoAgents) {
			err = m.hold(ctx, sess, res.Route)
		}
	}
	if err == nil {
		// The menu said goodbye.
		m.hangup(c, 16, "menu ended")
		return ending{ev: event.Event{Side: event.SideEngine, Cause: "menu ended", Code: 200}, result: "completed"}
	}
	cause := context.Cause(ctx)
	if errors.Is(err, errAgentHungUp) {
		cause = err
	}
	if errors.Is(err, errCallbackRequested) {
		return ending{ev: event.Event{Side: event.SideEngine, Cause: "callback requested: the caller keeps their place", Code: 200}, result: "callback"}
	}
	end := m.ended(c, cause, res)
	if answered {
		end.result = "answered"
	} else if end.result == "routed" && m.matcher != nil {
		end.result = "abandoned_in_queue"
	}
	return end
}

// hold plays the queue's hold audio until the call ends (the ACD takes it from here
// in a later release).
func (m *Manager) hold(ctx context.Context, sess *media.Session, r ivr.Route) error {
	if src := m.holdSource(m.queue(r.Queue), r.Language, true); src != nil {
		if err := sess.Play(ctx, src); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return context.Cause(ctx)
}

// ended classifies why an answered call ended and hangs up from our side when it
// was not the caller who ended it.
func (m *Manager) ended(c *sip.Call, cause error, res ivr.Result) ending {
	result := "abandoned_in_menu"
	if res.Action == ivr.ActionRoute {
		result = "routed"
	}
	switch {
	case errors.Is(cause, errAgentHungUp):
		m.hangup(c, 16, "agent hung up")
		return ending{ev: event.Event{Side: event.SideAgent, Cause: "agent hung up", Code: 200}, result: result}
	case errors.Is(cause, sip.ErrRemoteBye):
		return ending{ev: event.Event{Side: event.SideCaller, Cause: "caller hung up", Code: 200}, result: result}
	case errors.Is(cause, media.ErrRTPTimeout):
		m.hangup(c, 41, "RTP timeout")
		return ending{ev: event.Event{Side: event.SideEngine, Cause: "no RTP received within " + m.rtpTimeout().String(), Code: 408}, result: "failed"}
	case errors.Is(cause, sip.ErrSessionExpired):
		m.hangup(c, 102, "session timer expired")
		return ending{ev: event.Event{Side: event.SideEngine, Cause: "session timer expired without refresh", Code: 408}, result: "failed"}
	case errors.Is(cause, sip.ErrShutdown):
		m.hangup(c, 16, "engine shutting down")
		return ending{ev: event.Event{Side: event.SideEngine, Cause: "engine shut down", Code: 200}, result: result}
	}
	m.hangup(c, 16, "ended")
	return ending{ev: event.Event{Side: event.SideEngine, Cause: fmt.Sprint(cause)}, result: "failed"}
}

// unanswered classifies a call that ended before it was answered.
func (m *Manager) unanswered(c *sip.Call) ending {
	cause := context.Cause(c.Context())
	if errors.Is(cause, sip.ErrCanceled) {
		return ending{ev: event.Event{Side: event.SideCaller, Cause: "caller cancelled", Code: 487}, result: "cancelled"}
	}
	if errors.Is(cause, sip.ErrRemoteBye) {
		return ending{ev: event.Event{Side: event.SideCaller, Cause: "caller hung up before the ACK", Code: 200}, result: "abandoned_in_menu"}
	}
	return ending{ev: event.Event{Side: event.SideEngine, Cause: fmt.Sprint(cause)}, result: "failed"}
}

func (m *Manager) hangup(c *sip.Call, q850 int, text string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Hangup(ctx, q850, text); err != nil && !errors.Is(err, sip.ErrEnded) {
		c.Log.Info("BYE failed", "error", err)
	}
}

func (m *Manager) rtpTimeout() time.Duration {
	if m.cfg.Media.RTPTimeout < 0 {
		return 0
	}
	return m.cfg.Media.RTPTimeout
}

// offerStatus maps an SDP problem to the SIP status and the cause recorded.
func offerStatus(err error) (int, string) {
	switch {
	case errors.Is(err, media.ErrMalformedSDP):
		return 400, "malformed SDP offer"
	default:
		return 488, "no common codec or media: " + err.Error()
	}
}

func latchMode(t *sip.Trunk) media.LatchMode {
	if t.NAT {
		return media.LatchFirst
	}
	return media.LatchSDP
}

// inband says whether to run the Goertzel detector: when the trunk says so, or, in
// auto mode, when the caller offered no telephone-event.
func inband(t *sip.Trunk, n media.Negotiated) bool {
	switch t.DTMF {
	case "inband":
		return true
	case "auto", "":
		return n.DTMF == 0
	}
	return false
}

// returnMemory gives the heap left by a burst of calls back to the system once the
// engine is idle: with no calls nothing allocates, so no garbage collection would run
// (and no memory would be returned) until Go's forced one every two minutes.
func (m *Manager) returnMemory(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	seen, busy := m.metrics.total.Load(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Calls can be shorter than a tick: count starts, not just who is up now.
			if n := m.metrics.total.Load(); n != seen || m.Active() > 0 {
				seen, busy = n, true
				continue
			}
			if busy {
				busy = false
				debug.FreeOSMemory()
			}
		}
	}
}

// CancelledEarly implements sip.CancelRecorder: a call whose CANCEL overtook its
// INVITE is recorded as created and cancelled, so the numbers still add up.
func (m *Manager) CancelledEarly(trunk *sip.Trunk, caller, dialled, transport string) {
	id := fmt.Sprintf("x%011x", rand.Uint64()>>20)
	log := m.log.With("call_id", id)
	log.Info("call cancelled before it started", "caller", Masked(caller), "dialled", dialled)
	m.emitID(id, log, event.Event{Type: event.CallCreated, Caller: caller, Dialled: dialled, Trunk: trunk.Name, Direction: "inbound", Transport: transport})
	m.emitID(id, log, event.Event{Type: event.CallEnded, Side: event.SideCaller, Cause: "caller cancelled", Code: 487})
	m.metrics.result("cancelled")
}
