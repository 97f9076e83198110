// Package alert is the gateway's alert engine: soft thresholds evaluated
// on every run's report, and alert rules over sliding windows of per-route,
// per-module signals (violations, traps, soft events, 5xx, p99 latency,
// dependency findings, refused modules) with a pending period, hysteresis
// on recovery and one action per rule. It knows nothing of HTTP or of the
// gateway: it is fed samples and reports state transitions (see Engine).
// The rule language and each action's guarantees: docs/alerts.md.
package alert

import (
	"fmt"
	"math"
	"path"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/internal/yamlstrict"
	"github.com/wasmward/wasmward/policy"
)

// Signal is what a rule counts.
type Signal string

// The signals a rule may watch.
const (
	// Violations counts runs stopped for a policy limit (when.kind: one
	// violation kind, memory_limit, timeout, ...).
	Violations Signal = "violations"
	// Traps counts runs that trapped.
	Traps Signal = "traps"
	// Soft counts soft-threshold breaches (when.kind: memory, duration,
	// fuel, output, host_calls).
	Soft Signal = "soft"
	// Errors5xx counts responses with a 5xx status.
	Errors5xx Signal = "errors_5xx"
	// P99 is the 99th percentile of request latency in milliseconds.
	P99 Signal = "p99_ms"
	// Findings is the number of dependency findings (SBOM + OSV) of the
	// module, a level rather than a count of events.
	Findings Signal = "findings"
	// RefusedDeploys counts modules refused for the route (trust, scan,
	// compile) when deployed or reloaded.
	RefusedDeploys Signal = "refused_deploys"
)

var signals = []Signal{Violations, Traps, Soft, Errors5xx, P99, Findings, RefusedDeploys}

// Severity is a rule's severity, from info to critical.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Action is what a rule does when its alert fires.
type Action string

// The actions. Every alert that fires or resolves is also sent to the
// webhook when one is configured; notify does only that.
const (
	Isolate  Action = "isolate"
	Restart  Action = "restart"
	Rollback Action = "rollback"
	Notify   Action = "notify"
)

// Soft-threshold kinds (Soft events and the soft signal's when.kind).
const (
	SoftMemory    = "memory"
	SoftDuration  = "duration"
	SoftFuel      = "fuel"
	SoftOutput    = "output"
	SoftHostCalls = "host_calls"
)

var softKinds = []string{SoftMemory, SoftDuration, SoftFuel, SoftOutput, SoftHostCalls}

// Rule is one validated alert rule.
type Rule struct {
	Name string
	// Signal and Kind (a violation or soft kind; "" for every kind) say
	// what is counted.
	Signal Signal
	Kind   string
	// Over is the sliding window the signal is counted over.
	Over time.Duration
	// The condition holds when, over the window, the count of events
	// reaches Count, or (Rate > 0) events per request reach Rate with at
	// least MinRequests requests, or (p99_ms) the p99 latency is above
	// Above milliseconds with at least MinRequests requests, or
	// (findings) the module has at least Count findings.
	Count       int
	Rate        float64
	Above       float64
	MinRequests int
	// For is how long the condition must hold before the alert fires
	// (pending until then); 0 fires at once.
	For time.Duration
	// ResolveBelow and ResolveAfter are the hysteresis: a firing alert
	// resolves only once its value stayed below ResolveBelow (lower than
	// the firing threshold) for ResolveAfter.
	ResolveBelow float64
	ResolveAfter time.Duration
	// Routes are route patterns ("/x" one route, "/x/..." every route at or
	// below /x); empty matches every route.
	Routes   []string
	Severity Severity
	Action   Action
}

// Threshold is the value at or above which the rule's condition holds.
func (r *Rule) Threshold() float64 {
	switch {
	case r.Signal == P99:
		return r.Above
	case r.Rate > 0:
		return r.Rate
	}
	return float64(r.Count)
}

// MatchRoute reports whether the rule applies to the route labelled label
// ("/x" or "/x/...").
func (r *Rule) MatchRoute(label string) bool {
	if len(r.Routes) == 0 {
		return true
	}
	for _, p := range r.Routes {
		if MatchRoute(p, label) {
			return true
		}
	}
	return false
}

