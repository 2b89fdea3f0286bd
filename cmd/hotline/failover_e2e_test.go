package main

// Hot standby from outside: two engines share one redis-server (the same log
// prefix) with a short lease. One is active, the other answers INVITE and OPTIONS
// with 503 and /readyz with 503 while it follows the log. A citizen waits in the
// general queue at the active one; the active engine is killed (SIGKILL); the test
// measures how long until the standby answers a new INVITE, checks that the cut-off
// call is ended in the log ("site lost") and waits on the callback list, that the
// killed engine restarted on the same Redis comes back as standby (never a second
// active), and that a planned switchover hands the lease back.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/redis/go-redis/v9"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/internal/redistest"
	"github.com/hotline12345/hotline/internal/siptest"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// failoverConfig is one site of the pair: lease TTL 1 s, renewed every 200 ms.
func failoverConfig(site, redisAddr string) string {
	return fmt.Sprintf(`
site: %s
store:
  redis: {addr: "%s", prefix: e2e}
  lease: {ttl: 1s, renew: 200ms}
`, site, redisAddr)
}

// readyz returns the status of GET /readyz (0 when the engine does not answer).
func (e *engine) readyz() int {
	code, _, err := e.get("/readyz")
	if err != nil {
		return 0
	}
	return code
}

// callbacks returns the callback requests waiting in queue name.
func (e *engine) callbacks(name string) (int, error) {
	var out struct {
		Queues []struct {
			Name      string `json:"name"`
			Callbacks int    `json:"callbacks"`
		} `json:"queues"`
	}
	if err := e.getJSON("/api/v1/queues", &out); err != nil {
		return 0, err
	}
	for _, q := range out.Queues {
		if q.Name == name {
			return q.Callbacks, nil
		}
	}
	return 0, fmt.Errorf("no queue %s", name)
}

