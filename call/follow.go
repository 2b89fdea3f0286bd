package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/ticket"
)

// FollowUpConfig is the follow-up call (回访) after a dispatched work order is
// closed: the engine calls the citizen through the callback trunk within Hours,
// reads a short prompt and collects the rating, retrying on busy or no answer.
type FollowUpConfig struct {
	// Disabled turns follow-up calls off.
	Disabled bool `yaml:"disabled"`
	// Hours is when citizens may be called, "09:00-20:00" (default), in the work
	// orders' calendar zone.
	Hours string `yaml:"hours"`
	// Attempts is how many calls are tried (default 3); RetryAfter the wait
	// between them (default 30m).
	Attempts   int           `yaml:"attempts"`
	RetryAfter time.Duration `yaml:"retry_after"`
}

// hours parses Hours into minutes after midnight.
func (f FollowUpConfig) hours() (from, to int, err error) {
	h := f.Hours
	if h == "" {
		h = "09:00-20:00"
	}
	var h1, m1, h2, m2 int
	if _, err := fmt.Sscanf(h, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 || (h2 == 24 && m2 != 0) {
		return 0, 0, fmt.Errorf("followup.hours %q: want HH:MM-HH:MM", h)
	}
	from, to = h1*60+m1, h2*60+m2
	if to <= from {
		return 0, 0, fmt.Errorf("followup.hours %q: the end is not after the start", h)
	}
	return from, to, nil
}

// scheduleFollowUp starts the follow-up calls of a closed, dispatched work order.
func (m *Manager) scheduleFollowUp(w ticket.WorkOrder) {
	if m.follow.Disabled {
		return
	}
	m.mu.Lock()
	ctx := m.runCtx
	m.mu.Unlock()
	if ctx == nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.followUp(ctx, w)
	}()
}

// followUp calls the citizen of w until they answer the survey or the attempts are
// used up, then records the outcome (survey.result) and, when nobody could be
// reached, hands a followup.unreachable event to the sinks (an SMS gateway may be
// one of them).
func (m *Manager) followUp(ctx context.Context, w ticket.WorkOrder) {
	log := m.log.With("ticket", w.ID, "callback_to", Masked(w.Caller))
	attempts := max(1, m.follow.Attempts)
	if m.follow.Attempts == 0 {
		attempts = 3
	}
	retry := m.follow.RetryAfter
	if retry <= 0 {
		retry = 30 * time.Minute
	}
	from, to, err := m.follow.hours()
	if err != nil {
		from, to = 9*60, 20*60
	}
	outcome := "failed"
	for n := 1; n <= attempts; n++ {
		if !m.sleep(ctx, m.untilHours(from, to)) {
			return
		}
		rating, res, err := m.followUpCall(ctx, w)
		if err == nil {
			ev := event.Event{Type: event.SurveyResult, Reason: "follow-up", File: w.ID, Agent: w.Agent}
			if rating > 0 {
				ev.Digits = fmt.Sprint(rating)
			} else {
				ev.Cause = "no key pressed"
			}
			m.emitID(w.Call, log, ev)
			m.rateFollowUp(w, rating, "answered", n)
			log.Info("follow-up call answered", "attempt", n, "rating", rating)
			return
		}
		outcome = res
		log.Info("follow-up call not answered", "attempt", n, "outcome", res, "error", err)
		if n < attempts && !m.sleep(ctx, retry) {
			return
		}
	}
	m.emitID(w.Call, log, event.Event{Type: event.SurveyResult, Reason: "follow-up", File: w.ID, Agent: w.Agent,
		Cause: fmt.Sprintf("not reached in %d attempts (%s)", attempts, outcome)})
	m.rateFollowUp(w, 0, "notified", attempts)
	m.publish(ticket.Event{Type: "followup.unreachable", Time: m.clock.Now(), Order: &w})
}

