package media

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crlf turns a readable SDP (one line per line, leading tabs trimmed) into wire form.
func crlf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// Offers as real peers write them.
var (
	// SIPp 3.6 built-in uac scenario ([media_ip]=127.0.0.1, [media_port]=6000).
	sdpSIPp = crlf(`
		v=0
		o=user1 53655765 2353687637 IN IP4 127.0.0.1
		s=-
		c=IN IP4 127.0.0.1
		t=0 0
		m=audio 6000 RTP/AVP 0
		a=rtpmap:0 PCMU/8000`)

	// baresip 1.0.0 with opus, g722 and g711 loaded.
	sdpBaresip = crlf(`
		v=0
		o=- 1876553471 3148462553 IN IP4 192.168.1.20
		s=-
		c=IN IP4 192.168.1.20
		t=0 0
		m=audio 10104 RTP/AVP 96 9 0 8 101
		b=AS:113
		a=rtpmap:96 opus/48000/2
		a=fmtp:96 stereo=1;sprop-stereo=1
		a=rtpmap:9 G722/8000
		a=rtpmap:0 PCMU/8000
		a=rtpmap:8 PCMA/8000
		a=rtpmap:101 telephone-event/8000
		a=fmtp:101 0-15
		a=rtcp-rsize
		a=ptime:20
		a=sendrecv`)

	// A carrier SBC preferring A-law, with G.729 and telephone-event on PT 96.
	sdpCarrier = crlf(`
		v=0
		o=SBC 1704067200 1704067201 IN IP4 203.0.113.10
		s=SBC
		c=IN IP4 203.0.113.10
		t=0 0
		m=audio 31000 RTP/AVP 8 0 18 96
		a=rtpmap:8 PCMA/8000
		a=rtpmap:0 PCMU/8000
		a=rtpmap:18 G729/8000
		a=fmtp:18 annexb=no
		a=rtpmap:96 telephone-event/8000
		a=fmtp:96 0-15
		a=ptime:20
		a=maxptime:40
		a=sendrecv`)

	// A gateway with telephone-event on 126 and 30 ms packets.
	sdpPT126PTime30 = crlf(`
		v=0
		o=gw 4 5 IN IP4 198.51.100.7
		s=-
		c=IN IP4 198.51.100.7
		t=0 0
		m=audio 40000 RTP/AVP 0 126
		a=rtpmap:0 PCMU/8000
		a=rtpmap:126 telephone-event/8000
		a=fmtp:126 0-16
		a=ptime:30`)

	// Modern hold (RFC 3264 section 8.4): the holder sends music, receives nothing.
	sdpHoldSendOnly = crlf(`
		v=0
		o=- 1876553471 3148462554 IN IP4 192.168.1.20
		s=-
		c=IN IP4 192.168.1.20
		t=0 0
		m=audio 10104 RTP/AVP 0 101
		a=rtpmap:0 PCMU/8000
		a=rtpmap:101 telephone-event/8000
		a=sendonly`)

	sdpHoldInactive = crlf(`
		v=0
		o=- 1876553471 3148462555 IN IP4 192.168.1.20
		s=-
		c=IN IP4 192.168.1.20
		t=0 0
		m=audio 10104 RTP/AVP 0
		a=inactive`)

	// RFC 2543 hold: connection address 0.0.0.0, no direction attribute.
	sdpHoldZeroAddr = crlf(`
		v=0
		o=old 1 2 IN IP4 10.1.1.1
		s=-
		c=IN IP4 0.0.0.0
		t=0 0
		m=audio 5004 RTP/AVP 8
		a=rtpmap:8 PCMA/8000`)

	// 0.0.0.0 and recvonly: the peer neither sends nor can receive.
	sdpHoldZeroAddrRecvOnly = crlf(`
		v=0
		o=old 1 3 IN IP4 10.1.1.1
		s=-
		c=IN IP4 0.0.0.0
		t=0 0
		m=audio 5004 RTP/AVP 8
		a=recvonly`)

	// Direction at session level only.
	sdpSessionSendOnly = crlf(`
		v=0
		o=- 1 1 IN IP4 10.0.0.5
		s=-
		c=IN IP4 10.0.0.5
		t=0 0
		a=sendonly
		m=audio 7000 RTP/AVP 0`)

	// Media-level direction and c= win over session-level ones.
	sdpMediaLevelWins = crlf(`
		v=0
		o=- 1 1 IN IP4 10.0.0.1
		s=-
		c=IN IP4 10.0.0.1
		t=0 0
		a=sendonly
		m=audio 7000 RTP/AVP 0
		c=IN IP4 10.0.0.2
		a=recvonly`)

	sdpIPv6 = crlf(`
		v=0
		o=- 9 9 IN IP6 ::1
		s=-
		c=IN IP6 ::1
		t=0 0
		m=audio 6000 RTP/AVP 8 0
		a=rtpmap:8 PCMA/8000
		a=rtpmap:0 PCMU/8000`)

	// baresip with video: video first, then audio.
	sdpVideoFirst = crlf(`
		v=0
		o=- 77 78 IN IP4 192.168.1.20
		s=-
		c=IN IP4 192.168.1.20
		t=0 0
		m=video 10106 RTP/AVP 97
		b=AS:800
		a=rtpmap:97 H264/90000
		a=fmtp:97 packetization-mode=0
		a=sendrecv
		m=audio 10104 RTP/AVP 0 8 101
		a=rtpmap:0 PCMU/8000
		a=rtpmap:8 PCMA/8000
		a=rtpmap:101 telephone-event/8000
		a=sendrecv`)

	// Static payload types without a=rtpmap (allowed by RFC 3551).
	sdpNoRtpmap = crlf(`
		v=0
		o=- 3 3 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 8000 RTP/AVP 8 0`)

	sdpG729Only = crlf(`
		v=0
		o=- 3 3 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 8000 RTP/AVP 18
		a=rtpmap:18 G729/8000`)

	sdpSAVP = crlf(`
		v=0
		o=- 3 3 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 8000 RTP/SAVP 0
		a=rtpmap:0 PCMU/8000
		a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz`)

	// Best-effort SRTP: the same audio twice, SAVP first, plain RTP second.
	sdpSAVPThenAVP = crlf(`
		v=0
		o=- 3 3 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 8000 RTP/SAVP 0
		a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
		m=audio 8002 RTP/AVP 0
		a=rtpmap:0 PCMU/8000`)

	sdpPort0 = crlf(`
		v=0
		o=- 3 4 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 0 RTP/AVP 0`)

	sdpVideoOnly = crlf(`
		v=0
		o=- 3 4 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=video 9000 RTP/AVP 97
		a=rtpmap:97 H264/90000`)

	// Opus-centric peer: telephone-event only at 48 kHz, which G.711 cannot carry.
	sdpTelephoneEvent48k = crlf(`
		v=0
		o=- 3 4 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 9000 RTP/AVPF 111 0 110
		a=rtpmap:111 opus/48000/2
		a=rtpmap:0 PCMU/8000
		a=rtpmap:110 telephone-event/48000`)

	// PCMU on a dynamic payload type, lower-case name.
	sdpDynamicPCMU = crlf(`
		v=0
		o=- 3 4 IN IP4 10.2.2.2
		s=-
		c=IN IP4 10.2.2.2
		t=0 0
		m=audio 9000 RTP/AVP 97
		a=rtpmap:97 pcmu/8000`)

	// Line feeds only, as some hand-written scenarios send.
	sdpLFOnly = strings.ReplaceAll(sdpSIPp, "\r\n", "\n")
)

