package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// File is a recording opened for reading as its plain WAV: an io.ReadSeeker
// with its plain size, for http.ServeContent (Range requests). An encrypted
// recording is decrypted on the fly, one chunk at a time; a chunk that fails
// authentication makes Read return an error wrapping ErrCorrupt. A File is not
// safe for concurrent use.
type File struct {
	f    *os.File
	size int64 // of the plain WAV
	off  int64

	s      *sealer // nil: plain
	header [headerSize]byte
	region int64 // stored bytes of the data chunks
	cache  []byte
	cached int64 // data chunk index in cache, -1: none
	raw    []byte
}

// Open opens a finished or repaired recording for reading as the plain WAV. An
// encrypted file's header chunk is authenticated here: a different key gives
// ErrWrongKey, damage or a finished file cut short ErrCorrupt.
func Open(cfg Config, path string) (*File, error) {
	if err := checkKey(cfg.Key); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recording: open: %w", err)
	}
	rf, err := open(cfg.Key, f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return rf, nil
}

func open(key []byte, f *os.File, path string) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("recording: open: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotRecording, path)
	}
	size := st.Size()
	head := make([]byte, min(size, dataStart))
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("recording: open: read: %w", err)
	}
	if len(head) >= 4 && string(head[:4]) == "RIFF" {
		if _, err := checkHeader(head); err != nil {
			return nil, fmt.Errorf("%w: %s", err, path)
		}
		return &File{f: f, size: size}, nil
	}
	s, err := parsePreamble(key, head)
	if err != nil {
		return nil, fmt.Errorf("recording: open %s: %w", path, err)
	}
	if size < dataStart {
		return nil, fmt.Errorf("recording: open %s: %w: no header chunk", path, ErrCorrupt)
	}
	hp, err := s.open(nil, 0, head[preambleSize:dataStart])
	if err != nil {
		return nil, fmt.Errorf("recording: open %s: header: %w", path, err)
	}
	declared, err := checkHeader(hp)
	if err != nil {
		return nil, fmt.Errorf("recording: open %s: %w", path, errors.Join(ErrCorrupt, err))
	}
	region := size - dataStart
	sc := s.storedChunk()
	plain := region / sc * int64(s.chunk)
	if rem := region % sc; rem > 0 {
		if rem <= sealOverhead {
			return nil, fmt.Errorf("recording: open %s: %w: last chunk of %d bytes", path, ErrCorrupt, rem)
		}
		plain += rem - sealOverhead
	}
	if declared != provisional && int64(declared) != plain {
		return nil, fmt.Errorf("recording: open %s: %w: header says %d bytes of audio, file holds %d", path, ErrCorrupt, declared, plain)
	}
	rf := &File{f: f, size: headerSize + plain, s: s, region: region, cached: -1}
	copy(rf.header[:], hp)
	return rf, nil
}

// Size returns the size of the plain WAV.
func (rf *File) Size() int64 { return rf.size }

// Read reads the plain WAV from the current offset.
func (rf *File) Read(p []byte) (int, error) {
	if rf.off >= rf.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), rf.size-rf.off)]
	if rf.s == nil {
		n, err := rf.f.ReadAt(p, rf.off)
		rf.off += int64(n)
		if err == io.EOF && n > 0 {
			err = nil
		}
		return n, err
	}
	n := 0
	for n < len(p) {
		if rf.off < headerSize {
			k := copy(p[n:], rf.header[rf.off:])
			n += k
			rf.off += int64(k)
			continue
		}
		d := rf.off - headerSize
		idx := d / int64(rf.s.chunk)
		if err := rf.load(idx); err != nil {
			return n, err
		}
		k := copy(p[n:], rf.cache[d%int64(rf.s.chunk):])
		if k == 0 {
			return n, fmt.Errorf("%w: chunk %d shorter than its place", ErrCorrupt, idx+1)
		}
		n += k
		rf.off += int64(k)
	}
	return n, nil
}

// load decrypts data chunk idx (0-based) into the cache.
func (rf *File) load(idx int64) error {
	if rf.cached == idx {
		return nil
	}
	sc := rf.s.storedChunk()
	start := idx * sc
	n := min(sc, rf.region-start)
	if n <= 0 {
		return fmt.Errorf("%w: chunk %d missing", ErrCorrupt, idx+1)
	}
	if int64(cap(rf.raw)) < n {
		rf.raw = make([]byte, sc)
	}
	raw := rf.raw[:n]
	if _, err := rf.f.ReadAt(raw, dataStart+start); err != nil {
		return fmt.Errorf("recording: read chunk %d: %w", idx+1, err)
	}
	rf.cached = -1
	out, err := rf.s.open(rf.cache, uint64(idx+1), raw)
	if err != nil {
		return err
	}
	rf.cache = out
	rf.cached = idx
	return nil
}

// Seek sets the offset for the next Read (io.Seeker).
func (rf *File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += rf.off
	case io.SeekEnd:
		offset += rf.size
	default:
		return rf.off, fmt.Errorf("recording: seek: bad whence %d", whence)
	}
	if offset < 0 {
		return rf.off, fmt.Errorf("recording: seek to negative offset %d", offset)
	}
	rf.off = offset
	return offset, nil
}

// Close closes the file.
func (rf *File) Close() error { return rf.f.Close() }

// ReadStereo reads a stereo 8 kHz 16-bit PCM WAV (as Open serves it) into its
// two channels: left (the caller) and right (the agent side). Chunks other than
// "fmt " and "data" are skipped; a data chunk cut short yields its whole frames.
func ReadStereo(r io.Reader) (caller, agent []int16, err error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, nil, fmt.Errorf("%w: no RIFF/WAVE header", ErrNotRecording)
	}
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, nil, fmt.Errorf("%w: no data chunk", ErrNotRecording)
		}
		id, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1<<16 {
				return nil, nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotRecording, size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, nil, fmt.Errorf("%w: short fmt chunk", ErrNotRecording)
			}
			le := binary.LittleEndian
			format, chans, rate, bits := le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint32(b[4:]), le.Uint16(b[14:])
			if format != 1 || chans != 2 || rate != sampleRate || bits != 16 {
				return nil, nil, fmt.Errorf("%w: format %d, %d channels, %d Hz, %d bits (want PCM, 2, 8000, 16)", ErrNotRecording, format, chans, rate, bits)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrNotRecording)
			}
			data, err := io.ReadAll(io.LimitReader(r, size))
			if err != nil {
				return nil, nil, fmt.Errorf("recording: read WAV data: %w", err)
			}
			frames := len(data) / frameBytes
			caller, agent = make([]int16, frames), make([]int16, frames)
			for i := range frames {
				caller[i] = int16(binary.LittleEndian.Uint16(data[4*i:]))
				agent[i] = int16(binary.LittleEndian.Uint16(data[4*i+2:]))
			}
			return caller, agent, nil
		default:
			if n, _ := io.CopyN(io.Discard, r, size+size%2); n != size+size%2 {
				return nil, nil, fmt.Errorf("%w: truncated %q chunk", ErrNotRecording, id)
			}
		}
	}
}
