package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLiveMetrics attaches to a store holding half the scripted day, appends the rest,
// and scrapes: the metrics equal the day's report.
func TestLiveMetrics(t *testing.T) {
	st, err := store.New(store.NewMemory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs := scriptDay()
	half := len(evs) / 2
	ctx := context.Background()
	for i := range evs[:half] {
		ev := evs[i]
		if err := st.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	now := day0.Add(13*time.Hour + 30*time.Second) // c8 has waited 30 s (> general's 20 s)
	reg := prometheus.NewPedanticRegistry()
	l, err := Attach(st, reg, LiveOptions{Options: scriptOptions(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range evs[half:] {
		ev := evs[half+i]
		if ev.Time.After(now) {
			break
		}
		if err := st.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	// By 13:00:30: general offered c1 c2 c3 c4 c6 c7 c8 (7), answered c1 c4 c7 (3, one
	// in target), abandoned 2 (1 short): service level 1/4, below 80%.
	want := `
# HELP hotline_queue_calls_answered_total Calls of today answered by an agent.
# TYPE hotline_queue_calls_answered_total counter
hotline_queue_calls_answered_total{queue="complaints"} 2
hotline_queue_calls_answered_total{queue="general"} 3
# HELP hotline_queue_calls_offered_total Calls that joined the queue today (resets at midnight in the report time zone; consults not counted).
# TYPE hotline_queue_calls_offered_total counter
hotline_queue_calls_offered_total{queue="complaints"} 2
hotline_queue_calls_offered_total{queue="general"} 7
# HELP hotline_queue_waiting Calls waiting in the queue now (callback requests included).
# TYPE hotline_queue_waiting gauge
hotline_queue_waiting{queue="complaints"} 0
hotline_queue_waiting{queue="general"} 1
# HELP hotline_queue_longest_wait_seconds How long the longest-waiting call has waited.
# TYPE hotline_queue_longest_wait_seconds gauge
hotline_queue_longest_wait_seconds{queue="complaints"} 0
hotline_queue_longest_wait_seconds{queue="general"} 30
# HELP hotline_queue_callers_over_threshold Callers waiting longer than the alert threshold.
# TYPE hotline_queue_callers_over_threshold gauge
hotline_queue_callers_over_threshold{queue="complaints"} 0
hotline_queue_callers_over_threshold{queue="general"} 1
# HELP hotline_queue_service_level Today's service level: answered within target / (answered + abandoned - short abandons); absent before the first such call.
# TYPE hotline_queue_service_level gauge
hotline_queue_service_level{queue="complaints"} 1
hotline_queue_service_level{queue="general"} 0.25
# HELP hotline_queue_service_level_at_risk 1 when today's service level is below the queue's target.
# TYPE hotline_queue_service_level_at_risk gauge
hotline_queue_service_level_at_risk{queue="complaints"} 0
hotline_queue_service_level_at_risk{queue="general"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"hotline_queue_calls_answered_total", "hotline_queue_calls_offered_total", "hotline_queue_waiting",
		"hotline_queue_longest_wait_seconds", "hotline_queue_callers_over_threshold",
		"hotline_queue_service_level", "hotline_queue_service_level_at_risk"); err != nil {
		t.Error(err)
	}
	// The metrics and the report agree for the day so far.
	r, err := l.Report(ctx, day0, day0, PeriodDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range r.Periods[0].Queues {
		today := l.Today()[q.Queue]
		if today.Offered != q.Offered || today.Answered != q.Answered || today.Abandoned != q.Abandoned || today.Waiting != q.Waiting {
			t.Errorf("%s: metrics %+v, report %+v", q.Queue, today, q)
		}
	}
	// Agents: all three ready at 13:00:30; none stuck.
	want = `
# HELP hotline_agents Agents by pool and state.
# TYPE hotline_agents gauge
hotline_agents{pool="backup",state="logged-out"} 0
hotline_agents{pool="backup",state="not-ready"} 0
hotline_agents{pool="backup",state="on-call"} 0
hotline_agents{pool="backup",state="ready"} 1
hotline_agents{pool="backup",state="reserved"} 0
hotline_agents{pool="backup",state="wrap-up"} 0
hotline_agents{pool="primary",state="logged-out"} 0
hotline_agents{pool="primary",state="not-ready"} 0
hotline_agents{pool="primary",state="on-call"} 0
hotline_agents{pool="primary",state="ready"} 2
hotline_agents{pool="primary",state="reserved"} 0
hotline_agents{pool="primary",state="wrap-up"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hotline_agents"); err != nil {
		t.Error(err)
	}
	// An hour later without events: 1002 would be stuck only in a watched state.
	now = day0.Add(15*time.Hour + 50*time.Minute)
	for i := range evs {
		ev := evs[i]
		if ev.Time.After(day0.Add(13*time.Hour+30*time.Second)) && !ev.Time.After(now) {
			if err := st.Append(ctx, &ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 1002 not ready since 15:00:15 (35 min > 30 min) until 15:30: ready again; so none.
	n, err := testutil.GatherAndCount(reg, "hotline_agents_stuck")
	if err != nil || n != 4 {
		t.Errorf("stuck series %d (%v), want 4 (one per watched state)", n, err)
	}
	if v := l.Check(); len(v) != 0 {
		t.Errorf("violations %v", v)
	}
	if lint, err := testutil.GatherAndLint(reg); err != nil || len(lint) > 0 {
		t.Errorf("metric lint: %v %v", lint, err)
	}
}

// TestStuck: an agent left in wrap-up past the threshold counts as stuck.
func TestStuck(t *testing.T) {
	evs := scriptDay()
	now := day0.Add(9*time.Hour + 5*time.Minute + 10*time.Second)
	l := NewLive(LiveOptions{Options: scriptOptions(), Now: func() time.Time { return now }})
	for i := range evs {
		if evs[i].Time.After(now) {
			break
		}
		l.Apply(&evs[i])
	}
	now = now.Add(6 * time.Minute) // 1001 in wrap-up for 6 min > 5 min
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(l)
	want := `
# HELP hotline_agents_stuck Agents longer than the threshold in their current state.
# TYPE hotline_agents_stuck gauge
hotline_agents_stuck{state="not-ready"} 0
hotline_agents_stuck{state="on-call"} 0
hotline_agents_stuck{state="reserved"} 0
hotline_agents_stuck{state="wrap-up"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hotline_agents_stuck"); err != nil {
		t.Error(err)
	}
	// The answer-time histogram holds c1's 10 s wait.
	want = `
# HELP hotline_queue_answer_seconds Wait of today's answered calls.
# TYPE hotline_queue_answer_seconds histogram
hotline_queue_answer_seconds_bucket{queue="complaints",le="5"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="10"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="20"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="30"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="60"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="120"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="300"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="600"} 0
hotline_queue_answer_seconds_bucket{queue="complaints",le="+Inf"} 0
hotline_queue_answer_seconds_sum{queue="complaints"} 0
hotline_queue_answer_seconds_count{queue="complaints"} 0
hotline_queue_answer_seconds_bucket{queue="general",le="5"} 0
hotline_queue_answer_seconds_bucket{queue="general",le="10"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="20"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="30"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="60"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="120"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="300"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="600"} 1
hotline_queue_answer_seconds_bucket{queue="general",le="+Inf"} 1
hotline_queue_answer_seconds_sum{queue="general"} 10
hotline_queue_answer_seconds_count{queue="general"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hotline_queue_answer_seconds"); err != nil {
		t.Error(err)
	}
}
