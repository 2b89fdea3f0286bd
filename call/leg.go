package call

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/recording"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/ticket"
)

// leg joins a call's SIP side and RTP session into what the menu needs (ivr.Leg):
// prompts played on the session, digits from RFC 4733 and in-band detection (media)
// and from SIP INFO (sip) merged into one channel, messages recorded from the session.
type leg struct {
	m      *Manager
	c      *sip.Call
	sess   *media.Session
	digits chan media.Digit

	mu       sync.Mutex
	neg      media.Negotiated
	held     bool
	messages int
}

func newLeg(ctx context.Context, m *Manager, c *sip.Call, sess *media.Session, neg media.Negotiated) *leg {
	l := &leg{m: m, c: c, sess: sess, neg: neg, digits: make(chan media.Digit, 32)}
	go l.merge(ctx)
	return l
}

// merge forwards digits from both sources until the call ends.
func (l *leg) merge(ctx context.Context) {
	rtp, info := l.sess.Digits(), l.c.Digits()
	for {
		var d media.Digit
		select {
		case d = <-rtp:
		case in := <-info:
			d = media.Digit{Key: in.Key, Via: event.ViaINFO, Duration: in.Duration}
			l.m.media.DTMF(event.ViaINFO)
		case <-ctx.Done():
			return
		}
		l.c.Log.Debug("digit", "key", string(d.Key), "via", d.Via)
		select {
		case l.digits <- d:
		default:
			l.c.Log.Warn("digit dropped: menu not reading", "key", string(d.Key))
		}
	}
}

// Play implements ivr.Leg.
func (l *leg) Play(ctx context.Context, lang, prompt string) error {
	clip, ok := l.m.prompts.Get(lang, prompt)
	if !ok {
		return fmt.Errorf("prompt %s/%s: %w", lang, prompt, os.ErrNotExist)
	}
	return l.sess.Play(ctx, clip.Source())
}

// Digits implements ivr.Leg.
func (l *leg) Digits() <-chan media.Digit { return l.digits }

// Record implements ivr.Leg: the caller's audio goes to a recording in the
// messages folder (the recorder of calls: stereo, the caller on the left,
// encrypted at rest when a key is configured) as it arrives, until max, '#' or the
// end of the call. It returns the file's path.
func (l *leg) Record(ctx context.Context, max time.Duration) (string, time.Duration, error) {
	if l.m.dataDir == "" {
		return "", 0, errors.New("no folder for messages configured")
	}
	l.mu.Lock()
	l.messages++
	id := fmt.Sprintf("%s-%d", l.c.ID, l.messages)
	l.mu.Unlock()
	cfg := l.m.recCfg
	cfg.Dir = l.m.dataDir
	rec, err := recording.Create(cfg, id)
	if err != nil {
		return "", 0, err
	}
	remove := l.sess.AddPacketTap(func(codec media.Codec, ssrc, ts uint32, p []byte) {
		rec.Write(recording.Caller, codec, ssrc, ts, p)
	})
	t := l.m.clock.NewTimer(max)
	defer t.Stop()
wait:
	for {
		select {
		case d := <-l.digits:
			if d.Key == '#' {
				break wait
			}
		case <-t.C():
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	remove()
	res, err := rec.Close()
	if err == nil && res.Err != nil {
		err = res.Err
	}
	if err != nil {
		return res.Path, res.Duration, fmt.Errorf("recording %s: %w", res.Path, err)
	}
	return res.Path, res.Duration, nil
}

// reoffer answers re-INVITEs and UPDATEs with SDP: hold and resume (RFC 3264 8.4),
// a new address or codec. The session keeps its sequence numbers and timestamps.
func (l *leg) reoffer(origin *media.Origin, local netip.AddrPort) func([]byte) ([]byte, error) {
	return func(offer []byte) ([]byte, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		origin.Version++
		if offer == nil {
			// An offer-less re-INVITE: we offer what we have (RFC 3261 14.2).
			return media.Offer(local, []media.Codec{l.neg.Codec}, l.neg.DTMF, l.neg.PTime, *origin), nil
		}
		desc, err := media.ParseSDP(offer)
		if err != nil {
			// 488 rather than 400: pion/sdp refuses some valid offers we cannot take
			// anyway (T.38 image/udptl); either way the call goes on as it was.
			return nil, &sip.RejectError{Code: 488, Reason: "Not Acceptable Here", Err: err}
		}
		neg, err := media.Negotiate(desc, []media.Codec{l.neg.Codec})
		if err != nil {
			// Keep the codec of the call if at all possible; else any we support.
			neg, err = media.Negotiate(desc, l.m.cfg.Media.codecs)
		}
		if err != nil {
			return nil, &sip.RejectError{Code: 488, Reason: "Not Acceptable Here", Err: err}
		}
		// The caller holds when it stops receiving from us: its sendonly or inactive
		// makes our direction recvonly or inactive (RFC 3264 8.4), and the old style
		// c=0.0.0.0 leaves no address to send to. neg.Direction is ours.
		held := !neg.Direction.Sends() || !neg.Remote.IsValid()
		// While the caller holds, expect no RTP from them either (a holding phone may
		// send music, or nothing): the RTP timeout waits until they resume.
		l.sess.Update(neg.Remote, neg.Codec, neg.DTMF, neg.Direction.Sends(), neg.Direction.Receives() && !held)
		if held != l.held {
			l.held = held
			if held {
				l.m.emit(l.c, event.Event{Type: event.CallHeld, Reason: desc.Direction.String()})
			} else {
				l.m.emit(l.c, event.Event{Type: event.CallResumed})
			}
		}
		l.neg = neg
		return media.Answer(local, neg, *origin), nil
	}
}

// WorkOrderStatus implements ivr.StatusLeg: the work order whose number the caller
// keyed (WO20261127-0001 is keyed 202611270001), and the prompt that reads its
// status back.
func (l *leg) WorkOrderStatus(ctx context.Context, digits string) ([]string, bool) {
	if l.m.book == nil {
		return nil, false
	}
	w, err := l.m.book.ByDigits(digits)
	if err != nil {
		return nil, false
	}
	prompt := map[string]string{
		ticket.StatusOpen: "ticket_open", ticket.StatusReopened: "ticket_open", ticket.StatusDispatched: "ticket_dispatched",
		ticket.StatusReplied: "ticket_replied", ticket.StatusClosed: "ticket_closed",
	}[w.Status]
	if prompt == "" {
		prompt = "ticket_open"
	}
	l.c.Log.Info("work order status read back", "ticket", w.ID, "status", w.Status)
	return []string{prompt}, true
}
