// Package recording owns call recordings on disk: the stereo WAV recorder fed from a
// bridge tap (Create, Write, Pause, Resume, Close), its optional encryption at rest,
// the repair of files cut by a crash (Repair), reading them back as plain WAV for
// HTTP Range requests (Open, ReadStereo) and retention (Sweep). It knows nothing of
// calls, users or the event log: the call package feeds it and records its Result.
//
// # Audio
//
// One file per recording: stereo, 8 kHz, 16-bit little-endian PCM; left is the
// caller, right the agent side (agent, transfer target, supervisor barging). Each
// side's RTP stream is placed by its timestamps: the first packet of a new SSRC on a
// side is anchored at the wall-clock position of its arrival (Clock.Now()-start, in
// samples), later ones at the anchor plus their timestamp difference (mod 2^32). A
// stream more than 1 s off the wall clock (hold, a restarted sender) is re-anchored.
// Anything not received (loss, hold, before a side starts, a pause) is silence, so
// the audio's duration is Close's Now()-start. Audio is held Config.Jitter (300 ms)
// in memory to align the sides, then written out at least every 200 ms by one writer
// goroutine per Recorder; memory per Recorder is bounded (about 60 KiB with the
// default jitter, plus a 32000-byte chunk when encrypted), whatever the call's length.
//
// # Plain files: <id>.wav
//
// A 44-byte canonical WAV header (RIFF, "fmt " of 16 bytes: PCM, 2 channels, 8000 Hz,
// byte rate 32000, block align 4, 16 bits; "data") then the samples. While recording,
// the RIFF size is 0xFFFFFFFF and the data size 0xFFFFFFFF-44; Close writes the real
// sizes. Repair of a cut file cuts it to whole 4-byte frames and writes the sizes.
//
// # Encrypted files: <id>.wav.enc
//
// The plain WAV above, sealed with AES-256-GCM (the 32-byte Config.Key) in chunks so
// any offset can be decrypted alone. All integers little-endian unless said:
//
//	offset  size  field
//	0       8     magic "HOTLREC1"
//	8       4     C: plaintext bytes per data chunk (uint32; 32000 = 1 s of audio)
//	12      4     reserved, zero
//	16      16    file id (random)
//	32      8     key id: the first 8 bytes of SHA-256("hotline recording key id v1\x00" || key)
//	40      72    header chunk: the 44-byte WAV header, sealed (index 0)
//	112     ...   data chunks 1, 2, ...: C bytes of WAV data each (the last may be shorter)
//
// Bytes 0-39 are the preamble. Every chunk, stored, is a 12-byte random nonce followed
// by the GCM ciphertext and its 16-byte tag (so a full data chunk takes C+28 bytes and
// data chunk k starts at 112 + (k-1)*(C+28)). The additional data of chunk k is the
// 40-byte preamble followed by k as a big-endian uint64, so chunks cannot be moved
// between positions or files undetected. Plaintext byte p of the WAV (p >= 44) is in
// data chunk (p-44)/C + 1 at offset (p-44)%C. Close (and Repair) rewrites the header
// chunk with the real sizes under a fresh random nonce; no nonce is ever reused.
// Data chunks are written as soon as they are full (about every second), so a kill
// loses at most the chunk being filled. Repair checks every chunk and drops the
// trailing ones that do not authenticate (a bad chunk before good ones is an error:
// damage, not a cut). To decrypt with another tool: check the magic and key id, open the
// header chunk with AAD preamble||0x0000000000000000, then each data chunk in turn
// with AAD preamble||uint64be(k), and concatenate the plaintexts.
//
// Close and Repair return the SHA-256 of the stored bytes (ciphertext when
// encrypted), so tampering with a finished file is detectable outside this package.
package recording
