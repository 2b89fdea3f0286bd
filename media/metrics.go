package media

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline12345/hotline/event"
)

// Reasons for hotline_rtp_packets_dropped_total: a bounded label set.
const (
	dropForeign   = "foreign_source" // not from the latched (or SDP-named) source
	dropMalformed = "malformed"      // not a parseable RTP packet or telephone-event
	dropWrongPT   = "wrong_payload"  // neither the codec's nor the telephone-event payload type
)

// Metrics counts RTP traffic of all sessions that share it. Create one per process
// with NewMetrics and hand it to every SessionConfig; a nil *Metrics records
// nothing. Its methods are safe for concurrent use.
type Metrics struct {
	received   prometheus.Counter
	sent       prometheus.Counter
	lost       prometheus.Counter
	foreign    prometheus.Counter
	malformed  prometheus.Counter
	wrongPT    prometheus.Counter
	forwarded  prometheus.Counter
	transcoded prometheus.Counter
	dtmf       *prometheus.CounterVec
	dtmfVia    map[string]prometheus.Counter // pre-resolved children of dtmf
	jitter     prometheus.Histogram
	peers      prometheus.Gauge
	peerFails  prometheus.Counter
	restarts   prometheus.Counter

	// lateHook, when set (tests and benchmarks only, before any session starts),
	// receives every pacing lateness next to the histogram.
	lateHook func(time.Duration)
}

// NewMetrics creates the RTP and DTMF metrics and registers them on reg:
//
//	hotline_rtp_packets_received_total   packets accepted from the latched source
//	hotline_rtp_packets_sent_total       packets sent (paced and forwarded)
//	hotline_rtp_packets_forwarded_total  packets a bridge forwarded from one leg out of another
//	hotline_rtp_packets_transcoded_total forwarded audio packets converted between u-law and A-law
//	hotline_rtp_packets_lost_total       packets missing from the sequence-number space
//	hotline_rtp_packets_dropped_total{reason="foreign_source|malformed|wrong_payload"}
//	hotline_dtmf_events_total{via="rfc4733|info|inband"}
//	hotline_rtp_pacing_jitter_seconds    how late each send was against its deadline
//	hotline_webrtc_peers                 agents' WebRTC connections open
//	hotline_webrtc_connection_failures_total, hotline_webrtc_ice_restarts_total
//
// A nil reg leaves them unregistered. It panics if the names are already registered on
// reg, like prometheus.MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotline_rtp_packets_dropped_total",
		Help: "RTP packets received and dropped, by reason.",
	}, []string{"reason"})
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_rtp_packets_received_total",
			Help: "RTP packets accepted from the latched source of a session.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_rtp_packets_sent_total",
			Help: "RTP packets sent by sessions.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_rtp_packets_lost_total",
			Help: "RTP packets never received, from gaps in the sequence numbers.",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_rtp_packets_forwarded_total",
			Help: "RTP packets a bridge forwarded from one leg out of another.",
		}),
		transcoded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_rtp_packets_transcoded_total",
			Help: "Forwarded RTP audio packets converted between u-law and A-law.",
		}),
		foreign:   dropped.WithLabelValues(dropForeign),
		malformed: dropped.WithLabelValues(dropMalformed),
		wrongPT:   dropped.WithLabelValues(dropWrongPT),
		dtmf: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_dtmf_events_total",
			Help: "DTMF digits received, by how they came (rfc4733, info, inband).",
		}, []string{"via"}),
		jitter: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hotline_rtp_pacing_jitter_seconds",
			Help:    "How late each outgoing RTP packet was sent against its deadline.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02},
		}),
	}
	m.peers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hotline_webrtc_peers",
		Help: "Agents' WebRTC media connections open.",
	})
	m.peerFails = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hotline_webrtc_connection_failures_total",
		Help: "Agents' WebRTC media connections that failed (no packet from the browser within the failed timeout).",
	})
	m.restarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hotline_webrtc_ice_restarts_total",
		Help: "ICE restarts (renegotiations) of agents' WebRTC connections.",
	})
	m.dtmfVia = map[string]prometheus.Counter{
		event.ViaRFC4733: m.dtmf.WithLabelValues(event.ViaRFC4733),
		event.ViaINFO:    m.dtmf.WithLabelValues(event.ViaINFO),
		event.ViaInband:  m.dtmf.WithLabelValues(event.ViaInband),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.sent, m.lost, m.forwarded, m.transcoded, dropped, m.dtmf, m.jitter,
			m.peers, m.peerFails, m.restarts)
	}
	return m
}

// DTMF counts one digit received via event.ViaRFC4733, event.ViaINFO or
// event.ViaInband. Other values are ignored, so the label set stays bounded. The
// SIP INFO path calls it too.
func (m *Metrics) DTMF(via string) {
	if m == nil {
		return
	}
	if c, ok := m.dtmfVia[via]; ok {
		c.Inc()
	}
}

func (m *Metrics) packetReceived() {
	if m != nil {
		m.received.Inc()
	}
}

func (m *Metrics) packetSent(late time.Duration) {
	if m == nil {
		return
	}
	m.sent.Inc()
	m.jitter.Observe(late.Seconds())
	if m.lateHook != nil {
		m.lateHook(late)
	}
}

// packetForwarded counts one packet sent by a bridge (not a paced send: no
// jitter observation).
func (m *Metrics) packetForwarded(transcoded bool) {
	if m == nil {
		return
	}
	m.sent.Inc()
	m.forwarded.Inc()
	if transcoded {
		m.transcoded.Inc()
	}
}

func (m *Metrics) packetsLost(n int) {
	if m != nil && n > 0 {
		m.lost.Add(float64(n))
	}
}

func (m *Metrics) dropped(reason string) {
	if m == nil {
		return
	}
	switch reason {
	case dropForeign:
		m.foreign.Inc()
	case dropMalformed:
		m.malformed.Inc()
	default:
		m.wrongPT.Inc()
	}
}

func (m *Metrics) peerOpened() {
	if m != nil {
		m.peers.Inc()
	}
}

func (m *Metrics) peerClosed() {
	if m != nil {
		m.peers.Dec()
	}
}

func (m *Metrics) peerFailed() {
	if m != nil {
		m.peerFails.Inc()
	}
}

func (m *Metrics) iceRestart() {
	if m != nil {
		m.restarts.Inc()
	}
}

// PeerGauge is hotline_webrtc_peers (for tests).
func (m *Metrics) PeerGauge() prometheus.Gauge { return m.peers }
