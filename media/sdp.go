package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// SDP offer/answer errors. The call layer maps them to SIP responses: ErrMalformedSDP to 400,
// the others to 488 Not Acceptable Here.
var (
	// ErrMalformedSDP reports a body that is not a session description (RFC 4566) or whose
	// audio stream cannot be read; it is wrapped with the reason.
	ErrMalformedSDP = errors.New("media: malformed SDP")
	// ErrNoAudio reports a session description without an audio stream.
	ErrNoAudio = errors.New("media: no audio stream in SDP")
	// ErrUnsupportedProfile reports an audio stream whose transport is not plain RTP/AVP or
	// RTP/AVPF (for example RTP/SAVP with SRTP).
	ErrUnsupportedProfile = errors.New("media: unsupported audio transport profile")
	// ErrNoCommonCodec reports an offer or answer that names none of the codecs we allow.
	ErrNoCommonCodec = errors.New("media: no common audio codec")
	// ErrStreamRejected reports an audio stream with port 0: disabled by the offerer, or
	// rejected by the answerer (RFC 3264 section 6).
	ErrStreamRejected = errors.New("media: audio stream rejected (port 0)")
)

// Direction is an SDP media direction attribute (RFC 3264 sections 5.1 and 6.1), seen from
// the side that wrote it.
type Direction uint8

// The four directions of RFC 3264. The zero value is SendRecv, the default when an SDP
// names none.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the attribute name: "sendrecv", "sendonly", "recvonly" or "inactive".
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Answer returns the direction an answerer that would like sendrecv replies with
// (RFC 3264 section 6.1): sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive,
// sendrecv -> sendrecv.
func (d Direction) Answer() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// Sends reports whether the side with this direction sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the side with this direction receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Format is one payload format offered in the audio m-line.
type Format struct {
	PayloadType uint8  // RTP payload type from the m-line
	Name        string // encoding name from a=rtpmap (or RFC 3551 for static types); "" if unknown
	ClockRate   uint32 // RTP clock rate in Hz; 0 if unknown
	Channels    int    // audio channels; 1 when the rtpmap names none
	Fmtp        string // parameters of a=fmtp for this payload type, "" if none
}

// Description is the audio part of a session description that the engine cares about.
type Description struct {
	SessionID, SessionVersion uint64 // from the o= line

	// Addr is the media connection address; a media-level c= wins over the session-level
	// one. It is the zero Addr when the peer put 0.0.0.0 there (RFC 2543 hold).
	Addr netip.Addr
	// Port is the audio m-line port; 0 means the stream is rejected or disabled.
	Port int
	// Formats are the audio payload formats in the writer's order of preference.
	Formats []Format
	// PTime is a=ptime, 0 if absent.
	PTime time.Duration
	// Direction is the writer's direction: the media-level attribute wins over the
	// session-level one, default SendRecv. A c= address of 0.0.0.0 (RFC 2543 hold) means
	// the writer cannot receive: sendrecv reads as SendOnly and recvonly as Inactive.
	Direction Direction

	// The other m-lines of the description, already written as rejected (port 0) answer
	// lines, before and after the audio one: an answer keeps the offer's m-line count and
	// order (RFC 3264 section 6).
	rejectBefore, rejectAfter string
}

