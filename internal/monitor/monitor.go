// Package monitor connects the alert engine (internal/alert) to a running
// gateway: it implements gateway.Monitor (soft thresholds on every run's
// report, samples to the engine, the quarantine check at admission), runs
// the rules' actions (isolate, restart, rollback, notify), keeps the
// dependency findings of the served modules, and serves the admin API's
// /v1/alerts and /v1/quarantine. Every action is idempotent and audited.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/alert"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/notify"
	"github.com/wasmward/wasmward/internal/quarantine"
)

// Audit event types of the alert machinery.
const (
	TypeSoft        = "soft"
	TypeAlert       = "alert"
	TypeAction      = "alert_action"
	TypeQuarantine  = "quarantine"
	TypeRelease     = "quarantine_release"
	actionQueueSize = 1024
)

// Options configure a Monitor.
type Options struct {
	// Server is the gateway watched.
	Server *gateway.Server
	// Config is the configuration's alerting part.
	Config alert.Config
	// Resolve reads a module reference's bytes (restart recompiles from
	// them, findings scan them); the deployments' resolver.
	Resolve deploy.Resolver
	// Token is the admin token (POST /v1/quarantine/ID/release); nil makes
	// the API read-only.
	Token []byte
	// Logger; nil uses slog.Default().
	Logger *slog.Logger
	// HTTPClient sends webhook notifications (tests); nil: a client of
	// the notifier's own.
	HTTPClient *http.Client
	// ExternalURL is the admin listener's URL, for notifications.
	ExternalURL string
	// WebhookBackoff is the first retry's delay (0: the notifier's default).
	WebhookBackoff time.Duration
	// Install installs the monitor on the gateway (gateway.SetMonitor).
	// Without it the monitor serves its admin API (empty) and sees nothing.
	Install bool
}

