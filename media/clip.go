package media

// Prompts are encoded once into both G.711 laws (ITU-T G.711, RFC 3551 section
// 4.5.14) so that playing one to many calls costs a copy per packet, not an
// encoding.

import "time"

// sampleRate is the rate of all audio in this package: G.711 at 8 kHz.
const sampleRate = 8000

// Clip is a prompt prepared for playing: 8 kHz audio held encoded as u-law and as
// A-law. A Clip is immutable and safe for concurrent use; each playback takes its
// own Source.
type Clip struct {
	name string
	ulaw []byte
	alaw []byte
}

// NewClip encodes pcm (8 kHz, 16-bit linear) into a Clip called name.
func NewClip(name string, pcm []int16) *Clip {
	c := &Clip{name: name, ulaw: make([]byte, len(pcm)), alaw: make([]byte, len(pcm))}
	EncodeFrame(PCMU, c.ulaw, pcm)
	EncodeFrame(PCMA, c.alaw, pcm)
	return c
}

// Name returns the name the clip was made with.
func (c *Clip) Name() string { return c.name }

// Payload returns the whole clip encoded for codec (A-law for PCMA, u-law
// otherwise). The slice is shared: do not modify it.
func (c *Clip) Payload(codec Codec) []byte {
	if isALaw(codec) {
		return c.alaw
	}
	return c.ulaw
}

// Duration returns how long the clip plays.
func (c *Clip) Duration() time.Duration {
	return time.Duration(len(c.ulaw)) * time.Second / sampleRate
}

// Source is audio to be sent, one packet at a time. Next fills dst (one packet:
// len(dst) bytes, one per sample at 8 kHz) with audio encoded for codec and
// returns how many bytes it wrote. ok is true while dst was filled completely;
// when the audio ends, Next returns what was left (n < len(dst), possibly 0) with
// ok false and the caller pads the packet with silence. Every later call returns
// 0, false.
//
// A Source is used by one goroutine at a time (the session's pacer); the ones in
// this package allocate nothing in Next. The codec may change between calls
// (after a re-INVITE): the position is kept.
type Source interface {
	Next(codec Codec, dst []byte) (n int, ok bool)
}

// clipSource plays a clip once or in a loop.
type clipSource struct {
	clip *Clip
	pos  int
	loop bool
}

// Source returns a Source that plays the clip once.
func (c *Clip) Source() Source { return &clipSource{clip: c} }

// Loop returns a Source that plays the clip over and over, for hold audio. A loop
// of an empty clip ends at once.
func (c *Clip) Loop() Source { return &clipSource{clip: c, loop: true} }

// Next implements Source.
func (s *clipSource) Next(codec Codec, dst []byte) (int, bool) {
	audio := s.clip.Payload(codec)
	n := copy(dst, audio[s.pos:])
	s.pos += n
	for s.loop && n < len(dst) && len(audio) > 0 {
		s.pos = copy(dst[n:], audio)
		n += s.pos
	}
	return n, n == len(dst)
}

// sequence plays its sources one after another, without a gap between them.
type sequence struct {
	srcs []Source
}

// Sequence returns a Source that plays srcs one after another. The end of one
// and the start of the next share a packet, so there is no gap between them.
func Sequence(srcs ...Source) Source {
	return &sequence{srcs: append([]Source(nil), srcs...)}
}

// Next implements Source.
func (s *sequence) Next(codec Codec, dst []byte) (int, bool) {
	n := 0
	for len(s.srcs) > 0 {
		m, ok := s.srcs[0].Next(codec, dst[n:])
		n += max(0, min(m, len(dst)-n))
		if ok {
			return n, true
		}
		s.srcs[0] = nil
		s.srcs = s.srcs[1:]
	}
	return n, false
}

// silence is a Source of silence.
type silence struct {
	left int // samples still to play
}

// Silence returns a Source that plays d of silence (rounded down to whole
// samples at 8 kHz).
func Silence(d time.Duration) Source {
	return &silence{left: int(max(0, d/(time.Second/sampleRate)))}
}

// Next implements Source.
func (s *silence) Next(codec Codec, dst []byte) (int, bool) {
	n := min(len(dst), s.left)
	b := SilenceByte(codec)
	for i := range dst[:n] {
		dst[i] = b
	}
	s.left -= n
	return n, n == len(dst)
}
