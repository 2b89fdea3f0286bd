package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func created(id string, s int) event.Event {
	return event.Event{Type: event.CallCreated, Call: id, Time: at(s), Caller: "13800138000", Dialled: "12345",
		Trunk: "carrier-a", Direction: "inbound", Transport: "udp"}
}

func TestCallViewApply(t *testing.T) {
	const id = "c1"
	base := CallRecord{ID: id, Caller: "13800138000", Dialled: "12345", Trunk: "carrier-a",
		Direction: "inbound", Transport: "udp", State: StateRinging, Start: at(0)}
	with := func(f func(r *CallRecord)) CallRecord {
		r := base
		f(&r)
		return r
	}
	answered := event.Event{Type: event.CallAnswered, Call: id, Time: at(1), Codec: "PCMA"}
	ended := event.Event{Type: event.CallEnded, Call: id, Time: at(30), Side: event.SideCaller, Cause: "bye", Code: 200}

	cases := []struct {
		name   string
		events []event.Event
		want   CallRecord
	}{
		{"created", []event.Event{created(id, 0)}, base},
		{"answered", []event.Event{created(id, 0), answered},
			with(func(r *CallRecord) { r.State, r.Answer, r.Codec = StateIVR, at(1), "PCMA" })},
		{"menu-walk-and-route", []event.Event{
			created(id, 0), answered,
			{Type: event.MenuEntered, Call: id, Time: at(2), Node: "welcome", Language: "zh"},
			{Type: event.MenuInput, Call: id, Time: at(5), Node: "welcome", Digits: "9", Via: event.ViaRFC4733},
			{Type: event.MenuEntered, Call: id, Time: at(6), Node: "english"},
			{Type: event.MenuInput, Call: id, Time: at(9), Node: "english", Digits: "12", Via: event.ViaINFO},
			{Type: event.MenuRouted, Call: id, Time: at(10), Queue: "foreign", Skill: "english", Priority: 2, Language: "en"},
		}, with(func(r *CallRecord) {
			r.State, r.Answer, r.Codec = StateRouted, at(1), "PCMA"
			r.Path = []string{"welcome", "english"}
			r.Digits = "912"
			r.Inputs = []Input{
				{Node: "welcome", Digits: "9", Via: event.ViaRFC4733, Time: at(5)},
				{Node: "english", Digits: "12", Via: event.ViaINFO, Time: at(9)},
			}
			r.Route = &Route{Queue: "foreign", Skill: "english", Priority: 2, Language: "en"}
			r.Language = "en"
		})},
		{"held", []event.Event{created(id, 0), answered, {Type: event.CallHeld, Call: id, Time: at(3), Reason: "sendonly"}},
			with(func(r *CallRecord) { r.State, r.Answer, r.Codec, r.Held = StateIVR, at(1), "PCMA", true })},
		{"held-resumed", []event.Event{created(id, 0), answered,
			{Type: event.CallHeld, Call: id, Time: at(3)}, {Type: event.CallResumed, Call: id, Time: at(4)}},
			with(func(r *CallRecord) { r.State, r.Answer, r.Codec = StateIVR, at(1), "PCMA" })},
		{"ended", []event.Event{created(id, 0), answered, ended},
			with(func(r *CallRecord) {
				r.State, r.Answer, r.Codec, r.End = StateEnded, at(1), "PCMA", at(30)
				r.Side, r.Cause, r.Code = event.SideCaller, "bye", 200
			})},
		{"cancelled-while-ringing", []event.Event{created(id, 0),
			{Type: event.CallEnded, Call: id, Time: at(4), Side: event.SideCaller, Cause: "cancelled", Code: 487}},
			with(func(r *CallRecord) {
				r.State, r.End, r.Side, r.Cause, r.Code = StateEnded, at(4), event.SideCaller, "cancelled", 487
			})},
		{"ended-while-held", []event.Event{created(id, 0), answered, {Type: event.CallHeld, Call: id, Time: at(3)}, ended},
			with(func(r *CallRecord) {
				r.State, r.Answer, r.Codec, r.End = StateEnded, at(1), "PCMA", at(30)
				r.Side, r.Cause, r.Code = event.SideCaller, "bye", 200
			})},
		{"message-after-hangup", []event.Event{created(id, 0), answered, ended,
			{Type: event.MenuMessage, Call: id, Time: at(31), File: "msg/c1.wav", Duration: 25 * time.Second}},
			with(func(r *CallRecord) {
				r.State, r.Answer, r.Codec, r.End = StateEnded, at(1), "PCMA", at(30)
				r.Side, r.Cause, r.Code = event.SideCaller, "bye", 200
				r.Messages = []Message{{File: "msg/c1.wav", Duration: 25 * time.Second}}
			})},
		{"no-resurrection-after-end", []event.Event{created(id, 0), ended,
			{Type: event.CallAnswered, Call: id, Time: at(31)},
			{Type: event.MenuRouted, Call: id, Time: at(32), Queue: "general"},
			{Type: event.CallHeld, Call: id, Time: at(33)},
			{Type: event.CallEnded, Call: id, Time: at(40), Side: event.SideEngine, Cause: "again"}},
			with(func(r *CallRecord) {
				r.State, r.End, r.Side, r.Cause, r.Code = StateEnded, at(30), event.SideCaller, "bye", 200
				r.Answer = at(31)
				r.Route = &Route{Queue: "general"}
			})},
		{"duplicate-created-ignored", []event.Event{created(id, 0), answered, created(id, 9)},
			with(func(r *CallRecord) { r.State, r.Answer, r.Codec = StateIVR, at(1), "PCMA" })},
		{"other-types-and-calls-ignored", []event.Event{created(id, 0),
			{Type: event.QueueJoined, Call: id, Time: at(1), Queue: "general"},
			{Type: event.AgentState, Agent: "a1", Time: at(1), State: "ready"},
			{Type: event.MenuInput, Call: "other", Time: at(2), Digits: "5"},
			{Type: "future.type", Call: id, Time: at(3), State: "weird"}},
			base},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewCallView(0)
			for i := range c.events {
				v.Apply(&c.events[i])
			}
			got, ok := v.Get(id)
			if !ok {
				t.Fatalf("Get(%q): no record", id)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("record\n got  %+v\n want %+v", got, c.want)
			}
			if _, ok := v.Get("other"); ok {
				t.Fatal("a record appeared for a call that was never created")
			}
			wantActive := 1
			if c.want.State == StateEnded {
				wantActive = 0
			}
			if got := v.Active(); got != wantActive {
				t.Fatalf("Active = %d, want %d", got, wantActive)
			}
		})
	}
}

