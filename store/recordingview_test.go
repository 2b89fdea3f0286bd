package store

import (
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
)

// TestRecordingView folds a recorded call across a transfer (two agents), a pause,
// its completion, a failed one, a message left in the menu and a deleted one, and
// lists them with filters and paging.
func TestRecordingView(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	v := NewRecordingView()
	for _, ev := range []event.Event{
		{Type: event.CallCreated, Call: "c1", Caller: "13800000001", Time: at(0)},
		{Type: event.RecordingStarted, Call: "c1", Caller: "13800000001", Queue: "general", File: "c1.wav", Reason: "answer", Time: at(1)},
		{Type: event.CallConnected, Call: "c1", Agent: "1001", Time: at(10)},
		{Type: event.RecordingPaused, Call: "c1", Agent: "1001", Time: at(20)},
		{Type: event.RecordingResumed, Call: "c1", Agent: "1001", Duration: 5 * time.Second, Time: at(25)},
		{Type: event.CallTransferred, Call: "c1", Agent: "1001", Queue: "business", Time: at(30)},
		{Type: event.CallConnected, Call: "c1", Agent: "1031", Time: at(40)},
		{Type: event.RecordingCompleted, Call: "c1", File: "c1.wav", Duration: 59 * time.Second, Size: 1888044, Hash: "ab", State: RecComplete, Time: at(60)},
		{Type: event.CallEnded, Call: "c1", Time: at(60)},
		{Type: event.CallCreated, Call: "c2", Caller: "13800000002", Time: at(100)},
		{Type: event.RecordingStarted, Call: "c2", Caller: "13800000002", Queue: "talent", File: "c2.wav", Time: at(101)},
		{Type: event.RecordingFailed, Call: "c2", File: "c2.wav", Cause: "disk full", Time: at(110)},
		{Type: event.MenuMessage, Call: "c2", File: "c2-1.wav", Duration: 8 * time.Second, Time: at(120)},
		{Type: event.CallCreated, Call: "c3", Caller: "13800000003", Time: at(200)},
		{Type: event.RecordingStarted, Call: "c3", Caller: "13800000003", Queue: "general", File: "c3.wav", Time: at(201)},
		{Type: event.RecordingDeleted, Call: "c3", File: "c3.wav", Reason: "retention", Time: at(300)},
	} {
		v.Apply(&ev)
	}
	r, ok := v.Get("c1")
	if !ok || r.State != RecComplete || r.Duration != 59*time.Second || r.SHA256 != "ab" || r.Size != 1888044 {
		t.Fatalf("c1: %+v", r)
	}
	if len(r.Agents) != 2 || r.Agents[0] != "1001" || r.Agents[1] != "1031" || r.Queue != "general" || r.From != "answer" {
		t.Fatalf("c1 agents/queue: %+v", r)
	}
	if len(r.Pauses) != 1 || r.Pauses[0].By != "1001" || r.Pauses[0].Duration != 5*time.Second || !r.Pauses[0].At.Equal(at(20)) {
		t.Fatalf("c1 pauses: %+v", r.Pauses)
	}
	if r, _ := v.Get("c2"); r.State != RecFailed || r.Error != "disk full" {
		t.Fatalf("c2: %+v", r)
	}
	if m, ok := v.Get("c2-1"); !ok || m.Kind != KindMessage || m.Caller != "13800000002" || m.Duration != 8*time.Second {
		t.Fatalf("message: %+v %v", m, ok)
	}
	for _, c := range []struct {
		name  string
		f     RecordingFilter
		want  []string
		total int
	}{
		{"all, newest first, deleted left out", RecordingFilter{}, []string{"c2-1", "c2", "c1"}, 3},
		{"by agent (either of a transfer)", RecordingFilter{Agent: "1031"}, []string{"c1"}, 1},
		{"by caller", RecordingFilter{Caller: "13800000002"}, []string{"c2-1", "c2"}, 2},
		{"by queue", RecordingFilter{Queue: "talent"}, []string{"c2"}, 1},
		{"date range", RecordingFilter{From: at(50), To: at(111)}, []string{"c2"}, 1},
		{"paging", RecordingFilter{Limit: 1, Offset: 1}, []string{"c2"}, 3},
	} {
		got, total := v.List(c.f)
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		if total != c.total || len(ids) != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v (%d)", c.name, ids, total, c.want, c.total)
			continue
		}
		for i := range ids {
			if ids[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, ids, c.want)
				break
			}
		}
	}
	if u := v.Unfinished(); len(u) != 0 {
		t.Fatalf("unfinished %+v", u)
	}
}
