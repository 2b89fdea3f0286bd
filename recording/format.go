package recording

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The sizes of the format; doc.go describes it for outside tools.
const (
	sampleRate   = 8000
	frameBytes   = 4 // one stereo frame: left int16, right int16
	headerSize   = 44
	frameNanos   = int64(1e9 / sampleRate) // 125 us per frame
	provisional  = math.MaxUint32 - headerSize
	maxDataBytes = (math.MaxUint32 - headerSize) &^ (frameBytes - 1) // the most whole frames a WAV can describe

	magic           = "HOTLREC1"
	keyIDLabel      = "hotline recording key id v1\x00"
	preambleSize    = 40
	nonceSize       = 12
	tagSize         = 16
	sealOverhead    = nonceSize + tagSize
	headerChunkSize = headerSize + sealOverhead      // 72
	dataStart       = preambleSize + headerChunkSize // 112
	chunkPlain      = sampleRate * frameBytes        // 1 s of stereo audio: 32000 bytes
	maxChunkPlain   = 1 << 24
)

var (
	// ErrNotRecording means a file is not a recording made by this package.
	ErrNotRecording = errors.New("recording: not a hotline recording")
	// ErrKeyRequired means the file is encrypted and Config.Key is empty.
	ErrKeyRequired = errors.New("recording: encrypted recording and no key configured")
	// ErrWrongKey means the file was encrypted with a different key than Config.Key.
	ErrWrongKey = errors.New("recording: encrypted with a different key")
	// ErrCorrupt means an encrypted file failed authentication or its structure is
	// inconsistent: tampered with, truncated after it was finished, or damaged.
	ErrCorrupt = errors.New("recording: file corrupt or tampered with")
	// ErrBadKey means Config.Key has a length other than 0 or 32 bytes.
	ErrBadKey = errors.New("recording: key must be 32 bytes (AES-256)")
	// ErrTooLong means the recording reached the 4 GiB limit of a WAV file.
	ErrTooLong = errors.New("recording: WAV size limit (4 GiB, about 37 hours) reached")
)

// wavHeader returns the 44-byte header of a stereo 8 kHz 16-bit PCM WAV with
// dataBytes of samples.
func wavHeader(dataBytes uint32) [headerSize]byte {
	var h [headerSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	riff := uint64(dataBytes) + headerSize - 8
	if riff > math.MaxUint32 {
		riff = math.MaxUint32
	}
	le.PutUint32(h[4:], uint32(riff))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1) // PCM
	le.PutUint16(h[22:], 2) // channels
	le.PutUint32(h[24:], sampleRate)
	le.PutUint32(h[28:], sampleRate*frameBytes) // byte rate
	le.PutUint16(h[32:], frameBytes)            // block align
	le.PutUint16(h[34:], 16)                    // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], dataBytes)
	return h
}

// checkHeader reports whether h is a header wavHeader wrote and returns its data size.
func checkHeader(h []byte) (uint32, error) {
	if len(h) < headerSize {
		return 0, fmt.Errorf("%w: header of %d bytes", ErrNotRecording, len(h))
	}
	want := wavHeader(0)
	for i := range headerSize {
		if (i >= 4 && i < 8) || i >= 40 {
			continue
		}
		if h[i] != want[i] {
			return 0, fmt.Errorf("%w: not a stereo 8 kHz 16-bit PCM WAV header", ErrNotRecording)
		}
	}
	return binary.LittleEndian.Uint32(h[40:]), nil
}

// checkKey validates a configured key.
func checkKey(key []byte) error {
	if len(key) != 0 && len(key) != 32 {
		return fmt.Errorf("%w (got %d)", ErrBadKey, len(key))
	}
	return nil
}

// keyID identifies a key without revealing it.
func keyID(key []byte) [8]byte {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(key)
	var id [8]byte
	copy(id[:], h.Sum(nil))
	return id
}

// sealer encrypts and decrypts the chunks of one encrypted file.
type sealer struct {
	aead     cipher.AEAD
	preamble [preambleSize]byte
	chunk    int // plaintext bytes per data chunk
}

// newSealer makes a preamble with a fresh file id for key.
func newSealer(key []byte) (*sealer, error) {
	var p [preambleSize]byte
	copy(p[0:], magic)
	binary.LittleEndian.PutUint32(p[8:], chunkPlain)
	rand.Read(p[16:32])
	id := keyID(key)
	copy(p[32:], id[:])
	return sealerFor(key, p)
}

// parsePreamble checks an existing file's preamble against key.
func parsePreamble(key []byte, p []byte) (*sealer, error) {
	if len(p) < preambleSize || string(p[:8]) != magic {
		return nil, fmt.Errorf("%w: no encrypted-recording preamble", ErrNotRecording)
	}
	if len(key) == 0 {
		return nil, ErrKeyRequired
	}
	id := keyID(key)
	if string(p[32:40]) != string(id[:]) {
		return nil, ErrWrongKey
	}
	cs := binary.LittleEndian.Uint32(p[8:])
	if cs == 0 || cs%frameBytes != 0 || cs > maxChunkPlain || binary.LittleEndian.Uint32(p[12:]) != 0 {
		return nil, fmt.Errorf("%w: bad preamble", ErrCorrupt)
	}
	return sealerFor(key, [preambleSize]byte(p[:preambleSize]))
}

func sealerFor(key []byte, p [preambleSize]byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("recording: GCM: %w", err)
	}
	return &sealer{aead: aead, preamble: p, chunk: int(binary.LittleEndian.Uint32(p[8:]))}, nil
}

// aad is the additional data of chunk index: the preamble and the index.
func (s *sealer) aad(index uint64) [preambleSize + 8]byte {
	var a [preambleSize + 8]byte
	copy(a[:], s.preamble[:])
	binary.BigEndian.PutUint64(a[preambleSize:], index)
	return a
}

// seal appends [nonce][ciphertext+tag] of plain as chunk index to dst.
func (s *sealer) seal(dst []byte, index uint64, plain []byte) []byte {
	var nonce [nonceSize]byte
	rand.Read(nonce[:])
	a := s.aad(index)
	dst = append(dst, nonce[:]...)
	return s.aead.Seal(dst, nonce[:], plain, a[:])
}

// open decrypts a stored chunk into dst[:0].
func (s *sealer) open(dst []byte, index uint64, stored []byte) ([]byte, error) {
	if len(stored) < sealOverhead {
		return nil, fmt.Errorf("%w: chunk %d is %d bytes", ErrCorrupt, index, len(stored))
	}
	a := s.aad(index)
	out, err := s.aead.Open(dst[:0], stored[:nonceSize], stored[nonceSize:], a[:])
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d failed authentication", ErrCorrupt, index)
	}
	return out, nil
}

// storedChunk is the on-disk size of a full data chunk.
func (s *sealer) storedChunk() int64 { return int64(s.chunk) + sealOverhead }
