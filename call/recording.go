package call

// Recording: one stereo file per call, the caller on the left and whoever speaks
// for the centre on the right, following the caller across transfers and
// re-queues. The call's queue says from when (record: agent, answer, off): a call
// answered by the engine is recorded provisionally from the answer when some queue
// records from there, and the recording is kept or discarded once the menu has
// routed the call.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/queue"
	"github.com/hotline12345/hotline/recording"
	"github.com/hotline12345/hotline/sip"
	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/ticket"
)

// ErrRecordingBusy: a recording's audio was asked for while it is still being
// written, or after it failed.
var ErrRecordingBusy = errors.New("call: recording not finished")

// callRecording is one call's recording.
type callRecording struct {
	m    *Manager
	c    *sip.Call
	sess *media.Session

	mu        sync.Mutex
	rec       *recording.Recorder
	from      string // answer or agent
	announced bool   // RecordingStarted is in the log
	paused    bool
	agentMute atomic.Bool // the caller is on hold: the centre's side is silence
}

// recordMode is when calls of queue q are recorded.
func (m *Manager) recordMode(q string) string {
	if mode := m.queue(q).Record; mode != "" {
		return mode
	}
	return queue.RecordAgent
}

// startRecording makes the call's recording: provisional from the answer when
// some queue records from there, else none until routing or the agent's answer.
func (m *Manager) startRecording(c *sip.Call, sess *media.Session) *callRecording {
	if m.recCfg.Dir == "" {
		return nil // no data folder: nothing is recorded
	}
	cr := &callRecording{m: m, c: c, sess: sess}
	if m.recordAnswer.Load() {
		cr.mu.Lock()
		cr.create(queue.RecordAnswer)
		cr.mu.Unlock()
	}
	m.mu.Lock()
	m.recs[c.ID] = cr
	m.mu.Unlock()
	return cr
}

// recordingOf is the recording of call id (nil for none: a callback).
func (m *Manager) recordingOf(id string) *callRecording {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recs[id]
}

// create starts the file and taps the caller's side. Called with cr.mu held.
func (cr *callRecording) create(from string) {
	rec, err := recording.Create(cr.m.recCfg, cr.c.ID)
	if err != nil {
		cr.c.Log.Error("recording could not start: the call goes on unrecorded", "error", err)
		cr.m.metrics.recording(store.RecFailed)
		cr.m.emit(cr.c, event.Event{Type: event.RecordingFailed, Cause: err.Error()})
		return
	}
	cr.rec, cr.from = rec, from
	cr.sess.TapPackets(func(codec media.Codec, ssrc, ts uint32, p []byte) {
		rec.Write(recording.Caller, codec, ssrc, ts, p)
	})
}

// announce writes RecordingStarted (at the recording's start). Called with cr.mu held.
func (cr *callRecording) announce(q string) {
	if cr.announced || cr.rec == nil {
		return
	}
	cr.announced = true
	cr.m.metrics.recordingStarted()
	cr.m.emit(cr.c, event.Event{Type: event.RecordingStarted, Time: cr.rec.Start(), File: filepath.Base(cr.rec.Path()),
		Caller: cr.c.Caller, Queue: q, Reason: cr.from})
	cr.c.Log.Info("recording", "from", cr.from, "file", filepath.Base(cr.rec.Path()))
}

