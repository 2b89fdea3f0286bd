package sip

import (
	"path/filepath"
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

const goodInvite = "INVITE sip:12345@127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-524287-1---a5f1;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"Contact: <sip:13800138000@127.0.0.1:5062>\r\n" +
	"To: <sip:12345@127.0.0.1>\r\n" +
	"From: \"Citizen\" <sip:13800138000@127.0.0.1>;tag=8a4c1f\r\n" +
	"Call-ID: 3c26b7a1e5d94f3a@127.0.0.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n" +
	"Supported: timer, replaces\r\n" +
	"Session-Expires: 1800\r\n" +
	"User-Agent: carrier-sbc\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 129\r\n\r\n" +
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"

func TestCheckMessage(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(goodInvite, old, new, 1) }
	head, body, _ := strings.Cut(goodInvite, "\r\n\r\n")
	head += "\r\n"
	tests := []struct {
		name string
		msg  string
		code int
		// reason is a piece of the reason we must name.
		reason string
	}{
		{"good INVITE", goodInvite, 0, ""},
		{"LF only in the head", strings.ReplaceAll(head, "\r\n", "\n") + "\n" + body, 0, ""},
		{"folded header", edit("CSeq: 1 INVITE", "CSeq: 1\r\n  INVITE"), 0, ""},
		{"compact forms, any case", edit("From:", "F:"), 0, ""},
		{"UTF-8 display name unquoted", edit("\"Citizen\"", "张三"), 0, ""},
		{"quoted display name with <", edit("\"Citizen\"", "\"a<b\""), 0, ""},
		{"Require timer", edit("User-Agent", "Require: timer\r\nUser-Agent"), 0, ""},
		{"Accept sdp", edit("User-Agent", "Accept: application/sdp, text/plain\r\nUser-Agent"), 0, ""},
		{"tel URI", edit("INVITE sip:12345@127.0.0.1", "INVITE tel:12345"), 0, ""},
		{"good response", "SIP/2.0 180 Ringing\r\nVia: x\r\n\r\n", 0, ""},
		{"missing Call-ID", edit("Call-ID: 3c26b7a1e5d94f3a@127.0.0.1\r\n", ""), 400, "missing Call-ID"},
		{"two CSeq", edit("CSeq: 1 INVITE", "CSeq: 1 INVITE\r\nCSeq: 2 INVITE"), 400, "more than one CSeq"},
		{"CSeq method mismatch", edit("CSeq: 1 INVITE", "CSeq: 1 BYE"), 400, "CSeq method"},
		{"CSeq too big", edit("CSeq: 1 INVITE", "CSeq: 2147483648 INVITE"), 400, "CSeq number"},
		{"Content-Length too big", edit("Content-Length: 129", "Content-Length: 130"), 400, "larger than the body"},
		{"Content-Length negative", edit("Content-Length: 129", "Content-Length: -1"), 400, "Content-Length"},
		{"Max-Forwards 256", edit("Max-Forwards: 70", "Max-Forwards: 256"), 400, "Max-Forwards"},
		{"header without colon", edit("User-Agent:", "User-Agent"), 400, "without a colon"},
		{"no empty line", strings.TrimSuffix(strings.SplitN(goodInvite, "\r\n\r\n", 2)[0], "\r\n"), 400, "no empty line"},
		{"unclosed <", edit("<sip:12345@127.0.0.1>\r\n", "<sip:12345@127.0.0.1\r\n"), 400, "unclosed"},
		{"SIP/3.0", edit("SIP/2.0\r\n", "SIP/3.0\r\n"), 505, "SIP/3.0"},
		{"http URI", edit("INVITE sip:12345@127.0.0.1", "INVITE http://x"), 416, "http"},
		{"Require 100rel", edit("User-Agent", "Require: 100rel\r\nUser-Agent"), 420, "extension"},
		{"Accept without sdp", edit("User-Agent", "Accept: text/html\r\nUser-Agent"), 406, "application/sdp"},
		{"unknown method with other CSeq", strings.Replace(goodInvite, "INVITE sip:", "FOO sip:", 1), 501, "FOO"},
		{"empty", "\r\n\r\n", 400, "empty start line"},
		{"bad status code", "SIP/2.0 20 OK\r\n\r\n", 400, "status code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := checkMessage([]byte(tt.msg))
			if p.code != tt.code || !strings.Contains(p.reason, tt.reason) {
				t.Fatalf("got %d %q, want %d with %q", p.code, p.reason, tt.code, tt.reason)
			}
			if p.code != 0 && p.request {
				assertResponse(t, p)
			}
		})
	}
}

// TestCheckMessageTorture runs the filter alone on the raw RFC 4475 files: every
// message the server refuses before sipgo sees it, with the code it gets.
func TestCheckMessageTorture(t *testing.T) {
	for _, tt := range torture {
		t.Run(tt.name, func(t *testing.T) {
			p := checkMessage(readTorture(t, tt.name))
			if p.code == 0 {
				return // sipgo and the handlers decide; TestTortureUDP checks the outcome
			}
			if p.request && p.code != tt.want {
				t.Fatalf("filter says %d %q, the table wants %d", p.code, p.reason, tt.want)
			}
			if !p.request && tt.want != 0 {
				t.Fatalf("a response refused (%q) where the table wants %d", p.reason, tt.want)
			}
			if p.request {
				assertResponse(t, p)
			}
		})
	}
}

// assertResponse checks that the error response to a refused request is a SIP
// response sipgo parses, with the status code of the problem.
func assertResponse(t *testing.T, p problem) {
	t.Helper()
	out := p.response("hotline")
	msg, err := sipmsg.ParseMessage(out)
	if err != nil {
		t.Fatalf("response to %q does not parse: %v\n%s", p.reason, err, out)
	}
	res, ok := msg.(*sipmsg.Response)
	if !ok || res.StatusCode != p.code {
		t.Fatalf("response to %q is not a %d response:\n%s", p.reason, p.code, out)
	}
}

func FuzzCheckMessage(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "rfc4475", "*.dat"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no torture seeds: %v", err)
	}
	for _, tt := range torture {
		f.Add(readTorture(f, tt.name))
	}
	f.Add([]byte(goodInvite))
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP h;;\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := checkMessage(data)
		if p.code != 0 && p.request {
			assertResponse(t, p)
		}
	})
}

func BenchmarkCheckMessage(b *testing.B) {
	msg := []byte(goodInvite)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if p := checkMessage(msg); p.code != 0 {
			b.Fatal(p.reason)
		}
	}
}