// waitFor polls cond every 50 ms for at most d and fails the test with what when
// it does not hold by then.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inviteStatus places one call to 12345 through u (offering rtp) and returns the final status (0 on
// a transport error or timeout); an answered call is hung up at once.
func inviteStatus(ctx context.Context, u *siptest.UAC, rtp netip.AddrPort) int {
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := u.Invite(ictx, "12345", siptest.Offer(rtp, 1, "", 101, media.PCMU))
	if err != nil {
		return siptest.StatusCode(err)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer hcancel()
	_ = c.Hangup(hctx)
	return c.Response.StatusCode
}

func TestFailoverTakeover(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfgA, cfgB := failoverConfig("site-a", rs.Addr), failoverConfig("site-b", rs.Addr)
	a := startEngine(t, engineOptions{Config: cfgA})
	waitFor(t, 10*time.Second, "site-a active (/readyz 200)", func() bool { return a.readyz() == http.StatusOK })
	b := startEngine(t, engineOptions{Config: cfgB})
	// b is up; it must stay standby while a holds the lease.
	time.Sleep(1500 * time.Millisecond) // more than a lease TTL: b had every chance to take it
	if code := b.readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("standby /readyz: %d, want 503", code)
	}
	if code := a.readyz(); code != http.StatusOK {
		t.Fatalf("active /readyz: %d, want 200", code)
	}
	if _, body, _ := b.get("/readyz"); !strings.Contains(string(body), "standby") {
		t.Errorf("standby /readyz says %s, want it to say standby", body)
	}
	// The standby's API is read-only: a change is refused, a read is served.
	if code, body, _ := b.post("/api/v1/agents/1001/state", b.login("admin"), `{"state": "ready"}`); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "standby") {
		t.Errorf("a change on the standby: %d %s, want 503 standby", code, body)
	}
	if code, _, _ := b.get("/api/v1/queues"); code != http.StatusOK {
		t.Errorf("a read on the standby: %d, want 200", code)
	}

	// The standby refuses calls and OPTIONS with 503 (and a Retry-After).
	ub := newUAC(t, b, siptest.Options{})
	probe := newPeer(t, media.PCMU, 101)
	if _, err := ub.Invite(ctx, "12345", siptest.Offer(probe.Addr(), 1, "", 101, media.PCMU)); siptest.StatusCode(err) != 503 {
		t.Fatalf("INVITE at the standby: %v, want 503", err)
	}
	octx, ocancel := context.WithTimeout(ctx, 3*time.Second)
	res, err := ub.Do(octx, ub.Request(sipmsg.OPTIONS, "12345"))
	ocancel()
	if err != nil || res.StatusCode != 503 {
		t.Fatalf("OPTIONS at the standby: %v %v, want 503", res, err)
	}
	if res.GetHeader("Retry-After") == nil {
		t.Errorf("the standby's 503 has no Retry-After:\n%s", res)
	}

	// A citizen presses 1 at the active site and waits in the general queue.
	pressOne(ctx, t, a, nil)
	cut := a.waitCall("routed to general", 15*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateRouted && c.Route != nil && c.Route.Queue == "general"
	})
	// The standby's projection is warm: it shows the call, routed, from the log.
	b.waitCall("followed from the log", 5*time.Second, func(c store.CallRecord) bool {
		return c.ID == cut.ID && c.State == store.StateRouted
	})

	// A supervisor changes a queue at the active site (the standby follows it).
	if code, body := a.put("/api/v1/queues/general", a.login("admin"), `{"ring_timeout": "7s"}`); code != http.StatusOK {
		t.Fatalf("PUT ring_timeout at the active site: %d %s", code, body)
	}
	waitLog(t, a, `action=configure-queue`, 5*time.Second)

	// The active site is lost.
	a.kill()
	lost := time.Now()
	status := 0
	for time.Since(lost) < 15*time.Second {
		if status = inviteStatus(ctx, ub, probe.Addr()); status == 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != 200 {
		t.Fatalf("the standby did not answer a new call within 15 s of the active site's loss (last status %d)", status)
	}
	took := time.Since(lost)
	t.Logf("takeover: the standby answered a new INVITE %.2f s after the active engine was killed (lease ttl 1s, renew 200ms)", took.Seconds())
	if code := b.readyz(); code != http.StatusOK {
		t.Errorf("/readyz of the new active site: %d, want 200", code)
	}

	// The cut-off call is ended in the log and its caller is on the callback list.
	b.waitCall("cut off and ended", 5*time.Second, func(c store.CallRecord) bool {
		return c.ID == cut.ID && c.State == store.StateEnded && c.Cause == "site lost" && c.Side == "engine"
	})
	waitFor(t, 5*time.Second, "one callback request in general at the new active site", func() bool {
		n, err := b.callbacks("general")
		return err == nil && n == 1
	})
	// The queue's run-time change made at the lost site holds at the new one.
	var qs struct {
		RingTimeout float64 `json:"ring_timeout_seconds"`
	}
	if code, body := b.put("/api/v1/queues/general", b.login("admin"), `{}`); code != http.StatusOK || json.Unmarshal(body, &qs) != nil || qs.RingTimeout != 7 {
		t.Errorf("general's settings at the new active site: %d %s, want ring_timeout_seconds 7 (changed at the lost site)", code, body)
	}
	// The day's figures at the new active site are the log's: the caller was
	// offered once, and waits on (as a callback request).
	if q := queueOf(t, b, "general"); q.Offered != 1 || q.Waiting != 1 || q.Answered != 0 || q.Exited != 0 {
		t.Errorf("general at the new active site: %+v, want 1 offered, 1 waiting", q)
	}
	if got := b.metric("hotline_queue_calls_offered_total", `queue="general"`); got != 1 {
		t.Errorf("hotline_queue_calls_offered_total{general} = %v at the new active site, want 1", got)
	}

	for _, l := range strings.Split(b.stderr.String(), "\n") {
		if strings.Contains(l, "site is active") {
			t.Logf("site-b: %s", l)
		}
	}

	// The lost engine comes back on the same Redis: standby, never a second active.
	a2 := startEngine(t, engineOptions{Config: cfgA, Data: a.data})
	a2.waitCall("ended, from the log", 5*time.Second, func(c store.CallRecord) bool {
		return c.ID == cut.ID && c.State == store.StateEnded
	})
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if ra, rb := a2.readyz(), b.readyz(); ra != http.StatusServiceUnavailable || rb != http.StatusOK {
			t.Fatalf("after the restart: site-a /readyz %d (want 503), site-b %d (want 200)", ra, rb)
		}
	}

	// failover status names the holder and both sites.
	out, err := exec.CommandContext(ctx, hotlineBin, "failover", "status", "--redis", rs.Addr, "--prefix", "e2e").CombinedOutput()
	if err != nil {
		t.Fatalf("failover status: %v\n%s", err, out)
	}
	t.Logf("hotline failover status:\n%s", out)
	for _, want := range []string{"held by site-b", "site-a: standby", "site-b: active", "last event"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("failover status does not say %q", want)
		}
	}

	// A planned switchover hands the lease back to site-a, which picks up the
	// callback request still waiting.
	start := time.Now()
	out, err = exec.CommandContext(ctx, hotlineBin, "failover", "switchover", "--redis", rs.Addr, "--prefix", "e2e",
		"--drain", "2s", "--timeout", "15s").CombinedOutput()
	if err != nil {
		t.Fatalf("failover switchover: %v\n%s", err, out)
	}
	t.Logf("hotline failover switchover (%.2f s):\n%s", time.Since(start).Seconds(), out)
	waitFor(t, 5*time.Second, "site-a active and site-b standby after the switchover", func() bool {
		return a2.readyz() == http.StatusOK && b.readyz() == http.StatusServiceUnavailable
	})
	waitFor(t, 5*time.Second, "the callback request at site-a", func() bool {
		n, err := a2.callbacks("general")
		return err == nil && n == 1
	})
	if q := queueOf(t, a2, "general"); q.Offered != 1 || q.Waiting != 1 {
		t.Errorf("general at site-a after the switchover: %+v, want 1 offered, 1 waiting", q)
	}
}

