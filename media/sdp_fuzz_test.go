package media

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseSDP feeds arbitrary bodies to ParseSDP: it must never panic and must fail only
// with our sentinels; whatever it accepts must negotiate without panicking, and our answer
// to it must parse back to the same codec with one m-line per offered m-line.
func FuzzParseSDP(f *testing.F) {
	for _, s := range []string{
		sdpSIPp, sdpBaresip, sdpCarrier, sdpPT126PTime30, sdpHoldSendOnly, sdpHoldInactive,
		sdpHoldZeroAddr, sdpHoldZeroAddrRecvOnly, sdpSessionSendOnly, sdpMediaLevelWins,
		sdpIPv6, sdpVideoFirst, sdpNoRtpmap, sdpG729Only, sdpSAVP, sdpSAVPThenAVP, sdpPort0,
		sdpVideoOnly, sdpTelephoneEvent48k, sdpDynamicPCMU, sdpLFOnly, sdpWithPTime("30"),
		"", "v=0\r\n", "hello",
	} {
		f.Add([]byte(s))
	}
	local := ap("127.0.0.1:20000")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseSDP(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedSDP) && !errors.Is(err, ErrNoAudio) && !errors.Is(err, ErrUnsupportedProfile) {
				t.Fatalf("ParseSDP error %v is none of the sentinels", err)
			}
			return
		}
		n, err := Negotiate(d, bothG711)
		if err != nil {
			if !errors.Is(err, ErrNoCommonCodec) && !errors.Is(err, ErrStreamRejected) {
				t.Fatalf("Negotiate error %v is none of the sentinels", err)
			}
			if !errors.Is(err, ErrStreamRejected) {
				return
			}
		}
		answer := Answer(local, n, Origin{SessionID: d.SessionID, Version: d.SessionVersion + 1})
		ans, err := ParseSDP(answer)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, answer)
		}
		if got, want := mLines(answer), mLines(b); got != want {
			t.Fatalf("answer has %d m-lines, offer %d:\n%s", got, want, answer)
		}
		if n.Codec.Name != "" && (len(ans.Formats) == 0 || ans.Formats[0].PayloadType != n.Codec.PayloadType) {
			t.Fatalf("answer formats %+v, negotiated %+v", ans.Formats, n.Codec)
		}
	})
}

// mLines counts the m= lines of a body whose lines end in CR, LF or both.
func mLines(b []byte) int {
	n := 0
	for _, l := range bytes.FieldsFunc(b, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if bytes.HasPrefix(l, []byte("m=")) {
			n++
		}
	}
	return n
}
