package media

// WAV files: the RIFF container (Microsoft/IBM "Multimedia Programming Interface
// and Data Specifications 1.0", 1991) with a "fmt " chunk (WAVEFORMATEX; format
// 1 = PCM, 6 = A-law, 7 = u-law, 0xFFFE = WAVE_FORMAT_EXTENSIBLE naming one of
// those in its sub-format GUID) and a "data" chunk. All integers are
// little-endian; chunks are padded to an even size. Raw G.711 files (.ul, .al)
// are ITU-T G.711 bytes with no header.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

var (
	// ErrNotWAV means the input is not a well-formed RIFF/WAVE file.
	ErrNotWAV = errors.New("media: not a WAV file")
	// ErrUnsupportedWAV means a well-formed WAV file (or a WAVWriter request) uses
	// a format this package does not handle; the wrapping error says what.
	ErrUnsupportedWAV = errors.New("media: unsupported WAV format")
	// ErrUnknownAudioFile means LoadAudio does not know the file's extension.
	ErrUnknownAudioFile = errors.New("media: unknown audio file type")
)

// WAV format tags.
const (
	wavPCM        = 1
	wavALaw       = 6
	wavULaw       = 7
	wavExtensible = 0xFFFE
)

// ReadWAV reads a mono WAV file: 16-bit PCM at any rate, or 8-bit A-law or u-law
// (decoded to 16-bit PCM). Chunks other than "fmt " and "data" are skipped. A
// data chunk shorter than it claims (a recording cut off by a crash) yields the
// samples that are there. Memory use is bounded by the input's real size, not by
// the sizes it declares.
func ReadWAV(r io.Reader) (pcm []int16, rate int, err error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("%w: short header", ErrNotWAV)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, 0, fmt.Errorf("%w: no RIFF/WAVE header", ErrNotWAV)
	}
	var format, channels, bits int
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, 0, fmt.Errorf("%w: no data chunk", ErrNotWAV)
		}
		id, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotWAV, size)
			}
			var f [40]byte
			n := min(size, int64(len(f)))
			if _, err := io.ReadFull(r, f[:n]); err != nil {
				return nil, 0, fmt.Errorf("%w: short fmt chunk", ErrNotWAV)
			}
			if err := skip(r, size-n+size%2); err != nil {
				return nil, 0, err
			}
			format = int(binary.LittleEndian.Uint16(f[0:2]))
			channels = int(binary.LittleEndian.Uint16(f[2:4]))
			rate = int(binary.LittleEndian.Uint32(f[4:8]))
			bits = int(binary.LittleEndian.Uint16(f[14:16]))
			if format == wavExtensible && n >= 26 {
				format = int(binary.LittleEndian.Uint16(f[24:26])) // first bytes of the sub-format GUID
			}
			if err := checkFormat(format, channels, rate, bits); err != nil {
				return nil, 0, err
			}
		case "data":
			if format == 0 {
				return nil, 0, fmt.Errorf("%w: data chunk before fmt chunk", ErrNotWAV)
			}
			// io.ReadAll grows with what actually arrives, whatever size says.
			data, err := io.ReadAll(io.LimitReader(r, size))
			if err != nil {
				return nil, 0, fmt.Errorf("media: read WAV data: %w", err)
			}
			return decodeWAVData(format, data), rate, nil
		default:
			if err := skip(r, size+size%2); err != nil {
				return nil, 0, err
			}
		}
	}
}

// checkFormat accepts what ReadWAV can decode.
func checkFormat(format, channels, rate, bits int) error {
	switch {
	case format != wavPCM && format != wavALaw && format != wavULaw:
		return fmt.Errorf("%w: format tag %d (want 1 PCM, 6 A-law or 7 u-law)", ErrUnsupportedWAV, format)
	case channels != 1:
		return fmt.Errorf("%w: %d channels (want mono)", ErrUnsupportedWAV, channels)
	case rate <= 0 || rate > 384000:
		return fmt.Errorf("%w: sample rate %d", ErrUnsupportedWAV, rate)
	case format == wavPCM && bits != 16:
		return fmt.Errorf("%w: %d-bit PCM (want 16-bit)", ErrUnsupportedWAV, bits)
	case format != wavPCM && bits != 8:
		return fmt.Errorf("%w: %d-bit G.711 (want 8-bit)", ErrUnsupportedWAV, bits)
	}
	return nil
}