// TestFailoverAgentMoves: an agent talking to a citizen at the active site loses
// that site. The agent (agentsim, as the agent page does) finds the other site by
// its /readyz, keeps its session there (the pair shares sessions in Redis),
// connects new media and is ready again; the new active site calls the cut-off
// citizen back (their phone on the trunk's outbound address) and puts the call
// through to that agent.
func TestFailoverAgentMoves(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	requireTool(t, "sipp", "sip-tester")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	outbound, release := reserveUDPPort(t)
	cfgA := failoverConfig("site-a", rs.Addr) + callbackConfig(outbound)
	cfgB := failoverConfig("site-b", rs.Addr) + callbackConfig(outbound)
	a := startEngine(t, engineOptions{Config: cfgA})
	waitFor(t, 10*time.Second, "site-a active", func() bool { return a.readyz() == http.StatusOK })
	b := startEngine(t, engineOptions{Config: cfgB})

	agent, err := agentsim.Login(ctx, agentsim.Options{Base: a.http, Password: labPassword,
		Sites: []string{a.http, b.http}, MoveTimeout: 20 * time.Second}, "1035")
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agent.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent 1035: %v", err)
		}
		agent.Close()
	})

	// The citizen talks to the agent at site-a.
	pressOne(ctx, t, a, agentsim.Tone(1000).Loop())
	cut := a.waitCall("connected to 1035 at site-a", 20*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateConnected && c.Agent == "1035"
	})
	// The citizen's phone, where the new site will call back.
	release()
	citizen := (&seat{t: t, e: b, id: callbackCitizen, port: outbound}).answerCallback(3 * time.Second)

	a.kill()
	lost := time.Now()
	waitFor(t, 20*time.Second, "the agent moved to site-b", func() bool { return agent.Moves() == 1 && agent.Site() == b.http })
	t.Logf("the agent was ready at site-b %.2f s after site-a was killed", time.Since(lost).Seconds())
	b.waitAgent("1035", "logged in at site-b", 5*time.Second, func(s agentStat) bool { return s.State != "logged-out" })

	// The cut-off citizen is called back from site-b and put through to the agent.
	b.waitCall("called back and connected to 1035 at site-b", 30*time.Second, func(c store.CallRecord) bool {
		return c.ID == cut.ID+"-cb" && c.State == store.StateConnected && c.Agent == "1035"
	})
	// Audio both ways: the citizen's 1000 Hz reaches the agent's new media
	// connection, the agent's 440 Hz reaches the citizen.
	citizen.rtp.SetRemote(citizen.engineRTP(time.Second))
	tctx, stopTalking := context.WithCancel(ctx)
	defer stopTalking()
	go func() { _ = citizen.rtp.Stream(tctx, agentsim.Tone(1000).Loop()) }()
	citizen.waitEnd("the citizen answers the callback and hangs up", 15*time.Second)
	if got := mediatest.ToneShare(citizen.rtp.Packets(), 440); got < 0.5 {
		t.Errorf("the citizen heard the agent's 440 Hz in %.0f%% of the packets, want most", got*100)
	}
	waitFor(t, 10*time.Second, "the callback finished at the agent", func() bool { return len(agent.Results()) == 1 })
	res := agent.Results()[0]
	if res.Call != cut.ID+"-cb" || !res.Heard {
		t.Fatalf("the agent's call at site-b: %+v, want call %s-cb with the citizen's tone heard", res, cut.ID)
	}
	t.Logf("callback at site-b: the citizen's voice reached the agent %v after the answer (%d packets)", res.FirstAudio, res.Packets)
}