// routed applies the queue's mode to a provisional recording: kept from the
// answer, or discarded (recorded from the agent's answer, or not at all).
func (cr *callRecording) routed(q string) {
	if cr == nil {
		return
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.rec == nil || cr.announced {
		return
	}
	if cr.m.recordMode(q) == queue.RecordAnswer {
		cr.announce(q)
		return
	}
	cr.discard()
}

// discard drops a provisional recording. Called with cr.mu held.
func (cr *callRecording) discard() {
	cr.sess.TapPackets(nil)
	res, _ := cr.rec.Close()
	if res.Path != "" {
		_ = os.Remove(res.Path)
	}
	cr.rec = nil
}

// agentLeg starts the recording at the agent's answer if the queue wants it and
// taps the agent's leg (the right channel) until the returned function is called.
func (cr *callRecording) agentLeg(l media.Leg, q string) (untap func()) {
	if cr == nil {
		return func() {}
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.rec == nil && cr.m.recordMode(q) != queue.RecordOff {
		cr.create(queue.RecordAgent)
	}
	cr.announce(q)
	rec := cr.rec
	if rec == nil {
		return func() {}
	}
	l.TapPackets(func(codec media.Codec, ssrc, ts uint32, p []byte) {
		if !cr.agentMute.Load() {
			rec.Write(recording.Agent, codec, ssrc, ts, p)
		}
	})
	return func() { l.TapPackets(nil) }
}

// supervisorLeg taps a barging supervisor's leg into the right channel (mixed with
// the agent) until the returned function is called.
func (cr *callRecording) supervisorLeg(l media.Leg) (untap func()) {
	if cr == nil {
		return func() {}
	}
	cr.mu.Lock()
	rec := cr.rec
	cr.mu.Unlock()
	if rec == nil {
		return func() {}
	}
	l.TapPackets(func(codec media.Codec, ssrc, ts uint32, p []byte) {
		if !cr.agentMute.Load() {
			rec.Write(recording.Supervisor, codec, ssrc, ts, p)
		}
	})
	return func() { l.TapPackets(nil) }
}

// hold mutes the centre's side while the caller is on hold.
func (cr *callRecording) hold(on bool) {
	if cr != nil {
		cr.agentMute.Store(on)
	}
}

// pause and resume the recording (the agent's, for card numbers); false when
// there is nothing to pause or resume.
func (cr *callRecording) pause(agent string, on bool) bool {
	if cr == nil {
		return false
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.rec == nil || !cr.announced || cr.paused == on {
		return false
	}
	cr.paused = on
	ev := event.Event{Type: event.RecordingPaused, Agent: agent}
	if on {
		cr.rec.Pause(agent)
	} else {
		cr.rec.Resume(agent)
		ev.Type = event.RecordingResumed
	}
	cr.m.emit(cr.c, ev)
	return true
}

// finish closes the file at the call's end and writes how it went.
func (cr *callRecording) finish() {
	cr.m.mu.Lock()
	delete(cr.m.recs, cr.c.ID)
	cr.m.mu.Unlock()
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.rec == nil {
		return
	}
	if !cr.announced {
		cr.discard()
		return
	}
	cr.sess.TapPackets(nil)
	res, err := cr.rec.Close()
	cr.rec = nil
	cr.m.recordingDone(cr.c.ID, cr.c.Log, res, err)
}

// recordingDone writes a finished recording's outcome to the log.
func (m *Manager) recordingDone(id string, log *slog.Logger, res recording.Result, err error) {
	file := filepath.Base(res.Path)
	if res.State == recording.StateFailed || (err != nil && res.State == "") {
		cause := fmt.Sprint(err)
		if res.Err != nil {
			cause = res.Err.Error()
		}
		log.Error("recording failed: the call went on unrecorded from the failure", "file", file, "error", cause)
		m.metrics.recording(store.RecFailed)
		m.emitID(id, log, event.Event{Type: event.RecordingFailed, File: file, Cause: cause})
		return
	}
	if res.Dropped > 0 {
		log.Info("recording: packets dropped (too late or too many at once)", "file", file, "dropped", res.Dropped)
	}
	m.metrics.recording(string(res.State))
	m.emitID(id, log, event.Event{Type: event.RecordingCompleted, File: file, Duration: res.Duration,
		Size: res.Size, Hash: res.SHA256, State: string(res.State)})
	// Outside systems learn that the file is ready.
	m.publish(ticket.Event{Type: ticket.TypeRecordingReady, Time: m.clock.Now(), Recording: &ticket.RecordingInfo{
		ID: recordingID(file), Call: id, File: file, Duration: res.Duration, Size: res.Size, Hash: res.SHA256}})
}

// RepairRecordings repairs the recordings a crash or kill left unfinished (their
// log says recording): sizes fixed, playable up to the last written audio, marked
// repaired. Call it at start-up, before calls come; with a log shared by two
// sites, when the site becomes active (a standby cannot write the result) with
// local set: only the files on this site's disk are repaired (the others were
// being written at the other site), and the calls this process serves are left
// alone. It returns how many it repaired.
func (m *Manager) RepairRecordings(local bool, serving func(call string) bool) int {
	n := 0
	for _, r := range m.store.Recordings().Unfinished() {
		log := m.log.With("call_id", r.Call)
		path := filepath.Join(m.recCfg.Dir, r.File)
		if local {
			if serving != nil && serving(r.Call) {
				continue
			}
			if _, err := os.Stat(path); err != nil {
				continue
			}
		}
		res, err := recording.Repair(m.recCfg, path)
		if err != nil {
			res = recording.Result{Path: path, State: recording.StateFailed, Err: fmt.Errorf("repair after a crash: %w", err)}
		} else {
			res.State = recording.StateRepaired
			n++
			log.Warn("recording cut by a crash: repaired", "file", r.File, "duration", res.Duration)
		}
		m.recordingDone(r.Call, log, res, err)
	}
	return n
}

// sweepRecordings deletes the recordings older than the retention, every
// SweepEvery, until the manager stops.
func (m *Manager) sweepRecordings(stop <-chan struct{}) {
	days := m.cfg.Recording.RetentionDays
	if days <= 0 {
		return
	}
	every := m.cfg.Recording.SweepEvery
	for {
		cutoff := m.clock.Now().Add(-time.Duration(days) * 24 * time.Hour)
		removed, err := recording.Sweep(m.recCfg, cutoff)
		if err != nil {
			m.log.Error("recording retention sweep", "error", err)
		}
		if m.dataDir != "" {
			// Messages left in the menu are recordings too.
			mc := m.recCfg
			mc.Dir = m.dataDir
			more, err := recording.Sweep(mc, cutoff)
			if err != nil {
				m.log.Error("recording retention sweep (messages)", "error", err)
			}
			removed = append(removed, more...)
		}
		for _, p := range removed {
			id := recordingID(filepath.Base(p))
			m.emitID(id, m.log, event.Event{Type: event.RecordingDeleted, File: filepath.Base(p), Reason: "retention"})
		}
		m.metrics.recordingsDeleted(len(removed))
		m.log.Info("recording retention sweep", "older_than", cutoff.Format(time.RFC3339), "deleted", len(removed))
		t := m.clock.NewTimer(every)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// recordingID is the recording id of a file name: the name without its
// extensions.
func recordingID(name string) string {
	name = strings.TrimSuffix(name, ".enc")
	return strings.TrimSuffix(name, ".wav")
}

// ListRecordings lists the recordings (web.Recordings).
func (m *Manager) ListRecordings(f store.RecordingFilter) ([]store.RecordingRecord, int) {
	return m.store.Recordings().List(f)
}

// Recording returns one recording (web.Recordings).
func (m *Manager) Recording(id string) (store.RecordingRecord, bool) {
	return m.store.Recordings().Get(id)
}

// OpenRecording opens a finished recording as a plain WAV (web.Recordings).
func (m *Manager) OpenRecording(id string) (io.ReadSeekCloser, time.Time, error) {
	r, ok := m.store.Recordings().Get(id)
	if !ok {
		return nil, time.Time{}, os.ErrNotExist
	}
	if r.State != store.RecComplete && r.State != store.RecRepaired {
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrRecordingBusy, r.State)
	}
	dir := m.recCfg.Dir
	if r.Kind == store.KindMessage {
		dir = m.dataDir
	}
	f, err := recording.Open(m.recCfg, filepath.Join(dir, r.File))
	if err != nil {
		return nil, time.Time{}, err
	}
	return f, r.Start.Add(r.Duration), nil
}

// Listened writes to the audit log that who (role) listened to recording id.
func (m *Manager) Listened(id, who, role string) {
	m.emitID(id, m.log, event.Event{Type: event.RecordingListened, Agent: who, Role: role})
}
