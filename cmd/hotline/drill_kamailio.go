package main

// Kamailio in front of the two sites, as the carrier's side of a deployment would
// have it: the dispatcher module probes both engines with OPTIONS every second
// (only the active site answers 200, the standby 503) and relays each new call to
// 12345 to a site it holds active; a site that times out or answers 503 is marked
// inactive and the call tries the other one. The drill's callers and its cut-over
// probe call Kamailio, so the cut-over measured includes the dispatcher noticing
// the loss and the new active site.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/hotline12345/hotline/internal/siptest"
)

// findKamailio returns the kamailio program: on PATH, or in /usr/sbin (Debian's
// package puts it there, which is not on an ordinary user's PATH); "" if neither.
func findKamailio() string {
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/kamailio", "/usr/local/sbin/kamailio"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// kamailioConfig is the dispatcher's configuration: UDP on listen, the two sites
// in set 1 of the list file, probed every second; a site is inactive after one
// failed probe (timeout or a non-200 answer) and active again after one 200.
// Lines starting "drill:" in its log are the drill's own (xlog).
const kamailioConfig = `#!KAMAILIO
# hotline failover drill: the dispatcher in front of the two sites.
debug=2
log_stderror=yes
fork=yes
children=2
auto_aliases=no
listen=udp:%[1]s
disable_tcp=yes
dns=no
rev_dns=no
use_dns_cache=no

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "dispatcher.so"

# A site that does not answer at all is given up after 1 s (the probes' and the
# INVITEs' final-response timer before any provisional answer).
modparam("tm", "fr_timer", 1000)
modparam("tm", "fr_inv_timer", 10000)
modparam("rr", "enable_full_lr", 1)
modparam("dispatcher", "list_file", "%[2]s")
modparam("dispatcher", "flags", 2)  # failover: ds_next_dst tries the next site
modparam("dispatcher", "ds_ping_method", "OPTIONS")
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@%[3]s")
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        # In-dialog: follow the Route set we recorded, else the Request-URI (the
        # engine's Contact).
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("ACK") && t_check_trans()) {
            t_relay();
            exit;
        }
        if (!t_relay()) {
            sl_reply_error();
        }
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "Dispatcher alive");
        exit;
    }
    if (!is_method("INVITE")) {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    if ($rU != "12345") {
        sl_send_reply("404", "Not Found");
        exit;
    }
    record_route();
    if (!ds_select_dst("1", "4", "2")) {
        xlog("L_NOTICE", "drill: $TV(Sn) no active site for $ci\n");
        append_to_reply("Retry-After: 1\r\n");
        sl_send_reply("503", "No Active Site");
        exit;
    }
    xlog("L_NOTICE", "drill: $TV(Sn) relay $ci to $du\n");
    t_on_failure("NEXT_SITE");
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}

# A site that timed out or answered 503 (the standby) is marked inactive (and
# probed); the call tries the next site of the selection.
failure_route[NEXT_SITE] {
    if (t_is_canceled()) {
        exit;
    }
    if (t_branch_timeout() || t_check_status("503|408")) {
        ds_mark_dst("ip");
        if (ds_next_dst()) {
            xlog("L_NOTICE", "drill: $TV(Sn) retry $ci at $du\n");
            t_on_failure("NEXT_SITE");
            t_relay();
            exit;
        }
    }
}
`

// drillKamailio is the running dispatcher.
type drillKamailio struct {
	*drillProc
	addr  netip.AddrPort // where the callers send their INVITEs
	sites map[string]string
}

// startKamailio writes the dispatcher's configuration for the sites' SIP addresses
// and starts Kamailio in the foreground (its pid file and runtime folder in the
// run's folder), on a free UDP port of 127.0.0.1, and waits until it answers
// OPTIONS. It tries a few ports (a probed port can be taken meanwhile).
func (d *drill) startKamailio(ctx context.Context, bin string, sites ...*drillEngine) (*drillKamailio, error) {
	run := filepath.Join(d.dir, "kamailio-run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, err
	}
	list := filepath.Join(d.dir, "dispatcher.list")
	var b strings.Builder
	b.WriteString("# set destination flags priority attrs\n")
	k := &drillKamailio{sites: map[string]string{}}
	for _, e := range sites {
		fmt.Fprintf(&b, "1 sip:%s 0 0 site=%s\n", e.sip, e.site)
		k.sites[e.sip.String()] = e.site
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freeUDPPortOn(drillFrontIP)
		if err != nil {
			return nil, err
		}
		k.addr = netip.AddrPortFrom(netip.MustParseAddr(drillFrontIP), uint16(port))
		cfg := filepath.Join(d.dir, "kamailio.cfg")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(kamailioConfig, k.addr, list, drillFrontIP)), 0o600); err != nil {
			return nil, err
		}
		p, err := d.startGroup("kamailio", bin, []string{"-f", cfg, "-P", filepath.Join(run, "kamailio.pid"), "-Y", run,
			"-m", "64", "-M", "8", "-DD", "-E"})
		if err != nil {
			return nil, err
		}
		k.drillProc = p
		lastErr = waitUntil(ctx, drillStartTimeout, func() error {
			if !p.alive() {
				return errStop{fmt.Errorf("kamailio exited:\n%s", p.tail())}
			}
			return sipOptions(ctx, k.addr)
		})
		if lastErr == nil {
			return k, nil
		}
		_ = p.kill()
	}
	return nil, fmt.Errorf("kamailio did not start: %w", lastErr)
}

// sipOptions sends one OPTIONS to addr and wants a 200 within 1 s.
func sipOptions(ctx context.Context, addr netip.AddrPort) error {
	u, err := siptest.New(addr, siptest.Options{})
	if err != nil {
		return err
	}
	defer u.Close()
	octx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	res, err := u.Do(octx, u.Request(sipmsg.OPTIONS, "12345"))
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("OPTIONS: %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// freeUDPPortOn asks the kernel for a free UDP port on ip.
func freeUDPPortOn(ip string) (int, error) {
	c, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// kamailioLine is one of the drill's lines in Kamailio's log.
var kamailioLine = regexp.MustCompile(`drill: (\d+)\.(\d+) (relay|retry) (\S+) (?:to|at) (\S+)|drill: \d+\.\d+ no active site`)

// kamailioReport is what Kamailio's log says it did.
type kamailioReport struct {
	relayed map[string]int // INVITEs relayed, by site (first tries and retries)
	retried int            // of which retries after a timeout or a 503
	refused int            // INVITEs answered 503 for want of an active site
	// firstAt is when the first INVITE went to each site at or after since.
	firstAt map[string]time.Time
}

// report reads Kamailio's log: the INVITEs it relayed to each site, and when it
// first relayed one to each site from since on.
func (k *drillKamailio) report(since time.Time) kamailioReport {
	r := kamailioReport{relayed: map[string]int{}, firstAt: map[string]time.Time{}}
	b, _ := os.ReadFile(k.log)
	for _, m := range kamailioLine.FindAllStringSubmatch(string(b), -1) {
		if m[3] == "" {
			r.refused++
			continue
		}
		site := strings.TrimPrefix(strings.SplitN(m[5], ";", 2)[0], "sip:")
		if s, ok := k.sites[site]; ok {
			site = s
		}
		r.relayed[site]++
		if m[3] == "retry" {
			r.retried++
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		usec, _ := strconv.ParseInt(m[2], 10, 64)
		if at := time.Unix(sec, usec*1000); !at.Before(since) {
			if _, ok := r.firstAt[site]; !ok {
				r.firstAt[site] = at
			}
		}
	}
	return r
}
