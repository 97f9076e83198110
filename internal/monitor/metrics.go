package monitor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmward/wasmward/internal/alert"
)

// metrics are the alert machinery's Prometheus collectors (on the
// gateway's registry).
type metrics struct {
	m           *Monitor
	soft        *prometheus.CounterVec
	transitions *prometheus.CounterVec
	actions     *prometheus.CounterVec
	refused     *prometheus.CounterVec
	findings    *prometheus.GaugeVec
	alertsDesc  *prometheus.Desc
}

// MetricNames are the metrics the monitor exports (the Prometheus rule
// export and the dashboards name only these and the gateway's).
var MetricNames = []string{"wasmward_soft_events_total", "wasmward_alerts", "wasmward_alert_transitions_total",
	"wasmward_alert_actions_total", "wasmward_quarantined", "wasmward_webhook_notifications_total",
	"wasmward_modules_refused_total", "wasmward_dependency_findings"}

func newMetrics(m *Monitor) *metrics {
	return &metrics{
		m: m,
		soft: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmward_soft_events_total", Help: "Runs that reached a soft threshold, by route and kind (memory, duration, fuel, output, host_calls); the request was unaffected.",
		}, []string{"route", "kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmward_alert_transitions_total", Help: "Alert state transitions, by rule and the state entered (pending, firing, resolved, inactive).",
		}, []string{"rule", "state"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmward_alert_actions_total", Help: "Alert actions run, by action (isolate, restart, rollback) and outcome (done, failed).",
		}, []string{"action", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmward_modules_refused_total", Help: "Modules refused for a route (trust, scan, compile, quarantined) at start, reload or deploy, by route and kind.",
		}, []string{"route", "kind"}),
		findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wasmward_dependency_findings", Help: "OSV advisories matching the SBOM of a served module, by route and module digest (alerting.osv_dir).",
		}, []string{"route", "sha256"}),
		alertsDesc: prometheus.NewDesc("wasmward_alerts", "Alerts listed now, by rule and state (pending, firing, resolved).", []string{"rule", "state"}, nil),
	}
}

func (x *metrics) collectors() []prometheus.Collector {
	m := x.m
	cs := []prometheus.Collector{x.soft, x.transitions, x.actions, x.refused, x.findings, x,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wasmward_quarantined", Help: "Modules (digests) quarantined now; released only by an operator.",
		}, func() float64 {
			if m.q == nil {
				return 0
			}
			return float64(m.q.Len())
		})}
	if m.notif != nil {
		cs = append(cs, &webhookCollector{m: m, desc: prometheus.NewDesc("wasmward_webhook_notifications_total",
			"Webhook notifications by result: sent, failed (after every retry), dropped (queue full), retried (attempts after a failure).", []string{"result"}, nil)})
	}
	return cs
}

// Describe implements prometheus.Collector (wasmward_alerts).
func (x *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- x.alertsDesc }

// Collect implements prometheus.Collector: every rule has a series per
// state, zeros included, so that dashboards and rules see them from the
// start.
func (x *metrics) Collect(ch chan<- prometheus.Metric) {
	counts := map[[2]string]int{}
	for _, a := range x.m.eng.Snapshot() {
		counts[[2]string{a.Rule, string(a.State)}]++
	}
	for _, r := range x.m.cfg.Rules {
		for _, s := range alert.States {
			ch <- prometheus.MustNewConstMetric(x.alertsDesc, prometheus.GaugeValue, float64(counts[[2]string{r.Name, string(s)}]), r.Name, string(s))
		}
	}
}

type webhookCollector struct {
	m    *Monitor
	desc *prometheus.Desc
}

func (w *webhookCollector) Describe(ch chan<- *prometheus.Desc) { ch <- w.desc }

func (w *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	s := w.m.notif.Stats()
	for _, x := range []struct {
		r string
		v uint64
	}{{"sent", s.Sent}, {"failed", s.Failed}, {"dropped", s.Dropped}, {"retried", s.Retried}} {
		ch <- prometheus.MustNewConstMetric(w.desc, prometheus.CounterValue, float64(x.v), x.r)
	}
}