// Monitor watches a gateway. Create it with New before the gateway serves
// and before deployments start; Start runs it.
type Monitor struct {
	srv     *gateway.Server
	cfg     alert.Config
	resolve deploy.Resolver
	token   []byte
	log     *slog.Logger
	eng     *alert.Engine
	q       *quarantine.Store
	notif   *notify.Notifier
	metrics *metrics
	deploys *deploy.Manager

	actions chan alert.Alert

	rmu      sync.Mutex
	restarts map[string][]time.Time // digest -> restart times within the window

	fmu     sync.Mutex
	scanned map[string]bool // "route sha" scanned against the current OSV database

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New builds a monitor for opts.Server and, with opts.Install, installs it
// (gateway.SetMonitor):
// it opens the quarantine of the state directory (a file it cannot read
// is an error), reads the webhook secret and registers the metrics.
func New(opts Options) (*Monitor, error) {
	m := &Monitor{srv: opts.Server, cfg: opts.Config, resolve: opts.Resolve, token: opts.Token, log: opts.Logger,
		actions: make(chan alert.Alert, actionQueueSize), restarts: map[string][]time.Time{}, scanned: map[string]bool{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.cfg.StateDir != "" {
		q, err := quarantine.Open(m.cfg.StateDir)
		if err != nil {
			return nil, err
		}
		m.q = q
	}
	if w := m.cfg.Webhook; w.URL != "" {
		secret, err := notify.ReadSecret(w.SecretFile)
		if err != nil {
			return nil, err
		}
		m.notif = notify.New(notify.Options{URL: w.URL, Secret: secret, Format: w.Format, Timeout: w.Timeout, Retries: w.Retries,
			Queue: w.Queue, Client: opts.HTTPClient, Logger: m.log, ExternalURL: opts.ExternalURL, Backoff: opts.WebhookBackoff})
	}
	m.eng = alert.NewEngine(m.cfg.Rules, alert.Options{OnTransition: m.transition})
	m.metrics = newMetrics(m)
	if err := m.srv.RegisterMetrics(m.metrics.collectors()...); err != nil {
		return nil, err
	}
	if opts.Install {
		m.srv.SetMonitor(m)
	}
	return m, nil
}

// SetDeployments gives the monitor the deployment manager rollback
// actions go through. Call it before Start.
func (m *Monitor) SetDeployments(d *deploy.Manager) { m.deploys = d }

// Engine is the alert engine: Snapshot lists the alerts, Subscribe
// follows their transitions.
func (m *Monitor) Engine() *alert.Engine { return m.eng }

// Quarantine is the quarantine (nil without a state directory).
func (m *Monitor) Quarantine() *quarantine.Store { return m.q }

// Start runs the engine's evaluation, the action worker, the notifier and
// the findings watcher until Close.
func (m *Monitor) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	run := func(f func(context.Context)) {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			f(ctx)
		}()
	}
	run(m.eng.Run)
	run(m.actionWorker)
	if m.notif != nil {
		run(m.notif.Run)
	}
	if m.cfg.OSVDir != "" && m.usesFindings() {
		run(m.watchFindings)
	}
}

// Close stops what Start started and waits for it.
func (m *Monitor) Close() {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
}

// Quarantined implements gateway.Monitor.
func (m *Monitor) Quarantined(sha string) bool { return m.q != nil && m.q.Quarantined(sha) }

// Finished implements gateway.Monitor: the run's soft thresholds are
// checked, each breach counted, audited and fed to the engine with the
// run's outcome.
func (m *Monitor) Finished(r *gateway.RunResult) {
	s := alert.Sample{Route: r.Route, SHA256: r.SHA256, Module: r.Module, Status: r.Status, Duration: r.Duration}
	switch r.EventType {
	case audit.TypeViolation:
		s.Violation = r.Kind
	case audit.TypeTrap:
		s.Trap = true
	}
	if r.Report != nil && r.Soft != nil {
		rep := r.Report
		u := alert.Usage{PeakMemory: rep.PeakMemoryBytes, MemoryCap: uint64(r.Limits.Memory),
			Duration: time.Duration(rep.DurationMS * float64(time.Millisecond)), Fuel: rep.FuelUsed,
			Stdout: rep.StdoutBytes, Stderr: rep.StderrBytes, OutputCap: uint64(r.Limits.Output), HostCalls: rep.HostCalls}
		var buf [4]alert.SoftEvent
		s.Soft = alert.CheckSoft(buf[:0], r.Soft, &u)
		for _, ev := range s.Soft {
			m.metrics.soft.WithLabelValues(r.Route, ev.Kind).Inc()
			m.srv.Event(audit.Event{Type: TypeSoft, Route: r.Route, Module: r.Module, SHA256: r.SHA256, RequestID: r.RequestID,
				Client: r.Client, Kind: ev.Kind, Detail: softDetail(ev)})
		}
	}
	m.eng.Observe(&s)
}

func softDetail(ev alert.SoftEvent) string {
	switch ev.Kind {
	case alert.SoftMemory:
		return fmt.Sprintf("memory %.1f%% of the cap (soft threshold %g%%)", ev.Value, ev.Threshold)
	case alert.SoftOutput:
		return fmt.Sprintf("output %.1f%% of the cap (soft threshold %g%%)", ev.Value, ev.Threshold)
	case alert.SoftDuration:
		return fmt.Sprintf("duration %.1fms (soft threshold %gms)", ev.Value, ev.Threshold)
	case alert.SoftFuel:
		return fmt.Sprintf("fuel %.0f (soft threshold %.0f)", ev.Value, ev.Threshold)
	}
	return fmt.Sprintf("%s called %.0f times (soft threshold %.0f)", ev.Name, ev.Value, ev.Threshold)
}

// ModuleRefused implements gateway.Monitor.
func (m *Monitor) ModuleRefused(route, module, sha, kind string) {
	if route != "" {
		m.metrics.refused.WithLabelValues(route, kind).Inc()
	}
	if route != "" && sha != "" {
		m.eng.RecordRefused(route, sha, module)
	}
}

// transition is the engine's callback: count, audit, notify, and queue the
// rule's action when an alert fires.
func (m *Monitor) transition(t alert.Transition) {
	a := t.Alert
	m.metrics.transitions.WithLabelValues(a.Rule, string(a.State)).Inc()
	lvl := slog.LevelInfo
	if a.State == alert.Firing {
		lvl = slog.LevelWarn
	}
	m.log.Log(context.Background(), lvl, "alert "+string(a.State), "rule", a.Rule, "route", a.Route, "sha256", a.SHA256,
		"value", a.Value, "threshold", a.Threshold, "severity", a.Severity, "action", a.Action)
	if a.State == alert.Firing || a.State == alert.Resolved {
		m.srv.Event(audit.Event{Type: TypeAlert, Route: a.Route, Module: a.Module, SHA256: a.SHA256, Kind: string(a.State),
			Detail: describe(a)})
	}
	if m.notif != nil && notify.Wants(t) {
		m.notif.Send(t)
	}
	if a.State != alert.Firing {
		return
	}
	switch a.Action {
	case alert.Isolate, alert.Restart, alert.Rollback:
		select {
		case m.actions <- a:
		default:
			// The worker is far behind: act on a goroutine of its own
			// rather than lose an isolation.
			go m.act(context.Background(), a)
		}
	}
}

func describe(a alert.Alert) string {
	sig := string(a.Signal)
	if a.Kind != "" {
		sig += "/" + a.Kind
	}
	over := ""
	if a.Window != "" {
		over = " over " + a.Window
	}
	return fmt.Sprintf("rule %s (%s): %s %g%s, threshold %g; action %s", a.Rule, a.Severity, sig, a.Value, over, a.Threshold, a.Action)
}

func (m *Monitor) actionWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-m.actions:
			m.act(ctx, a)
		}
	}
}

