package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wasmward/wasmward/sandbox"
)

// metrics are the gateway's Prometheus collectors, on a registry of its own
// (never the global one), so two servers in one process do not collide.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	instance    *prometheus.HistogramVec
	inFlight    *prometheus.GaugeVec
	violations  *prometheus.CounterVec
	memPeak     *prometheus.GaugeVec
	fuel        *prometheus.CounterVec
	rateLimited prometheus.Counter
	refused     *prometheus.CounterVec
	guestErrors *prometheus.CounterVec
	clientGone  *prometheus.CounterVec
	connOpen    *prometheus.GaugeVec
	connRefused *prometheus.CounterVec
	connEvicted *prometheus.CounterVec
	netReqs     *prometheus.CounterVec
	netBytes    *prometheus.CounterVec
	netDenied   *prometheus.CounterVec
	// extra are the gateway's wasmward_* collectors and those added by
	// Server.RegisterMetrics (Server.MetricNames).
	extra []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_requests_total", Help: "HTTP requests answered, by route and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wasmward_request_duration_seconds", Help: "Time from the request's arrival to its response, by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	m.instance = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wasmward_instance_duration_seconds", Help: "Time to instantiate a fresh instance and run the handler in it, by route.",
		Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1, 5},
	}, []string{"route"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wasmward_instances_in_flight", Help: "Guest instances running now, by route.",
	}, []string{"route"})
	m.violations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_violations_total", Help: "Guests stopped for a policy limit, by route and kind.",
	}, []string{"route", "kind"})
	m.memPeak = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wasmward_guest_memory_peak_bytes", Help: "Largest linear memory any instance of the route reached.",
	}, []string{"route"})
	m.fuel = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_fuel_consumed_total", Help: "Fuel consumed by guests of routes with metering on.",
	}, []string{"route"})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wasmward_rate_limited_total", Help: "Requests refused with 429 by the per-client rate limit.",
	})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_refused_total", Help: "Requests refused before a guest ran, by route and reason.",
	}, []string{"route", "reason"})
	m.guestErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_guest_errors_total", Help: "Guest runs that gave no valid response (trap, violation, bad response, exit status), by route and kind.",
	}, []string{"route", "kind"})
	m.clientGone = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_client_closed_total", Help: "Runs whose client hung up before the response (outcome client_closed, not a violation), by route.",
	}, []string{"route"})
	m.connOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wasmward_connections_open", Help: "Connections open now, by listener (public, admin).",
	}, []string{"listener"})
	m.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_connections_refused_total", Help: "Connections closed at accept because a limit was reached with no idle connection to close, by listener and limit (limit, client_limit).",
	}, []string{"listener", "reason"})
	m.connEvicted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_connections_evicted_total", Help: "Idle connections closed to make room (limit) or by the idle timeout under pressure (pressure).",
	}, []string{"reason"})
	m.netReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_net_requests_total", Help: "Outbound requests guests sent through the network capability, by route and destination host (the policy rule's host: never a URL).",
	}, []string{"route", "host"})
	m.netBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_net_response_bytes_total", Help: "Response body bytes guests received through the network capability, by route and destination host (the policy rule's host).",
	}, []string{"route", "host"})
	m.netDenied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wasmward_net_denied_total", Help: "Outbound requests the network capability refused, by route and reason (not_allowed, private_address, redirect, budget, quota).",
	}, []string{"route", "reason"})
	m.reg.MustRegister(m.netReqs, m.netBytes, m.netDenied)
	m.reg.MustRegister(m.requests, m.duration, m.instance, m.inFlight, m.violations, m.memPeak,
		m.fuel, m.rateLimited, m.refused, m.guestErrors, m.clientGone, m.connOpen, m.connRefused, m.connEvicted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.extra = []prometheus.Collector{m.netReqs, m.netBytes, m.netDenied, m.requests, m.duration, m.instance, m.inFlight,
		m.violations, m.memPeak, m.fuel, m.rateLimited, m.refused, m.guestErrors, m.clientGone, m.connOpen, m.connRefused, m.connEvicted}
	return m
}

// routeMetrics are one route's children, looked up once so the request path
// does no label hashing for them.
type routeMetrics struct {
	m        *metrics
	label    string
	duration prometheus.Observer
	instance prometheus.Observer
	inFlight prometheus.Gauge
	memPeak  prometheus.Gauge
	fuel     prometheus.Counter
	peak     atomic.Uint64
	codes    [600]atomic.Pointer[prometheus.Counter]
}

func (m *metrics) forRoute(label string) *routeMetrics {
	return &routeMetrics{
		m:        m,
		label:    label,
		duration: m.duration.WithLabelValues(label),
		instance: m.instance.WithLabelValues(label),
		inFlight: m.inFlight.WithLabelValues(label),
		memPeak:  m.memPeak.WithLabelValues(label),
		fuel:     m.fuel.WithLabelValues(label),
	}
}

// code counts one response with status code.
func (rm *routeMetrics) code(code int) {
	if code < 0 || code >= len(rm.codes) {
		rm.m.requests.WithLabelValues(rm.label, strconv.Itoa(code)).Inc()
		return
	}
	c := rm.codes[code].Load()
	if c == nil {
		n := rm.m.requests.WithLabelValues(rm.label, strconv.Itoa(code))
		rm.codes[code].CompareAndSwap(nil, &n)
		c = rm.codes[code].Load()
	}
	(*c).Inc()
}

// observePeak raises the route's memory peak gauge.
func (rm *routeMetrics) observePeak(b uint64) {
	for {
		old := rm.peak.Load()
		if b <= old {
			return
		}
		if rm.peak.CompareAndSwap(old, b) {
			rm.memPeak.Set(float64(b))
			return
		}
	}
}

// observeNet counts a run's outbound requests per destination and its
// refused attempts per reason. Hosts are labelled by the policy rule that
// allowed them ("*.example.com" for every name under a wildcard), so the
// label set is bounded by the policy, not by what guests ask for.
func (rm *routeMetrics) observeNet(n *sandbox.NetworkReport) {
	for _, h := range n.Hosts {
		rm.m.netReqs.WithLabelValues(rm.label, h.Rule).Add(float64(h.Requests))
		if h.ResponseBytes > 0 {
			rm.m.netBytes.WithLabelValues(rm.label, h.Rule).Add(float64(h.ResponseBytes))
		}
	}
	for reason, c := range n.Denied {
		rm.m.netDenied.WithLabelValues(rm.label, reason).Add(float64(c))
	}
}