// MatchRoute reports whether route pattern p matches the route labelled
// label: "/x" matches only the route /x; "/x/..." matches /x, /x/... and
// every route below /x ("/x/y", "/x/y/..."); "/..." matches every route.
func MatchRoute(p, label string) bool {
	base, prefix := strings.CutSuffix(p, "/...")
	if !prefix {
		return p == label
	}
	lp := strings.TrimSuffix(label, "/...")
	if base == "" {
		return true
	}
	return lp == base || strings.HasPrefix(lp, base+"/")
}

// Thresholds are soft thresholds: a run at or above one is a soft event.
// Zero (or nil for HostCalls) leaves a threshold off.
type Thresholds struct {
	// MemoryPercent is the peak linear memory as a percentage of the
	// memory cap.
	MemoryPercent float64
	// Duration is the run's wall-clock time.
	Duration time.Duration
	// Fuel is the fuel used (metered routes only).
	Fuel uint64
	// OutputPercent is stdout or stderr as a percentage of the output cap.
	OutputPercent float64
	// HostCalls are counts of calls per host function ("module.name").
	HostCalls map[string]uint64
}

// Zero reports whether no threshold is set.
func (t *Thresholds) Zero() bool {
	return t == nil || (t.MemoryPercent == 0 && t.Duration == 0 && t.Fuel == 0 && t.OutputPercent == 0 && len(t.HostCalls) == 0)
}

// Webhook is where alerts are sent.
type Webhook struct {
	// URL receives a POST per alert transition.
	URL string
	// SecretFile holds the HMAC-SHA256 key of the X-Wasmward-Signature
	// header (resolved against the configuration's directory).
	SecretFile string
	// Format is "json" (wasmward's body) or "alertmanager" (the
	// Alertmanager webhook body, a list of alerts).
	Format string
	// Timeout bounds one delivery attempt; Retries is how many attempts
	// follow a failed one (with exponential backoff); Queue bounds the
	// notifications waiting (the oldest is dropped, and counted, past it).
	Timeout time.Duration
	Retries int
	Queue   int
}

// Config is the validated alerting configuration: the rules, the soft
// thresholds' defaults and the alerting block.
type Config struct {
	Rules []Rule
	// Soft are the default soft thresholds (a route's override them key by
	// key).
	Soft Thresholds
	// StateDir keeps the quarantine (resolved against the configuration's
	// directory); required when a rule isolates or restarts.
	StateDir string
	// RestartMax restarts of one module within RestartWindow escalate the
	// next restart to isolate.
	RestartMax    int
	RestartWindow time.Duration
	// RetryAfter is the Retry-After of a quarantined route's 503.
	RetryAfter time.Duration
	// OSVDir, when set, is matched against every module's SBOM at load
	// and again whenever the directory changes (checked every OSVPoll).
	OSVDir  string
	OSVPoll time.Duration
	// Webhook, when URL is set, receives every alert that fires or resolves.
	Webhook Webhook
}

// Defaults of the alerting block.
const (
	DefaultRestartMax     = 3
	DefaultRestartWindow  = 10 * time.Minute
	DefaultRetryAfter     = 60 * time.Second
	DefaultOSVPoll        = 30 * time.Second
	DefaultWebhookTimeout = 5 * time.Second
	DefaultWebhookRetries = 5
	DefaultWebhookQueue   = 1024
	// DefaultResolveFraction is ResolveBelow as a fraction of the firing
	// threshold when a rule does not say.
	DefaultResolveFraction = 0.5
	// maxWindow bounds over, for and resolve.after.
	maxWindow = 24 * time.Hour
)

// The YAML shapes.
type fileRule struct {
	Name     string           `yaml:"name"`
	When     *fileWhen        `yaml:"when"`
	For      *policy.Duration `yaml:"for"`
	Routes   []string         `yaml:"routes"`
	Severity string           `yaml:"severity"`
	Action   string           `yaml:"action"`
	Resolve  *fileResolve     `yaml:"resolve"`
}

