package sip

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// readFilter sees every UDP datagram before sipgo parses it. Malformed requests get a
// 400 (or 505 for a version we do not speak) naming what is wrong, and are dropped;
// malformed responses are dropped silently (RFC 4475 3.1.2.x). sipgo itself would
// only log and drop them, leaving the sender to retransmit into silence.
func (s *Server) readFilter(info sipmsg.TransportReadProps, data []byte) ([]byte, error) {
	if info.Transport != "udp" && info.Transport != "UDP" {
		return data, nil
	}
	if len(bytes.Trim(data, "\r\n")) == 0 {
		return data, nil // keep-alive
	}
	p := checkMessage(data)
	if p.code == 0 {
		return data, nil
	}
	s.metrics.malformed.Inc()
	if p.request && p.method != "ACK" && s.udpConn != nil && info.RemoteAddr != nil {
		res := p.response(s.cfg.UserAgent)
		s.metrics.response(p.code)
		if _, err := s.udpConn.WriteTo(res, info.RemoteAddr); err != nil {
			s.log.Debug("sip 400 not sent", "error", err)
		}
	}
	s.log.Info("malformed SIP message refused", "source", addrString(info.RemoteAddr), "code", p.code, "reason", p.reason)
	return nil, nil // an empty result makes sipgo skip the datagram
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// problem is what checkMessage found wrong with a message; code 0 means nothing.
type problem struct {
	code    int
	reason  string
	request bool
	method  string
	headers [][2]string // name (canonical), value: for building the response
}

// checkMessage does the checks that sipgo's parser leaves out, cheaply: no
// allocation beyond the header list of a bad message.
func checkMessage(data []byte) (p problem) {
	head, body, ok := bytes.Cut(data, []byte("\r\n\r\n"))
	if !ok {
		head, body, ok = bytes.Cut(data, []byte("\n\n"))
	}
	lines := splitLines(head)
	if len(lines) == 0 {
		return problem{code: 400, reason: "empty message"}
	}
	start := string(lines[0])
	if strings.HasPrefix(start, "SIP/") {
		// A response: check the status line only; bad ones are dropped silently.
		parts := strings.SplitN(start, " ", 3)
		if len(parts) < 2 || parts[0] != "SIP/2.0" {
			return problem{code: 400, reason: "bad status line"}
		}
		code, err := strconv.Atoi(parts[1])
		if err != nil || len(parts[1]) != 3 || code < 100 || code > 699 {
			return problem{code: 400, reason: "bad status code"}
		}
		return problem{}
	}
	p.request = true
	parts := strings.Split(start, " ")
	if len(parts) != 3 {
		return problem{code: 400, reason: "request line is not METHOD SP URI SP SIP/2.0", request: true, headers: collect(lines[1:])}
	}
	p.method = parts[0]
	p.headers = collect(lines[1:])
	bad := func(code int, format string, a ...any) problem {
		p.code, p.reason = code, fmt.Sprintf(format, a...)
		return p
	}
	if !isToken(p.method) {
		return bad(400, "method is not a token")
	}
	if parts[2] != "SIP/2.0" {
		if strings.HasPrefix(parts[2], "SIP/") {
			return bad(505, "version %s not supported", clip(parts[2]))
		}
		return bad(400, "bad SIP version")
	}
	if !strings.Contains(parts[1], ":") {
		return bad(400, "Request-URI has no scheme")
	}
	if !ok {
		return bad(400, "no empty line after the headers")
	}
	counts := map[string]int{}
	for _, h := range p.headers {
		if h[0] == "" {
			return bad(400, "malformed header line")
		}
		counts[h[0]]++
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if counts[name] == 0 {
			return bad(400, "missing %s header", name)
		}
	}
	for _, name := range []string{"From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards", "Content-Type"} {
		if counts[name] > 1 {
			return bad(400, "more than one %s header", name)
		}
	}
	for _, h := range p.headers {
		switch h[0] {
		case "CSeq":
			num, m, _ := strings.Cut(strings.TrimSpace(h[1]), " ")
			n, err := strconv.ParseUint(num, 10, 64)
			if err != nil || n >= 1<<31 {
				return bad(400, "CSeq number out of range")
			}
			if strings.TrimSpace(m) != p.method {
				return bad(400, "CSeq method %q does not match the request method", clip(strings.TrimSpace(m)))
			}
		case "Content-Length":
			n, err := strconv.Atoi(strings.TrimSpace(h[1]))
			if err != nil || n < 0 {
				return bad(400, "Content-Length is not a non-negative number")
			}
			if n > len(body) {
				return bad(400, "Content-Length %d is larger than the body (%d bytes)", n, len(body))
			}
		case "Max-Forwards":
			n, err := strconv.Atoi(strings.TrimSpace(h[1]))
			if err != nil || n < 0 || n > 255 {
				return bad(400, "Max-Forwards is not a number from 0 to 255")
			}
		case "From", "To":
			if msg := checkNameAddr(h[1]); msg != "" {
				return bad(400, "%s header: %s", h[0], msg)
			}
		}
	}
	return problem{}
}

// checkNameAddr checks the display-name part of a From/To value: before '<' there
// must be a quoted string or tokens (RFC 3261 25.1, name-addr).
func checkNameAddr(v string) string {
	v = strings.TrimSpace(v)
	lt := strings.IndexByte(v, '<')
	if lt < 0 {
		if strings.ContainsAny(v, "\" ") && !strings.Contains(v, ";") {
			return "addr-spec with spaces or quotes needs <>"
		}
		return ""
	}
	if !strings.Contains(v[lt:], ">") {
		return "unclosed <"
	}
	dn := strings.TrimSpace(v[:lt])
	if dn == "" {
		return ""
	}
	if dn[0] == '"' {
		// Quoted string: must close, honouring backslash escapes.
		for i := 1; i < len(dn); i++ {
			switch dn[i] {
			case '\\':
				i++
			case '"':
				if strings.TrimSpace(dn[i+1:]) != "" {
					return "text after the quoted display name"
				}
				return ""
			}
		}
		return "unbalanced quotes in display name"
	}
	for _, w := range strings.Fields(dn) {
		if !isToken(w) {
			return "display name must be quoted"
		}
	}
	return ""
}

// splitLines splits the header block into logical lines, unfolding continuations.
func splitLines(head []byte) [][]byte {
	var out [][]byte
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(out) > 1 && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			prev := out[len(out)-1]
			joined := make([]byte, 0, len(prev)+1+len(line))
			joined = append(append(append(joined, prev...), ' '), bytes.TrimLeft(line, " \t")...)
			out[len(out)-1] = joined
			continue
		}
		out = append(out, line)
	}
	return out
}