// act runs a firing alert's action and audits what it did.
func (m *Monitor) act(ctx context.Context, a alert.Alert) {
	var res string
	var err error
	switch a.Action {
	case alert.Isolate:
		res, err = m.isolate(a, describe(a))
	case alert.Restart:
		res, err = m.restart(ctx, a)
	case alert.Rollback:
		res, err = m.rollback(ctx, a)
	}
	outcome := "done"
	if err != nil {
		outcome, res = "failed", err.Error()
		m.log.Error("alert action failed", "rule", a.Rule, "action", a.Action, "route", a.Route, "err", err)
	}
	m.metrics.actions.WithLabelValues(string(a.Action), outcome).Inc()
	m.srv.Event(audit.Event{Type: TypeAction, Route: a.Route, Module: a.Module, SHA256: a.SHA256, Kind: string(a.Action),
		Detail: "rule " + a.Rule + ": " + res})
}

// isolate quarantines the alert's module and stops its runs.
func (m *Monitor) isolate(a alert.Alert, why string) (string, error) {
	if m.q == nil {
		return "", errors.New("isolate: no state directory")
	}
	added, err := m.q.Add(quarantine.Entry{SHA256: a.SHA256, Route: a.Route, Module: a.Module, Rule: a.Rule, Reason: why})
	// Stop the runs even when the file could not be written: the module is
	// quarantined in memory already.
	n := m.srv.StopRuns(a.SHA256)
	if !added && err == nil {
		return "already quarantined", nil
	}
	m.srv.Event(audit.Event{Type: TypeQuarantine, Route: a.Route, Module: a.Module, SHA256: a.SHA256, Kind: "isolate",
		Detail: fmt.Sprintf("quarantined by rule %s (%d versions' runs stopped): %s", a.Rule, n, why)})
	if err != nil {
		return "", fmt.Errorf("quarantined in memory but not persisted: %w", err)
	}
	return "quarantined", nil
}