// sdpWithPTime is the SIPp offer with an a=ptime line.
func sdpWithPTime(ms string) string { return sdpSIPp + "a=ptime:" + ms + "\r\n" }

var bothG711 = []Codec{PCMU, PCMA}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// exported returns n without its unexported fields, for comparing with a literal.
func exported(n Negotiated) Negotiated {
	n.rejectBefore, n.rejectAfter = "", ""
	return n
}

func TestParseAndNegotiate(t *testing.T) {
	ms := time.Millisecond
	pcmu96 := Codec{Name: "PCMU", PayloadType: 97, ClockRate: 8000}
	tests := []struct {
		name     string
		sdp      string
		allowed  []Codec
		parseErr error
		// Parsed description (checked when parseErr is nil).
		addr    string // "" for the zero Addr
		port    int
		ptime   time.Duration
		dir     Direction
		formats []Format // nil: not checked
		// Negotiation.
		negErr error
		want   Negotiated
	}{
		{
			name: "SIPp uac PCMU only", sdp: sdpSIPp, allowed: bothG711,
			addr: "127.0.0.1", port: 6000, dir: SendRecv,
			formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}},
			want:    Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "baresip many codecs: first allowed in offer order", sdp: sdpBaresip, allowed: bothG711,
			addr: "192.168.1.20", port: 10104, ptime: 20 * ms, dir: SendRecv,
			formats: []Format{
				{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "stereo=1;sprop-stereo=1"},
				{PayloadType: 9, Name: "G722", ClockRate: 8000, Channels: 1},
				{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
				{PayloadType: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
				{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1, Fmtp: "0-15"},
			},
			want: Negotiated{Codec: PCMU, DTMF: 101, PTime: 20 * ms, Remote: ap("192.168.1.20:10104"), Direction: SendRecv},
		},
		{
			name: "carrier prefers PCMA, telephone-event 96", sdp: sdpCarrier, allowed: bothG711,
			addr: "203.0.113.10", port: 31000, ptime: 20 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMA, DTMF: 96, PTime: 20 * ms, Remote: ap("203.0.113.10:31000"), Direction: SendRecv},
		},
		{
			name: "offer order beats our order", sdp: sdpCarrier, allowed: []Codec{PCMU, PCMA},
			addr: "203.0.113.10", port: 31000, ptime: 20 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMA, DTMF: 96, PTime: 20 * ms, Remote: ap("203.0.113.10:31000"), Direction: SendRecv},
		},
		{
			name: "we allow only PCMU: skip the preferred PCMA", sdp: sdpCarrier, allowed: []Codec{PCMU},
			addr: "203.0.113.10", port: 31000, ptime: 20 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMU, DTMF: 96, PTime: 20 * ms, Remote: ap("203.0.113.10:31000"), Direction: SendRecv},
		},
		{
			name: "telephone-event 126 and ptime 30", sdp: sdpPT126PTime30, allowed: bothG711,
			addr: "198.51.100.7", port: 40000, ptime: 30 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMU, DTMF: 126, PTime: 30 * ms, Remote: ap("198.51.100.7:40000"), Direction: SendRecv},
		},
		{
			name: "hold with sendonly: we receive only", sdp: sdpHoldSendOnly, allowed: bothG711,
			addr: "192.168.1.20", port: 10104, dir: SendOnly,
			want: Negotiated{Codec: PCMU, DTMF: 101, PTime: 20 * ms, Remote: ap("192.168.1.20:10104"), Direction: RecvOnly},
		},
		{
			name: "hold with inactive", sdp: sdpHoldInactive, allowed: bothG711,
			addr: "192.168.1.20", port: 10104, dir: Inactive,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("192.168.1.20:10104"), Direction: Inactive},
		},
		{
			name: "RFC 2543 hold with c=0.0.0.0", sdp: sdpHoldZeroAddr, allowed: bothG711,
			addr: "", port: 5004, dir: SendOnly,
			want: Negotiated{Codec: PCMA, PTime: 20 * ms, Direction: RecvOnly},
		},
		{
			name: "c=0.0.0.0 with recvonly is inactive", sdp: sdpHoldZeroAddrRecvOnly, allowed: bothG711,
			addr: "", port: 5004, dir: Inactive,
			want: Negotiated{Codec: PCMA, PTime: 20 * ms, Direction: Inactive},
		},
		{
			name: "session-level direction", sdp: sdpSessionSendOnly, allowed: bothG711,
			addr: "10.0.0.5", port: 7000, dir: SendOnly,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("10.0.0.5:7000"), Direction: RecvOnly},
		},
		{
			name: "media-level c= and direction win", sdp: sdpMediaLevelWins, allowed: bothG711,
			addr: "10.0.0.2", port: 7000, dir: RecvOnly,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("10.0.0.2:7000"), Direction: SendOnly},
		},
		{
			name: "IPv6", sdp: sdpIPv6, allowed: bothG711,
			addr: "::1", port: 6000, dir: SendRecv,
			want: Negotiated{Codec: PCMA, PTime: 20 * ms, Remote: ap("[::1]:6000"), Direction: SendRecv},
		},
		{
			name: "video m-line before audio", sdp: sdpVideoFirst, allowed: bothG711,
			addr: "192.168.1.20", port: 10104, dir: SendRecv,
			want: Negotiated{Codec: PCMU, DTMF: 101, PTime: 20 * ms, Remote: ap("192.168.1.20:10104"), Direction: SendRecv},
		},
		{
			name: "static payload types without rtpmap", sdp: sdpNoRtpmap, allowed: bothG711,
			addr: "10.2.2.2", port: 8000, dir: SendRecv,
			formats: []Format{
				{PayloadType: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
				{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
			},
			want: Negotiated{Codec: PCMA, PTime: 20 * ms, Remote: ap("10.2.2.2:8000"), Direction: SendRecv},
		},
		{
			name: "PCMU on a dynamic payload type", sdp: sdpDynamicPCMU, allowed: bothG711,
			addr: "10.2.2.2", port: 9000, dir: SendRecv,
			want: Negotiated{Codec: pcmu96, PTime: 20 * ms, Remote: ap("10.2.2.2:9000"), Direction: SendRecv},
		},
		{
			name: "telephone-event/48000 is not ours", sdp: sdpTelephoneEvent48k, allowed: bothG711,
			addr: "10.2.2.2", port: 9000, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("10.2.2.2:9000"), Direction: SendRecv},
		},
		{
			name: "SAVP first, plain RTP second", sdp: sdpSAVPThenAVP, allowed: bothG711,
			addr: "10.2.2.2", port: 8002, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("10.2.2.2:8002"), Direction: SendRecv},
		},
		{
			name: "line feeds only", sdp: sdpLFOnly, allowed: bothG711,
			addr: "127.0.0.1", port: 6000, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "ptime 25 rounds down to 20", sdp: sdpWithPTime("25"), allowed: bothG711,
			addr: "127.0.0.1", port: 6000, ptime: 25 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "ptime 5 clamps to 10", sdp: sdpWithPTime("5"), allowed: bothG711,
			addr: "127.0.0.1", port: 6000, ptime: 5 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 10 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "ptime 200 clamps to 60", sdp: sdpWithPTime("200"), allowed: bothG711,
			addr: "127.0.0.1", port: 6000, ptime: 200 * ms, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 60 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "unreadable ptime is ignored", sdp: sdpWithPTime("abc"), allowed: bothG711,
			addr: "127.0.0.1", port: 6000, ptime: 0, dir: SendRecv,
			want: Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "G729 only", sdp: sdpG729Only, allowed: bothG711,
			addr: "10.2.2.2", port: 8000, dir: SendRecv,
			negErr: ErrNoCommonCodec,
		},
		{
			name: "opus and G722 but we allow none of them", sdp: sdpBaresip, allowed: []Codec{{Name: "G729", ClockRate: 8000}},
			addr: "192.168.1.20", port: 10104, ptime: 20 * ms, dir: SendRecv,
			negErr: ErrNoCommonCodec,
		},
		{
			name: "port 0", sdp: sdpPort0, allowed: bothG711,
			addr: "10.2.2.2", port: 0, dir: SendRecv,
			negErr: ErrStreamRejected,
		},
		{name: "SAVP", sdp: sdpSAVP, parseErr: ErrUnsupportedProfile},
		{name: "video only", sdp: sdpVideoOnly, parseErr: ErrNoAudio},
		{name: "empty", sdp: "", parseErr: ErrMalformedSDP},
		{name: "text", sdp: "hello, world", parseErr: ErrMalformedSDP},
		{name: "binary", sdp: "\x00\xff\x13v=0\r\n\x00", parseErr: ErrMalformedSDP},
		{name: "version line only", sdp: "v=0\r\n", parseErr: ErrMalformedSDP},
		{name: "version 1", sdp: strings.Replace(sdpSIPp, "v=0", "v=1", 1), parseErr: ErrMalformedSDP},
		{name: "SIP message instead of SDP", sdp: "INVITE sip:12345@127.0.0.1 SIP/2.0\r\n\r\n", parseErr: ErrMalformedSDP},
		{name: "no c= line", sdp: strings.Replace(sdpSIPp, "c=IN IP4 127.0.0.1\r\n", "", 1), parseErr: ErrMalformedSDP},
		{name: "bad connection address", sdp: strings.Replace(sdpSIPp, "c=IN IP4 127.0.0.1", "c=IN IP4 not-an-ip", 1), parseErr: ErrMalformedSDP},
		{name: "non-numeric payload type", sdp: strings.Replace(sdpSIPp, "RTP/AVP 0", "RTP/AVP PCMU", 1), parseErr: ErrMalformedSDP},
		{name: "payload type over 127", sdp: strings.Replace(sdpSIPp, "RTP/AVP 0", "RTP/AVP 200", 1), parseErr: ErrMalformedSDP},
		{name: "port out of range", sdp: strings.Replace(sdpSIPp, "6000", "70000", 1), parseErr: ErrMalformedSDP},
		{name: "truncated in the header", sdp: sdpSIPp[:40], parseErr: ErrMalformedSDP},
		{
			name: "no CRLF after the last line", sdp: strings.TrimSuffix(sdpSIPp, "\r\n"), allowed: bothG711,
			addr: "127.0.0.1", port: 6000, dir: SendRecv,
			formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}},
			want:    Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
		{
			name: "truncated inside an attribute", sdp: strings.TrimSuffix(sdpSIPp, "/8000\r\n"), allowed: bothG711,
			addr: "127.0.0.1", port: 6000, dir: SendRecv,
			// "a=rtpmap:0 PCMU" is unreadable and ignored; the static type still says PCMU.
			formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000, Channels: 1}},
			want:    Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("127.0.0.1:6000"), Direction: SendRecv},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseSDP([]byte(tt.sdp))
			if !errors.Is(err, tt.parseErr) {
				t.Fatalf("ParseSDP error = %v, want %v", err, tt.parseErr)
			}
			if tt.parseErr != nil {
				if d != nil {
					t.Errorf("ParseSDP returned %+v with an error", d)
				}
				return
			}
			var addr netip.Addr
			if tt.addr != "" {
				addr = netip.MustParseAddr(tt.addr)
			}
			if d.Addr != addr || d.Port != tt.port || d.PTime != tt.ptime || d.Direction != tt.dir {
				t.Errorf("parsed addr=%v port=%d ptime=%v dir=%v, want %v %d %v %v",
					d.Addr, d.Port, d.PTime, d.Direction, addr, tt.port, tt.ptime, tt.dir)
			}
			if tt.formats != nil && !equalFormats(d.Formats, tt.formats) {
				t.Errorf("formats = %+v, want %+v", d.Formats, tt.formats)
			}

			n, err := Negotiate(d, tt.allowed)
			if !errors.Is(err, tt.negErr) {
				t.Fatalf("Negotiate error = %v, want %v", err, tt.negErr)
			}
			if tt.negErr != nil {
				return
			}
			if got := exported(n); got != tt.want {
				t.Errorf("Negotiate = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalFormats(a, b []Format) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseSDPOrigin(t *testing.T) {
	d, err := ParseSDP([]byte(sdpSIPp))
	if err != nil {
		t.Fatal(err)
	}
	if d.SessionID != 53655765 || d.SessionVersion != 2353687637 {
		t.Errorf("origin = %d %d, want 53655765 2353687637", d.SessionID, d.SessionVersion)
	}
}

func TestMalformedSDPWrapsReason(t *testing.T) {
	_, err := ParseSDP([]byte(strings.Replace(sdpSIPp, "127.0.0.1\r\nt=", "bogus\r\nt=", 1)))
	if !errors.Is(err, ErrMalformedSDP) || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("error = %v, want ErrMalformedSDP naming the bad address", err)
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		d              Direction
		name           string
		answer         Direction
		sends, receive bool
	}{
		{SendRecv, "sendrecv", SendRecv, true, true},
		{SendOnly, "sendonly", RecvOnly, true, false},
		{RecvOnly, "recvonly", SendOnly, false, true},
		{Inactive, "inactive", Inactive, false, false},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", tt.d, got, tt.name)
		}
		if got := tt.d.Answer(); got != tt.answer {
			t.Errorf("%v.Answer() = %v, want %v", tt.d, got, tt.answer)
		}
		if tt.d.Sends() != tt.sends || tt.d.Receives() != tt.receive {
			t.Errorf("%v sends=%v receives=%v, want %v %v", tt.d, tt.d.Sends(), tt.d.Receives(), tt.sends, tt.receive)
		}
	}
	if got := Direction(9).String(); got != "Direction(9)" {
		t.Errorf("Direction(9).String() = %q", got)
	}
}

