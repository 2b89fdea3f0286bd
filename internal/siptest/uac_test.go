package siptest

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/hotline12345/hotline/media"
)

func TestOfferParses(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:40000")
	cases := []struct {
		name   string
		dir    string
		dtmf   uint8
		codecs []media.Codec
		want   media.Direction
	}{
		{"PCMA first with events", "", 101, []media.Codec{media.PCMA, media.PCMU}, media.SendRecv},
		{"hold", "sendonly", 101, []media.Codec{media.PCMU}, media.SendOnly},
		{"no events, inactive", "inactive", 0, []media.Codec{media.PCMU}, media.Inactive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			desc, err := media.ParseSDP(Offer(addr, 3, tc.dir, tc.dtmf, tc.codecs...))
			if err != nil {
				t.Fatal(err)
			}
			if desc.Addr != addr.Addr() || desc.Port != int(addr.Port()) || desc.SessionVersion != 3 {
				t.Errorf("address %v:%d version %d", desc.Addr, desc.Port, desc.SessionVersion)
			}
			if desc.Direction != tc.want || desc.PTime != 20*time.Millisecond {
				t.Errorf("direction %v ptime %v, want %v 20ms", desc.Direction, desc.PTime, tc.want)
			}
			wantFormats := len(tc.codecs)
			if tc.dtmf != 0 {
				wantFormats++
			}
			if len(desc.Formats) != wantFormats || desc.Formats[0].PayloadType != tc.codecs[0].PayloadType {
				t.Errorf("formats %+v", desc.Formats)
			}
		})
	}
}

func TestStatusCode(t *testing.T) {
	res := sipmsg.NewResponse(503, "Service Unavailable")
	if got := StatusCode(fmt.Errorf("wrapped: %w", &StatusError{Response: res})); got != 503 {
		t.Errorf("StatusCode = %d, want 503", got)
	}
	if got := StatusCode(errors.New("timeout")); got != 0 {
		t.Errorf("StatusCode of another error = %d, want 0", got)
	}
}
