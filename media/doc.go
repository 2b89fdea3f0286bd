// Package media owns everything that touches audio on the trunk side: the RTP port pool
// and one UDP socket per leg (RFC 3550), SDP offer/answer (RFC 3264, RFC 4566), G.711
// u-law and A-law (ITU-T G.711), RFC 4733 telephone-events, in-band DTMF detection
// (Goertzel), prompt clips and their pacing, the bridge between two legs, and WAV files.
//
// Media is readers and writers: a Session paces frames from a Source every ptime on a
// monotonic clock and hands received audio and digits to whoever listens. A bridge
// swaps the writer: each leg's reader forwards what it receives to the other leg's
// PacketWriter, which renumbers it into its own outgoing stream (G.711 law converted
// only when the legs differ). It knows nothing of SIP: the call package joins the two.
package media