func TestNegotiateTakesOffersPayloadTypeNot101(t *testing.T) {
	// Same offer with the telephone-event PT renumbered: the answer must follow.
	for _, pt := range []string{"96", "101", "126", "127"} {
		offer := strings.ReplaceAll(sdpBaresip, "101", pt)
		d, err := ParseSDP([]byte(offer))
		if err != nil {
			t.Fatal(err)
		}
		n, err := Negotiate(d, bothG711)
		if err != nil {
			t.Fatal(err)
		}
		if got := strconv.Itoa(int(n.DTMF)); got != pt {
			t.Errorf("DTMF = %d, want %s", n.DTMF, pt)
		}
	}
}

// TestAnswerRoundTrip answers every negotiable offer and reads the answer back.
func TestAnswerRoundTrip(t *testing.T) {
	offers := []struct {
		name  string
		sdp   string
		local netip.AddrPort
	}{
		{"SIPp", sdpSIPp, ap("127.0.0.1:20000")},
		{"baresip", sdpBaresip, ap("192.168.1.1:20002")},
		{"carrier", sdpCarrier, ap("198.51.100.1:20004")},
		{"pt126 ptime30", sdpPT126PTime30, ap("198.51.100.1:20006")},
		{"hold sendonly", sdpHoldSendOnly, ap("192.168.1.1:20008")},
		{"hold inactive", sdpHoldInactive, ap("192.168.1.1:20008")},
		{"hold 0.0.0.0", sdpHoldZeroAddr, ap("10.1.1.2:20010")},
		{"IPv6", sdpIPv6, ap("[::1]:20012")},
		{"video first", sdpVideoFirst, ap("192.168.1.1:20014")},
		{"SAVP then AVP", sdpSAVPThenAVP, ap("10.2.2.1:20016")},
		{"dynamic PCMU", sdpDynamicPCMU, ap("10.2.2.1:20018")},
	}
	for _, tt := range offers {
		t.Run(tt.name, func(t *testing.T) {
			offer, err := ParseSDP([]byte(tt.sdp))
			if err != nil {
				t.Fatal(err)
			}
			n, err := Negotiate(offer, bothG711)
			if err != nil {
				t.Fatal(err)
			}
			o := Origin{Username: "hotline", SessionID: 42, Version: 7}
			b := Answer(tt.local, n, o)
			checkCRLF(t, b)
			if got, want := bytes.Count(b, []byte("\r\nm=")), strings.Count(tt.sdp, "\nm="); got != want {
				t.Errorf("answer has %d m-lines, offer %d (RFC 3264 section 6):\n%s", got, want, b)
			}

			ans, err := ParseSDP(b)
			if err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, b)
			}
			if ans.SessionID != 42 || ans.SessionVersion != 7 {
				t.Errorf("answer origin %d %d, want 42 7", ans.SessionID, ans.SessionVersion)
			}
			if ans.Addr != tt.local.Addr() || ans.Port != int(tt.local.Port()) {
				t.Errorf("answer address %v:%d, want %v", ans.Addr, ans.Port, tt.local)
			}
			if ans.PTime != n.PTime || ans.Direction != n.Direction {
				t.Errorf("answer ptime=%v dir=%v, want %v %v", ans.PTime, ans.Direction, n.PTime, n.Direction)
			}
			wantFormats := 1
			if n.DTMF != 0 {
				wantFormats = 2
			}
			if len(ans.Formats) != wantFormats {
				t.Fatalf("answer formats %+v, want codec and %d telephone-event", ans.Formats, wantFormats-1)
			}
			if f := ans.Formats[0]; f.PayloadType != n.Codec.PayloadType || !equalFold(f.Name, n.Codec.Name) || f.ClockRate != 8000 {
				t.Errorf("answer codec %+v, want %+v", f, n.Codec)
			}
			if n.DTMF != 0 {
				if f := ans.Formats[1]; f.PayloadType != n.DTMF || f.Name != "telephone-event" || f.Fmtp != "0-16" {
					t.Errorf("answer telephone-event %+v, want PT %d 0-16", f, n.DTMF)
				}
			}

			// The offerer reads our answer to the same outcome.
			back, err := AnswerTo(ans, []Codec{PCMU, PCMA})
			if err != nil {
				t.Fatal(err)
			}
			if back.Codec.PayloadType != n.Codec.PayloadType || back.DTMF != n.DTMF || back.PTime != n.PTime {
				t.Errorf("offerer reads %+v, we negotiated %+v", back, n)
			}
			if back.Direction != n.Direction.Answer() {
				t.Errorf("offerer direction %v, want %v", back.Direction, n.Direction.Answer())
			}
		})
	}
}