func TestCallViewCopies(t *testing.T) {
	v := NewCallView(0)
	for _, ev := range []event.Event{
		created("c1", 0),
		{Type: event.MenuEntered, Call: "c1", Node: "main"},
		{Type: event.MenuRouted, Call: "c1", Queue: "general"},
	} {
		v.Apply(&ev)
	}
	r, _ := v.Get("c1")
	r.Path[0] = "changed"
	r.Route.Queue = "changed"
	l := v.List(CallFilter{})
	l[0].Path[0] = "changed"
	again, _ := v.Get("c1")
	if again.Path[0] != "main" || again.Route.Queue != "general" {
		t.Fatalf("changing a returned record changed the view: %+v", again)
	}
}

func ids(rs []CallRecord) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.ID)
	}
	return b.String()
}

func end(v *CallView, id string, s int) {
	v.Apply(&event.Event{Type: event.CallEnded, Call: id, Time: at(s), Side: event.SideEngine})
}

func TestCallViewEviction(t *testing.T) {
	t.Run("oldest-ended-first", func(t *testing.T) {
		v := NewCallView(3)
		for i := range 10 {
			ev := created(fmt.Sprintf("c%d", i), i)
			v.Apply(&ev)
		}
		for _, i := range []int{2, 0, 6, 4, 1, 5} { // end order differs from creation order
			end(v, fmt.Sprintf("c%d", i), 20+i)
		}
		if got, want := ids(v.List(CallFilter{})), "c9,c8,c7,c5,c4,c3,c1"; got != want {
			t.Fatalf("List = %s, want %s (c2, c0, c6 ended first and are evicted)", got, want)
		}
		for _, id := range []string{"c2", "c0", "c6"} {
			if _, ok := v.Get(id); ok {
				t.Fatalf("%s should have been evicted", id)
			}
		}
		if got := v.Active(); got != 4 {
			t.Fatalf("Active = %d, want 4", got)
		}
	})
	t.Run("live-never-evicted", func(t *testing.T) {
		v := NewCallView(1)
		for i := range 8 {
			ev := created(fmt.Sprintf("c%d", i), i)
			v.Apply(&ev)
		}
		for i := range 3 {
			end(v, fmt.Sprintf("c%d", i), 20+i)
		}
		if got, want := ids(v.List(CallFilter{})), "c7,c6,c5,c4,c3,c2"; got != want {
			t.Fatalf("List = %s, want %s", got, want)
		}
	})
	t.Run("keep-none", func(t *testing.T) {
		v := NewCallView(-1)
		ev := created("c1", 0)
		v.Apply(&ev)
		end(v, "c1", 1)
		if _, ok := v.Get("c1"); ok {
			t.Fatal("a view that keeps no ended calls kept one")
		}
	})
	t.Run("bounded-memory", func(t *testing.T) {
		const keep = 50
		v := NewCallView(keep)
		for i := range 20000 {
			id := fmt.Sprintf("c%d", i)
			ev := created(id, i)
			v.Apply(&ev)
			if i%3 != 0 || i < 19990 { // leave c19992, c19995, c19998 live
				end(v, id, i)
			}
		}
		v.mu.RLock()
		calls, order, ended := len(v.calls), len(v.order), len(v.ended)
		v.mu.RUnlock()
		if calls != keep+3 {
			t.Fatalf("view holds %d calls, want %d ended + 3 live", calls, keep)
		}
		if order > 3*keep || ended > 3*keep {
			t.Fatalf("internal lists grew: order %d, ended %d", order, ended)
		}
		if got := len(v.List(CallFilter{Limit: MaxListLimit})); got != keep+3 {
			t.Fatalf("List gave %d records, want %d", got, keep+3)
		}
	})
}

