package recording

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRepairOpen: Open and Repair on arbitrary bytes never panic, and whatever
// Repair accepts then opens and parses as a stereo WAV.
func FuzzRepairOpen(f *testing.F) {
	for _, key := range [][]byte{nil, testKey} {
		cfg := Config{Dir: f.TempDir(), Key: key, Logger: quiet()}
		res := record(f, cfg, "seed", nil)
		b := fileBytes(f, res.Path)
		enc := key != nil
		f.Add(b, enc)
		f.Add(b[:len(b)/2+3], enc)
		f.Add(b[:dataStart+7], enc)
	}
	f.Add([]byte("RIFF"), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, enc bool) {
		cfg := Config{Logger: quiet()}
		name := "f.wav"
		if enc {
			cfg.Key = testKey
			name += ".enc"
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if rf, err := Open(cfg, p); err == nil {
			io.Copy(io.Discard, rf)
			rf.Seek(rf.Size()/2, io.SeekStart)
			io.Copy(io.Discard, rf)
			rf.Close()
		}
		if _, err := Repair(cfg, p); err != nil {
			return
		}
		rf, err := Open(cfg, p)
		if err != nil {
			t.Fatalf("open after repair: %v", err)
		}
		defer rf.Close()
		if _, _, err := ReadStereo(rf); err != nil {
			t.Fatalf("parse after repair: %v", err)
		}
	})
}
