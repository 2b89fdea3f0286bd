package recording

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sweep deletes the recordings (*.wav, *.wav.enc) in cfg.Dir last modified
// before cutoff and returns their paths. Other files and folders are left
// alone. It goes on past a file it cannot delete and returns all such errors
// joined. A missing folder holds nothing to sweep.
func Sweep(cfg Config, cutoff time.Time) ([]string, error) {
	cfg = withDefaults(cfg)
	entries, err := os.ReadDir(cfg.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recording: sweep: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".wav") || strings.HasSuffix(name, ".wav.enc")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("recording: sweep: %w", err))
			}
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		path := filepath.Join(cfg.Dir, name)
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("recording: sweep: %w", err))
			}
			continue
		}
		removed = append(removed, path)
	}
	cfg.Logger.Info("recordings swept", "dir", cfg.Dir, "cutoff", cutoff, "deleted", len(removed), "errors", len(errs))
	return removed, errors.Join(errs...)
}