func TestCallViewList(t *testing.T) {
	v := NewCallView(0)
	const n = 1200
	for i := range n {
		ev := created(fmt.Sprintf("c%d", i), i)
		v.Apply(&ev)
	}
	// c0..c9: c0-c2 ended, c3-c5 answered (ivr), c6 routed, rest ringing.
	for i := range 3 {
		end(v, fmt.Sprintf("c%d", i), 2000)
	}
	for i := 3; i < 6; i++ {
		v.Apply(&event.Event{Type: event.CallAnswered, Call: fmt.Sprintf("c%d", i)})
	}
	v.Apply(&event.Event{Type: event.MenuRouted, Call: "c6", Queue: "general"})

	cases := []struct {
		f     CallFilter
		count int
		first string
		last  string
	}{
		{CallFilter{}, DefaultListLimit, "c1199", "c1100"},
		{CallFilter{Limit: 5}, 5, "c1199", "c1195"},
		{CallFilter{Limit: 5000}, MaxListLimit, "c1199", "c200"},
		{CallFilter{State: StateEnded}, 3, "c2", "c0"},
		{CallFilter{State: StateIVR, Limit: 2}, 2, "c5", "c4"},
		{CallFilter{State: StateRouted}, 1, "c6", "c6"},
		{CallFilter{State: FilterActive, Limit: MaxListLimit}, MaxListLimit, "c1199", "c200"},
		{CallFilter{State: FilterActive, Limit: 3}, 3, "c1199", "c1197"},
		{CallFilter{State: "no-such-state"}, 0, "", ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.f.State, c.f.Limit), func(t *testing.T) {
			got := v.List(c.f)
			if len(got) != c.count {
				t.Fatalf("List(%+v) gave %d records, want %d", c.f, len(got), c.count)
			}
			if c.count == 0 {
				return
			}
			if got[0].ID != c.first || got[len(got)-1].ID != c.last {
				t.Fatalf("List(%+v) runs %s..%s, want %s..%s", c.f, got[0].ID, got[len(got)-1].ID, c.first, c.last)
			}
			for i := 1; i < len(got); i++ {
				if !got[i].Start.Before(got[i-1].Start) {
					t.Fatalf("List(%+v) is not newest first at %d", c.f, i)
				}
			}
		})
	}
	if got := v.Active(); got != n-3 {
		t.Fatalf("Active = %d, want %d", got, n-3)
	}
}

