package store_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hotline12345/hotline/store"
	"github.com/hotline12345/hotline/store/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Log { return store.NewMemory() })
}

func TestJournalContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync time.Duration
	}{
		{"background-fsync", 0},
		{"fast-background-fsync", time.Millisecond},
		{"fsync-every-append", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Log {
				j, err := store.OpenJournal(t.TempDir(), store.JournalOptions{
					SyncEvery: tc.sync,
					Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
				})
				if err != nil {
					t.Fatalf("OpenJournal: %v", err)
				}
				return j
			})
		})
	}
}