// skip discards n bytes of r.
func skip(r io.Reader, n int64) error {
	if m, _ := io.CopyN(io.Discard, r, n); m != n {
		return fmt.Errorf("%w: truncated chunk", ErrNotWAV)
	}
	return nil
}

// decodeWAVData turns the bytes of a data chunk into samples.
func decodeWAVData(format int, data []byte) []int16 {
	switch format {
	case wavALaw:
		return decodeG711(PCMA, data)
	case wavULaw:
		return decodeG711(PCMU, data)
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return pcm
}

func decodeG711(c Codec, data []byte) []int16 {
	pcm := make([]int16, len(data))
	DecodeFrame(c, pcm, data)
	return pcm
}

// Resample converts pcm from one sample rate to another. Going down, it first
// removes what lies above the new Nyquist frequency with a windowed-sinc low-pass
// filter (so 16 kHz -> 8 kHz keeps speech free of aliasing); then it interpolates
// linearly (an exact ratio such as 2:1 just picks samples). It returns pcm itself
// when the rates are equal and nil when a rate is not positive.
func Resample(pcm []int16, from, to int) []int16 {
	switch {
	case from <= 0 || to <= 0:
		return nil
	case from == to:
		return pcm
	}
	in := pcm
	if to < from {
		in = lowPass(pcm, 0.45*float64(to)/float64(from), 32*((from+to-1)/to)+1)
	}
	out := make([]int16, int64(len(in))*int64(to)/int64(from))
	for i := range out {
		pos := int64(i) * int64(from)
		j, frac := int(pos/int64(to)), pos%int64(to)
		v := int64(in[j])
		if frac != 0 && j+1 < len(in) {
			v += (int64(in[j+1]) - v) * frac / int64(to)
		}
		out[i] = int16(v)
	}
	return out
}

// lowPass filters pcm with a Hamming-windowed sinc of the given number of taps
// (odd) and cutoff (a fraction of the sample rate, below 0.5).
func lowPass(pcm []int16, cutoff float64, taps int) []int16 {
	h := make([]float64, taps)
	var sum float64
	mid := taps / 2
	for i := range h {
		x := float64(i - mid)
		v := 2 * cutoff
		if x != 0 {
			v = math.Sin(2*math.Pi*cutoff*x) / (math.Pi * x)
		}
		h[i] = v * (0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(taps-1)))
		sum += h[i]
	}
	out := make([]int16, len(pcm))
	for n := range out {
		var acc float64
		for i, c := range h {
			if k := n + i - mid; k >= 0 && k < len(pcm) {
				acc += c * float64(pcm[k])
			}
		}
		out[n] = int16(max(-32768, min(32767, math.Round(acc/sum))))
	}
	return out
}

// LoadAudio reads a prompt file and returns it as 8 kHz 16-bit PCM. The extension
// says what it holds: .wav (see ReadWAV; resampled to 8 kHz), .ul/.ulaw/.pcmu (raw
// u-law) or .al/.alaw/.pcma (raw A-law).
func LoadAudio(name string) ([]int16, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("media: load audio: %w", err)
	}
	defer f.Close()
	return loadAudio(name, filepath.Ext(name), f)
}

// LoadAudioFS is LoadAudio reading from fsys, for prompts embedded in the binary.
func LoadAudioFS(fsys fs.FS, name string) ([]int16, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("media: load audio: %w", err)
	}
	defer f.Close()
	return loadAudio(name, path.Ext(name), f)
}

// loadAudio decodes the file name, of type ext, from r.
func loadAudio(name, ext string, r io.Reader) ([]int16, error) {
	var codec Codec
	switch strings.ToLower(ext) {
	case ".wav":
		pcm, rate, err := ReadWAV(r)
		if err != nil {
			return nil, fmt.Errorf("media: load audio %s: %w", name, err)
		}
		return Resample(pcm, rate, sampleRate), nil
	case ".ul", ".ulaw", ".pcmu":
		codec = PCMU
	case ".al", ".alaw", ".pcma":
		codec = PCMA
	default:
		return nil, fmt.Errorf("%w: %s (want .wav, .ul, .ulaw, .pcmu, .al, .alaw or .pcma)", ErrUnknownAudioFile, name)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("media: load audio %s: %w", name, err)
	}
	return decodeG711(codec, data), nil
}

