package store

import "github.com/hotline12345/hotline/event"

// ApplyFollowed folds an event that another writer appended to the shared log (the
// active site, seen by a standby through Redis.Follow) into the projections and hands
// it to the subscribers, as Append does, without appending it. Events must come in
// sequence order, each once: the caller skips those the Store has already seen (its
// own appends and what New replayed). It takes the append lock, so it never
// interleaves with Append.
func (s *Store) ApplyFollowed(ev *event.Event) {
	if ev == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.Apply(ev)
	s.recs.Apply(ev)
	s.subMu.RLock()
	subs := s.subs
	s.subMu.RUnlock()
	for _, sub := range subs {
		c := *ev
		sub.fn(&c)
	}
}