func TestCallRecordJSON(t *testing.T) {
	live := CallRecord{ID: "c1", Caller: "1380", Dialled: "12345", State: StateRinging, Start: at(0)}
	b, err := json.Marshal(live)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"c1","caller":"1380","dialled":"12345","state":"ringing","held":false,"digits":"","start":"2025-03-01T09:00:00Z"}`
	if string(b) != want {
		t.Fatalf("JSON of a ringing call:\n got  %s\n want %s", b, want)
	}
	done := CallRecord{ID: "c2", Caller: "1380", Dialled: "12345", Trunk: "t", Direction: "inbound", Transport: "tcp",
		State: StateEnded, Digits: "1", Inputs: []Input{{Node: "main", Digits: "1", Via: "info", Time: at(2)}},
		Path: []string{"main"}, Route: &Route{Queue: "general", Skill: "s", Priority: 1, Language: "zh"},
		Language: "zh", Messages: []Message{{File: "m.wav", Duration: time.Second}}, Codec: "PCMU",
		Start: at(0), Answer: at(1), End: at(9), Side: "caller", Cause: "bye", Code: 200}
	b, err = json.Marshal(done)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "caller", "dialled", "trunk", "direction", "transport", "state", "held", "digits",
		"inputs", "path", "route", "language", "messages", "codec", "start", "answer", "end", "side", "cause", "code"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON %s lacks key %q", b, k)
		}
	}
	if len(keys) != 21 {
		t.Errorf("JSON has %d keys, want 21: %s", len(keys), b)
	}
	var back CallRecord
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, done) {
		t.Fatalf("record did not round-trip through JSON (%v):\n got  %+v\n want %+v", err, back, done)
	}
}

func TestCallViewConnected(t *testing.T) {
	v := NewCallView(10)
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i, ev := range []event.Event{
		{Type: event.CallCreated, Call: "c"},
		{Type: event.CallAnswered, Call: "c"},
		{Type: event.MenuRouted, Call: "c", Queue: "general"},
		{Type: event.CallConnected, Call: "c", Agent: "2001"},
	} {
		ev.Seq, ev.Time = uint64(i+1), t0.Add(time.Duration(i)*time.Second)
		v.Apply(&ev)
	}
	r, _ := v.Get("c")
	if r.State != StateConnected || r.Agent != "2001" || !r.Connected.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("%+v", r)
	}
	end := event.Event{Seq: 5, Type: event.CallEnded, Call: "c", Time: t0.Add(9 * time.Second), Side: event.SideAgent}
	v.Apply(&end)
	if r, _ = v.Get("c"); r.State != StateEnded || r.Agent != "2001" || r.Side != event.SideAgent {
		t.Fatalf("%+v", r)
	}
}

func TestCallViewTransferred(t *testing.T) {
	v := NewCallView(10)
	for i, ev := range []event.Event{
		{Type: event.CallCreated, Call: "c"},
		{Type: event.CallAnswered, Call: "c"},
		{Type: event.MenuRouted, Call: "c", Queue: "general", Skill: "call-taking", Priority: 5, Language: "zh"},
		{Type: event.CallConnected, Call: "c", Agent: "2001"},
		{Type: event.CallTransferred, Call: "c", Agent: "2001", Queue: "business"},
	} {
		ev.Seq, ev.Time = uint64(i+1), time.Unix(int64(i), 0)
		v.Apply(&ev)
	}
	r, _ := v.Get("c")
	if r.State != StateRouted || r.Route == nil || r.Route.Queue != "business" || r.Route.Priority != 5 || r.Agent != "2001" {
		t.Fatalf("%+v %+v", r, r.Route)
	}
}