type fileWhen struct {
	Signal      string           `yaml:"signal"`
	Kind        string           `yaml:"kind"`
	Over        *policy.Duration `yaml:"over"`
	Count       *int             `yaml:"count"`
	Rate        *float64         `yaml:"rate"`
	Above       *float64         `yaml:"above"`
	MinRequests *int             `yaml:"min_requests"`
}

type fileResolve struct {
	Below *float64         `yaml:"below"`
	After *policy.Duration `yaml:"after"`
}

// FileThresholds is the YAML shape of soft_thresholds.
type fileThresholds struct {
	MemoryPercent *float64          `yaml:"memory_percent"`
	Duration      *policy.Duration  `yaml:"duration"`
	Fuel          *uint64           `yaml:"fuel"`
	OutputPercent *float64          `yaml:"output_percent"`
	HostCalls     map[string]uint64 `yaml:"host_calls"`
}

type fileAlerting struct {
	StateDir string `yaml:"state_dir"`
	Restart  struct {
		Max    *int             `yaml:"max"`
		Within *policy.Duration `yaml:"within"`
	} `yaml:"restart"`
	RetryAfter *policy.Duration `yaml:"retry_after"`
	OSVDir     string           `yaml:"osv_dir"`
	OSVPoll    *policy.Duration `yaml:"osv_poll"`
	Webhook    struct {
		URL        string           `yaml:"url"`
		SecretFile string           `yaml:"secret_file"`
		Format     string           `yaml:"format"`
		Timeout    *policy.Duration `yaml:"timeout"`
		Retries    *int             `yaml:"retries"`
		Queue      *int             `yaml:"queue"`
	} `yaml:"webhook"`
}

// Nodes are the configuration file's alerting nodes (any may be nil).
type Nodes struct {
	Alerts, Alerting, SoftThresholds *yaml.Node
}

// ParseConfig validates the alerting part of a configuration file: the
// alerts list, the alerting block and the default soft_thresholds. name
// is the file's name for errors ("gateway.yaml:12: alerts[0].when.signal:
// ..."), dir where relative paths resolve, routes the route labels the
// file configures (a rule's route pattern must match one of them).
func ParseConfig(n Nodes, name, dir string, routes []string) (Config, error) {
	c := Config{RestartMax: DefaultRestartMax, RestartWindow: DefaultRestartWindow, RetryAfter: DefaultRetryAfter,
		OSVPoll: DefaultOSVPoll, Webhook: Webhook{Format: "json", Timeout: DefaultWebhookTimeout,
			Retries: DefaultWebhookRetries, Queue: DefaultWebhookQueue}}
	if n.SoftThresholds != nil && n.SoftThresholds.Kind != 0 {
		t, err := ParseThresholds(n.SoftThresholds, name, "soft_thresholds", Thresholds{})
		if err != nil {
			return Config{}, err
		}
		c.Soft = t
	}
	if n.Alerting != nil && n.Alerting.Kind != 0 {
		if err := parseAlerting(&c, n.Alerting, name, dir); err != nil {
			return Config{}, err
		}
	}
	if n.Alerts != nil && n.Alerts.Kind != 0 {
		if n.Alerts.Kind != yaml.SequenceNode {
			return Config{}, fmt.Errorf("%s:%d: alerts: must be a list of rules", name, n.Alerts.Line)
		}
		seen := map[string]int{}
		for i, rn := range n.Alerts.Content {
			where := fmt.Sprintf("%s:%d: alerts[%d]", name, rn.Line, i)
			var fr fileRule
			if err := yamlstrict.Decode(rn, &fr, name); err != nil {
				return Config{}, err
			}
			r, err := buildRule(fr, rn, i, where, name, routes)
			if err != nil {
				return Config{}, err
			}
			if j, dup := seen[r.Name]; dup {
				return Config{}, fmt.Errorf("%s: name %q is also alerts[%d]", where, r.Name, j)
			}
			seen[r.Name] = i
			c.Rules = append(c.Rules, r)
		}
	}
	for _, r := range c.Rules {
		if (r.Action == Isolate || r.Action == Restart) && c.StateDir == "" {
			return Config{}, fmt.Errorf("%s: alerts: rule %q isolates modules: alerting.state_dir is required so that a quarantine survives a restart", name, r.Name)
		}
	}
	return c, nil
}

