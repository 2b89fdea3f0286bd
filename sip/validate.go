package sip

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// readFilter sees every UDP datagram before sipgo parses it. Malformed requests get a
// 400 (or 505 for a version we do not speak, 416 for a URI scheme we do not serve,
// 420 for an extension we do not support, 406 for an INVITE that accepts no SDP, 501
// for a method nobody knows) naming what is wrong, and are dropped; malformed responses
// are dropped silently (RFC 4475 3.1.2.x). sipgo itself would only log and drop them,
// leaving the sender to retransmit into silence.
//
// Over TCP a read is a piece of a stream, not a message, so the filter lets it pass:
// sipgo's stream parser closes a connection whose framing it cannot follow.
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
			s.log.Debug("sip error response not sent", "code", p.code, "error", err)
		}
	}
	s.log.Info("SIP message refused before parsing", "source", addrString(info.RemoteAddr), "code", p.code, "reason", p.reason)
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
	// extra is one more header for the response (Allow, Unsupported, Accept); empty
	// name means none.
	extra [2]string
	// headers are the request's Via, From, To, Call-ID and CSeq (canonical name,
	// unfolded value), in order, for building the response.
	headers [][2]string
}

// Header ids checkMessage tracks.
const (
	hOther = iota
	hVia
	hFrom
	hTo
	hCallID
	hCSeq
	hContentLength
	hMaxForwards
	hContentType
	hContact
	hRequire
	hAccept
	numHeaders
)

var headerNames = [numHeaders]string{"", "Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards", "Content-Type", "Contact", "Require", "Accept"}

// headerID classifies a header name (case-insensitive, compact forms of RFC 3261 7.3.3).
func headerID(name []byte) int {
	if len(name) == 1 {
		switch name[0] | 0x20 {
		case 'v':
			return hVia
		case 'f':
			return hFrom
		case 't':
			return hTo
		case 'i':
			return hCallID
		case 'l':
			return hContentLength
		case 'c':
			return hContentType
		case 'm':
			return hContact
		}
		return hOther
	}
	for id := hVia; id < numHeaders; id++ {
		if len(name) == len(headerNames[id]) && bytes.EqualFold(name, []byte(headerNames[id])) {
			return id
		}
	}
	return hOther
}

// knownMethod reports whether m is a method some RFC defines. An unknown method gets
// 501 Not Implemented; a known one we do not serve 405 Method Not Allowed (RFC 3261
// 8.2.1 and 21.5.2).
func knownMethod(m string) bool {
	switch m {
	case "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
		"NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE":
		return true
	}
	return false
}

// servedMethod reports whether the server has a handler for m (see Server.Listen).
func servedMethod(m []byte) bool {
	switch string(m) {
	case "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE":
		return true
	}
	return false
}

