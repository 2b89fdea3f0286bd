package queue

import "time"

// Entry is one call waiting in a line. The acd matcher owns entries and changes
// Level, Overflowed and Callback as the call waits; a Line only orders them.
type Entry struct {
	// Call identifies the call (its id in the call package and in events).
	Call string
	// Caller is the citizen's number, dialled for a callback.
	Caller string
	// Priority orders the line: a higher value is more urgent (the menu's convention).
	Priority int
	// Seq is the arrival order across all queues, assigned by the owner and unique:
	// first in, first out within a priority.
	Seq uint64
	// Joined is when the call joined this queue.
	Joined time.Time
	// Estimate is the wait predicted when the call joined.
	Estimate time.Duration
	// Level is the lowest agent skill level the call accepts now.
	Level int
	// Overflowed reports that the backup pool may take the call.
	Overflowed bool
	// Head puts the entry before the others of its priority whatever its Seq (a
	// call given back to the queue after its agent was lost: it had waited its turn).
	Head bool
	// Callback reports that the caller has hung up and is to be called back when the
	// entry's turn comes; it keeps its place.
	Callback bool
}

// QueueEntry returns e; it makes *Entry (and any type embedding Entry) an Item.
func (e *Entry) QueueEntry() *Entry { return e }

// Item is what a Line holds: an *Entry or a pointer to a type that embeds one, so
// the owner keeps its own state beside the entry without a map lookup.
type Item interface {
	QueueEntry() *Entry
}

// Before reports whether e is served before o: higher priority first, then Head
// entries, then lower Seq (earlier arrival). The acd matcher uses the same order
// across queues.
func (e *Entry) Before(o *Entry) bool {
	if e.Priority != o.Priority {
		return e.Priority > o.Priority
	}
	if e.Head != o.Head {
		return e.Head
	}
	return e.Seq < o.Seq
}

// Line is the waiting line of one queue, holding Items (Line[*Entry] for plain
// entries) ordered by Entry.Before. An entry taken out (offered to an agent) and
// pushed back (the offer was missed) returns to its original place, which is the head
// unless more urgent calls arrived meanwhile. The zero value is an empty line. A Line
// is not safe for concurrent use.
type Line[T Item] struct {
	es []T
}

// search returns the index of the first entry not before e.
func (l *Line[T]) search(e *Entry) int {
	lo, hi := 0, len(l.es)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.es[m].QueueEntry().Before(e) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Push inserts e at its place: O(log n) to find it, plus a copy of the tail.
func (l *Line[T]) Push(e T) {
	i := l.search(e.QueueEntry())
	var zero T
	l.es = append(l.es, zero)
	copy(l.es[i+1:], l.es[i:])
	l.es[i] = e
}

// Remove takes e out of the line and reports whether it was there.
func (l *Line[T]) Remove(e T) bool {
	i := l.search(e.QueueEntry())
	if i >= len(l.es) || l.es[i].QueueEntry() != e.QueueEntry() {
		return false
	}
	copy(l.es[i:], l.es[i+1:])
	var zero T
	l.es[len(l.es)-1] = zero
	l.es = l.es[:len(l.es)-1]
	return true
}

// Position returns e's 1-based position (1 is the head), or 0 when e is not in the
// line. Callbacks count: they keep their place.
func (l *Line[T]) Position(e T) int {
	i := l.search(e.QueueEntry())
	if i >= len(l.es) || l.es[i].QueueEntry() != e.QueueEntry() {
		return 0
	}
	return i + 1
}

// Len returns the number of entries.
func (l *Line[T]) Len() int { return len(l.es) }

// At returns the entry at 0-based index i, in serving order.
func (l *Line[T]) At(i int) T { return l.es[i] }
