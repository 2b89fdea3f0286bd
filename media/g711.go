package media

// G.711 (ITU-T Recommendation G.711, "Pulse code modulation (PCM) of voice
// frequencies"): 8 kHz, one byte per sample, u-law (PCMU, RTP payload type 0) or
// A-law (PCMA, payload type 8), RFC 3551 section 4.5.14. The per-sample work is
// done by github.com/zaf/g711, whose *Frame functions allocate nothing.

import "github.com/zaf/g711"

// isALaw reports whether c is A-law; every other codec is treated as u-law.
func isALaw(c Codec) bool { return equalFold(c.Name, PCMA.Name) }

// DecodeFrame decodes G.711 bytes from src into 16-bit linear samples in dst and
// returns the number of samples written: min(len(dst), len(src)). PCMA is decoded
// as A-law, any other codec as u-law. It allocates nothing.
func DecodeFrame(c Codec, dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	if isALaw(c) {
		for i, b := range src {
			dst[i] = g711.DecodeAlawFrame(b)
		}
		return n
	}
	for i, b := range src {
		dst[i] = g711.DecodeUlawFrame(b)
	}
	return n
}

// EncodeFrame encodes 16-bit linear samples from src into G.711 bytes in dst and
// returns the number of bytes written: min(len(dst), len(src)). PCMA is encoded
// as A-law, any other codec as u-law. It allocates nothing.
func EncodeFrame(c Codec, dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	if isALaw(c) {
		for i, s := range src {
			dst[i] = g711.EncodeAlawFrame(s)
		}
		return n
	}
	for i, s := range src {
		dst[i] = g711.EncodeUlawFrame(s)
	}
	return n
}

// SilenceByte returns the G.711 code of a zero sample: 0xFF for u-law, 0xD5 for
// A-law.
func SilenceByte(c Codec) byte {
	if isALaw(c) {
		return 0xD5
	}
	return 0xFF
}
