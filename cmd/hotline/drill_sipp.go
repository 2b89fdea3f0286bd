package main

// The drill's background load: SIPp calling 12345 at a steady rate (through
// Kamailio, or the active site) from before the kill until the checks are done,
// so that the active site is lost with calls arriving, in the menu and in the
// queue, as on a working day. Only where SIPp is installed (Debian package
// sip-tester); the drill goes on without it and says so.

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// drillLoadScenario is a citizen who calls, listens to the menu for -d
// milliseconds and hangs up (testdata/sipp/load.xml, kept here so that the
// binary carries it).
const drillLoadScenario = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="drill load">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "citizen" <sip:1390000[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:citizen@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: SIPp hotline-drill
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- [pid][call_number] 1 IN IP[media_ip_type] [media_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "citizen" <sip:1390000[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:citizen@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "citizen" <sip:1390000[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:citizen@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`

// drillLoad is a running SIPp load.
type drillLoad struct {
	*drillProc
	stat string // its -trace_stat file
}

// startLoad runs SIPp at rate calls/s to 12345 at front, each call staying hold
// ms; nil (and no error) when SIPp is not installed.
func (d *drill) startLoad(bin string, front netip.AddrPort, rate float64, holdMS int) (*drillLoad, error) {
	scen := filepath.Join(d.dir, "drill_load.xml")
	if err := os.WriteFile(scen, []byte(drillLoadScenario), 0o600); err != nil {
		return nil, err
	}
	port, err := freeUDPPortOn(drillFrontIP)
	if err != nil {
		return nil, err
	}
	mport, err := freeUDPPortOn(drillFrontIP)
	if err != nil {
		return nil, err
	}
	stat := filepath.Join(d.dir, "sipp-load-stat.csv")
	p, err := d.start("sipp-load", bin, []string{"-sf", scen, "-s", "12345", front.String(),
		"-i", drillFrontIP, "-p", strconv.Itoa(port), "-mp", strconv.Itoa(mport),
		"-r", strconv.FormatFloat(rate, 'f', -1, 64), "-d", strconv.Itoa(holdMS),
		"-recv_timeout", "10000", "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1"}, nil)
	if err != nil {
		return nil, err
	}
	return &drillLoad{drillProc: p, stat: stat}, nil
}

// counts reads SIPp's last statistics line: calls made, completed, failed.
func (l *drillLoad) counts() (created, ok, failed int) {
	f, err := os.Open(l.stat)
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	var header, last []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), ";")
		if header == nil {
			header = cols
			continue
		}
		last = cols
	}
	col := func(name string) int {
		for i, h := range header {
			if h == name && i < len(last) {
				n, _ := strconv.Atoi(strings.TrimSpace(last[i]))
				return n
			}
		}
		return 0
	}
	return col("TotalCallCreated"), col("SuccessfulCall(C)"), col("FailedCall(C)")
}

// findSIPp returns SIPp's path, or "".
func findSIPp() string {
	p, err := exec.LookPath("sipp")
	if err != nil {
		return ""
	}
	return p
}

// describe is the load's summary line.
func (l *drillLoad) describe(rate float64) string {
	created, ok, failed := l.counts()
	return fmt.Sprintf("SIPp load: %g call(s)/s to 12345: %d made, %d completed, %d failed (those the lost site had, and those refused while no site was active)", rate, created, ok, failed)
}
