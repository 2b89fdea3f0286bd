package web

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/store"
)

// Recordings is what the recordings API needs (*call.Manager over the store's
// recording view).
type Recordings interface {
	// ListRecordings and Recording read the recording view.
	ListRecordings(f store.RecordingFilter) ([]store.RecordingRecord, int)
	Recording(id string) (store.RecordingRecord, bool)
	// OpenRecording opens a finished recording's audio as a plain WAV (decrypted);
	// call.ErrRecordingBusy (wrapped) when it is not finished.
	OpenRecording(id string) (io.ReadSeekCloser, time.Time, error)
	// Listened writes who listened to which recording to the audit log.
	Listened(id, who, role string)
}

// mayHear reports whether sess may see and hear rec: supervisors all, an agent the
// recordings of calls they spoke on.
func mayHear(sess Session, rec store.RecordingRecord) bool {
	return sess.Role == RoleSupervisor || slices.Contains(rec.Agents, sess.ID)
}

// listRecordings serves GET /api/v1/recordings?from=&to=&caller=&agent=&queue=&call=&limit=&offset=
// (from and to: RFC 3339 times or YYYY-MM-DD dates). An agent sees only their own
// calls' recordings whatever the filter says. Answer: {"recordings": [...], "total": N}.
func (a *api) listRecordings(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	q := r.URL.Query()
	f := store.RecordingFilter{Caller: q.Get("caller"), Agent: q.Get("agent"), Queue: q.Get("queue"), Call: q.Get("call")}
	var err error
	if f.From, err = parseWhen(q.Get("from")); err != nil {
		writeError(w, http.StatusBadRequest, "bad_from", "from: "+err.Error())
		return
	}
	if f.To, err = parseWhen(q.Get("to")); err != nil {
		writeError(w, http.StatusBadRequest, "bad_to", "to: "+err.Error())
		return
	}
	for _, p := range []struct {
		name string
		v    *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "bad_"+p.name, p.name+" must be a number >= 0")
				return
			}
			*p.v = n
		}
	}
	if sess.Role != RoleSupervisor {
		if f.Agent != "" && f.Agent != sess.ID {
			writeError(w, http.StatusForbidden, "forbidden", "an agent lists only the recordings of their own calls")
			return
		}
		f.Agent = sess.ID
	}
	recs, total := a.o.Recordings.ListRecordings(f)
	if recs == nil {
		recs = []store.RecordingRecord{}
	}
	if sess.Role != RoleSupervisor {
		for i := range recs {
			recs[i].Listens = nil // the audit log is the supervisors'
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": recs, "total": total})
}

// parseWhen reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC); "" is zero.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time or YYYY-MM-DD")
	}
	return t, nil
}

// getRecording serves GET /api/v1/recordings/{id}.
func (a *api) getRecording(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	rec, ok := a.o.Recordings.Recording(r.PathValue("id"))
	if !ok || !mayHear(sess, rec) {
		// An agent does not learn that someone else's recording exists.
		writeError(w, http.StatusNotFound, "recording_not_found", "no such recording")
		return
	}
	if sess.Role != RoleSupervisor {
		rec.Listens = nil
	}
	writeJSON(w, http.StatusOK, rec)
}

// recordingAudio serves GET /api/v1/recordings/{id}/audio: the WAV, with Range
// support (a browser's audio element seeks), decrypted on the fly. Every request
// that is allowed is written to the audit log.
//
// Errors: 401, 404 recording_not_found (or not the agent's), 409 recording_busy
// (still being written, or failed), 410 recording_deleted.
func (a *api) recordingAudio(w http.ResponseWriter, r *http.Request) {
	sess, _ := SessionFrom(r.Context())
	id := r.PathValue("id")
	rec, ok := a.o.Recordings.Recording(id)
	if !ok || !mayHear(sess, rec) {
		writeError(w, http.StatusNotFound, "recording_not_found", "no such recording")
		return
	}
	switch rec.State {
	case store.RecDeleted:
		writeError(w, http.StatusGone, "recording_deleted", "deleted by the retention sweep")
		return
	case store.RecRecording, store.RecFailed:
		writeError(w, http.StatusConflict, "recording_busy", "the recording is "+rec.State)
		return
	}
	f, mod, err := a.o.Recordings.OpenRecording(id)
	if err != nil {
		a.o.Logger.Error("recording: open", "recording", id, "error", err)
		status, code := http.StatusInternalServerError, "recording_unreadable"
		if errors.Is(err, call.ErrRecordingBusy) {
			status, code = http.StatusConflict, "recording_busy"
		}
		writeError(w, status, code, err.Error())
		return
	}
	defer f.Close()
	a.o.Recordings.Listened(id, sess.ID, sess.Role)
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, id+".wav", mod, f)
}
