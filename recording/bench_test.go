package recording

import (
	"syscall"
	"testing"
	"time"

	"github.com/hotline12345/hotline/media"
)

// BenchmarkWrite is the cost of Write on the RTP reader's goroutine: one
// 20 ms packet handed off (the writer's work is not in it; the fake clock's
// Advance per packet is).
func BenchmarkWrite(b *testing.B) {
	clk := newFake()
	r := create(b, Config{Dir: b.TempDir(), Clock: clk, Logger: quiet()}, "w")
	s := &source{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000}
	ts, p := s.next()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Write(Caller, media.PCMU, 1, ts+uint32(i)*160, p)
		clk.Advance(ptime)
		if i%64 == 63 {
			b.StopTimer()
			settle(r)
			b.StartTimer()
		}
	}
	b.StopTimer()
	res, _ := r.Close()
	b.ReportMetric(float64(res.Dropped), "dropped")
	b.ReportMetric(float64(r.handoff.Load()), "handoff")
}

// BenchmarkCalls500 runs 500 recorders (plain, or encrypted) through one
// second of two-sided audio per op, as fast as they go on a shared fake clock,
// and reports the CPU (user+system, all goroutines) per call-second of audio,
// the bytes written per call-second and the packets dropped.
func BenchmarkCalls500(b *testing.B) {
	for _, mode := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"encrypted", testKey}} {
		b.Run(mode.name, func(b *testing.B) {
			const calls = 500
			clk := newFake()
			cfg := Config{Dir: b.TempDir(), Key: mode.key, Clock: clk, Logger: quiet()}
			rs := make([]*Recorder, calls)
			srcs := make([][2]*source, calls)
			for i := range rs {
				rs[i] = create(b, cfg, "c"+formatID(i))
				srcs[i] = [2]*source{
					{side: Caller, codec: media.PCMU, ssrc: 1, hz: 1000},
					{side: Agent, codec: media.PCMA, ssrc: 2, hz: 440},
				}
			}
			cpu0 := cpuTime()
			start := time.Now()
			seconds := 0
			for b.Loop() {
				for range 50 {
					for i, r := range rs {
						srcs[i][0].send(r)
						srcs[i][1].send(r)
					}
					clk.Advance(ptime)
				}
				for _, r := range rs {
					settle(r)
				}
				seconds++
			}
			dropped, stored := 0, int64(0)
			for _, r := range rs {
				res, err := r.Close()
				if err != nil {
					b.Fatal(err)
				}
				dropped += res.Dropped
				stored += res.Size
			}
			cpu := cpuTime() - cpu0
			callSeconds := float64(calls * seconds)
			b.ReportMetric(float64(cpu.Microseconds())/callSeconds, "cpu-us/call-s")
			b.ReportMetric(float64(stored)/callSeconds, "B/call-s")
			b.ReportMetric(float64(dropped), "dropped")
			b.ReportMetric(callSeconds/time.Since(start).Seconds(), "call-s/s")
		})
	}
}

func formatID(i int) string {
	const digits = "0123456789"
	return string([]byte{digits[i/100%10], digits[i/10%10], digits[i%10]})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
