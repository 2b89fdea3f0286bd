package queue

import (
	"slices"
	"testing"
	"time"
)

func calls(l *Line[*Entry]) []string {
	var out []string
	for i := range l.Len() {
		out = append(out, l.At(i).Call)
	}
	return out
}

func TestLineOrder(t *testing.T) {
	var l Line[*Entry]
	es := map[string]*Entry{}
	for i, c := range []struct {
		call string
		prio int
	}{{"a", 5}, {"b", 5}, {"c", 9}, {"d", 3}, {"e", 9}, {"f", 5}} {
		e := &Entry{Call: c.call, Priority: c.prio, Seq: uint64(i + 1)}
		es[c.call] = e
		l.Push(e)
	}
	want := []string{"c", "e", "a", "b", "f", "d"}
	if got := calls(&l); !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
	for i, c := range want {
		if p := l.Position(es[c]); p != i+1 {
			t.Fatalf("position of %s = %d, want %d", c, p, i+1)
		}
	}
	// The head is offered (taken out), missed, and pushed back: it is the head again.
	if !l.Remove(es["c"]) {
		t.Fatal("Remove of the head failed")
	}
	if l.Position(es["c"]) != 0 || l.Remove(es["c"]) {
		t.Fatal("removed entry still found")
	}
	l.Push(&Entry{Call: "g", Priority: 9, Seq: 7}) // arrives while c rings
	l.Push(es["c"])
	want = []string{"c", "e", "g", "a", "b", "f", "d"}
	if got := calls(&l); !slices.Equal(got, want) {
		t.Fatalf("after requeue %q, want %q", got, want)
	}
	// A call given back after its agent was lost comes in at the head of its
	// priority, after nothing of a higher one.
	l.Push(&Entry{Call: "h", Priority: 5, Seq: 8, Head: true})
	want = []string{"c", "e", "g", "h", "a", "b", "f", "d"}
	if got := calls(&l); !slices.Equal(got, want) {
		t.Fatalf("after a head entry %q, want %q", got, want)
	}
	// An entry with the same key that is not the one in line is not found.
	if l.Position(&Entry{Call: "x", Priority: 5, Seq: 1}) != 0 {
		t.Fatal("a stranger was found in line")
	}
}

// An owner's type embedding Entry goes in a Line as it is.
func TestLineOwnType(t *testing.T) {
	type mine struct {
		Entry
		note string
	}
	var l Line[*mine]
	a := &mine{Entry: Entry{Call: "a", Seq: 2}, note: "x"}
	b := &mine{Entry: Entry{Call: "b", Seq: 1}}
	l.Push(a)
	l.Push(b)
	if l.At(0) != b || l.At(1).note != "x" || l.Position(a) != 2 {
		t.Fatal("own type not ordered")
	}
}

func TestEstimator(t *testing.T) {
	var e Estimator
	tests := []struct {
		pos, ready, serving int
		want                time.Duration
	}{
		{1, 0, 1, DefaultHandleTime},
		{1, 1, 1, 0},
		{3, 1, 2, DefaultHandleTime},     // 2 ahead × 3 min / 2
		{5, 0, 0, 5 * DefaultHandleTime}, // nobody serving counts as one
		{4, 0, 4, DefaultHandleTime},
	}
	for _, tt := range tests {
		if got := e.Estimate(tt.pos, tt.ready, tt.serving); got != tt.want {
			t.Errorf("Estimate(%d, %d, %d) = %v, want %v", tt.pos, tt.ready, tt.serving, got, tt.want)
		}
	}
	for range 10 {
		e.Record(time.Minute)
	}
	if e.AHT() != time.Minute {
		t.Fatalf("AHT %v", e.AHT())
	}
	// Only the last 20 count: 20 more of 2 minutes push the old ones out.
	for i := range 20 {
		e.Record(2 * time.Minute)
		if i == 9 && e.AHT() != 90*time.Second {
			t.Fatalf("AHT after 10+10: %v", e.AHT())
		}
	}
	if e.AHT() != 2*time.Minute {
		t.Fatalf("AHT %v, want 2m", e.AHT())
	}
	if got := e.Estimate(3, 0, 2); got != 3*time.Minute {
		t.Fatalf("Estimate = %v", got)
	}
}