// TestFailoverAgentPageMoves: the agent page in Chromium, logged in and ready at
// the active site, follows the loss of that site by itself: it finds the other
// site (http.sites) active, moves there with its session and is ready again with
// a new media connection; a citizen calling the new site is answered from the
// page with audio both ways.
func TestFailoverAgentPageMoves(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var ports [2]int
	for i := range ports {
		p, err := freeLoopbackPort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	siteA, siteB := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	sites := fmt.Sprintf("http: {sites: [%q, %q]}\n", siteA, siteB)
	a := startEngine(t, engineOptions{Config: failoverConfig("site-a", rs.Addr) + sites, Args: []string{"--http", fmt.Sprintf("127.0.0.1:%d", ports[0])}})
	waitFor(t, 10*time.Second, "site-a active", func() bool { return a.readyz() == http.StatusOK })
	b := startEngine(t, engineOptions{Config: failoverConfig("site-b", rs.Addr) + sites, Args: []string{"--http", fmt.Sprintf("127.0.0.1:%d", ports[1])}})
	if a.http != siteA || b.http != siteB {
		t.Fatalf("the engines serve %s and %s, want %s and %s", a.http, b.http, siteA, siteB)
	}

	page := startChromium(t, ctx, writeToneWAV(t, 440, 10*time.Second))
	cdp(t, page, "open /agent at site-a", chromedp.Navigate(siteA+"/agent/"))
	cdp(t, page, "English", chromedp.SetValue("#lang", "en"))
	cdp(t, page, "agent id", chromedp.SendKeys("#agentId", "1005"))
	cdp(t, page, "password", chromedp.SendKeys("#password", labPassword))
	cdp(t, page, "log in", chromedp.Click("#loginBtn"))
	poll(t, page, "pre-call check passed", `hotline.checks.mic === true && hotline.checks.media === true && hotline.checks.signal === true`, 20*time.Second)
	cdp(t, page, "ready", chromedp.Click("#readyBtn"))
	poll(t, page, "ready", `hotline.state === "ready"`, 10*time.Second)
	if got := cdp(t, page, "sites", chromedp.Evaluate[int](`hotline.sites.length`)); got != 2 {
		t.Fatalf("the page knows %d sites, want 2", got)
	}

	a.kill()
	lost := time.Now()
	// The page navigates: evaluate again and again (an evaluation that meets the
	// navigation fails) until the moved page says it is ready.
	moved := fmt.Sprintf(`location.origin === %q && hotline.movedFrom === %q && hotline.state === "ready" && hotline.checks.media === true && hotline.checks.signal === true`, siteB, siteA)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ectx, ecancel := context.WithTimeout(page, 2*time.Second)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool](`typeof hotline !== "undefined" && (`+moved+`)`))
		ecancel()
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			state, _ := chromedp.Run(page, chromedp.Evaluate[string](`location.href + " " + JSON.stringify({state: hotline.state, checks: hotline.checks, errors: hotline.errors, events: hotline.events.slice(-8)})`))
			t.Fatalf("the page did not move to site-b and get ready within 30 s (last error %v)\npage: %s", err, state)
		}
	}
	t.Logf("agent page: ready at site-b %.2f s after site-a was killed", time.Since(lost).Seconds())
	b.waitAgent("1005", "ready at site-b", 5*time.Second, func(s agentStat) bool { return s.State == "ready" })
	artifact(t, "agent-page-moved.png", cdp(t, page, "screenshot", chromedp.CaptureScreenshot()))

	// A citizen calls the new active site and is answered from the moved page.
	toneClip, _ := tone(1000)
	_, peer := pressOne(ctx, t, b, toneClip.Loop())
	poll(t, page, "ringing at site-b", `hotline.offer !== null`, 20*time.Second)
	cdp(t, page, "answer", chromedp.Click("#answerBtn"))
	poll(t, page, "the agent hears the citizen's 1 kHz", `Math.abs(hotline.heardHz - 1000) < 30`, 10*time.Second)
	waitHeard(t, "the citizen hears the agent's 440 Hz", peer, 440, 10*time.Second)
}

