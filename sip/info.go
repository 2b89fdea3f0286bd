package sip

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Digit is a key press carried by a SIP INFO request.
type Digit struct {
	Key      byte          // '0'-'9', '*', '#', 'A'-'D'
	Duration time.Duration // from the Duration field, when given
}

// ParseDTMFInfo reads the digit from the body of an INFO request. Two formats are in use:
//
//	application/dtmf-relay (Cisco, most carriers):
//	    Signal=5\r\n
//	    Duration=160\r\n       (milliseconds)
//	application/dtmf (RFC 2976 examples, some gateways):
//	    5
//
// Signal values 10 and 11 mean '*' and '#' in some implementations; they are accepted.
// Content type parameters (";charset=...") are ignored.
func ParseDTMFInfo(contentType string, body []byte) (Digit, error) {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case "application/dtmf-relay":
		return parseDTMFRelay(body)
	case "application/dtmf":
		v := string(bytes.TrimSpace(body))
		if i := strings.IndexAny(v, "\r\n"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		k, ok := signalKey(v)
		if !ok {
			return Digit{}, fmt.Errorf("%w: application/dtmf body %q", ErrMalformedInfo, clip(v))
		}
		return Digit{Key: k}, nil
	}
	return Digit{}, fmt.Errorf("%w: %q", ErrUnsupportedInfo, clip(contentType))
}

func parseDTMFRelay(body []byte) (Digit, error) {
	var d Digit
	found := false
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		name, value, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			continue
		}
		n := strings.ToLower(string(bytes.TrimSpace(name)))
		v := string(bytes.TrimSpace(value))
		switch n {
		case "signal":
			k, ok := signalKey(v)
			if !ok {
				return Digit{}, fmt.Errorf("%w: Signal=%q", ErrMalformedInfo, clip(v))
			}
			d.Key, found = k, true
		case "duration":
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 0 || ms > 60000 {
				return Digit{}, fmt.Errorf("%w: Duration=%q", ErrMalformedInfo, clip(v))
			}
			d.Duration = time.Duration(ms) * time.Millisecond
		}
	}
	if !found {
		return Digit{}, fmt.Errorf("%w: no Signal line", ErrMalformedInfo)
	}
	return d, nil
}

func signalKey(v string) (byte, bool) {
	switch v {
	case "10":
		return '*', true
	case "11":
		return '#', true
	}
	if len(v) != 1 {
		return 0, false
	}
	c := v[0]
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#':
		return c, true
	case c >= 'A' && c <= 'D':
		return c, true
	case c >= 'a' && c <= 'd':
		return c - 'a' + 'A', true
	}
	return 0, false
}

// clip shortens outside input before it goes into an error message or a log line.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
