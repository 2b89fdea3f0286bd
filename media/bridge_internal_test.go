package media

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
)

// bridgedPair returns two unstarted sessions in a bridge: a receives from src (as
// if from its peer) and b sends to a sink socket nobody reads (the kernel drops
// what does not fit). Driving a.receive exercises the whole forwarding path but
// the socket read: parse, loss accounting, renumbering, conversion and sendto.
func bridgedPair(tb testing.TB, to Codec) (a, b *Session, src netip.AddrPort) {
	tb.Helper()
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sink.Close() })
	m := NewMetrics(prometheus.NewRegistry())
	src = netip.MustParseAddrPort("127.0.0.1:40000")
	a = newTestSession(tb, SessionConfig{Codec: PCMU, DTMF: 101, Remote: src, Metrics: m})
	b = newTestSession(tb, SessionConfig{Codec: to, DTMF: 96, Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(), Metrics: m})
	br, err := Bridge(a, b)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { br.Close() })
	return a, b, src
}

// TestForwardAllocatesNothing requires zero allocations per forwarded packet:
// audio in the same codec, audio converted to A-law, and telephone-events
// remapped from 101 to 96, with a tap on the receiving leg as a recorder has.
func TestForwardAllocatesNothing(t *testing.T) {
	tests := []struct {
		name       string
		to         Codec
		transcoded bool
	}{
		{name: "same codec", to: PCMU},
		{name: "u-law to A-law", to: PCMA, transcoded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, src := bridgedPair(t, tt.to)
			var taps int
			a.Tap(func(pcm []int16) { taps += len(pcm) })
			audio := marshalPacket(t, rtp.Header{PayloadType: 0, SSRC: 7}, make([]byte, 160))
			event := marshalPacket(t, rtp.Header{PayloadType: 101, SSRC: 7}, []byte{1, 10, 0, 160})
			var seq uint16
			var ts uint32
			send := func(pkt []byte) {
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
				seq++
				ts += 160
				a.receive(pkt, src)
			}
			send(audio) // latch and anchor
			allocs := testing.AllocsPerRun(200, func() {
				send(audio)
				send(event)
				select {
				case <-a.digits:
				default:
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per round of two forwarded packets, want 0", allocs)
			}
			st := b.Stats()
			if st.Forwarded != 403 || taps == 0 {
				t.Errorf("forwarded %d packets (want 403), taps %d", st.Forwarded, taps)
			}
			want := uint64(0)
			if tt.transcoded {
				want = 202 // the audio packets
			}
			if st.Transcoded != want {
				t.Errorf("transcoded %d, want %d", st.Transcoded, want)
			}
		})
	}
}

// BenchmarkBridgeForward measures one forwarded packet: the receiving leg's work
// (latching check, parse, loss accounting) and the sending leg's (renumbering,
// G.711 conversion when the codecs differ, marshal, sendto), without the socket
// read. ns/op is ns per packet.
func BenchmarkBridgeForward(b *testing.B) {
	benches := []struct {
		name string
		to   Codec
		tap  bool
	}{
		{name: "same-codec", to: PCMU},
		{name: "transcode", to: PCMA},
		{name: "same-codec-tap", to: PCMU, tap: true},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			a, out, src := bridgedPair(b, bb.to)
			if bb.tap {
				a.Tap(func([]int16) {})
			}
			pkt := marshalPacket(b, rtp.Header{PayloadType: 0, SSRC: 7}, make([]byte, 160))
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			var seq uint16
			var ts uint32
			for b.Loop() {
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
				seq++
				ts += 160
				a.receive(pkt, src)
			}
			if out.Stats().Forwarded == 0 {
				b.Fatal("nothing forwarded")
			}
		})
	}
}

// FuzzBridgeForward feeds arbitrary datagrams to a bridged leg (into a u-law leg
// bridged to an A-law one): nothing may panic, each datagram is forwarded at most
// once, and only accepted packets are forwarded.
func FuzzBridgeForward(f *testing.F) {
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 0, SequenceNumber: 1, SSRC: 7}, make([]byte, 160)))
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 0, SequenceNumber: 2, SSRC: 8, Marker: true}, make([]byte, 1400)))
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 101, SequenceNumber: 3, Timestamp: 800, SSRC: 7}, []byte{5, 0x8a, 3, 0x20}))
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 101, SequenceNumber: 4, SSRC: 7}, []byte{1}))
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 0, SequenceNumber: 0, SSRC: 7, CSRC: []uint32{1, 2}}, nil))
	f.Add([]byte{0xa0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0, 2}) // padded
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0xbe, 0xde, 0, 9}) // extension longer than the packet
	a, b, src := bridgedPair(f, PCMA)
	f.Fuzz(func(t *testing.T, d []byte) {
		in0, out0 := a.Stats().PacketsIn, b.Stats().Forwarded
		a.receive(d, src)
		for len(a.digits) > 0 {
			<-a.digits
		}
		in, out := a.Stats().PacketsIn-in0, b.Stats().Forwarded-out0
		if out > in || in > 1 {
			t.Errorf("accepted %d, forwarded %d", in, out)
		}
	})
}