// TestRedisOutageSingleSite: one site on Redis (store.lease.single_site). Redis
// stops answering for longer than the lease's TTL: the engine keeps answering
// and queuing calls, an agent answers one with audio both ways, the events wait
// in the buffer (the metric shows them), and when Redis answers again they are
// written in order, once each, and the site is still the active one.
func TestRedisOutageSingleSite(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := startEngine(t, engineOptions{Config: fmt.Sprintf(`
site: only
store:
  redis: {addr: "%s", prefix: solo}
  lease: {ttl: 1s, renew: 200ms, single_site: true}
`, rs.Addr)})
	waitFor(t, 10*time.Second, "the site active", func() bool { return e.readyz() == http.StatusOK })
	agent := webrtcAgent(ctx, t, e, "1035", agentsim.Options{})

	rs.Pause()
	paused := time.Now()
	toneClip, _ := tone(1000)
	first, _ := pressOne(ctx, t, e, toneClip.Loop())
	talking := e.waitCall("connected to 1035 while Redis is away", 20*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateConnected && c.Agent == "1035"
	})
	_, _ = pressOne(ctx, t, e, nil)
	waiting := e.waitCall("a second caller queued while Redis is away", 20*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateRouted && c.ID != talking.ID
	})
	if n := e.metric("hotline_store_buffered_events"); n == 0 {
		t.Fatal("hotline_store_buffered_events is 0 while Redis is paused")
	}
	if code := e.readyz(); code != http.StatusOK {
		t.Fatalf("/readyz during the outage: %d, want 200 (single site)", code)
	}
	hctx, hcancel := context.WithTimeout(ctx, 3*time.Second)
	if err := first.Hangup(hctx); err != nil {
		t.Fatal(err)
	}
	hcancel()
	waitFor(t, 10*time.Second, "the agent's call done", func() bool { return len(agent.Results()) == 1 })
	if res := agent.Results()[0]; !res.Heard {
		t.Errorf("the agent did not hear the caller during the outage: %+v", res)
	}
	if time.Since(paused) < 2*time.Second {
		time.Sleep(2*time.Second - time.Since(paused)) // past the lease's TTL
	}
	buffered := e.metric("hotline_store_buffered_events")
	t.Logf("%.0f events buffered after %.1f s without Redis", buffered, time.Since(paused).Seconds())

	rs.Resume()
	waitFor(t, 15*time.Second, "the buffer written", func() bool { return e.metric("hotline_store_buffered_events") == 0 })
	if code := e.readyz(); code != http.StatusOK {
		t.Fatalf("/readyz after the outage: %d, want 200", code)
	}
	if n := e.metric("hotline_store_buffered_events_total"); n < buffered {
		t.Errorf("hotline_store_buffered_events_total = %v, want at least %v", n, buffered)
	}
	// The log in Redis: gapless, each event once, both calls there.
	c := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer c.Close()
	rlog, err := store.OpenRedis(ctx, store.RedisOptions{Client: c, Prefix: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	defer rlog.Close()
	seen := map[string]int{}
	var last uint64
	if err := rlog.Replay(ctx, 0, func(ev *event.Event) error {
		if ev.Seq != last+1 {
			return fmt.Errorf("seq %d after %d", ev.Seq, last)
		}
		last = ev.Seq
		if ev.Type == event.CallCreated || ev.Type == event.CallConnected || ev.Type == event.QueueJoined {
			seen[string(ev.Type)+" "+ev.Call]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"call.created " + talking.ID, "call.connected " + talking.ID, "call.created " + waiting.ID, "queue.joined " + waiting.ID} {
		if seen[k] != 1 {
			t.Errorf("the log holds %q %d times, want once", k, seen[k])
		}
	}
	t.Logf("the log holds %d events, gapless, after the outage", last)
}

// TestRedisOutageSurvivesAKill: a work order is made while the single site's
// Redis is away, so the engine holds it (and the call it belongs to) in its outage
// buffer; the engine is then killed before Redis returns. The buffer is on disk:
// started again once Redis is back, the engine writes what it had buffered first,
// and the acknowledged work order and the call record are there.
func TestRedisOutageSurvivesAKill(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	data := t.TempDir()
	cfg := fmt.Sprintf(`
site: only
store:
  redis: {addr: "%s", prefix: killed}
  lease: {ttl: 1s, renew: 200ms, single_site: true}
survey: {post_call: false}
`, rs.Addr)
	e := startEngine(t, engineOptions{Data: data, Config: cfg})
	waitFor(t, 10*time.Second, "the site active", func() bool { return e.readyz() == http.StatusOK })
	webrtcAgent(ctx, t, e, "1036", agentsim.Options{TalkFor: time.Second})
	tok := e.login("1036") // before the outage: a login is an event too

	rs.Pause()
	_, _ = pressOne(ctx, t, e, media.Silence(time.Minute))
	rec := e.waitCall("answered by 1036 and ended while Redis is away", 20*time.Second, func(c store.CallRecord) bool {
		return c.Agent == "1036" && c.State == store.StateEnded
	})
	code, body, err := e.post("/api/v1/tickets", tok, `{"call": "`+rec.ID+`", "category": "complaint", "summary": "a pothole on Zhongshan Road", "disposition": "direct"}`)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("work order during the outage: %d %s %v", code, body, err)
	}
	var wo ticket.WorkOrder
	if err := json.Unmarshal(body, &wo); err != nil {
		t.Fatal(err)
	}
	if n := e.metric("hotline_store_buffered_events"); n == 0 {
		t.Fatal("hotline_store_buffered_events is 0 while Redis is paused")
	}
	e.kill()
	rs.Resume()

	e2 := startEngine(t, engineOptions{Data: data, Config: cfg})
	waitFor(t, 10*time.Second, "the site active again", func() bool { return e2.readyz() == http.StatusOK })
	code, _, body = e2.getAuth("/api/v1/tickets/"+wo.ID, e2.login("9001"))
	if code != http.StatusOK {
		t.Fatalf("the work order acknowledged during the outage, after the kill: %d %s", code, body)
	}
	var got ticket.WorkOrder
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Call != rec.ID || got.Summary != wo.Summary {
		t.Errorf("work order after the kill: %+v, want call %s, summary %q", got, rec.ID, wo.Summary)
	}
	after := e2.waitCall("the call record after the kill", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID })
	if after.State != store.StateEnded || after.Agent != "1036" {
		t.Errorf("call record after the kill: state %s agent %s, want ended by 1036", after.State, after.Agent)
	}
	if !strings.Contains(e2.stderr.String(), "events buffered during an outage before the last stop are in Redis now") {
		t.Error("the restarted engine did not say it wrote the events buffered before the kill")
	}
}

// TestRedisAwayAtStart: the engine is started while its Redis does not answer
// (restarted together, or during an outage): it says it waits for Redis, and comes
// up (active, taking calls) once Redis answers, instead of failing at once.
func TestRedisAwayAtStart(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	rs.Pause()
	resumed := make(chan struct{})
	go func() {
		defer close(resumed)
		time.Sleep(2500 * time.Millisecond)
		rs.Resume()
	}()
	e := startEngine(t, engineOptions{Config: fmt.Sprintf(`
site: only
store:
  redis: {addr: "%s", prefix: late}
  lease: {ttl: 1s, renew: 200ms, single_site: true}
`, rs.Addr)})
	<-resumed
	waitFor(t, 10*time.Second, "the site active", func() bool { return e.readyz() == http.StatusOK })
	log := e.stderr.String()
	for _, want := range []string{"store.redis: waiting for Redis before starting", "store.redis: Redis answers: starting"} {
		if !strings.Contains(log, want) {
			t.Errorf("the engine's log does not say %q", want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pressOne(ctx, t, e, nil)
	e.waitCall("a call routed", 20*time.Second, func(c store.CallRecord) bool { return c.State == store.StateRouted })
}

// TestFailoverHandsOnHookDeliveries: a work order is made at the active site while
// the city's work-order system is down, so its delivery waits in that site's
// outbox; the site is lost. The new active site finds the undelivered hook event
// in the replicated log and delivers it, with the same idempotency key, once the
// receiver is back: no acknowledged hook delivery is lost with the site.
func TestFailoverHandsOnHookDeliveries(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	secret := []byte("s3cret-of-the-city")
	rc := &receiver{t: t, secret: secret, failFirst: 1 << 30, keys: map[string]int{}} // down
	var mu sync.Mutex
	attempted := map[string]string{} // idempotency key -> event type, every attempt
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		attempted[r.Header.Get(ticket.HeaderIdempotency)] = ev.Type
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		rc.ServeHTTP(w, r)
	}))
	defer srv.Close()
	hooks := fmt.Sprintf(`
hooks:
  - {type: webhook, url: %q, secret: %q, timeout: 2s}
survey:
  post_call: false
`, srv.URL, string(secret))
	a := startEngine(t, engineOptions{Config: failoverConfig("site-a", rs.Addr) + hooks})
	waitFor(t, 10*time.Second, "site-a active", func() bool { return a.readyz() == http.StatusOK })
	b := startEngine(t, engineOptions{Config: failoverConfig("site-b", rs.Addr) + hooks})

	webrtcAgent(ctx, t, a, "1022", agentsim.Options{})
	call, _ := pressOne(ctx, t, a, media.Silence(time.Minute))
	rec := a.waitCall("connected to 1022", 20*time.Second, func(c store.CallRecord) bool { return c.Agent == "1022" && c.State == "connected" })
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended", 5*time.Second, func(c store.CallRecord) bool { return c.ID == rec.ID && c.State == "ended" })
	code, body, err := a.post("/api/v1/tickets", a.login("1022"), `{"call": "`+rec.ID+`", "category": "complaint", "summary": "the street light is out", "disposition": "direct"}`)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var wo ticket.WorkOrder
	if err := json.Unmarshal(body, &wo); err != nil {
		t.Fatal(err)
	}
	// site-a tries to deliver it and fails (the receiver is down).
	var key string
	waitFor(t, 10*time.Second, "site-a tried to deliver the work order", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for k, typ := range attempted {
			if typ == ticket.TypeCreated {
				key = k
				return true
			}
		}
		return false
	})

	a.kill()
	waitFor(t, 15*time.Second, "site-b active", func() bool { return b.readyz() == http.StatusOK })
	rc.mu.Lock()
	rc.failFirst = 0 // the receiver is back
	rc.mu.Unlock()
	rc.wait(t, "site-b delivers the work order site-a could not", ticket.TypeCreated, wo.ID, nil, 30*time.Second)
	rc.mu.Lock()
	n := rc.keys[key]
	rc.mu.Unlock()
	if n != 1 {
		t.Fatalf("the receiver took key %s %d times, want once: site-b must deliver with site-a's key", key, n)
	}
	waitLog(t, b, "takeover: hook deliveries the lost site had not made are handed on", 5*time.Second)
}