var compact = map[string]string{
	"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "l": "Content-Length",
	"c": "Content-Type", "m": "Contact", "k": "Supported", "x": "Session-Expires",
}

var canonical = map[string]string{
	"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
	"content-length": "Content-Length", "max-forwards": "Max-Forwards", "content-type": "Content-Type",
}

// collect parses header lines into (canonical name, value); a line without a colon
// or with a name that is not a token yields an empty name.
func collect(lines [][]byte) [][2]string {
	out := make([][2]string, 0, len(lines))
	for _, l := range lines {
		name, value, ok := bytes.Cut(l, []byte{':'})
		n := strings.TrimSpace(string(name))
		if !ok || !isToken(n) {
			out = append(out, [2]string{"", ""})
			continue
		}
		if c, ok := compact[n]; ok {
			n = c
		} else if c, ok := canonical[strings.ToLower(n)]; ok {
			n = c
		}
		out = append(out, [2]string{n, strings.TrimSpace(string(value))})
	}
	return out
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// response builds the error response to a malformed request from its raw headers.
func (p problem) response(ua string) []byte {
	var b bytes.Buffer
	reason := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, p.reason)
	phrase := "Bad Request"
	if p.code == 505 {
		phrase = "Version Not Supported"
	}
	fmt.Fprintf(&b, "SIP/2.0 %d %s (%s)\r\n", p.code, phrase, reason)
	for _, h := range p.headers {
		switch h[0] {
		case "Via", "From", "Call-ID", "CSeq":
			fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		case "To":
			v := h[1]
			if !strings.Contains(strings.ToLower(v), ";tag=") {
				v += ";tag=" + newID()[:8]
			}
			fmt.Fprintf(&b, "To: %s\r\n", v)
		}
	}
	fmt.Fprintf(&b, "Server: %s\r\nContent-Length: 0\r\n\r\n", ua)
	return b.Bytes()
}