// checkMessage does the checks that sipgo's parser leaves out or fails on without a
// word. It allocates nothing for a good message; only a bad one gets its reason
// formatted and its headers collected for the response.
func checkMessage(data []byte) problem {
	head, body, complete := cutHead(data)
	start, rest := firstLine(head)
	if len(start) == 0 {
		return problem{code: 400, reason: "empty start line"}
	}
	if bytes.HasPrefix(start, []byte("SIP/")) {
		return checkStatusLine(start)
	}
	bad := func(code int, format string, a ...any) problem {
		p := problem{code: code, reason: fmt.Sprintf(format, a...), request: true}
		if i := bytes.IndexByte(start, ' '); i > 0 {
			p.method = string(start[:i])
		}
		p.headers = collect(rest)
		return p
	}
	sp1 := bytes.IndexByte(start, ' ')
	sp2 := bytes.LastIndexByte(start, ' ')
	if sp1 <= 0 || sp1 == sp2 {
		return bad(400, "request line is not METHOD SP Request-URI SP SIP-Version")
	}
	method, uri, version := start[:sp1], start[sp1+1:sp2], start[sp2+1:]
	if !isToken(method) {
		return bad(400, "method is not a token")
	}
	if !bytes.Equal(version, []byte("SIP/2.0")) {
		if bytes.HasPrefix(version, []byte("SIP/")) {
			return bad(505, "version %s not supported", clip(string(version)))
		}
		return bad(400, "request line is not METHOD SP Request-URI SP SIP-Version")
	}
	if len(uri) == 0 || bytes.IndexFunc(uri, isCtlOrSpace) >= 0 {
		return bad(400, "Request-URI is empty or holds white space")
	}
	scheme, ok := uriScheme(uri)
	if !ok {
		return bad(400, "Request-URI has no scheme")
	}

	var (
		counts          [numHeaders]uint8
		contentLength   = -1
		requireBad      bool
		acceptSeen      bool
		acceptSDP       bool
		served          = servedMethod(method)
		invite          = string(method) == "INVITE"
		ackOrCancel     = string(method) == "ACK" || string(method) == "CANCEL"
		lines           = rest
		line, nameBytes []byte
	)
	for len(lines) > 0 {
		line, lines = nextHeader(lines)
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return bad(400, "header line without a colon")
		}
		nameBytes = trimLWS(line[:colon])
		if !isToken(nameBytes) {
			return bad(400, "header name is not a token")
		}
		value := trimLWS(line[colon+1:])
		id := headerID(nameBytes)
		if counts[id] < 255 {
			counts[id]++
		}
		switch id {
		case hCSeq:
			num, m := cutLWS(value)
			n, ok := parseDigits(num)
			if !ok || n >= 1<<31 {
				return bad(400, "CSeq number is not a number below 2**31")
			}
			if !bytes.Equal(m, method) {
				if !knownMethod(string(method)) {
					return bad(501, "method %s not implemented", clip(string(method)))
				}
				return bad(400, "CSeq method %q does not match the request method", clip(string(m)))
			}
		case hContentLength:
			n, ok := parseDigits(value)
			if !ok || n > 1<<24 {
				return bad(400, "Content-Length is not a non-negative number")
			}
			contentLength = int(n)
		case hMaxForwards:
			n, ok := parseDigits(value)
			if !ok || n > 255 {
				return bad(400, "Max-Forwards is not a number from 0 to 255")
			}
		case hFrom, hTo:
			if msg := checkNameAddr(value); msg != "" {
				return bad(400, "%s header: %s", headerNames[id], msg)
			}
		case hContact:
			if msg := checkContact(value); msg != "" {
				return bad(400, "Contact header: %s", msg)
			}
		case hVia:
			if msg := checkVia(value); msg != "" {
				return bad(400, "Via header: %s", msg)
			}
		case hCallID:
			if len(value) == 0 {
				return bad(400, "empty Call-ID")
			}
		case hRequire:
			if !requireBad && served && !ackOrCancel && hasUnsupported(value) {
				requireBad = true
			}
		case hAccept:
			if len(value) > 0 {
				acceptSeen = true
				acceptSDP = acceptSDP || acceptsSDP(value)
			}
		}
	}
	for _, id := range [...]int{hVia, hFrom, hTo, hCallID, hCSeq} {
		if counts[id] == 0 {
			return bad(400, "missing %s header", headerNames[id])
		}
	}
	for _, id := range [...]int{hFrom, hTo, hCallID, hCSeq, hContentLength, hMaxForwards, hContentType} {
		if counts[id] > 1 {
			return bad(400, "more than one %s header", headerNames[id])
		}
	}
	if !complete {
		return bad(400, "no empty line after the headers")
	}
	if contentLength > len(body) {
		return bad(400, "Content-Length %d is larger than the body (%d bytes)", contentLength, len(body))
	}
	// The request is well formed; now what we cannot serve (RFC 3261 8.2.2, 8.2.3).
	if string(method) == "ACK" {
		return problem{}
	}
	if !isSIPScheme(scheme) {
		return bad(416, "URI scheme %s not supported", clip(string(scheme)))
	}
	if requireBad {
		p := bad(420, "extension not supported")
		var opts []string
		for l := rest; len(l) > 0; {
			line, l = nextHeader(l)
			if name, value, ok := bytes.Cut(line, []byte{':'}); ok && headerID(trimLWS(name)) == hRequire {
				opts = appendUnsupported(trimLWS(value), opts)
			}
		}
		p.extra = [2]string{"Unsupported", strings.Join(opts, ", ")}
		return p
	}
	if invite && acceptSeen && !acceptSDP {
		p := bad(406, "Accept does not allow application/sdp")
		p.extra = [2]string{"Accept", "application/sdp"}
		return p
	}
	return problem{}
}

// checkStatusLine checks "SIP/2.0 DDD reason" (RFC 3261 7.2). Bad responses are
// dropped without an answer.
func checkStatusLine(line []byte) problem {
	rest, ok := bytes.CutPrefix(line, []byte("SIP/2.0 "))
	if !ok {
		return problem{code: 400, reason: "bad status line"}
	}
	code, reason, _ := bytes.Cut(rest, []byte{' '})
	if len(code) != 3 || code[0] < '1' || code[0] > '6' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return problem{code: 400, reason: "bad status code"}
	}
	if bytes.IndexFunc(reason, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0 {
		return problem{code: 400, reason: "control character in the reason phrase"}
	}
	return problem{}
}

