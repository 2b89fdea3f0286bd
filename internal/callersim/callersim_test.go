package callersim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/hotline12345/hotline/internal/agentsim"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/media/mediatest"
)

// TestDetector: a peer hears 300 ms of another tone and then 440 Hz; the detector,
// fed while the packets arrive, finds the first 440 Hz packet, not the run's
// first packet, and not the other tone.
func TestDetector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	from, err := mediatest.NewPeer(media.PCMU, 101)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	to, err := mediatest.NewPeer(media.PCMU, 101)
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	from.SetRemote(to.Addr())
	sent := make(chan time.Time, 1)
	go func() {
		pcm := make([]int16, 2400) // 300 ms of 1 kHz
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
		}
		_ = from.Stream(ctx, media.NewClip("tone1000", pcm).Source())
		sent <- time.Now()
		_ = from.Stream(ctx, agentsim.Tone(440).Loop())
	}()
	var d detector
	for {
		if at, ok := d.feed(to, 440); ok {
			start := <-sent
			// The first 440 Hz packet left right after start: it came at most a
			// packet time or so later, never before start.
			if at.Before(start) {
				t.Fatalf("detected at %v, before the tone was sent (%v)", at, start)
			}
			if at.Sub(start) > 3*mediatest.PTime {
				t.Errorf("detected %v after the tone began, want its first packet", at.Sub(start))
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the 440 Hz tone was not detected")
		case <-time.After(30 * time.Millisecond):
		}
	}
}