func TestAnswerRejectsOtherMLinesInPlace(t *testing.T) {
	offer, err := ParseSDP([]byte(sdpVideoFirst))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Negotiate(offer, bothG711)
	if err != nil {
		t.Fatal(err)
	}
	b := string(Answer(ap("10.0.0.1:20000"), n, Origin{}))
	video := strings.Index(b, "m=video 0 RTP/AVP 97\r\n")
	audio := strings.Index(b, "m=audio 20000 RTP/AVP 0 101\r\n")
	if video < 0 || audio < 0 || video > audio {
		t.Errorf("want rejected video m-line before the audio one:\n%s", b)
	}
	if !strings.Contains(b, "o=- 0 0 IN IP4 10.0.0.1\r\n") {
		t.Errorf("empty Origin should default to '-' and the local address:\n%s", b)
	}
}

func TestAnswerRejectedStream(t *testing.T) {
	offer, err := ParseSDP([]byte(sdpPort0))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Negotiate(offer, bothG711)
	if !errors.Is(err, ErrStreamRejected) {
		t.Fatalf("Negotiate error = %v, want ErrStreamRejected", err)
	}
	b := Answer(ap("10.0.0.1:20000"), n, Origin{Version: 1})
	checkCRLF(t, b)
	ans, err := ParseSDP(b)
	if err != nil {
		t.Fatalf("rejecting answer does not parse: %v\n%s", err, b)
	}
	if ans.Port != 0 {
		t.Errorf("rejecting answer has port %d, want 0", ans.Port)
	}

	// A zero Negotiated (no codec) also rejects.
	ans, err = ParseSDP(Answer(ap("10.0.0.1:20000"), Negotiated{}, Origin{}))
	if err != nil || ans.Port != 0 {
		t.Errorf("zero Negotiated: port %v err %v, want port 0", ans, err)
	}
}

