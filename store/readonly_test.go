package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
)

func readAll(t *testing.T, dir string) ([]uint64, ReadStats, error) {
	t.Helper()
	var seqs []uint64
	st, err := ReadJournal(context.Background(), dir, func(ev *event.Event) error {
		seqs = append(seqs, ev.Seq)
		return nil
	})
	return seqs, st, err
}

// TestReadJournalWhileAppending reads a journal that a live Store holds locked and
// appends to: every read sees a gap-free prefix, with no lock error.
func TestReadJournalWhileAppending(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := s.Append(context.Background(), &event.Event{Type: event.CallCreated, Call: "c", Caller: string(rune('a' + i%26))}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for {
		seqs, st, err := readAll(t, dir)
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		for i, q := range seqs {
			if q != uint64(i+1) {
				t.Fatalf("read %d: event %d has seq %d", reads, i, q)
			}
		}
		if st.Events != len(seqs) {
			t.Fatalf("stats say %d events, fn saw %d", st.Events, len(seqs))
		}
		reads++
		if len(seqs) == n {
			break
		}
		if reads > 100000 {
			t.Fatal("the appends never finished")
		}
	}
	wg.Wait()
	if reads < 2 {
		t.Logf("only %d reads overlapped the appends", reads)
	}
}

func writeROJournal(t *testing.T, dir string, n int) int64 {
	t.Helper()
	j, err := OpenJournal(dir, JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := j.Append(context.Background(), &event.Event{Type: event.CallCreated, Call: "c", Time: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestReadJournalTornTail: a half-written last record ends the reading cleanly, and
// the file is left as it was.
func TestReadJournalTornTail(t *testing.T) {
	dir := t.TempDir()
	size := writeROJournal(t, dir, 10)
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0, 0, 0, 40, 1, 2, 3, 4, '{', '"'}); err != nil { // 40-byte payload, 2 written
		t.Fatal(err)
	}
	f.Close()
	seqs, st, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 10 || st.TornTail == "" || st.Size != size || st.LastSeq != 10 {
		t.Fatalf("read %d events, stats %+v", len(seqs), st)
	}
	fi, _ := os.Stat(path)
	if fi.Size() != size+10 {
		t.Errorf("the file was changed: %d bytes, want %d", fi.Size(), size+10)
	}
}

// TestReadJournalCorruptMiddle: a damaged record followed by intact ones is an error.
func TestReadJournalCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	writeROJournal(t, dir, 10)
	path := filepath.Join(dir, JournalFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[fileHeaderSize+recordHeaderSize+3] ^= 0xff // the first record's payload
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	_, _, err = readAll(t, dir)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != fileHeaderSize {
		t.Fatalf("err %v, want a CorruptError at offset %d", err, fileHeaderSize)
	}
}

func TestReadJournalMissingAndEmpty(t *testing.T) {
	if _, _, err := readAll(t, t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing journal: %v", err)
	}
	dir := t.TempDir()
	writeROJournal(t, dir, 0)
	if seqs, _, err := readAll(t, dir); err != nil || len(seqs) != 0 {
		t.Errorf("empty journal: %v %v", seqs, err)
	}
}

// TestFollow: replay then subscription, with appends racing, sees every event once,
// in order.
func TestFollow(t *testing.T) {
	s, err := New(NewMemory(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 50 {
		_ = s.Append(context.Background(), &event.Event{Type: event.CallCreated})
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			_ = s.Append(context.Background(), &event.Event{Type: event.CallCreated})
		}
	}()
	var mu sync.Mutex
	var seqs []uint64
	cancel, err := s.Follow(context.Background(), 0, func(ev *event.Event) {
		mu.Lock()
		seqs = append(seqs, ev.Seq)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	cancel()
	_ = s.Append(context.Background(), &event.Event{Type: event.CallCreated})
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 250 {
		t.Fatalf("saw %d events, want 250", len(seqs))
	}
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, q)
		}
	}
}
