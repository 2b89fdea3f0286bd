package call

import (
	"context"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/sip"
)

// Ratings of the satisfaction survey, as the caller keys them.
var ratings = map[byte]string{'1': "satisfied", '2': "basically satisfied", '3': "dissatisfied"}

// postCallSurvey asks the caller, whose agent has just hung up, to rate the
// service: the prompt (a key may interrupt it), then up to Survey.Timeout for a
// key. The answer, or that none came, is a survey.result event with the agent.
func (m *Manager) postCallSurvey(ctx context.Context, c *sip.Call, sess *media.Session, digits <-chan media.Digit, r ivr.Route, agent string) {
	prompt, ok := m.prompts.Get(r.Language, "survey_prompt")
	if !ok {
		return
	}
	for len(digits) > 0 { // keys pressed while talking are not a rating
		<-digits
	}
	pctx, stop := context.WithCancel(ctx)
	played := make(chan struct{})
	go func() {
		defer close(played)
		_ = sess.Play(pctx, prompt.Source())
	}()
	ev := event.Event{Type: event.SurveyResult, Agent: agent, Reason: "post-call"}
	var timer <-chan time.Time
	for ev.Digits == "" && ev.Cause == "" {
		select {
		case <-ctx.Done():
			stop()
			if played != nil {
				<-played
			}
			ev.Cause = "the caller hung up"
			m.emit(c, ev)
			return
		case <-played:
			played = nil
			t := m.clock.NewTimer(m.cfg.Survey.Timeout)
			defer t.Stop()
			timer = t.C()
		case <-timer:
			ev.Cause = "no key pressed"
		case d := <-digits:
			if _, ok := ratings[d.Key]; ok {
				ev.Digits = string(d.Key)
			}
		}
	}
	stop()
	if played != nil {
		<-played
	}
	m.emit(c, ev)
	c.Log.Info("post-call survey", "agent_id", agent, "rating", ev.Digits, "cause", ev.Cause)
	rating := 0
	if ev.Digits != "" {
		rating = int(ev.Digits[0] - '0')
	}
	m.rate(c.ID, agent, c.Caller, "post-call", rating, "")
	if ev.Digits != "" {
		if thanks, ok := m.prompts.Get(r.Language, "survey_thanks"); ok {
			_ = sess.Play(ctx, thanks.Source())
		}
	}
}