// at returns "NAME:LINE: key" for the value of key under n (n's line when
// the key is absent).
func at(name string, n *yaml.Node, key, label string) string {
	line := n.Line
	cur := n
	for _, k := range strings.Split(key, ".") {
		v := mapValue(cur, k)
		if v == nil {
			break
		}
		cur, line = v, v.Line
	}
	return fmt.Sprintf("%s:%d: %s", name, line, label)
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func buildRule(fr fileRule, n *yaml.Node, i int, where, name string, routes []string) (Rule, error) {
	r := Rule{Name: fr.Name, Routes: fr.Routes}
	field := func(key string) string { return at(name, n, key, fmt.Sprintf("alerts[%d].%s", i, key)) }
	if r.Name == "" {
		return r, fmt.Errorf("%s: name: missing", where)
	}
	if strings.ContainsFunc(r.Name, func(c rune) bool { return c < 0x21 || c > 0x7e || c == '/' || c == '"' || c == '\\' }) {
		return r, fmt.Errorf("%s: name %q: use printable ASCII without spaces, '/', '\"' or '\\'", where, r.Name)
	}
	if fr.When == nil {
		return r, fmt.Errorf("%s: when: missing (when: {signal: violations, over: 1m, count: 3})", where)
	}
	w := fr.When
	r.Signal = Signal(w.Signal)
	if !contains(signals, r.Signal) {
		return r, fmt.Errorf("%s: %q is not one of %s", field("when.signal"), w.Signal, join(signals))
	}
	r.Kind = w.Kind
	switch {
	case r.Kind == "":
	case r.Signal == Soft:
		if !contains(softKinds, r.Kind) {
			return r, fmt.Errorf("%s: %q is not a soft kind (%s)", field("when.kind"), r.Kind, strings.Join(softKinds, ", "))
		}
	case r.Signal == Violations:
		if !validKind(r.Kind) {
			return r, fmt.Errorf("%s: %q is not a violation kind (memory_limit, timeout, fuel_exhausted, ...)", field("when.kind"), r.Kind)
		}
	default:
		return r, fmt.Errorf("%s: only the violations and soft signals take a kind", field("when.kind"))
	}
	if w.Over != nil {
		if *w.Over <= 0 || w.Over.Std() > maxWindow {
			return r, fmt.Errorf("%s: must be greater than zero and at most %s", field("when.over"), maxWindow)
		}
		r.Over = w.Over.Std()
	} else if r.Signal != Findings {
		return r, fmt.Errorf("%s: over: missing (the window, e.g. 1m)", field("when"))
	}
	set := 0
	for _, p := range []bool{w.Count != nil, w.Rate != nil, w.Above != nil} {
		if p {
			set++
		}
	}
	if set > 1 {
		return r, fmt.Errorf("%s: give one of count, rate and above", field("when"))
	}
	r.MinRequests = 1
	if w.MinRequests != nil {
		if *w.MinRequests < 1 {
			return r, fmt.Errorf("%s: must be at least 1", field("when.min_requests"))
		}
		r.MinRequests = *w.MinRequests
	}
	switch {
	case r.Signal == P99:
		if w.Above == nil {
			return r, fmt.Errorf("%s: the p99_ms signal needs above: MILLISECONDS", field("when"))
		}
		if math.IsNaN(*w.Above) || math.IsInf(*w.Above, 0) || *w.Above <= 0 {
			return r, fmt.Errorf("%s: must be a finite number of milliseconds above zero", field("when.above"))
		}
		r.Above = *w.Above
	case w.Above != nil:
		return r, fmt.Errorf("%s: above is for the p99_ms signal; use count or rate", field("when.above"))
	case w.Rate != nil:
		if r.Signal == Findings || r.Signal == RefusedDeploys {
			return r, fmt.Errorf("%s: the %s signal is not per request: use count", field("when.rate"), r.Signal)
		}
		if math.IsNaN(*w.Rate) || *w.Rate <= 0 || *w.Rate > 1 {
			return r, fmt.Errorf("%s: must be a fraction of requests above 0, at most 1", field("when.rate"))
		}
		r.Rate = *w.Rate
	case w.Count != nil:
		if *w.Count < 1 {
			return r, fmt.Errorf("%s: must be at least 1", field("when.count"))
		}
		r.Count = *w.Count
	case r.Signal == Findings:
		r.Count = 1
	default:
		return r, fmt.Errorf("%s: give count (events in the window) or rate (events per request)", field("when"))
	}
	if fr.For != nil {
		if *fr.For < 0 || fr.For.Std() > maxWindow {
			return r, fmt.Errorf("%s: must be from 0 to %s", field("for"), maxWindow)
		}
		r.For = fr.For.Std()
	}
	r.ResolveBelow = r.Threshold() * DefaultResolveFraction
	r.ResolveAfter = r.Over
	if fr.Resolve != nil {
		if b := fr.Resolve.Below; b != nil {
			if math.IsNaN(*b) || *b <= 0 || *b > r.Threshold() {
				return r, fmt.Errorf("%s: must be above 0 and at most the firing threshold %g", field("resolve.below"), r.Threshold())
			}
			r.ResolveBelow = *b
		}
		if a := fr.Resolve.After; a != nil {
			if *a < 0 || a.Std() > maxWindow {
				return r, fmt.Errorf("%s: must be from 0 to %s", field("resolve.after"), maxWindow)
			}
			r.ResolveAfter = a.Std()
		}
	}
	for _, p := range r.Routes {
		if !validPattern(p) {
			return r, fmt.Errorf("%s: %q is not a route pattern (/x or /x/...)", field("routes"), p)
		}
		found := false
		for _, l := range routes {
			if MatchRoute(p, l) {
				found = true
				break
			}
		}
		if !found {
			return r, fmt.Errorf("%s: %q matches no configured route", field("routes"), p)
		}
	}
	r.Severity = Severity(fr.Severity)
	switch r.Severity {
	case Info, Warning, High, Critical:
	case "":
		return r, fmt.Errorf("%s: severity: missing (info, warning, high or critical)", where)
	default:
		return r, fmt.Errorf("%s: %q is not info, warning, high or critical", field("severity"), fr.Severity)
	}
	r.Action = Action(fr.Action)
	switch r.Action {
	case Isolate, Restart, Rollback, Notify:
	case "":
		return r, fmt.Errorf("%s: action: missing (isolate, restart, rollback or notify)", where)
	default:
		return r, fmt.Errorf("%s: %q is not isolate, restart, rollback or notify", field("action"), fr.Action)
	}
	return r, nil
}

func validPattern(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#* \x00") {
		return false
	}
	base, prefix := strings.CutSuffix(p, "/...")
	if strings.Contains(base, "...") {
		return false
	}
	if base == "" {
		return prefix
	}
	return path.Clean(base) == base
}