// TestFailoverSwitchoverHandsOver: a planned switchover with one citizen talking to
// an agent and one waiting in the queue at the active site. The waiting one is
// handed over by callback at once (confirmation, hang-up, place kept); the talk
// goes on to its natural end; only then does the lease pass. The new active site
// has exactly the waiting citizen on its callback list, and no call was cut.
func TestFailoverSwitchoverHandsOver(t *testing.T) {
	requireTool(t, "redis-server", "redis-server")
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	outbound, _ := reserveUDPPort(t)
	extra := callbackConfig(outbound) + "survey: {post_call: false}\n"
	a := startEngine(t, engineOptions{Config: failoverConfig("site-a", rs.Addr) + extra})
	waitFor(t, 10*time.Second, "site-a active", func() bool { return a.readyz() == http.StatusOK })
	b := startEngine(t, engineOptions{Config: failoverConfig("site-b", rs.Addr) + extra})

	agent := webrtcAgent(ctx, t, a, "1035", agentsim.Options{TalkFor: 15 * time.Second}) // past the second caller's menu
	pressOne(ctx, t, a, media.Silence(time.Minute))
	talking := a.waitCall("talking to 1035", 20*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateConnected && c.Agent == "1035"
	})
	pressOne(ctx, t, a, media.Silence(time.Minute))
	waiting := a.waitCall("waiting in the queue", 20*time.Second, func(c store.CallRecord) bool {
		return c.State == store.StateRouted && c.ID != talking.ID
	})

	start := time.Now()
	out, err := exec.CommandContext(ctx, hotlineBin, "failover", "switchover", "--redis", rs.Addr, "--prefix", "e2e",
		"--drain", "20s", "--timeout", "40s").CombinedOutput()
	if err != nil {
		t.Fatalf("failover switchover: %v\n%s", err, out)
	}
	t.Logf("hotline failover switchover (%.2f s):\n%s", time.Since(start).Seconds(), out)
	waitFor(t, 5*time.Second, "site-b active, site-a standby", func() bool {
		return b.readyz() == http.StatusOK && a.readyz() == http.StatusServiceUnavailable
	})
	// The waiting citizen was handed over; the talk ended as the agent ended it.
	w := b.waitCall("the waiting call handed over", 5*time.Second, func(c store.CallRecord) bool {
		return c.ID == waiting.ID && c.State == store.StateEnded
	})
	if w.Cause == call.CauseSiteLost {
		t.Errorf("the waiting call was cut by the takeover (%+v), want handed over before", w)
	}
	tk := b.waitCall("the talk ended", 5*time.Second, func(c store.CallRecord) bool {
		return c.ID == talking.ID && c.State == store.StateEnded
	})
	if tk.Side != "agent" || tk.Cause == call.CauseSiteLost {
		t.Errorf("the talk ended by %q (%q), want by the agent: no call dropped", tk.Side, tk.Cause)
	}
	if res := agent.Results(); len(res) != 1 || res[0].Call != talking.ID {
		t.Errorf("the agent's calls: %+v, want the talk, finished", res)
	}
	waitFor(t, 5*time.Second, "exactly the waiting citizen on site-b's callback list", func() bool {
		n, err := b.callbacks("general")
		return err == nil && n == 1
	})
	waitLog(t, a, "switchover: the caller will be called back by the other site", time.Second)
}
