package sip

import (
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/hotline12345/hotline/internal/clock"
)

// sessionTimer honours RFC 4028 session timers asked for by the caller. The caller's
// side is the refresher whenever it supports timers (it re-INVITEs or UPDATEs before
// the interval ends); if no refresh comes, the call ends with ErrSessionExpired and
// the call's owner sends BYE (RFC 4028 section 10). When the caller does not support
// timers we would be the refresher; the engine does not send refreshes, so then it
// only echoes the interval and never tears the call down for lack of one.
type sessionTimer struct {
	c         *Call
	mu        sync.Mutex
	interval  time.Duration
	minSE     time.Duration
	required  bool   // the caller supports timers: Require: timer in our 2xx
	refresher string // "uac" or "uas"
	t         clock.Timer
	cancel    chan struct{} // closed to stop the goroutine waiting on t
	stopped   bool
}

func newSessionTimer(c *Call, se, minSE time.Duration, uacSupports bool, refresher string) *sessionTimer {
	st := &sessionTimer{c: c, interval: max(se, minSE), minSE: minSE, required: uacSupports}
	st.refresher = st.chooseRefresher(refresher)
	return st
}

func (st *sessionTimer) chooseRefresher(asked string) string {
	if asked == "uas" || !st.required {
		return "uas"
	}
	return "uac"
}

// addHeaders puts Session-Expires (and Require: timer) on a 2xx.
func (st *sessionTimer) addHeaders(res *sipmsg.Response) {
	st.mu.Lock()
	defer st.mu.Unlock()
	res.AppendHeader(sipmsg.NewHeader("Session-Expires", strconv.Itoa(int(st.interval.Seconds()))+";refresher="+st.refresher))
	if st.required {
		res.AppendHeader(sipmsg.NewHeader("Require", "timer"))
	}
}

// start arms the expiry after the call is confirmed.
func (st *sessionTimer) start() { st.refresh(0, "") }

// refresh re-arms the expiry on a refresh (re-INVITE or UPDATE), adopting a new
// interval when one is given.
func (st *sessionTimer) refresh(se time.Duration, refresher string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return
	}
	if se > 0 {
		st.interval = max(se, st.minSE)
	}
	if refresher != "" {
		st.refresher = st.chooseRefresher(refresher)
	}
	st.disarm()
	if st.refresher != "uac" {
		return
	}
	// RFC 4028 section 10: BYE if no refresh by interval - min(32 s, interval/3).
	wait := st.interval - min(32*time.Second, st.interval/3)
	t, cancel, interval := st.c.srv.clock.NewTimer(wait), make(chan struct{}), st.interval
	st.t, st.cancel = t, cancel
	go func() {
		select {
		case <-t.C():
			st.c.Log.Info("session timer expired without refresh", "interval", interval)
			st.c.end(ErrSessionExpired)
		case <-cancel:
		}
	}()
}

// disarm stops the armed expiry, if any; st.mu is held.
func (st *sessionTimer) disarm() {
	if st.t != nil {
		st.t.Stop()
		close(st.cancel)
		st.t, st.cancel = nil, nil
	}
}

func (st *sessionTimer) stop() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stopped = true
	st.disarm()
}

// sessionExpires reads Session-Expires (compact form "x") in seconds.
func sessionExpires(req *sipmsg.Request) (time.Duration, bool) {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x")
	}
	if h == nil {
		return 0, false
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func refresherParam(req *sipmsg.Request) string {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x")
	}
	if h == nil {
		return ""
	}
	for _, p := range strings.Split(h.Value(), ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "refresher") {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// supports reports whether the request lists opt in Supported (compact "k").
func supports(req *sipmsg.Request, opt string) bool {
	for _, name := range []string{"Supported", "k"} {
		for _, h := range req.GetHeaders(name) {
			for _, o := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(o), opt) {
					return true
				}
			}
		}
	}
	return false
}