// cutHead splits a message at the first empty line. complete is false when there is
// none.
func cutHead(data []byte) (head, body []byte, complete bool) {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return data, nil, false
		}
		i += j + 1
		if i < len(data) && data[i] == '\n' {
			return data[:i], data[i+1:], true
		}
		if i+1 < len(data) && data[i] == '\r' && data[i+1] == '\n' {
			return data[:i], data[i+2:], true
		}
	}
}

// firstLine cuts the start line off the head.
func firstLine(head []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(head, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), rest
}

// nextHeader cuts one logical header line off lines: continuation lines (starting with
// white space) stay in it, with their line breaks, which the value checks treat as LWS.
func nextHeader(lines []byte) (line, rest []byte) {
	for i := 0; ; {
		j := bytes.IndexByte(lines[i:], '\n')
		if j < 0 {
			return bytes.TrimSuffix(lines, []byte{'\r'}), nil
		}
		end := i + j + 1
		if end < len(lines) && (lines[end] == ' ' || lines[end] == '\t') {
			i = end
			continue
		}
		return bytes.TrimSuffix(lines[:i+j], []byte{'\r'}), lines[end:]
	}
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isCtlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

func trimLWS(b []byte) []byte {
	for len(b) > 0 && isLWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isLWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// cutLWS splits b at its first run of LWS.
func cutLWS(b []byte) (before, after []byte) {
	i := 0
	for i < len(b) && !isLWS(b[i]) {
		i++
	}
	return b[:i], trimLWS(b[i:])
}

// parseDigits parses a decimal number of at most 18 digits.
func parseDigits(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// uriScheme returns the scheme of an absolute URI (RFC 3986 3.1).
func uriScheme(uri []byte) ([]byte, bool) {
	colon := bytes.IndexByte(uri, ':')
	if colon <= 0 {
		return nil, false
	}
	s := uri[:colon]
	for i, c := range s {
		alpha := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil, false
		}
	}
	return s, true
}

func isSIPScheme(s []byte) bool {
	return bytes.EqualFold(s, []byte("sip")) || bytes.EqualFold(s, []byte("sips")) || bytes.EqualFold(s, []byte("tel"))
}

// hasUnsupported reports whether a Require value names an option tag we do not
// support (we support only "timer", RFC 4028).
func hasUnsupported(value []byte) bool {
	for len(value) > 0 {
		var opt []byte
		opt, value, _ = bytes.Cut(value, []byte{','})
		if opt = trimLWS(opt); len(opt) > 0 && !bytes.EqualFold(opt, []byte("timer")) {
			return true
		}
	}
	return false
}

// appendUnsupported appends to out the option tags of a Require value that we do not
// support.
func appendUnsupported(value []byte, out []string) []string {
	for len(value) > 0 {
		var opt []byte
		opt, value, _ = bytes.Cut(value, []byte{','})
		if opt = trimLWS(opt); len(opt) > 0 && !bytes.EqualFold(opt, []byte("timer")) {
			out = append(out, unfold(opt))
		}
	}
	return out
}

// acceptsSDP reports whether an Accept value admits application/sdp.
func acceptsSDP(value []byte) bool {
	for len(value) > 0 {
		var r []byte
		r, value, _ = bytes.Cut(value, []byte{','})
		r, _, _ = bytes.Cut(r, []byte{';'})
		r = trimLWS(r)
		if bytes.EqualFold(r, []byte("application/sdp")) || bytes.EqualFold(r, []byte("application/*")) || bytes.Equal(r, []byte("*/*")) {
			return true
		}
	}
	return false
}

// checkNameAddr checks a From or To value: name-addr or addr-spec, then parameters
// (RFC 3261 20.10 and 25.1). Display names are tokens or a quoted string; bytes above
// 0x7f (UTF-8 names) are let through unquoted, as carriers send them.
func checkNameAddr(v []byte) string {
	if len(v) == 0 {
		return "empty"
	}
	i := 0
	if v[0] == '"' {
		i = 1
		for ; i < len(v) && v[i] != '"'; i++ {
			if v[i] == '\\' {
				i++
			}
		}
		if i >= len(v) {
			return "unbalanced quotes in display name"
		}
		i++
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		if i >= len(v) || v[i] != '<' {
			return "text after the quoted display name"
		}
	} else {
		lt := bytes.IndexByte(v, '<')
		if lt < 0 {
			return checkAddrSpec(v)
		}
		for _, c := range v[:lt] {
			if !isLWS(c) && !isTokenChar(c) && c < 0x80 {
				return "display name must be quoted"
			}
		}
		i = lt
	}
	return checkAngle(v[i:])
}

// checkAngle checks "<uri>" at the start of v: no white space just inside the brackets.
func checkAngle(v []byte) string {
	gt := bytes.IndexByte(v, '>')
	if gt < 0 {
		return "unclosed <"
	}
	if gt == 1 || isLWS(v[1]) || isLWS(v[gt-1]) {
		return "white space or nothing inside <>"
	}
	return ""
}

// checkAddrSpec checks a URI written without <>: up to the first ';' (where header
// parameters begin) it may hold neither white space, nor quotes, nor '?' or ','
// (RFC 3261 20: such URIs must be in <>).
func checkAddrSpec(v []byte) string {
	uri, _, _ := bytes.Cut(v, []byte{';'})
	uri = trimLWS(uri)
	if len(uri) == 0 {
		return "empty URI"
	}
	if bytes.ContainsAny(uri, " \t\r\n\",?") {
		return "URI with white space, quotes, '?' or ',' needs <>"
	}
	return ""
}

// checkContact checks each element of a Contact list that is written without <>.
func checkContact(v []byte) string {
	if bytes.Equal(v, []byte("*")) {
		return ""
	}
	if bytes.IndexByte(v, '<') >= 0 {
		return "" // name-addr forms: sipgo parses them; commas may sit in quotes
	}
	for len(v) > 0 {
		var e []byte
		e, v, _ = bytes.Cut(v, []byte{','})
		if msg := checkAddrSpec(e); msg != "" {
			return msg
		}
	}
	return ""
}

// checkVia checks the shape of a Via value: comma-separated hops, each
// sent-protocol LWS sent-by *(";" param), with nothing empty (RFC 3261 20.42).
func checkVia(v []byte) string {
	for {
		var hop []byte
		hop, v, _ = bytes.Cut(v, []byte{','})
		if !bytes.HasPrefix(trimLWS(hop), []byte("SIP")) {
			return "hop is not SIP/2.0/transport host"
		}
		for len(hop) > 0 {
			var param []byte
			param, hop, _ = bytes.Cut(hop, []byte{';'})
			if len(trimLWS(param)) == 0 {
				return "empty parameter"
			}
		}
		if len(v) == 0 {
			return ""
		}
	}
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

// collect gathers the headers a response must echo (Via, From, To, Call-ID, CSeq),
// unfolded.
func collect(lines []byte) [][2]string {
	var out [][2]string
	for len(lines) > 0 {
		var line []byte
		line, lines = nextHeader(lines)
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		switch id := headerID(trimLWS(name)); id {
		case hVia, hFrom, hTo, hCallID, hCSeq:
			out = append(out, [2]string{headerNames[id], unfold(trimLWS(value))})
		}
	}
	return out
}

// unfold turns every run of LWS into one space.
func unfold(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	space := false
	for _, c := range b {
		if isLWS(c) {
			space = true
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

var statusPhrases = map[int]string{
	400: "Bad Request", 406: "Not Acceptable", 416: "Unsupported URI Scheme",
	420: "Bad Extension", 501: "Not Implemented", 505: "Version Not Supported",
}

// phrase is the reason phrase of the response: the standard one and, in brackets,
// what is wrong, with control characters blanked.
func (p problem) phrase() string {
	reason := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return ' '
		}
		return r
	}, p.reason)
	phrase := statusPhrases[p.code]
	if phrase == "" {
		phrase = "Error"
	}
	return phrase + " (" + reason + ")"
}

var headerParser = sipmsg.HeadersParser(sipmsg.DefaultHeadersParser())

// response builds the error response to a malformed request from its raw headers.
// Headers that sipgo could not parse back are left out, so the sender's stack can
// still read the rest.
func (p problem) response(ua string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", p.code, p.phrase())
	var line []byte
	for _, h := range p.headers {
		v := h[1]
		if h[0] == "To" && !strings.Contains(strings.ToLower(v), "tag=") {
			v += ";tag=" + newID()[:8]
		}
		line = append(append(append(line[:0], h[0]...), ": "...), v...)
		if bytes.IndexFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) >= 0 {
			continue
		}
		if _, err := headerParser.ParseHeader(nil, line); err != nil {
			continue
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	switch {
	case p.extra[0] != "":
		fmt.Fprintf(&b, "%s: %s\r\n", p.extra[0], p.extra[1])
	case p.code == 501:
		fmt.Fprintf(&b, "%s: %s\r\n", allowHeader().Name(), allowHeader().Value())
	}
	fmt.Fprintf(&b, "Server: %s\r\nContent-Length: 0\r\n\r\n", ua)
	return b.Bytes()
}