func TestAnswerInactive(t *testing.T) {
	n := Negotiated{Codec: PCMA, DTMF: 101, PTime: 20 * time.Millisecond, Direction: Inactive}
	b := Answer(ap("10.0.0.1:20000"), n, Origin{Username: "hotline", SessionID: 1, Version: 2})
	ans, err := ParseSDP(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if ans.Direction != Inactive || ans.Port != 20000 {
		t.Errorf("got dir %v port %d, want inactive 20000:\n%s", ans.Direction, ans.Port, b)
	}
}

// TestOfferAndAnswerTo is the delayed-offer case: our offer in the 200 OK, the peer's answer
// in the ACK.
func TestOfferAndAnswerTo(t *testing.T) {
	local := ap("10.0.0.1:20000")
	offer := Offer(local, []Codec{PCMU, PCMA}, 101, 0, Origin{Username: "hotline", SessionID: 5, Version: 1})
	checkCRLF(t, offer)
	want := crlf(`
		v=0
		o=hotline 5 1 IN IP4 10.0.0.1
		s=-
		c=IN IP4 10.0.0.1
		t=0 0
		m=audio 20000 RTP/AVP 0 8 101
		a=rtpmap:0 PCMU/8000
		a=rtpmap:8 PCMA/8000
		a=rtpmap:101 telephone-event/8000
		a=fmtp:101 0-16
		a=ptime:20
		a=sendrecv`)
	if string(offer) != want {
		t.Errorf("Offer =\n%s\nwant\n%s", offer, want)
	}
	if d, err := ParseSDP(offer); err != nil || len(d.Formats) != 3 {
		t.Fatalf("our offer parses to %+v, %v", d, err)
	}

	answer := func(mline string, attrs ...string) string {
		return crlf(`
			v=0
			o=- 100 100 IN IP4 192.168.1.20
			s=-
			c=IN IP4 192.168.1.20
			t=0 0
			`+mline) + strings.Join(attrs, "")
	}
	ms := time.Millisecond
	tests := []struct {
		name    string
		answer  string
		offered []Codec
		want    Negotiated
		err     error
	}{
		{
			name:    "baresip picks PCMA with DTMF",
			answer:  answer("m=audio 10104 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:101 telephone-event/8000\r\n", "a=ptime:20\r\n"),
			offered: []Codec{PCMU, PCMA},
			want:    Negotiated{Codec: PCMA, DTMF: 101, PTime: 20 * ms, Remote: ap("192.168.1.20:10104"), Direction: SendRecv},
		},
		{
			name:    "SIPp answers PCMU only, recvonly",
			answer:  answer("m=audio 6000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000\r\n", "a=recvonly\r\n"),
			offered: []Codec{PCMU, PCMA},
			want:    Negotiated{Codec: PCMU, PTime: 20 * ms, Remote: ap("192.168.1.20:6000"), Direction: SendOnly},
		},
		{
			name:    "answer lists several: take the first we offered",
			answer:  answer("m=audio 6000 RTP/AVP 18 8 0", "a=ptime:30\r\n"),
			offered: []Codec{PCMU, PCMA},
			want:    Negotiated{Codec: PCMA, PTime: 30 * ms, Remote: ap("192.168.1.20:6000"), Direction: SendRecv},
		},
		{
			name:    "answer names a codec we did not offer",
			answer:  answer("m=audio 6000 RTP/AVP 8"),
			offered: []Codec{PCMU},
			err:     ErrNoCommonCodec,
		},
		{
			name:    "answer rejects the stream",
			answer:  answer("m=audio 0 RTP/AVP 0"),
			offered: []Codec{PCMU},
			err:     ErrStreamRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseSDP([]byte(tt.answer))
			if err != nil {
				t.Fatal(err)
			}
			n, err := AnswerTo(d, tt.offered)
			if !errors.Is(err, tt.err) {
				t.Fatalf("AnswerTo error = %v, want %v", err, tt.err)
			}
			if tt.err == nil && n != tt.want {
				t.Errorf("AnswerTo = %+v, want %+v", n, tt.want)
			}
		})
	}
}

func TestOfferDefaults(t *testing.T) {
	b := string(Offer(ap("[2001:db8::1]:30000"), []Codec{PCMA}, 0, 40*time.Millisecond, Origin{Addr: netip.MustParseAddr("2001:db8::2")}))
	for _, want := range []string{"o=- 0 0 IN IP6 2001:db8::2\r\n", "c=IN IP6 2001:db8::1\r\n", "m=audio 30000 RTP/AVP 8\r\n", "a=ptime:40\r\n", "a=sendrecv\r\n"} {
		if !strings.Contains(b, want) {
			t.Errorf("offer lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "telephone-event") {
		t.Errorf("dtmfPT 0 must offer no telephone-event:\n%s", b)
	}
}

func checkCRLF(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) || bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) {
		t.Errorf("SDP must use CRLF line endings: %q", b)
	}
}