// rateFollowUp records a follow-up's outcome on the work order and with the sinks.
func (m *Manager) rateFollowUp(w ticket.WorkOrder, rating int, outcome string, attempts int) {
	if rating > 0 {
		if rated, err := m.book.Rate(w.ID, rating); err == nil {
			m.logTicket(event.TicketUpdated, rated, "follow-up")
		}
	}
	res := ticket.SurveyResult{Kind: ticket.SurveyFollowUp, Order: w.ID, Call: w.Call, Agent: w.Agent, Caller: w.Caller,
		Rating: rating, Outcome: outcome, Attempts: attempts, Time: m.clock.Now()}
	m.publish(ticket.Event{Type: ticket.TypeSurveyResult, Time: res.Time, Survey: &res})
}

// followUpCall makes one follow-up call: the introduction, the survey, the
// rating (0 when no key came). res says how an unanswered call went (busy,
// no-answer, failed).
func (m *Manager) followUpCall(ctx context.Context, w ticket.WorkOrder) (rating int, res string, err error) {
	m.mu.Lock()
	dialer := m.dialer
	m.mu.Unlock()
	if dialer == nil || m.callbackVia == "" {
		return 0, "failed", ErrNoTrunk
	}
	neg := media.Negotiated{Codec: m.cfg.Media.codecs[0], PTime: media.DefaultPTime}
	target := sip.Target{URI: "sip:" + w.Caller + "@" + m.callbackVia, Destination: m.callbackVia}
	leg, err := m.dialLeg(ctx, dialer, target, neg, sip.DialOptions{From: "12345", FromName: "12345", RingTimeout: 45 * time.Second})
	if err != nil {
		switch {
		case errors.Is(err, sip.ErrBusy):
			return 0, "busy", err
		case errors.Is(err, sip.ErrNoAnswer):
			return 0, "no-answer", err
		}
		return 0, "failed", err
	}
	defer leg.close(context.Background(), 16, "follow-up over")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-leg.oc.Context().Done():
		case <-leg.sess.Done():
		case <-cctx.Done():
		}
		cancel()
	}()
	lang := "zh"
	if intro, ok := m.prompts.Get(lang, "followup_intro"); ok {
		_ = leg.sess.Play(cctx, intro.Source())
	}
	prompt, ok := m.prompts.Get(lang, "survey_prompt")
	if !ok {
		return 0, "", nil
	}
	played := make(chan struct{})
	go func() {
		defer close(played)
		_ = leg.sess.Play(cctx, prompt.Source())
	}()
	var timeout <-chan time.Time
	for {
		select {
		case <-cctx.Done():
			<-played
			return 0, "", nil // they hung up without a rating: answered all the same
		case <-played:
			played = nil
			t := m.clock.NewTimer(m.cfg.Survey.Timeout)
			defer t.Stop()
			timeout = t.C()
		case <-timeout:
			return 0, "", nil
		case d := <-leg.sess.Digits():
			if _, ok := ratings[d.Key]; ok {
				cancel()
				if played != nil {
					<-played
				}
				if thanks, ok := m.prompts.Get(lang, "survey_thanks"); ok {
					tctx, stop := context.WithTimeout(ctx, 10*time.Second)
					_ = leg.sess.Play(tctx, thanks.Source())
					stop()
				}
				return int(d.Key - '0'), "", nil
			}
		}
	}
}

// untilHours is how long until the clock is within [from, to) minutes after
// midnight in the work orders' zone (0 when it is).
func (m *Manager) untilHours(from, to int) time.Duration {
	loc := m.book.Location()
	now := m.clock.Now().In(loc)
	min := now.Hour()*60 + now.Minute()
	if min >= from && min < to {
		return 0
	}
	next := time.Date(now.Year(), now.Month(), now.Day(), from/60, from%60, 0, 0, loc)
	if min >= to {
		next = next.AddDate(0, 0, 1)
	}
	return next.Sub(now)
}

// sleep waits d on the manager's clock; false when ctx ended first.
func (m *Manager) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := m.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