// restart recompiles the alert's module from its bytes and swaps the new
// version in where the old one serves; past RestartMax restarts within
// RestartWindow it isolates instead.
func (m *Monitor) restart(ctx context.Context, a alert.Alert) (string, error) {
	now := time.Now()
	m.rmu.Lock()
	var recent []time.Time
	for _, t := range m.restarts[a.SHA256] {
		if now.Sub(t) < m.cfg.RestartWindow {
			recent = append(recent, t)
		}
	}
	escalate := len(recent) >= m.cfg.RestartMax
	if !escalate {
		recent = append(recent, now)
	}
	m.restarts[a.SHA256] = recent
	m.rmu.Unlock()
	if escalate {
		why := fmt.Sprintf("restarted %d times within %s; escalated to isolate (%s)", len(recent), m.cfg.RestartWindow, describe(a))
		res, err := m.isolate(a, why)
		return "escalated to isolate: " + res, err
	}
	if m.resolve == nil {
		return "", errors.New("restart: no module resolver")
	}
	src, err := m.resolve(ctx, a.Module)
	if err != nil {
		return "", fmt.Errorf("restart: %w", err)
	}
	if digest.SHA256Hex(src.Wasm) != a.SHA256 {
		return "", fmt.Errorf("restart: %s no longer has digest %.12s", a.Module, a.SHA256)
	}
	v, err := m.srv.Prepare(ctx, a.Route, src)
	if err != nil {
		return "", fmt.Errorf("restart: %w", err)
	}
	defer v.Release()
	active, canary, pct, err := m.srv.Versions(a.Route)
	if err != nil {
		return "", fmt.Errorf("restart: %w", err)
	}
	defer func() {
		active.Release()
		if canary != nil {
			canary.Release()
		}
	}()
	switch {
	case active.SHA256() == a.SHA256:
		err = m.srv.SetVersions(a.Route, v, canary, pct)
	case canary != nil && canary.SHA256() == a.SHA256:
		err = m.srv.SetVersions(a.Route, active, v, pct)
	default:
		return "not restarted: the route no longer serves the module", nil
	}
	if err != nil {
		return "", fmt.Errorf("restart: %w", err)
	}
	m.eng.Reset(a.Route, a.SHA256)
	return fmt.Sprintf("recompiled and swapped in (restart %d of %d within %s)", len(recent), m.cfg.RestartMax, m.cfg.RestartWindow), nil
}

// rollback rolls the route back, through the deployment manager, when the
// alert's module is what the route's latest deployment made active.
func (m *Monitor) rollback(ctx context.Context, a alert.Alert) (string, error) {
	if m.deploys == nil {
		return "", errors.New("rollback: deployments are not available")
	}
	for _, r := range m.deploys.Routes() {
		if r.Route != a.Route {
			continue
		}
		if r.Deployment != "" {
			// A rollout in progress: roll it back (its own watch would too).
			rec, err := m.deploys.Rollback(ctx, r.Deployment)
			if err != nil {
				return "", fmt.Errorf("rollback: %w", err)
			}
			return "deployment " + rec.ID + " rolled back", nil
		}
		for _, v := range r.Versions {
			if v.State != "active" {
				continue
			}
			if v.SHA256 != a.SHA256 {
				return "not rolled back: the route no longer serves the module", nil
			}
			if v.Deployment == "" {
				return "not rolled back: the route serves its configured module (no deployment to roll back)", nil
			}
			rec, err := m.deploys.Rollback(ctx, v.Deployment)
			if err != nil {
				return "", fmt.Errorf("rollback: %w", err)
			}
			return "deployment " + rec.ID + " rolled back", nil
		}
	}
	return "", fmt.Errorf("rollback: %w: %q", gateway.ErrNoRoute, a.Route)
}

// Release ends a quarantine (id: the digest or a 12+ digit prefix) and
// audits it.
func (m *Monitor) Release(id, by string) (quarantine.Entry, error) {
	if m.q == nil {
		return quarantine.Entry{}, fmt.Errorf("%w: no quarantine (alerting.state_dir is not set)", quarantine.ErrNotFound)
	}
	e, err := m.q.Release(id)
	if err != nil {
		return e, err
	}
	m.rmu.Lock()
	delete(m.restarts, e.SHA256)
	m.rmu.Unlock()
	m.srv.Event(audit.Event{Type: TypeRelease, Route: e.Route, Module: e.Module, SHA256: e.SHA256, Kind: "release",
		Detail: "quarantine released by " + by + "; it was: " + e.Reason})
	return e, nil
}