// ParseSDP reads the audio stream of a session description (RFC 4566). When the body holds
// more than one audio m-line, the first with the RTP/AVP or RTP/AVPF profile and a non-zero
// port is used. Errors are ErrMalformedSDP (wrapped with the reason), ErrNoAudio and
// ErrUnsupportedProfile.
//
// The a=rtpmap line may be absent for static payload types (RFC 3551): PCMU and PCMA are
// inferred as 8000 Hz.
func ParseSDP(b []byte) (*Description, error) {
	text := string(b)
	if !strings.HasSuffix(text, "\n") {
		text += "\r\n" // the parser wants every line ended, the last one too
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedSDP, err)
	}
	if len(sd.TimeDescriptions) == 0 {
		// The parser accepts a body that ends early; v=, o=, s= and t= come first.
		return nil, fmt.Errorf("%w: incomplete session description", ErrMalformedSDP)
	}

	audio, err := pickAudio(sd.MediaDescriptions)
	if err != nil {
		return nil, err
	}
	md := sd.MediaDescriptions[audio]

	d := &Description{
		SessionID:      sd.Origin.SessionID,
		SessionVersion: sd.Origin.SessionVersion,
		Port:           md.MediaName.Port.Value,
		Direction:      SendRecv,
	}

	ci := sd.ConnectionInformation
	if md.ConnectionInformation != nil {
		ci = md.ConnectionInformation
	}
	held := false
	switch {
	case ci != nil && ci.Address != nil:
		host, _, _ := strings.Cut(ci.Address.Address, "/") // multicast TTL/range
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("%w: connection address %q", ErrMalformedSDP, ci.Address.Address)
		}
		if addr.IsUnspecified() {
			held = true
		} else {
			d.Addr = addr.Unmap()
		}
	case d.Port != 0:
		return nil, fmt.Errorf("%w: no connection address (c=) for the audio stream", ErrMalformedSDP)
	}

	if dir, ok := directionAttr(sd.Attributes); ok {
		d.Direction = dir
	}
	if dir, ok := directionAttr(md.Attributes); ok {
		d.Direction = dir
	}
	if held {
		switch d.Direction {
		case SendRecv:
			d.Direction = SendOnly
		case RecvOnly:
			d.Direction = Inactive
		}
	}

	if d.Formats, err = parseFormats(md); err != nil {
		return nil, err
	}

	ptime, ok := md.Attribute("ptime")
	if !ok {
		ptime, _ = sd.Attribute("ptime")
	}
	if ms, err := strconv.Atoi(strings.TrimSpace(ptime)); err == nil && ms > 0 && ms <= 1000 {
		d.PTime = time.Duration(ms) * time.Millisecond
	}

	var before, after strings.Builder
	for i, m := range sd.MediaDescriptions {
		switch {
		case i < audio:
			writeRejected(&before, m.MediaName)
		case i > audio:
			writeRejected(&after, m.MediaName)
		}
	}
	d.rejectBefore, d.rejectAfter = before.String(), after.String()
	return d, nil
}

// pickAudio returns the index of the audio m-line to use.
func pickAudio(mds []*sdp.MediaDescription) (int, error) {
	found, rtp := -1, -1
	for i, md := range mds {
		if md.MediaName.Media != "audio" {
			continue
		}
		found = i
		switch strings.Join(md.MediaName.Protos, "/") {
		case "RTP/AVP", "RTP/AVPF":
		default:
			continue
		}
		if md.MediaName.Port.Value != 0 {
			return i, nil
		}
		if rtp < 0 {
			rtp = i
		}
	}
	switch {
	case rtp >= 0:
		return rtp, nil
	case found >= 0:
		return 0, fmt.Errorf("%w: %s", ErrUnsupportedProfile, strings.Join(mds[found].MediaName.Protos, "/"))
	}
	return 0, ErrNoAudio
}

func directionAttr(attrs []sdp.Attribute) (Direction, bool) {
	d, ok := SendRecv, false
	for _, a := range attrs {
		for _, c := range [...]Direction{SendRecv, SendOnly, RecvOnly, Inactive} {
			if a.Key == c.String() {
				d, ok = c, true
			}
		}
	}
	return d, ok
}

// staticAudio holds the RFC 3551 static audio payload types a peer may offer without
// a=rtpmap.
var staticAudio = map[uint8]Format{
	0:  {Name: "PCMU", ClockRate: 8000, Channels: 1},
	3:  {Name: "GSM", ClockRate: 8000, Channels: 1},
	4:  {Name: "G723", ClockRate: 8000, Channels: 1},
	8:  {Name: "PCMA", ClockRate: 8000, Channels: 1},
	9:  {Name: "G722", ClockRate: 8000, Channels: 1},
	18: {Name: "G729", ClockRate: 8000, Channels: 1},
}

// parseFormats reads the payload formats of an m-line with their rtpmap and fmtp attributes.
func parseFormats(md *sdp.MediaDescription) ([]Format, error) {
	fs := make([]Format, 0, len(md.MediaName.Formats))
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return nil, fmt.Errorf("%w: payload type %q in the audio m-line", ErrMalformedSDP, f)
		}
		fs = append(fs, Format{PayloadType: uint8(pt)})
	}
	for i := range fs {
		f := &fs[i]
		if s, ok := staticAudio[f.PayloadType]; ok {
			f.Name, f.ClockRate, f.Channels = s.Name, s.ClockRate, s.Channels
		}
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		ptText, value, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
		pt, err := strconv.ParseUint(ptText, 10, 7)
		if err != nil {
			continue // an attribute for no payload type of ours
		}
		for i := range fs {
			f := &fs[i]
			if f.PayloadType != uint8(pt) {
				continue
			}
			if a.Key == "fmtp" {
				f.Fmtp = strings.TrimSpace(value)
				continue
			}
			// rtpmap: <encoding name>/<clock rate>[/<channels>]; an unreadable one is
			// ignored and the static defaults (if any) stay.
			parts := strings.Split(strings.TrimSpace(value), "/")
			if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
				continue
			}
			rate, err := strconv.ParseUint(parts[1], 10, 32)
			if err != nil {
				continue
			}
			ch := 1
			if len(parts) == 3 {
				if ch, err = strconv.Atoi(parts[2]); err != nil || ch < 1 {
					continue
				}
			}
			f.Name, f.ClockRate, f.Channels = parts[0], uint32(rate), ch
		}
	}
	return fs, nil
}

