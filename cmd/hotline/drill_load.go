package main

// The load of a failover drill run besides the callers: simulated agents
// (internal/agentsim) who know both sites and follow the lost one to the active
// one on their own, the work orders they make for the calls they take, and what
// the drill reads back through the engines' API and the log.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/store"
)

// drillAgents are the run's simulated agents, serving offers until close.
type drillAgents struct {
	list   []*agentsim.Agent
	byID   map[string]*agentsim.Agent
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logf   *os.File
	// password is the lab password of the default configuration (the agents'
	// and supervisor 9001's).
	password string

	mu   sync.Mutex
	errs []error // Run's errors (a move that failed)
}

// startAgents logs n agents of the default configuration (WebRTC seats with the
// lab password and the general desk's skill, from 1001 on) in at base, ready;
// they answer an offer after 200 ms, talk until the caller or the call ends, and
// know every site of sites. Their log lines go to agents.log in dir.
func startAgents(ctx context.Context, n int, base string, sites []string, dir string) (*drillAgents, error) {
	cfg, _, err := loadConfig(flags{}) // the default configuration, as the engines have it
	if err != nil {
		return nil, err
	}
	da := &drillAgents{byID: map[string]*agentsim.Agent{}, password: cfg.LabPassword, cancel: func() {}}
	if n == 0 {
		return da, nil
	}
	ids, err := demoAgents(cfg, "1001", n)
	if err != nil {
		return nil, err
	}
	if da.logf, err = os.Create(filepath.Join(dir, "agents.log")); err != nil {
		return nil, err
	}
	list, err := loginAgents(ctx, agentsim.Options{
		Base: base, Password: cfg.LabPassword, AnswerAfter: 200 * time.Millisecond,
		Sites: sites, MoveTimeout: drillVerifyTimeout,
		Logger: slog.New(slog.NewTextHandler(da.logf, nil)),
	}, ids)
	if err != nil {
		da.logf.Close()
		return nil, err
	}
	da.list = list
	for _, a := range list {
		da.byID[a.ID] = a
	}
	runCtx, cancel := context.WithCancel(context.Background())
	da.cancel = cancel
	for _, a := range list {
		da.wg.Go(func() {
			if err := a.Run(runCtx); err != nil {
				da.mu.Lock()
				da.errs = append(da.errs, err)
				da.mu.Unlock()
			}
		})
	}
	return da, nil
}

// movedTo counts the agents that moved once, to site.
func (da *drillAgents) movedTo(site string) int {
	n := 0
	for _, a := range da.list {
		if a.Moves() == 1 && a.Site() == site {
			n++
		}
	}
	return n
}

// close stops the agents and logs them out (each bounded by 5 s).
func (da *drillAgents) close() {
	da.cancel()
	da.wg.Wait()
	closeAgents(da.list)
	if da.logf != nil {
		da.logf.Close()
	}
}

// drillCall is one call as the log tells it.
type drillCall struct {
	id, caller string
	queued     bool   // joined a queue
	agent      string // connected to, "" if never
	ended      bool
}

// readCalls folds the log's call events into the calls, by id.
func readCalls(ctx context.Context, l *store.Redis) (map[string]*drillCall, error) {
	calls := map[string]*drillCall{}
	err := l.Replay(ctx, 0, func(ev *event.Event) error {
		if ev.Call == "" {
			return nil
		}
		c := calls[ev.Call]
		if c == nil {
			c = &drillCall{id: ev.Call}
			calls[ev.Call] = c
		}
		switch ev.Type {
		case event.CallCreated:
			c.caller = ev.Caller
		case event.QueueJoined:
			c.queued = true
		case event.CallConnected:
			c.agent = ev.Agent
		case event.CallEnded:
			c.ended = true
		}
		return nil
	})
	return calls, err
}

// talking returns the ids of the calls connected to an agent and not ended, sorted.
func talking(calls map[string]*drillCall) []string {
	var ids []string
	for id, c := range calls {
		if c.agent != "" && !c.ended {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// makeWorkOrders has the agents talking make n work orders, one call after the
// other (an agent may make several for one call), and returns their ids.
func makeWorkOrders(ctx context.Context, da *drillAgents, calls map[string]*drillCall, n int) ([]string, error) {
	ids := talking(calls)
	if n > 0 && len(ids) == 0 {
		return nil, errors.New("work orders: no call is connected to an agent")
	}
	var made []string
	for i := range n {
		c := calls[ids[i%len(ids)]]
		a := da.byID[c.agent]
		if a == nil {
			return made, fmt.Errorf("work orders: call %s is connected to agent %s, not one of the drill's", c.id, c.agent)
		}
		var wo struct {
			ID string `json:"id"`
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Post(pctx, "/api/v1/tickets", map[string]string{"call": c.id, "category": "help",
			"summary": fmt.Sprintf("failover drill work order %d", i+1), "disposition": "direct"}, &wo)
		cancel()
		if err != nil {
			return made, fmt.Errorf("work order %d for call %s by agent %s: %w", i+1, c.id, a.ID, err)
		}
		made = append(made, wo.ID)
	}
	return made, nil
}

// apiJSON sends a request to an engine's API (with a bearer token when not
// empty) and decodes a 2xx JSON answer into out; it returns the status.
func apiJSON(ctx context.Context, method, u, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %s: %s: %s", method, u, res.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(b, out)
	}
	return res.StatusCode, nil
}

// missingAt returns the work orders of ids and the call records of calls that
// the engine at base does not have (work orders are read as supervisor 9001, with
// the lab password).
func missingAt(ctx context.Context, base, password string, tickets, calls []string) (lostTickets, lostCalls []string, err error) {
	if len(tickets) > 0 {
		var login struct {
			Token string `json:"token"`
		}
		if _, err := apiJSON(ctx, http.MethodPost, base+"/api/v1/login", "",
			map[string]string{"agent": "9001", "password": password}, &login); err != nil {
			return nil, nil, err
		}
		var list struct {
			Tickets []struct {
				ID string `json:"id"`
			} `json:"tickets"`
		}
		if _, err := apiJSON(ctx, http.MethodGet, base+"/api/v1/tickets?limit=1000", login.Token, nil, &list); err != nil {
			return nil, nil, err
		}
		have := map[string]bool{}
		for _, t := range list.Tickets {
			have[t.ID] = true
		}
		for _, id := range tickets {
			if !have[id] {
				lostTickets = append(lostTickets, id)
			}
		}
	}
	for _, id := range calls {
		code, err := apiJSON(ctx, http.MethodGet, base+"/api/v1/calls/"+url.PathEscape(id), "", nil, nil)
		switch {
		case code == http.StatusNotFound:
			lostCalls = append(lostCalls, id)
		case err != nil:
			return nil, nil, err
		}
	}
	return lostTickets, lostCalls, nil
}
