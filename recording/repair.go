package recording

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Repair makes a file cut by a crash or kill -9 playable up to its last whole
// written frame and returns its Result with State "repaired". A plain file is
// cut to whole stereo frames and its header sizes are fixed. An encrypted file
// loses its trailing chunks that do not authenticate (at most the last, partial
// one after a kill; a bad chunk before good ones is ErrCorrupt) and gets a header chunk with the real sizes under a fresh
// nonce. A file that is not a recording of this package is left untouched
// (ErrNotRecording), as is an encrypted one under another key (ErrWrongKey).
// Pauses are not stored in the file, so the Result has none.
func Repair(cfg Config, path string) (Result, error) {
	if err := checkKey(cfg.Key); err != nil {
		return Result{}, err
	}
	cfg = withDefaults(cfg)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Result{}, fmt.Errorf("recording: repair: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("recording: repair: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Result{}, fmt.Errorf("%w: %s is not a regular file", ErrNotRecording, path)
	}
	size := st.Size()
	head := make([]byte, min(size, dataStart))
	if _, err := io.ReadFull(f, head); err != nil {
		return Result{}, fmt.Errorf("recording: repair: read: %w", err)
	}
	enc, err := detect(head, path)
	if err != nil {
		return Result{}, err
	}
	var data int64
	if enc {
		data, err = repairEncrypted(f, cfg.Key, head, size)
	} else {
		data, err = repairPlain(f, head, size)
	}
	if err != nil {
		return Result{}, fmt.Errorf("recording: repair %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return Result{}, fmt.Errorf("recording: repair: sync: %w", err)
	}
	n, sum, err := hashFile(f)
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Path:     path,
		Size:     n,
		Duration: time.Duration(data/frameBytes) * time.Duration(frameNanos),
		SHA256:   sum,
		State:    StateRepaired,
	}
	cfg.Logger.Info("recording repaired", "path", path, "duration", res.Duration, "size", n, "was", size)
	return res, nil
}

// detect tells a plain from an encrypted recording by its first bytes (by its
// name when there are too few to tell).
func detect(head []byte, path string) (encrypted bool, err error) {
	k := min(len(head), len(magic))
	switch {
	case len(head) >= 4 && string(head[:4]) == "RIFF":
		return false, nil
	case len(head) >= len(magic) && string(head[:len(magic)]) == magic:
		return true, nil
	case len(head) < 4 && strings.HasPrefix("RIFF", string(head)) && !strings.HasSuffix(path, ".enc"):
		return false, nil
	case len(head) < len(magic) && string(head) == magic[:k] && (len(head) > 0 || strings.HasSuffix(path, ".enc")):
		return true, nil
	}
	return false, fmt.Errorf("%w: %s", ErrNotRecording, path)
}

func repairPlain(f *os.File, head []byte, size int64) (int64, error) {
	var data int64
	if size < headerSize {
		want := wavHeader(provisional)
		if string(head) != string(want[:len(head)]) {
			return 0, ErrNotRecording
		}
	} else {
		if _, err := checkHeader(head); err != nil {
			return 0, err
		}
		data = min((size-headerSize)&^(frameBytes-1), maxDataBytes)
	}
	if err := f.Truncate(headerSize + data); err != nil {
		return 0, fmt.Errorf("truncate: %w", err)
	}
	h := wavHeader(uint32(data))
	if _, err := f.WriteAt(h[:], 0); err != nil {
		return 0, fmt.Errorf("write header: %w", err)
	}
	return data, nil
}

func repairEncrypted(f *os.File, key, head []byte, size int64) (int64, error) {
	if len(key) == 0 {
		return 0, ErrKeyRequired
	}
	var s *sealer
	var err error
	if size < preambleSize { // cut while the preamble was written: start afresh
		s, err = newSealer(key)
		if err == nil {
			_, err = f.WriteAt(s.preamble[:], 0)
		}
	} else {
		s, err = parsePreamble(key, head)
	}
	if err != nil {
		return 0, err
	}
	sc := s.storedChunk()
	region := max(size-dataStart, 0)
	count := region / sc
	lastLen := sc
	if rem := region % sc; rem > 0 {
		count++
		lastLen = rem
	}
	// Every chunk is checked; the ones at the end that do not authenticate (cut
	// by the kill, or zeros a crash left) are dropped; a bad one before good ones
	// is damage or tampering, and the file is left as it is.
	var data, good, goodLen int64
	buf := make([]byte, sc)
	var plain []byte
	bad := int64(0)
	for k := int64(1); k <= count; k++ {
		n := sc
		if k == count {
			n = lastLen
		}
		if _, err := f.ReadAt(buf[:n], dataStart+(k-1)*sc); err != nil {
			return 0, fmt.Errorf("read chunk %d: %w", k, err)
		}
		p, err := s.open(plain, uint64(k), buf[:n])
		if err != nil {
			if bad == 0 {
				bad = k
			}
			continue
		}
		plain = p
		if bad != 0 {
			return 0, fmt.Errorf("%w: chunk %d does not authenticate but later ones do", ErrCorrupt, bad)
		}
		if len(p)%frameBytes != 0 {
			return 0, fmt.Errorf("%w: chunk %d holds a partial frame", ErrCorrupt, k)
		}
		good, goodLen = k, n
		data += int64(len(p))
	}
	if data > maxDataBytes {
		return 0, fmt.Errorf("%w: more audio than a WAV can describe", ErrCorrupt)
	}
	end := int64(dataStart)
	if good > 0 {
		end += (good-1)*sc + goodLen
	}
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("truncate: %w", err)
	}
	h := wavHeader(uint32(data))
	if _, err := f.WriteAt(s.seal(nil, 0, h[:]), preambleSize); err != nil {
		return 0, fmt.Errorf("write header: %w", err)
	}
	return data, nil
}