// writeRejected writes an m-line with port 0 that rejects the stream m describes.
func writeRejected(b *strings.Builder, m sdp.MediaName) {
	format := "0"
	if len(m.Formats) > 0 {
		format = m.Formats[0]
	}
	fmt.Fprintf(b, "m=%s 0 %s %s\r\n", m.Media, strings.Join(m.Protos, "/"), format)
}

// Negotiated is the outcome of offer/answer for the audio stream. Values are comparable
// with ==.
type Negotiated struct {
	Codec     Codec          // the chosen audio codec, with the payload type of the offer
	DTMF      uint8          // telephone-event payload type; 0 (PCMU's, never a telephone-event's) when none
	PTime     time.Duration  // the offer's ptime or DefaultPTime, 10..60 ms in steps of 10
	Remote    netip.AddrPort // where to send RTP; zero when held with 0.0.0.0
	Direction Direction      // OUR direction: the Answer of the peer's

	rejectBefore, rejectAfter string // the offer's other m-lines, see Description
}

// Negotiate answers an offer (RFC 3264 section 6.1). It picks the first format of the offer
// that is one of allowed, following the offer's order of preference, and telephone-event/8000
// (RFC 4733) when offered, with the offer's dynamic payload type.
//
// Errors are ErrNoCommonCodec and ErrStreamRejected (port 0). With ErrStreamRejected the
// Negotiated is still usable by Answer, which then writes a valid answer that rejects the
// stream too.
func Negotiate(offer *Description, allowed []Codec) (Negotiated, error) {
	n := Negotiated{
		Direction:    offer.Direction.Answer(),
		rejectBefore: offer.rejectBefore,
		rejectAfter:  offer.rejectAfter,
	}
	if offer.Port == 0 {
		return n, ErrStreamRejected
	}
	var ok bool
	if n.Codec, ok = pickCodec(offer.Formats, allowed); !ok {
		return Negotiated{}, ErrNoCommonCodec
	}
	n.DTMF = telephoneEvent(offer.Formats)
	n.PTime = clampPTime(offer.PTime)
	if offer.Addr.IsValid() {
		n.Remote = netip.AddrPortFrom(offer.Addr, uint16(offer.Port))
	}
	return n, nil
}

// AnswerTo reads the answer to our Offer (in the ACK of a delayed-offer INVITE): the codec
// the answerer chose (the first format of the answer that we offered), its telephone-event
// payload type, ptime and address. Errors are ErrNoCommonCodec and ErrStreamRejected.
func AnswerTo(answer *Description, offered []Codec) (Negotiated, error) {
	if answer.Port == 0 {
		return Negotiated{}, ErrStreamRejected
	}
	c, ok := pickCodec(answer.Formats, offered)
	if !ok {
		return Negotiated{}, ErrNoCommonCodec
	}
	n := Negotiated{
		Codec:     c,
		DTMF:      telephoneEvent(answer.Formats),
		PTime:     clampPTime(answer.PTime),
		Direction: answer.Direction.Answer(),
	}
	if answer.Addr.IsValid() {
		n.Remote = netip.AddrPortFrom(answer.Addr, uint16(answer.Port))
	}
	return n, nil
}

// pickCodec returns the first of formats that is one of codecs (same name, clock rate, mono),
// with the payload type the format carries.
func pickCodec(formats []Format, codecs []Codec) (Codec, bool) {
	for _, f := range formats {
		if f.Channels > 1 {
			continue
		}
		for _, c := range codecs {
			if equalFold(f.Name, c.Name) && f.ClockRate == c.ClockRate {
				c.PayloadType = f.PayloadType
				return c, true
			}
		}
	}
	return Codec{}, false
}

