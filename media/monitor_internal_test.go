package media

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
)

// monitoredCall returns three unstarted sessions, a (caller) and b (agent)
// bridged, and sup, all sending to one sink socket nobody reads, with a
// monitor in mode (none when mode is 0) whose mixer goroutine is not started:
// the caller drives receive and tick itself. Each session accepts packets from
// the sink's address.
func monitoredCall(tb testing.TB, mode MonitorMode) (legs [nSrc]*Session, src netip.AddrPort, m *Monitor) {
	tb.Helper()
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sink.Close() })
	src = sink.LocalAddr().(*net.UDPAddr).AddrPort()
	met := NewMetrics(prometheus.NewRegistry())
	for i := range legs {
		legs[i] = newTestSession(tb, SessionConfig{Codec: PCMU, DTMF: 101, Remote: src, Metrics: met})
	}
	br, err := Bridge(legs[srcCaller], legs[srcAgent])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { br.Close() })
	if mode != 0 {
		m, err = br.monitor(legs[srcSup], mode)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(m.teardown)
	}
	return legs, src, m
}

// callSecond feeds one second of a call to the legs (50 packets from each of
// the three peers) and, when m is not nil, runs the mixer's 50 ticks.
type callFeeder struct {
	pkts [nSrc][]byte
	seq  uint16
	ts   uint32
}

func newCallFeeder(tb testing.TB) *callFeeder {
	f := &callFeeder{}
	for i := range f.pkts {
		payload := make([]byte, 160)
		for j := range payload {
			payload[j] = byte(j*(i+3)) | 0x80
		}
		f.pkts[i] = marshalPacket(tb, rtp.Header{PayloadType: 0, SSRC: uint32(7 + i)}, payload)
	}
	return f
}

func (f *callFeeder) frame(legs [nSrc]*Session, src netip.AddrPort, m *Monitor) {
	for i, pkt := range f.pkts {
		pkt[2], pkt[3] = byte(f.seq>>8), byte(f.seq)
		pkt[4], pkt[5], pkt[6], pkt[7] = byte(f.ts>>24), byte(f.ts>>16), byte(f.ts>>8), byte(f.ts)
		legs[i].receive(pkt, src)
	}
	f.seq++
	f.ts += 160
	if m != nil {
		m.tick(0)
	}
}

// TestMonitorAllocatesNothing: a monitored call's per-packet and per-tick work
// allocates nothing, in every mode.
func TestMonitorAllocatesNothing(t *testing.T) {
	for _, mode := range []MonitorMode{Listen, Whisper, Barge} {
		t.Run(mode.String(), func(t *testing.T) {
			legs, src, m := monitoredCall(t, mode)
			f := newCallFeeder(t)
			f.frame(legs, src, m) // latch and anchor
			if allocs := testing.AllocsPerRun(100, func() { f.frame(legs, src, m) }); allocs != 0 {
				t.Errorf("%v allocations per monitored frame, want 0", allocs)
			}
			for i, l := range legs {
				if st := l.Stats(); st.Forwarded < 100 {
					t.Errorf("leg %d: %d packets sent by the bridge or the mixer", i, st.Forwarded)
				}
			}
		})
	}
}

// TestJitterBuffer: a late packet is used at the next tick, a missing one is
// silence, the depth stays at two frames.
func TestJitterBuffer(t *testing.T) {
	var j jitterBuffer
	frame := func(v int16) []int16 {
		f := make([]int16, mixFrame)
		for i := range f {
			f[i] = v
		}
		return f
	}
	out := make([]int16, mixFrame)
	j.pull(out)
	if out[0] != 0 || out[mixFrame-1] != 0 {
		t.Fatal("an empty buffer is not silence")
	}
	j.push(frame(1))
	j.push(frame(2)) // late: arrives together with the next
	j.pull(out)
	if out[0] != 1 || out[mixFrame-1] != 1 {
		t.Fatalf("first pull %d", out[0])
	}
	j.pull(out)
	if out[0] != 2 {
		t.Fatalf("the late frame was not used at the next tick: %d", out[0])
	}
	j.push(frame(3))
	j.push(frame(4))
	j.push(frame(5)) // a burst: the oldest goes
	if j.n != mixMaxDepth {
		t.Fatalf("depth %d, want %d", j.n, mixMaxDepth)
	}
	j.pull(out)
	if out[0] != 4 {
		t.Fatalf("after a burst got %d, want 4", out[0])
	}
	// A long packet (60 ms) is kept whole.
	j.reset()
	j.push(make([]int16, 3*mixFrame))
	if j.n != 3*mixFrame {
		t.Fatalf("a 60 ms packet kept %d samples", j.n)
	}
	if got := clip16(40000); got != 32767 {
		t.Fatalf("clip16(40000) = %d", got)
	}
	if got := clip16(-40000); got != -32768 {
		t.Fatalf("clip16(-40000) = %d", got)
	}
}

// BenchmarkMonitorCallSecond measures one second of a bridged call with a
// supervisor leg (50 packets received on each of the three legs, what they
// forward, and with a monitor its 50 mixer ticks: decoding, mixing, encoding
// and sending), without the socket reads. ns/op is CPU per call-second; the
// difference between a mode and "plain" (the same three legs, no monitor) is
// what monitoring costs.
func BenchmarkMonitorCallSecond(b *testing.B) {
	for _, mode := range []MonitorMode{0, Listen, Whisper, Barge} {
		name := "plain"
		if mode != 0 {
			name = mode.String()
		}
		b.Run(name, func(b *testing.B) {
			legs, src, m := monitoredCall(b, mode)
			f := newCallFeeder(b)
			b.ReportAllocs()
			for b.Loop() {
				for range 50 {
					f.frame(legs, src, m)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e7, "cpu-%/call")
		})
	}
}
