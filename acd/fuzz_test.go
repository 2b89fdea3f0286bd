package acd

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
)

// byteSource feeds math/rand from the fuzzer's bytes, so the fuzzer's mutations
// steer the command sequence. Once they run out it counts (a constant source would
// make rand's rejection sampling loop forever).
type byteSource struct {
	b []byte
	n uint64
}

func (s *byteSource) Uint64() uint64 {
	if len(s.b) == 0 {
		s.n++
		return s.n * 0x9e3779b97f4a7c15
	}
	var buf [8]byte
	n := copy(buf[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

// FuzzRouter runs command sequences chosen by the fuzzer and checks the invariants
// and the recount after every step, like TestProperty.
func FuzzRouter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("enqueue login accept hangup ring-all overflow widen callback"))
	f.Add([]byte{0xff, 0x10, 0x80, 0x00, 0x42, 0x99, 0x07, 0x13, 0x37, 0xaa, 0x55, 0xc3})
	f.Fuzz(func(t *testing.T, data []byte) {
		rng := rand.New(&byteSource{b: data})
		queues, agents := propertyConfig(rng)
		h := newHarness(t, queues, agents)
		var ledger offerLedger
		steps := min(len(data)/4+1, 120)
		for step := range steps {
			c := randomCommand(rng, h, queues, agents)
			if c.Kind == 0 {
				h.clk.Advance(time.Duration(rng.IntN(12_000)) * time.Millisecond)
				h.r.Tick()
			} else {
				_ = h.r.Apply(c)
			}
			if err := h.r.check(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if err := ledger.read(h.events); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if got, want := h.r.Stats(), Recount(queues, h.cfg, h.events); !statsEqual(got, want) {
				t.Fatalf("step %d: live stats differ from the recount:\n%s", step, statsDiff(got, want))
			}
		}
	})
}
