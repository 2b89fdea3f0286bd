package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrderAndStops(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	created := f.TimerCreated()
	a := f.NewTimer(2 * time.Second)
	<-created
	b := f.NewTimer(5 * time.Second)
	c := f.NewTimer(3 * time.Second)
	if !c.Stop() || c.Stop() {
		t.Fatal("Stop of an armed timer must report true once")
	}
	if f.Pending() != 2 {
		t.Fatalf("pending %d", f.Pending())
	}
	f.Advance(1999 * time.Millisecond)
	select {
	case <-a.C():
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Millisecond)
	if got := <-a.C(); !got.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("fired at %v", got)
	}
	if a.Stop() {
		t.Fatal("Stop after firing must report false")
	}
	f.Advance(10 * time.Second)
	<-b.C()
	select {
	case <-c.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if z := f.NewTimer(0); z == nil {
		t.Fatal("nil timer")
	} else {
		<-z.C() // a zero duration fires at once
	}
	if !f.Now().Equal(start.Add(12 * time.Second)) {
		t.Fatalf("now %v", f.Now())
	}
}

func TestReal(t *testing.T) {
	r := Real{}
	tm := r.NewTimer(time.Millisecond)
	<-tm.C()
	if r.Now().IsZero() {
		t.Fatal("zero time")
	}
}
