package media

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestLossTracker(t *testing.T) {
	type want struct{ lost, late, dups int }
	seqs := func(ranges ...[2]int) []uint16 {
		var out []uint16
		for _, r := range ranges {
			for i := r[0]; i <= r[1]; i++ {
				out = append(out, uint16(i))
			}
		}
		return out
	}
	tests := []struct {
		name  string
		seqs  []uint16
		ssrcs []uint32 // per packet; nil = all 1
		want  want     // after flush
	}{
		{name: "in order", seqs: seqs([2]int{0, 99}), want: want{}},
		{name: "gap of three", seqs: seqs([2]int{0, 9}, [2]int{13, 99}), want: want{lost: 3}},
		{name: "gap at the end flushed", seqs: []uint16{0, 1, 2, 5}, want: want{lost: 2}},
		{name: "big gap beyond window", seqs: seqs([2]int{0, 4}, [2]int{105, 110}), want: want{lost: 100}},
		{name: "wrap", seqs: seqs([2]int{65530, 65535}, [2]int{0, 9}), want: want{}},
		{name: "wrap with gap", seqs: seqs([2]int{65530, 65534}, [2]int{1, 9}), want: want{lost: 2}},
		{name: "reordered pair", seqs: []uint16{0, 1, 3, 2, 4, 5}, want: want{late: 1}},
		{name: "reordered far within window", seqs: append(append(seqs([2]int{0, 9}), seqs([2]int{11, 30})...), 10), want: want{late: 1}},
		{name: "too late: counted lost and late", seqs: append(seqs([2]int{0, 9}, [2]int{11, 60}), 10), want: want{lost: 1, late: 1}},
		{name: "duplicates", seqs: []uint16{0, 1, 1, 2, 2, 2, 3}, want: want{dups: 3}},
		{name: "duplicate of reordered", seqs: []uint16{0, 2, 1, 1, 3}, want: want{late: 1, dups: 1}},
		{name: "restart after huge jump", seqs: []uint16{0, 1, 2, 20000, 20001}, want: want{}},
		{name: "new ssrc restarts", seqs: []uint16{0, 1, 500, 501}, ssrcs: []uint32{1, 1, 2, 2}, want: want{}},
		{name: "before the first packet", seqs: []uint16{10, 11, 9, 12}, want: want{late: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr lossTracker
			var got want
			for i, seq := range tt.seqs {
				ssrc := uint32(1)
				if tt.ssrcs != nil {
					ssrc = tt.ssrcs[i]
				}
				lost, late, dup := tr.push(ssrc, seq)
				got.lost += lost
				if late {
					got.late++
				}
				if dup {
					got.dups++
				}
			}
			got.lost += tr.flush()
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// newTestSession returns an unstarted session on a loopback socket whose peer is
// remote, for driving receive directly.
func newTestSession(tb testing.TB, cfg SessionConfig) *Session {
	tb.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		tb.Fatal(err)
	}
	s := NewSession(conn, nil, cfg)
	tb.Cleanup(func() { s.Close() })
	return s
}

func marshalPacket(tb testing.TB, h rtp.Header, payload []byte) []byte {
	tb.Helper()
	h.Version = 2
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestReceiveAllocatesNothing drives the reader's per-packet path (latched audio
// with a tap and the in-band detector, and telephone-events) and requires zero
// allocations.
func TestReceiveAllocatesNothing(t *testing.T) {
	remote := netip.MustParseAddrPort("127.0.0.1:40000")
	s := newTestSession(t, SessionConfig{
		Codec: PCMU, DTMF: 101, Remote: remote, Inband: true,
		Metrics: NewMetrics(prometheus.NewRegistry()),
	})
	var taps int
	s.Tap(func(pcm []int16) { taps += len(pcm) })
	audio := marshalPacket(t, rtp.Header{PayloadType: 0, SSRC: 7}, make([]byte, 160))
	dtmf := marshalPacket(t, rtp.Header{PayloadType: 101, SSRC: 7, Timestamp: 99}, []byte{1, 10, 0, 160})
	foreign := netip.MustParseAddrPort("127.0.0.1:40002")
	var seq uint16
	send := func(b []byte, from netip.AddrPort) {
		b[2], b[3] = byte(seq>>8), byte(seq)
		seq++
		s.receive(b, from)
	}
	send(audio, remote) // latch
	allocs := testing.AllocsPerRun(200, func() {
		send(audio, remote)
		send(dtmf, remote)
		send(audio, foreign)
		select {
		case <-s.digits:
		default:
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet round, want 0", allocs)
	}
	if taps == 0 {
		t.Error("tap not called")
	}
	if st := s.Stats(); st.Foreign == 0 || st.PacketsIn == 0 {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkSessionReceive measures the reader's per-packet work (latching check,
// parse, loss accounting, decode for the tap), without the socket read.
func BenchmarkSessionReceive(b *testing.B) {
	remote := netip.MustParseAddrPort("127.0.0.1:40000")
	s := newTestSession(b, SessionConfig{Codec: PCMU, DTMF: 101, Remote: remote,
		Metrics: NewMetrics(prometheus.NewRegistry())})
	s.Tap(func([]int16) {})
	pkt := marshalPacket(b, rtp.Header{PayloadType: 0, SSRC: 7}, make([]byte, 160))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	var seq uint16
	for b.Loop() {
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		seq++
		s.receive(pkt, remote)
	}
}

// BenchmarkPacer1000 runs 1,000 sessions sending silence to one sink socket
// through the shared pacer and reports how late the sends were against their
// deadlines (p50, p99, max in microseconds). One iteration is one 20 ms period of
// all sessions.
func BenchmarkPacer1000(b *testing.B) {
	const sessions = 1000
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, maxPacket)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	defer func() { sink.Close(); wg.Wait() }()

	m := NewMetrics(prometheus.NewRegistry())
	var mu sync.Mutex
	lates := make([]time.Duration, 0, 1<<20)
	m.lateHook = func(d time.Duration) {
		mu.Lock()
		lates = append(lates, d)
		mu.Unlock()
	}
	dst := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	all := make([]*Session, 0, sessions)
	for range sessions {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			b.Fatal(err)
		}
		s := NewSession(conn, nil, SessionConfig{Codec: PCMU, Remote: dst, Metrics: m})
		s.Start()
		all = append(all, s)
	}
	time.Sleep(100 * time.Millisecond) // let every session reach its steady state
	mu.Lock()
	lates = lates[:0]
	mu.Unlock()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	time.Sleep(time.Duration(b.N) * DefaultPTime)
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	for _, s := range all {
		s.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lates) == 0 {
		b.Fatal("nothing sent")
	}
	slices.Sort(lates)
	q := func(f float64) float64 { return float64(lates[int(f*float64(len(lates)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-late-µs")
	b.ReportMetric(q(0.99), "p99-late-µs")
	b.ReportMetric(q(1), "max-late-µs")
	b.ReportMetric(float64(len(lates))/(float64(b.N)*DefaultPTime.Seconds())/sessions, "pkts/s/session")
	// CPU of the whole process (pacer, sink and the idle readers) per session.
	b.ReportMetric(100*cpu.Seconds()/(float64(b.N)*DefaultPTime.Seconds())/sessions, "cpu-%/session")
}

// cpuTime is the user plus system CPU time the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// FuzzSessionReceive feeds arbitrary datagrams from the latched source and from a
// foreign one to the reader's per-packet path: nothing may panic, and every
// datagram must be counted exactly once as accepted or dropped.
func FuzzSessionReceive(f *testing.F) {
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 0, SequenceNumber: 1, SSRC: 7}, make([]byte, 160)), false)
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 101, SequenceNumber: 2, Timestamp: 800, SSRC: 7}, []byte{5, 0x8a, 3, 0x20}), false)
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 101, SSRC: 7}, []byte{1}), false)
	f.Add(marshalPacket(f, rtp.Header{PayloadType: 8, SSRC: 7}, make([]byte, 160)), true)
	f.Add([]byte{0x80}, false)
	f.Add([]byte{0xbf, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7}, false)                   // 15 CSRCs announced, none there
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0xbe, 0xde, 0, 9}, false) // extension longer than the packet
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0}, false)                // zero padding size
	remote := netip.MustParseAddrPort("127.0.0.1:40000")
	foreign := netip.MustParseAddrPort("127.0.0.1:40002")
	s := newTestSession(f, SessionConfig{Codec: PCMU, DTMF: 101, Remote: remote, Inband: true})
	s.Tap(func([]int16) {})
	f.Fuzz(func(t *testing.T, b []byte, fromForeign bool) {
		from := remote
		if fromForeign {
			from = foreign
		}
		count := func() uint64 {
			st := s.Stats()
			return st.PacketsIn + st.Foreign + st.Malformed + st.WrongPayload
		}
		before := count()
		s.receive(b, from)
		for len(s.digits) > 0 {
			<-s.digits
		}
		// A telephone-event with a short payload is accepted and then counted
		// malformed too, hence 1 or 2.
		if d := count() - before; d != 1 && d != 2 {
			t.Errorf("datagram counted %d times", d)
		}
	})
}