// validKind accepts a violation kind's spelling: lower-case words joined
// by '_'. The sandbox adds kinds over time; an unknown one counts nothing.
func validKind(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// ParseThresholds decodes a soft_thresholds node over base (the defaults a
// route's thresholds override key by key). key names it in errors.
func ParseThresholds(n *yaml.Node, name, key string, base Thresholds) (Thresholds, error) {
	var f fileThresholds
	if err := yamlstrict.Decode(n, &f, name); err != nil {
		return Thresholds{}, err
	}
	t := base
	if len(base.HostCalls) > 0 {
		t.HostCalls = make(map[string]uint64, len(base.HostCalls))
		for k, v := range base.HostCalls {
			t.HostCalls[k] = v
		}
	}
	pct := func(sub string, v *float64, dst *float64) error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || *v < 0 || *v > 100 {
			return fmt.Errorf("%s: must be a percentage from 0 (off) to 100", at(name, n, sub, key+"."+sub))
		}
		*dst = *v
		return nil
	}
	if err := pct("memory_percent", f.MemoryPercent, &t.MemoryPercent); err != nil {
		return Thresholds{}, err
	}
	if err := pct("output_percent", f.OutputPercent, &t.OutputPercent); err != nil {
		return Thresholds{}, err
	}
	if f.Duration != nil {
		if *f.Duration < 0 {
			return Thresholds{}, fmt.Errorf("%s: must not be negative (0 is off)", at(name, n, "duration", key+".duration"))
		}
		t.Duration = f.Duration.Std()
	}
	if f.Fuel != nil {
		t.Fuel = *f.Fuel
	}
	for k, v := range f.HostCalls {
		mod, fn, ok := strings.Cut(k, ".")
		if !ok || mod == "" || fn == "" {
			return Thresholds{}, fmt.Errorf("%s: %q is not module.name (wasi_snapshot_preview1.fd_write)", at(name, n, "host_calls", key+".host_calls"), k)
		}
		if t.HostCalls == nil {
			t.HostCalls = map[string]uint64{}
		}
		if v == 0 {
			delete(t.HostCalls, k)
			continue
		}
		t.HostCalls[k] = v
	}
	return t, nil
}