// telephoneEvent returns the payload type of telephone-event/8000, or 0.
func telephoneEvent(formats []Format) uint8 {
	for _, f := range formats {
		if equalFold(f.Name, "telephone-event") && f.ClockRate == 8000 && f.PayloadType != 0 {
			return f.PayloadType
		}
	}
	return 0
}

// clampPTime returns ptime (DefaultPTime if 0) rounded down to 10 ms and kept in 10..60 ms.
func clampPTime(p time.Duration) time.Duration {
	if p == 0 {
		return DefaultPTime
	}
	p = p.Truncate(10 * time.Millisecond)
	return min(max(p, 10*time.Millisecond), 60*time.Millisecond)
}

// Origin holds the fields of the o= line. Version must increase with every new description
// of the same session, for example each re-INVITE answer (RFC 3264 section 8).
type Origin struct {
	Username           string     // "-" when empty
	SessionID, Version uint64     // session id and version
	Addr               netip.Addr // the local address when invalid
}

// Answer writes the SDP answer for n (CRLF line endings): the audio m-line on local with the
// chosen codec, telephone-event when n.DTMF is set (events 0-16), a=ptime and our direction.
// The offer's other m-lines are answered with port 0. When n has no codec (the stream was
// rejected) or local has port 0, the audio stream is rejected with port 0.
func Answer(local netip.AddrPort, n Negotiated, o Origin) []byte {
	var b strings.Builder
	writeSessionLines(&b, local, o)
	b.WriteString(n.rejectBefore)
	if n.Codec.Name == "" || local.Port() == 0 {
		fmt.Fprintf(&b, "m=audio 0 RTP/AVP %d\r\n", n.Codec.PayloadType)
	} else {
		writeAudioMLine(&b, local.Port(), []Codec{n.Codec}, n.DTMF, n.PTime, n.Direction)
	}
	b.WriteString(n.rejectAfter)
	return []byte(b.String())
}

// Offer writes an SDP offer for a delayed-offer INVITE (the offer goes in our 200 OK): all
// codecs in order, telephone-event with payload type dtmfPT (for example 101) unless it is 0,
// a=ptime (DefaultPTime when ptime is 0) and a=sendrecv.
func Offer(local netip.AddrPort, codecs []Codec, dtmfPT uint8, ptime time.Duration, o Origin) []byte {
	var b strings.Builder
	writeSessionLines(&b, local, o)
	writeAudioMLine(&b, local.Port(), codecs, dtmfPT, ptime, SendRecv)
	return []byte(b.String())
}

// writeSessionLines writes the session-level lines v=, o=, s=, c= and t=.
func writeSessionLines(b *strings.Builder, local netip.AddrPort, o Origin) {
	user := o.Username
	if user == "" {
		user = "-"
	}
	oaddr := o.Addr
	if !oaddr.IsValid() {
		oaddr = local.Addr()
	}
	b.WriteString("v=0\r\n")
	fmt.Fprintf(b, "o=%s %d %d IN %s\r\n", user, o.SessionID, o.Version, inAddr(oaddr))
	b.WriteString("s=-\r\n")
	fmt.Fprintf(b, "c=IN %s\r\n", inAddr(local.Addr()))
	b.WriteString("t=0 0\r\n")
}

// inAddr writes an address as "<addrtype> <address>" for o= and c= lines.
func inAddr(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case a.Is4():
		return "IP4 " + a.String()
	case a.Is6():
		return "IP6 " + a.String()
	}
	return "IP4 0.0.0.0"
}

// writeAudioMLine writes the audio m-line and its attributes.
func writeAudioMLine(b *strings.Builder, port uint16, codecs []Codec, dtmf uint8, ptime time.Duration, dir Direction) {
	fmt.Fprintf(b, "m=audio %d RTP/AVP", port)
	for _, c := range codecs {
		fmt.Fprintf(b, " %d", c.PayloadType)
	}
	if dtmf != 0 {
		fmt.Fprintf(b, " %d", dtmf)
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		fmt.Fprintf(b, "a=rtpmap:%d %s/%d\r\n", c.PayloadType, c.Name, c.ClockRate)
	}
	if dtmf != 0 {
		fmt.Fprintf(b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", dtmf, dtmf)
	}
	if ptime <= 0 {
		ptime = DefaultPTime
	}
	fmt.Fprintf(b, "a=ptime:%d\r\n", ptime.Milliseconds())
	fmt.Fprintf(b, "a=%s\r\n", dir)
}
