package media

import (
	"container/heap"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pacing: why a shared pacer and not one goroutine per session.
//
// Every session sends one packet per ptime (50 packets/s at 20 ms), each at an
// absolute deadline start + n*ptime on the monotonic clock. With one goroutine and
// one timer per session, 1,000 sessions mean 50,000 timer expiries and goroutine
// wake-ups per second on top of the 50,000 sendto calls that cannot be avoided.
// The shared pacer instead runs a few worker goroutines (one per CPU), each owning
// a min-heap of sessions ordered by their next deadline. Session deadlines are put
// on a 1 ms grid when a session starts, so that sessions spread over the 20 ms
// period but share wake-ups: a worker wakes at most once per millisecond and sends
// for every session due then, whatever the number of sessions. A new session takes
// the least loaded millisecond of the next period, so that sessions started in a
// burst do not all send at once. The cost per session
// and packet is a heap pop and push, the Source's Next and the sendto.
//
// Workers start with the first session of their shard and exit when their last
// session has gone, so an idle process (or a finished test) has no pacer goroutine.
// A session falling more than maxBehind frames behind its deadlines (a stalled
// machine) skips the missed frames, advancing its RTP timestamp as if it had sent
// them, instead of sending a burst.

// pacerGrain is the grid that session deadlines are aligned to.
const pacerGrain = time.Millisecond

// maxBehind is how many whole frames late a session may be before it skips ahead.
const maxBehind = 3

// pacerSlots is the number of grid points in one DefaultPTime period.
const pacerSlots = int(DefaultPTime / pacerGrain)

// defaultPacer serves every Session.
var defaultPacer = newPacer(runtime.GOMAXPROCS(0))

type pacer struct {
	epoch  time.Time // monotonic origin of all deadlines
	shards []*pacerShard
	next   atomic.Uint32 // round-robin shard choice
}

type pacerShard struct {
	p       *pacer
	mu      sync.Mutex
	heap    paceHeap // sessions by next deadline
	running bool     // a worker goroutine serves the shard
	wake    chan struct{}
	batch   []*Session      // worker only
	load    [pacerSlots]int // sessions per grid point of the period
}

func newPacer(n int) *pacer {
	p := &pacer{epoch: time.Now()}
	for range max(n, 1) {
		p.shards = append(p.shards, &pacerShard{p: p, wake: make(chan struct{}, 1)})
	}
	return p
}

// now is the monotonic time since the pacer's epoch.
func (p *pacer) now() time.Duration { return time.Since(p.epoch) }

// add schedules s from the next grid point on.
func (p *pacer) add(s *Session) {
	sh := p.shards[int(p.next.Add(1))%len(p.shards)]
	sh.mu.Lock()
	first := p.now()/pacerGrain + 1 // the next grid point, in grains
	best := 0
	for k := range min(pacerSlots, int(s.ptime/pacerGrain)) {
		if sh.load[(int(first)+k)%pacerSlots] < sh.load[(int(first)+best)%pacerSlots] {
			best = k
		}
	}
	s.pace.slot = (int(first) + best) % pacerSlots
	sh.load[s.pace.slot]++
	s.pace.next = (first + time.Duration(best)) * pacerGrain
	heap.Push(&sh.heap, s)
	if !sh.running {
		sh.running = true
		go sh.run()
	} else if sh.heap[0] == s {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
	sh.mu.Unlock()
}

// run serves the shard's sessions until it has none.
func (sh *pacerShard) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		sh.mu.Lock()
		now := sh.p.now()
		batch := sh.batch[:0]
		for len(sh.heap) > 0 && sh.heap[0].pace.next <= now {
			batch = append(batch, heap.Pop(&sh.heap).(*Session))
		}
		sh.mu.Unlock()

		// Serve the due sessions; those that ended move to the back of batch.
		kept := 0
		for i, s := range batch {
			if s.tick(sh.p) {
				batch[kept], batch[i] = batch[i], batch[kept]
				kept++
			}
		}

		sh.mu.Lock()
		for _, s := range batch[:kept] {
			heap.Push(&sh.heap, s)
		}
		for _, s := range batch[kept:] {
			sh.load[s.pace.slot]--
		}
		clear(batch) // drop references to ended sessions
		sh.batch = batch[:0]
		if len(sh.heap) == 0 {
			sh.running = false
			sh.mu.Unlock()
			return
		}
		wait := sh.heap[0].pace.next - sh.p.now()
		sh.mu.Unlock()
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-sh.wake:
			timer.Stop()
		}
	}
}

// paceState is the pacer's bookkeeping inside a Session, owned by its shard.
type paceState struct {
	next  time.Duration // next deadline since the pacer's epoch
	index int           // position in the heap
	slot  int           // grid point of the period it was started on
}

type paceHeap []*Session

func (h paceHeap) Len() int           { return len(h) }
func (h paceHeap) Less(i, j int) bool { return h[i].pace.next < h[j].pace.next }
func (h paceHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pace.index, h[j].pace.index = i, j
}
func (h *paceHeap) Push(x any) {
	s := x.(*Session)
	s.pace.index = len(*h)
	*h = append(*h, s)
}
func (h *paceHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.pace.index = -1
	return s
}