// wavHeaderSize is the size of the header NewWAVWriter writes: RIFF, fmt, data.
const wavHeaderSize = 44

// maxWAVData is the most sample data a WAV file can describe (32-bit sizes).
const maxWAVData = math.MaxUint32 - wavHeaderSize

// WAVWriter writes 16-bit PCM to a WAV file as it is recorded. The header's sizes
// are placeholders (the maximum, so a file cut short by a crash still reads to its
// end) until Close fills them in. A WAVWriter is not safe for concurrent use.
type WAVWriter struct {
	w        io.WriteSeeker
	rate     int
	channels int
	bytes    int64  // sample data written
	buf      []byte // reused conversion buffer
	closed   bool
}

// NewWAVWriter writes a WAV header for rate and channels (1 or 2) to w, which
// should be at its start, and returns a writer for the samples.
func NewWAVWriter(w io.WriteSeeker, rate, channels int) (*WAVWriter, error) {
	if channels < 1 || channels > 2 {
		return nil, fmt.Errorf("%w: %d channels (want 1 or 2)", ErrUnsupportedWAV, channels)
	}
	if rate <= 0 || rate > 384000 {
		return nil, fmt.Errorf("%w: sample rate %d", ErrUnsupportedWAV, rate)
	}
	var h [wavHeaderSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], math.MaxUint32)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], wavPCM)
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*channels*2)) // byte rate
	le.PutUint16(h[32:], uint16(channels*2))      // block align
	le.PutUint16(h[34:], 16)                      // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], maxWAVData)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("media: write WAV header: %w", err)
	}
	return &WAVWriter{w: w, rate: rate, channels: channels}, nil
}

// Write appends samples (interleaved when there are two channels). It allocates
// only when pcm is longer than any earlier call's.
func (ww *WAVWriter) Write(pcm []int16) error {
	if ww.closed {
		return fmt.Errorf("media: WAV write: %w", fs.ErrClosed)
	}
	if ww.bytes+2*int64(len(pcm)) > maxWAVData {
		return fmt.Errorf("%w: recording exceeds 4 GiB", ErrUnsupportedWAV)
	}
	if cap(ww.buf) < 2*len(pcm) {
		ww.buf = make([]byte, 2*len(pcm))
	}
	b := ww.buf[:2*len(pcm)]
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	n, err := ww.w.Write(b)
	ww.bytes += int64(n)
	if err != nil {
		return fmt.Errorf("media: WAV write: %w", err)
	}
	return nil
}

// Duration returns how much audio has been written.
func (ww *WAVWriter) Duration() time.Duration {
	frames := ww.bytes / int64(2*ww.channels)
	return time.Duration(frames) * time.Second / time.Duration(ww.rate)
}

// Close writes the real sizes into the header and leaves w positioned at the end
// of the data. It does not close w. Later calls do nothing.
func (ww *WAVWriter) Close() error {
	if ww.closed {
		return nil
	}
	ww.closed = true
	var b [4]byte
	patch := func(off int64, v uint32) error {
		binary.LittleEndian.PutUint32(b[:], v)
		if _, err := ww.w.Seek(off, io.SeekStart); err != nil {
			return err
		}
		_, err := ww.w.Write(b[:])
		return err
	}
	data := uint32(ww.bytes)
	if err := patch(4, wavHeaderSize-8+data); err != nil {
		return fmt.Errorf("media: WAV close: %w", err)
	}
	if err := patch(40, data); err != nil {
		return fmt.Errorf("media: WAV close: %w", err)
	}
	if _, err := ww.w.Seek(wavHeaderSize+ww.bytes, io.SeekStart); err != nil {
		return fmt.Errorf("media: WAV close: %w", err)
	}
	return nil
}
