package report

import (
	"time"

	"github.com/hotline12345/hotline/event"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// scriptDay is a known day, Monday 2025-03-03 in Shanghai, whose figures are computed
// by hand in fold_test.go. Seq is set in order.
func scriptDay() []event.Event {
	var evs []event.Event
	at := func(h, m, s int) time.Time { return time.Date(2025, 3, 3, h, m, s, 0, shanghai) }
	add := func(t time.Time, ev event.Event) {
		ev.Time = t
		ev.Seq = uint64(len(evs) + 1)
		evs = append(evs, ev)
	}
	state := func(t time.Time, agent, st, reason string) {
		add(t, event.Event{Type: event.AgentState, Agent: agent, State: st, Reason: reason})
	}
	call := func(t time.Time, id, digits string) {
		add(t, event.Event{Type: event.CallCreated, Call: id, Caller: "138" + id, Dialled: "12345", Direction: "inbound"})
		add(t, event.Event{Type: event.MenuInput, Call: id, Node: "main", Digits: digits, Via: event.ViaRFC4733})
	}
	join := func(t time.Time, id, q string) {
		add(t, event.Event{Type: event.QueueJoined, Call: id, Queue: q})
	}
	// answer: offered at ring, accepted at ans (wait from joined), talk until end.
	answer := func(ring, ans time.Time, id, q, agent string, wait time.Duration) {
		add(ring, event.Event{Type: event.OfferMade, Call: id, Agent: agent, Queue: q})
		state(ring, agent, "reserved", "")
		add(ans, event.Event{Type: event.OfferAccepted, Call: id, Agent: agent, Queue: q})
		add(ans, event.Event{Type: event.QueueLeft, Call: id, Queue: q, Reason: "answered", Duration: wait, Agent: agent})
		state(ans, agent, "on-call", "")
	}
	left := func(t time.Time, id, q, reason string, wait time.Duration) {
		add(t, event.Event{Type: event.QueueLeft, Call: id, Queue: q, Reason: reason, Duration: wait})
	}
	end := func(t time.Time, id, side string) {
		add(t, event.Event{Type: event.CallEnded, Call: id, Side: side})
	}
	wrap := func(from, to time.Time, agent string) {
		state(from, agent, "wrap-up", "")
		state(to, agent, "ready", "")
	}

	for _, a := range []struct{ id, pool string }{{"1001", "primary"}, {"1002", "primary"}, {"2001", "backup"}} {
		add(at(8, 0, 0), event.Event{Type: event.AgentLogin, Agent: a.id, Pool: a.pool})
		state(at(8, 0, 0), a.id, "ready", "")
	}
	// c1: answered in 10 s by 1001, 300 s talk, 30 s wrap-up.
	call(at(9, 0, 0), "c1", "1")
	join(at(9, 0, 0), "c1", "general")
	answer(at(9, 0, 8), at(9, 0, 10), "c1", "general", "1001", 10*time.Second)
	end(at(9, 5, 10), "c1", event.SideCaller)
	wrap(at(9, 5, 10), at(9, 5, 40), "1001")
	// c2: short abandon (3 s). c3: abandon after 40 s.
	call(at(9, 10, 0), "c2", "1")
	join(at(9, 10, 0), "c2", "general")
	left(at(9, 10, 3), "c2", "general", "abandoned", 3*time.Second)
	end(at(9, 10, 3), "c2", event.SideCaller)
	call(at(9, 20, 0), "c3", "2")
	join(at(9, 20, 0), "c3", "general")
	left(at(9, 20, 40), "c3", "general", "abandoned", 40*time.Second)
	end(at(9, 20, 40), "c3", event.SideCaller)
	// c4: answered after 30 s by 1002 (out of target), 120 s talk, transferred to
	// complaints, answered there after 15 s by 1001 (120 s talk, 30 s wrap-up).
	call(at(10, 0, 0), "c4", "1")
	join(at(10, 0, 0), "c4", "general")
	answer(at(10, 0, 25), at(10, 0, 30), "c4", "general", "1002", 30*time.Second)
	add(at(10, 2, 30), event.Event{Type: event.CallTransferred, Call: "c4", Agent: "1002", Queue: "complaints"})
	wrap(at(10, 2, 30), at(10, 3, 0), "1002")
	add(at(10, 2, 30), event.Event{Type: event.QueueJoined, Call: "c4", Queue: "complaints", Reason: "transfer"})
	answer(at(10, 2, 40), at(10, 2, 45), "c4", "complaints", "1001", 15*time.Second)
	end(at(10, 4, 45), "c4", event.SideCaller)
	wrap(at(10, 4, 45), at(10, 5, 15), "1001")
	// c5: complaints, overflowed to the backup pool, answered by 2001 after 25 s.
	call(at(11, 0, 0), "c5", "3")
	join(at(11, 0, 0), "c5", "complaints")
	add(at(11, 0, 5), event.Event{Type: event.QueueOverflowed, Call: "c5", Queue: "complaints", Reason: "wait"})
	answer(at(11, 0, 20), at(11, 0, 25), "c5", "complaints", "2001", 25*time.Second)
	end(at(11, 3, 25), "c5", event.SideAgent)
	wrap(at(11, 3, 25), at(11, 4, 25), "2001")
	// c6: leaves by rule after 120 s (maximum wait: a message).
	call(at(11, 30, 0), "c6", "1")
	join(at(11, 30, 0), "c6", "general")
	left(at(11, 32, 0), "c6", "general", "timed_out", 120*time.Second)
	end(at(11, 33, 0), "c6", event.SideCaller)
	// c7: asks for a callback after 20 s and hangs up; called back by 1001, wait 630 s.
	call(at(12, 0, 0), "c7", "1")
	join(at(12, 0, 0), "c7", "general")
	add(at(12, 0, 20), event.Event{Type: event.CallbackScheduled, Call: "c7", Queue: "general", Reason: "requested"})
	end(at(12, 0, 21), "c7", event.SideCaller)
	answer(at(12, 10, 0), at(12, 10, 30), "c7", "general", "1001", 630*time.Second)
	wrap(at(12, 12, 30), at(12, 13, 0), "1001")
	// c8: still waiting when the data ends.
	call(at(13, 0, 0), "c8", "2")
	join(at(13, 0, 0), "c8", "general")
	// c9: answered by 1002 in 5 s; 1002 consults complaints (1001 answers the
	// consult), then the call ends after 180 s of talk.
	call(at(14, 0, 0), "c9", "1")
	join(at(14, 0, 0), "c9", "general")
	answer(at(14, 0, 3), at(14, 0, 5), "c9", "general", "1002", 5*time.Second)
	add(at(14, 1, 0), event.Event{Type: event.CallConsult, Call: "c9", Agent: "1002", Queue: "complaints", Reason: "started"})
	join(at(14, 1, 0), "c9-consult1", "complaints")
	answer(at(14, 1, 5), at(14, 1, 10), "c9-consult1", "complaints", "1001", 10*time.Second)
	wrap(at(14, 2, 10), at(14, 2, 40), "1001")
	end(at(14, 3, 5), "c9", event.SideCaller)
	wrap(at(14, 3, 5), at(14, 3, 35), "1002")
	// c10: rings 1002 who misses it (not-ready until 15:30), then 1001 answers at 20 s.
	call(at(15, 0, 0), "c10", "1")
	join(at(15, 0, 0), "c10", "general")
	add(at(15, 0, 0), event.Event{Type: event.OfferMade, Call: "c10", Agent: "1002", Queue: "general"})
	state(at(15, 0, 0), "1002", "reserved", "")
	add(at(15, 0, 15), event.Event{Type: event.OfferTimedOut, Call: "c10", Agent: "1002", Queue: "general"})
	state(at(15, 0, 15), "1002", "not-ready", "missed")
	answer(at(15, 0, 15), at(15, 0, 20), "c10", "general", "1001", 20*time.Second)
	// c10's caller rates the call (post-call survey) and 1001 makes two work
	// orders from the general desk's calls: one answered directly, one dispatched;
	// a follow-up of the dispatched one is rated 3.
	add(at(15, 1, 10), event.Event{Type: event.SurveyResult, Call: "c10", Agent: "1001", Reason: "post-call", Digits: "2"})
	end(at(15, 1, 20), "c10", event.SideCaller)
	add(at(15, 1, 30), event.Event{Type: event.TicketCreated, Call: "c10", Agent: "1001",
		Data: []byte(`{"id":"WO20250303-0001","queue":"general","disposition":"direct","status":"closed"}`)})
	add(at(15, 1, 40), event.Event{Type: event.TicketCreated, Call: "c10", Agent: "1001",
		Data: []byte(`{"id":"WO20250303-0002","queue":"general","disposition":"dispatched","status":"open"}`)})
	add(at(16, 30, 0), event.Event{Type: event.SurveyResult, Call: "c10", Reason: "follow-up", File: "WO20250303-0002", Digits: "3"})
	wrap(at(15, 1, 20), at(15, 1, 50), "1001")
	state(at(15, 30, 0), "1002", "ready", "")
	for _, a := range []string{"1001", "1002", "2001"} {
		state(at(17, 0, 0), a, "logged-out", "logout")
		add(at(17, 0, 0), event.Event{Type: event.AgentLogout, Agent: a, Reason: "logout"})
	}
	return evs
}

func scriptOptions() Options {
	return Options{Location: shanghai, Queues: []Queue{
		{Name: "general", Within: 20 * time.Second, Percent: 80},
		{Name: "complaints", Within: 30 * time.Second, Percent: 80},
	}}
}
