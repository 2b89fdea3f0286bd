package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// logBuffer is a concurrency-safe buffer for a test logger.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testEvent(i int) *event.Event {
	return &event.Event{
		Time:   time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Site:   "primary",
		Type:   event.MenuInput,
		Call:   fmt.Sprintf("call-%04d", i),
		Node:   "main",
		Digits: strconv.Itoa(i % 10),
		Via:    event.ViaRFC4733,
	}
}

func openT(t *testing.T, dir string, opts JournalOptions) *Journal {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	j, err := OpenJournal(dir, opts)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	return j
}

// writeJournal creates a journal with n events in dir and returns the offsets of its
// records (plus the file size as the last element).
func writeJournal(t *testing.T, dir string, n int) []int64 {
	t.Helper()
	j := openT(t, dir, JournalOptions{})
	for i := range n {
		if err := j.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	return recordOffsets(t, data)
}

// recordOffsets walks the record headers of a well-formed journal file.
func recordOffsets(t *testing.T, data []byte) []int64 {
	t.Helper()
	if string(data[:8]) != "HLJRNL01" {
		t.Fatalf("file starts with %q, want the magic HLJRNL01", data[:8])
	}
	offs := []int64{}
	off := int64(8)
	for off < int64(len(data)) {
		offs = append(offs, off)
		off += 8 + int64(binary.BigEndian.Uint32(data[off:]))
	}
	if off != int64(len(data)) {
		t.Fatalf("records end at %d, file is %d bytes", off, len(data))
	}
	return append(offs, off)
}

// seqs replays the whole log and returns the sequence numbers.
func seqs(t *testing.T, l Log) []uint64 {
	t.Helper()
	var out []uint64
	if err := l.Replay(context.Background(), 0, func(ev *event.Event) error {
		out = append(out, ev.Seq)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

func checkGapless(t *testing.T, got []uint64, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("log holds %d events, want %d", len(got), n)
	}
	for i, s := range got {
		if s != uint64(i)+1 {
			t.Fatalf("event %d has Seq %d, want %d", i, s, i+1)
		}
	}
}

// record encodes one journal record by hand, as docs/journal.md describes it.
func record(payload []byte) []byte {
	r := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(r[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(r[4:8], crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	return append(r, payload...)
}

func TestJournalFileFormat(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, JournalOptions{})
	ev := testEvent(1)
	if err := j.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("HLJRNL01"), record(payload)...)
	if !bytes.Equal(data, want) {
		t.Fatalf("file bytes:\n%q\nwant\n%q", data, want)
	}
}

func TestJournalReopen(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, 5)
	for round := 1; round <= 3; round++ {
		j := openT(t, dir, JournalOptions{})
		if got := j.LastSeq(); got != uint64(5*round) {
			t.Fatalf("round %d: LastSeq after reopen = %d, want %d", round, got, 5*round)
		}
		checkGapless(t, seqs(t, j), 5*round)
		for i := range 5 {
			ev := testEvent(i)
			if err := j.Append(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if want := uint64(5*round + i + 1); ev.Seq != want {
				t.Fatalf("round %d: Seq after reopen = %d, want %d", round, ev.Seq, want)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJournalReplayIndex crosses the sparse offset index's boundaries, before and
// after a reopen (which rebuilds the index from the file).
func TestJournalReplayIndex(t *testing.T) {
	dir := t.TempDir()
	const n = 3*indexEvery + 17
	writeJournal(t, dir, n)
	j := openT(t, dir, JournalOptions{})
	defer j.Close()
	for _, after := range []uint64{0, 1, indexEvery - 1, indexEvery, indexEvery + 1, 2*indexEvery + 5, 3 * indexEvery, n - 1, n} {
		var got []uint64
		err := j.Replay(context.Background(), after, func(ev *event.Event) error {
			if want := fmt.Sprintf("call-%04d", ev.Seq-1); ev.Call != want {
				return fmt.Errorf("Seq %d has Call %q, want %q", ev.Seq, ev.Call, want)
			}
			got = append(got, ev.Seq)
			return nil
		})
		if err != nil {
			t.Fatalf("Replay(%d): %v", after, err)
		}
		if len(got) != int(n-after) || (len(got) > 0 && got[0] != after+1) {
			t.Fatalf("Replay(%d) gave %d events starting at %v", after, len(got), got[:min(1, len(got))])
		}
	}
}

func TestJournalTornTail(t *testing.T) {
	const n = 4
	base := t.TempDir()
	offs := writeJournal(t, base, n)
	good, err := os.ReadFile(filepath.Join(base, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	lastOff := offs[n-1]
	lastLen := offs[n] - lastOff

	type tc struct {
		name    string
		data    []byte
		keep    int   // events that must survive
		dropOff int64 // offset of the dropped tail
		reason  string
	}
	var cases []tc
	// Every way of cutting the last record short.
	for cut := int64(1); cut <= lastLen; cut++ {
		reason := "short payload"
		if lastLen-cut < 8 {
			reason = "short header"
		}
		if cut == lastLen {
			continue // that is just a clean file with n-1 records
		}
		cases = append(cases, tc{fmt.Sprintf("cut-%d", cut), good[:int64(len(good))-cut], n - 1, lastOff, reason})
	}
	payload := func(s string) []byte { return []byte(s) }
	nextEv := testEvent(n)
	nextEv.Seq = n + 1
	nextJSON, _ := json.Marshal(nextEv)
	dupEv := testEvent(n)
	dupEv.Seq = n // a repeat of the last sequence number
	dupJSON, _ := json.Marshal(dupEv)
	flipped := record(nextJSON)
	flipped[len(flipped)-3] ^= 0x20
	end := int64(len(good))
	cases = append(cases,
		tc{"garbage", append(bytes.Clone(good), "garbage!garbage!"...), n, end, "exceeds"},
		tc{"half-header", append(bytes.Clone(good), record(nextJSON)[:4]...), n, end, "short header"},
		tc{"header-only", append(bytes.Clone(good), record(nextJSON)[:8]...), n, end, "short payload"},
		tc{"half-payload", append(bytes.Clone(good), record(nextJSON)[:8+len(nextJSON)/2]...), n, end, "short payload"},
		tc{"zeros", append(bytes.Clone(good), make([]byte, 4096)...), n, end, "too small"},
		tc{"crc-mismatch", append(bytes.Clone(good), flipped...), n, end, "CRC-32C mismatch"},
		tc{"bad-json", append(bytes.Clone(good), record(payload(`{"seq":5,"type":`))...), n, end, "bad JSON"},
		tc{"json-not-object", append(bytes.Clone(good), record(payload(`[1,2,3]`))...), n, end, "bad JSON"},
		tc{"wrong-seq", append(bytes.Clone(good), record(dupJSON)...), n, end, "sequence number 4, want 5"},
		tc{"too-large", append(bytes.Clone(good), 0x00, 0x20, 0x00, 0x00, 1, 2, 3, 4, '{', '}'), n, end, "exceeds"},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, JournalFile)
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs logBuffer
			j := openT(t, dir, JournalOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			checkGapless(t, seqs(t, j), c.keep)
			for _, want := range []string{
				"level=WARN",
				fmt.Sprintf("offset=%d", c.dropOff),
				fmt.Sprintf("size=%d", int64(len(c.data))-c.dropOff),
				c.reason,
				path,
			} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log %q lacks %q", logs.String(), want)
				}
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != c.dropOff {
				t.Fatalf("file size after open = %v (%v), want %d: the torn tail must be truncated", fi.Size(), err, c.dropOff)
			}
			// Appends continue after the kept records, and the result reopens cleanly.
			ev := testEvent(99)
			if err := j.Append(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if ev.Seq != uint64(c.keep)+1 {
				t.Fatalf("Seq after recovery = %d, want %d", ev.Seq, c.keep+1)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			logs = logBuffer{}
			j = openT(t, dir, JournalOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			defer j.Close()
			checkGapless(t, seqs(t, j), c.keep+1)
			if logs.String() != "" {
				t.Fatalf("reopening a recovered journal logged %q", logs.String())
			}
		})
	}
}

func TestJournalCorruptMiddle(t *testing.T) {
	base := t.TempDir()
	offs := writeJournal(t, base, 5)
	good, err := os.ReadFile(filepath.Join(base, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(b []byte)
		off    int64
		is     []error
	}{
		{"payload-bit-flip", func(b []byte) { b[offs[1]+20] ^= 0x01 }, offs[1], []error{ErrCorrupt}},
		{"crc-bit-flip", func(b []byte) { b[offs[2]+5] ^= 0x80 }, offs[2], []error{ErrCorrupt}},
		{"length-too-large", func(b []byte) { b[offs[0]] = 0x7f }, offs[0], []error{ErrCorrupt, ErrRecordTooLarge}},
		{"length-past-end", func(b []byte) { b[offs[3]+1] = 0x0f }, offs[3], []error{ErrCorrupt}},
		{"length-shorter", func(b []byte) { b[offs[1]+3]-- }, offs[1], []error{ErrCorrupt}},
		{"zeroed-record", func(b []byte) { clear(b[offs[2]:offs[3]]) }, offs[2], []error{ErrCorrupt}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, JournalFile)
			data := bytes.Clone(good)
			c.mutate(data)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := OpenJournal(dir, JournalOptions{Logger: quiet})
			if err == nil {
				j.Close()
				t.Fatal("OpenJournal succeeded on a journal with a corrupt record in the middle")
			}
			for _, target := range c.is {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Offset != c.off || ce.File != path {
				t.Fatalf("error %#v, want a *CorruptError for %s at offset %d", err, path, c.off)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("offset %d", c.off)) {
				t.Fatalf("message %q does not name the file and the offset", msg)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, data) {
				t.Fatal("a failed open changed the file")
			}
			// The journal stays usable by nobody but the operator: it is not locked.
			if j, err := OpenJournal(dir, JournalOptions{Logger: quiet}); err == nil {
				j.Close()
				t.Fatal("second open succeeded")
			} else if errors.Is(err, ErrLocked) {
				t.Fatal("a failed open left the journal locked")
			}
		})
	}
}

func TestJournalBadFile(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		wantErr error
		events  int
	}{
		{"empty", "", nil, 0},
		{"torn-magic", "HLJR", nil, 0},
		{"magic-only", "HLJRNL01", nil, 0},
		{"not-a-journal", "hello, this is a text file", ErrNotJournal, 0},
		{"short-not-a-journal", "abc", ErrNotJournal, 0},
		{"newer-version", "HLJRNL02" + string(record([]byte(`{"seq":1}`))), ErrUnsupportedVersion, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, JournalFile)
			if err := os.WriteFile(path, []byte(c.data), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := OpenJournal(dir, JournalOptions{Logger: quiet})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("OpenJournal error %v, want %v", err, c.wantErr)
				}
				if after, _ := os.ReadFile(path); string(after) != c.data {
					t.Fatal("a failed open changed the file")
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenJournal: %v", err)
			}
			defer j.Close()
			checkGapless(t, seqs(t, j), c.events)
			if after, _ := os.ReadFile(path); string(after) != "HLJRNL01" {
				t.Fatalf("file after open = %q, want the magic alone", after)
			}
		})
	}
}

func TestJournalCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	j := openT(t, dir, JournalOptions{})
	defer j.Close()
	if _, err := os.Stat(filepath.Join(dir, JournalFile)); err != nil {
		t.Fatalf("journal file not created: %v", err)
	}
}

func TestJournalLocked(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, JournalOptions{})
	if _, err := OpenJournal(dir, JournalOptions{Logger: quiet}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenJournal returned %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openT(t, dir, JournalOptions{}) // the lock is released by Close
	j.Close()
}

func TestJournalRecordTooLarge(t *testing.T) {
	dir := t.TempDir()
	j := openT(t, dir, JournalOptions{})
	if err := j.Append(context.Background(), testEvent(0)); err != nil {
		t.Fatal(err)
	}
	big := testEvent(1)
	big.Cause = strings.Repeat("x", MaxRecordSize)
	big.Seq = 42
	if err := j.Append(context.Background(), big); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("Append of a %d-byte event returned %v, want ErrRecordTooLarge", len(big.Cause), err)
	}
	if big.Seq != 42 {
		t.Fatalf("a failed Append left Seq %d, want the caller's 42", big.Seq)
	}
	if got := j.LastSeq(); got != 1 {
		t.Fatalf("LastSeq = %d after a refused Append, want 1", got)
	}
	// Just under the limit is fine.
	fits := testEvent(2)
	overhead := 0
	if b, err := json.Marshal(fits); err == nil {
		overhead = len(b) + len(`,"cause":""`)
	}
	fits.Cause = strings.Repeat("y", MaxRecordSize-overhead)
	if err := j.Append(context.Background(), fits); err != nil {
		t.Fatalf("Append of a record of exactly MaxRecordSize: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openT(t, dir, JournalOptions{})
	defer j.Close()
	checkGapless(t, seqs(t, j), 2)
}

func TestJournalBackgroundSyncStops(t *testing.T) {
	// goleak (TestMain) fails the run if Close leaves the fsync goroutine behind.
	dir := t.TempDir()
	j := openT(t, dir, JournalOptions{SyncEvery: time.Millisecond})
	for i := range 20 {
		if err := j.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond / 2)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

const helperEnv = "HOTLINE_STORE_TEST_APPENDER_DIR"

// TestHelperAppender is not a test by itself: TestJournalSurvivesKill runs the test
// binary again with this test selected and helperEnv set, and kills it with SIGKILL
// while it appends.
func TestHelperAppender(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return // only meaningful as the child of TestJournalSurvivesKill
	}
	// An hour between fsyncs: nothing is synced before the kill, so the test shows
	// that the write(2) done before Append returns is enough to survive a kill -9.
	j, err := OpenJournal(dir, JournalOptions{SyncEvery: time.Hour})
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		ev := testEvent(i)
		if err := j.Append(context.Background(), ev); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("appended %d\n", ev.Seq) // os.Stdout is unbuffered: one write(2)
	}
}

func TestJournalSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	var reported []uint64
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		killAfter := 200 + 97*round // the child keeps appending while the kill is on its way
		lines := 0
		for sc.Scan() {
			line := sc.Text()
			if s, ok := strings.CutPrefix(line, "appended "); ok {
				seq, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					t.Fatalf("child said %q", line)
				}
				reported = append(reported, seq)
				if lines++; lines == killAfter {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
				}
				continue
			}
			if strings.HasPrefix(line, "error ") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child: %s", line)
			}
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, want killed by SIGKILL", round, err)
		}
		if lines < killAfter {
			t.Fatalf("round %d: child reported %d appends before it died, want at least %d", round, lines, killAfter)
		}

		j := openT(t, dir, JournalOptions{})
		got := seqs(t, j)
		j.Close()
		last := reported[len(reported)-1]
		if uint64(len(got)) < last {
			t.Fatalf("round %d: journal holds %d events, but the child reported Seq %d as appended", round, len(got), last)
		}
		checkGapless(t, got, len(got))
		for i, s := range reported {
			if s != uint64(i)+1 {
				t.Fatalf("child reported Seq %d as its append #%d: the sequence did not continue across the kill", s, i+1)
			}
		}
		t.Logf("round %d: child reported %d, journal holds %d", round, last, len(got))
		// The child may have written a record it had no time to report; count it as
		// reported so the next round's sequence check lines up.
		for s := last + 1; s <= uint64(len(got)); s++ {
			reported = append(reported, s)
		}
	}
}

func BenchmarkJournalAppend(b *testing.B) {
	for _, bc := range []struct {
		name string
		sync time.Duration
	}{
		{"fsync-1s", 0},
		{"fsync-every-append", -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			j, err := OpenJournal(b.TempDir(), JournalOptions{SyncEvery: bc.sync, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			ev := testEvent(1)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := j.Append(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzJournalOpen(f *testing.F) {
	dir := f.TempDir()
	var sample []byte
	{
		j, err := OpenJournal(dir, JournalOptions{Logger: quiet})
		if err != nil {
			f.Fatal(err)
		}
		for i := range 3 {
			if err := j.Append(context.Background(), testEvent(i)); err != nil {
				f.Fatal(err)
			}
		}
		j.Close()
		if sample, err = os.ReadFile(filepath.Join(dir, JournalFile)); err != nil {
			f.Fatal(err)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("HLJRNL01"))
	f.Add([]byte("HLJRNL02"))
	f.Add([]byte("HLJR"))
	f.Add(sample)
	f.Add(sample[:len(sample)-5])
	f.Add(sample[:len(sample)-60])
	f.Add(append(bytes.Clone(sample), "garbage"...))
	f.Add(append(bytes.Clone(sample), make([]byte, 64)...))
	mid := bytes.Clone(sample)
	mid[30] ^= 0xff
	f.Add(mid)
	f.Add(append([]byte("HLJRNL01"), record([]byte(`{"seq":1,"type":"call.created"}`))...))
	f.Add(append([]byte("HLJRNL01"), record([]byte(`{"seq":2}`))...))
	f.Add(append([]byte("HLJRNL01"), record([]byte(`null`))...))

	// One folder per fuzzing process (its inputs run one after another), and no
	// fsync: durability is not what this target checks, and it makes it 10x faster.
	work := f.TempDir()
	open := func(logger *slog.Logger) (*Journal, error) {
		return openJournal(work, JournalOptions{SyncEvery: time.Hour, Logger: logger}, true)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(work, JournalFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := open(quiet)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotJournal) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unexpected kind of error: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatal("a failed open changed the file")
			}
			return
		}
		n := j.LastSeq()
		checkGapless(t, seqs(t, j), int(n))
		ev := testEvent(0)
		if err := j.Append(context.Background(), ev); err != nil {
			t.Fatalf("Append after open: %v", err)
		}
		if ev.Seq != n+1 {
			t.Fatalf("Seq %d, want %d", ev.Seq, n+1)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		// What survived the open, plus the new event, reopens cleanly.
		var logs logBuffer
		j, err = open(slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("reopen after recovery: %v", err)
		}
		defer j.Close()
		checkGapless(t, seqs(t, j), int(n)+1)
		if logs.String() != "" {
			t.Fatalf("reopen after recovery logged %q", logs.String())
		}
	})
}