func (m *Monitor) usesFindings() bool {
	for _, r := range m.cfg.Rules {
		if r.Signal == alert.Findings {
			return true
		}
	}
	return false
}

// Handlers returns the admin API's alert handlers by ServeMux pattern:
//
//	GET  /v1/alerts[?state=firing]       alerts listed now, and the rules
//	GET  /v1/quarantine                  quarantined modules
//	POST /v1/quarantine/{id}/release     (admin token) end a quarantine
func (m *Monitor) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /v1/alerts":                   http.HandlerFunc(m.serveAlerts),
		"GET /v1/quarantine":               http.HandlerFunc(m.serveQuarantine),
		"POST /v1/quarantine/{id}/release": deploy.RequireToken(m.token, m.serveRelease),
	}
}

// RuleInfo is a rule as /v1/alerts lists it.
type RuleInfo struct {
	Name      string         `json:"name"`
	Signal    alert.Signal   `json:"signal"`
	Kind      string         `json:"kind,omitempty"`
	Window    string         `json:"over,omitempty"`
	Threshold float64        `json:"threshold"`
	For       string         `json:"for,omitempty"`
	Routes    []string       `json:"routes,omitempty"`
	Severity  alert.Severity `json:"severity"`
	Action    alert.Action   `json:"action"`
}

// AlertsAnswer is GET /v1/alerts.
type AlertsAnswer struct {
	Alerts []alert.Alert `json:"alerts"`
	Rules  []RuleInfo    `json:"rules"`
}

func (m *Monitor) serveAlerts(w http.ResponseWriter, r *http.Request) {
	want := alert.State(r.URL.Query().Get("state"))
	if want != "" && want != alert.Pending && want != alert.Firing && want != alert.Resolved {
		deploy.WriteError(w, http.StatusBadRequest, fmt.Errorf("state %q is not pending, firing or resolved", want))
		return
	}
	ans := AlertsAnswer{Alerts: []alert.Alert{}, Rules: []RuleInfo{}}
	for _, a := range m.eng.Snapshot() {
		if want == "" || a.State == want {
			ans.Alerts = append(ans.Alerts, a)
		}
	}
	for _, rl := range m.cfg.Rules {
		ri := RuleInfo{Name: rl.Name, Signal: rl.Signal, Kind: rl.Kind, Threshold: rl.Threshold(), Routes: rl.Routes,
			Severity: rl.Severity, Action: rl.Action}
		if rl.Over > 0 {
			ri.Window = rl.Over.String()
		}
		if rl.For > 0 {
			ri.For = rl.For.String()
		}
		ans.Rules = append(ans.Rules, ri)
	}
	deploy.WriteJSON(w, http.StatusOK, ans)
}

// QuarantineAnswer is GET /v1/quarantine.
type QuarantineAnswer struct {
	Quarantined []quarantine.Entry `json:"quarantined"`
}

func (m *Monitor) serveQuarantine(w http.ResponseWriter, _ *http.Request) {
	ans := QuarantineAnswer{Quarantined: []quarantine.Entry{}}
	if m.q != nil {
		ans.Quarantined = m.q.List()
	}
	deploy.WriteJSON(w, http.StatusOK, ans)
}

func (m *Monitor) serveRelease(w http.ResponseWriter, r *http.Request) {
	e, err := m.Release(r.PathValue("id"), "an operator (admin API from "+hostOnly(r.RemoteAddr)+")")
	switch {
	case errors.Is(err, quarantine.ErrNotFound):
		deploy.WriteError(w, http.StatusNotFound, err)
	case errors.Is(err, quarantine.ErrAmbiguous):
		deploy.WriteError(w, http.StatusConflict, err)
	case err != nil && strings.Contains(err.Error(), "quarantine ID"):
		deploy.WriteError(w, http.StatusBadRequest, err)
	case err != nil:
		deploy.WriteError(w, http.StatusInternalServerError, err)
	default:
		deploy.WriteJSON(w, http.StatusOK, e)
	}
}

func hostOnly(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		return addr[:i]
	}
	return addr
}