func parseAlerting(c *Config, n *yaml.Node, name, dir string) error {
	var f fileAlerting
	if err := yamlstrict.Decode(n, &f, name); err != nil {
		return err
	}
	res := func(p string) string {
		if p != "" && dir != "" && !strings.HasPrefix(p, "/") {
			return path.Join(dir, p)
		}
		return p
	}
	c.StateDir, c.OSVDir = res(f.StateDir), res(f.OSVDir)
	pos := func(key string, d *policy.Duration, dst *time.Duration) error {
		if d == nil {
			return nil
		}
		if *d <= 0 || d.Std() > maxWindow {
			return fmt.Errorf("%s: must be greater than zero and at most %s", at(name, n, key, "alerting."+key), maxWindow)
		}
		*dst = d.Std()
		return nil
	}
	for _, e := range []error{
		pos("restart.within", f.Restart.Within, &c.RestartWindow),
		pos("retry_after", f.RetryAfter, &c.RetryAfter),
		pos("osv_poll", f.OSVPoll, &c.OSVPoll),
		pos("webhook.timeout", f.Webhook.Timeout, &c.Webhook.Timeout),
	} {
		if e != nil {
			return e
		}
	}
	if m := f.Restart.Max; m != nil {
		if *m < 1 {
			return fmt.Errorf("%s: must be at least 1", at(name, n, "restart.max", "alerting.restart.max"))
		}
		c.RestartMax = *m
	}
	w := f.Webhook
	if w.URL == "" {
		if w.SecretFile != "" || w.Format != "" || w.Retries != nil || w.Queue != nil || w.Timeout != nil {
			return fmt.Errorf("%s: url: missing", at(name, n, "webhook", "alerting.webhook"))
		}
		return nil
	}
	if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
		return fmt.Errorf("%s: %q is not an http:// or https:// URL", at(name, n, "webhook.url", "alerting.webhook.url"), w.URL)
	}
	c.Webhook.URL = w.URL
	if w.SecretFile == "" {
		return fmt.Errorf("%s: secret_file: missing (every delivery is signed)", at(name, n, "webhook", "alerting.webhook"))
	}
	c.Webhook.SecretFile = res(w.SecretFile)
	switch w.Format {
	case "", "json":
	case "alertmanager":
		c.Webhook.Format = w.Format
	default:
		return fmt.Errorf("%s: %q is not json or alertmanager", at(name, n, "webhook.format", "alerting.webhook.format"), w.Format)
	}
	if w.Retries != nil {
		if *w.Retries < 0 || *w.Retries > 100 {
			return fmt.Errorf("%s: must be from 0 to 100", at(name, n, "webhook.retries", "alerting.webhook.retries"))
		}
		c.Webhook.Retries = *w.Retries
	}
	if w.Queue != nil {
		if *w.Queue < 1 || *w.Queue > 1<<20 {
			return fmt.Errorf("%s: must be from 1 to 1048576", at(name, n, "webhook.queue", "alerting.webhook.queue"))
		}
		c.Webhook.Queue = *w.Queue
	}
	return nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
