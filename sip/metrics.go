package sip

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts signalling traffic. Label values are bounded: methods are the ones we
// serve plus "other", codes are the ones we send, reasons a fixed set.
type Metrics struct {
	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
	rejects   *prometheus.CounterVec
	malformed prometheus.Counter
}

// NewMetrics registers the SIP metrics on reg; a nil reg keeps them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_sip_requests_total", Help: "SIP requests received, by method.",
		}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_sip_responses_total", Help: "SIP responses sent, by status code.",
		}, []string{"code"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_sip_rejected_total", Help: "INVITEs and probes refused before a dialog existed, by reason.",
		}, []string{"reason"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_sip_malformed_total", Help: "Datagrams refused as malformed SIP (answered 400 when they were requests).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.responses, m.rejects, m.malformed)
	}
	return m
}

func (m *Metrics) request(method string) { m.requests.WithLabelValues(method).Inc() }

func (m *Metrics) response(code int) { m.responses.WithLabelValues(strconv.Itoa(code)).Inc() }

// rejected takes one of: forbidden, unauthorised, standby, limit, or a status code.
func (m *Metrics) rejected(reason string) { m.rejects.WithLabelValues(reason).Inc() }
