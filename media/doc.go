// Package media owns everything that touches audio: the RTP port pool and one UDP
// socket per leg (RFC 3550), SDP offer/answer (RFC 3264, RFC 4566), G.711 u-law and
// A-law (ITU-T G.711), RFC 4733 telephone-events, in-band DTMF detection (Goertzel),
// prompt clips and their pacing, the bridge between two legs, the agents' WebRTC leg
// (pion: one ICE-lite Peer per agent on one shared UDP port, G.711 only), the
// supervisor's listen/whisper/barge mixer, and WAV files.
//
// Media is readers and writers: a Session paces frames from a Source every ptime on a
// monotonic clock and hands received audio and digits to whoever listens. A bridge
// swaps the writer: each leg's reader forwards what it receives to the other leg's
// PacketWriter, which renumbers it into its own outgoing stream (G.711 law converted
// only when the legs differ). A Monitor on a bridge decodes and mixes only the
// directions where two voices meet. Taps (PacketTap) hand received audio to a
// recorder. It knows nothing of SIP: the call package joins the legs.
package media
