package gateway

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/internal/alert"
	"github.com/wasmward/wasmward/internal/httpfield"
	"github.com/wasmward/wasmward/internal/yamlstrict"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/scan"
)

// Config is a validated gateway configuration with every module's bytes
// loaded. Build it with LoadConfig or ParseConfig; New compiles it.
type Config struct {
	// Source names where the configuration came from (a file path or
	// "quickstart"), for logs and the audit trail.
	Source string
	// Listen is the public address, AdminListen the admin one (health,
	// readiness, metrics, routes). AdminListen "" disables the admin listener.
	Listen      string
	AdminListen string
	// AuditLog is the audit file, resolved against the config's directory;
	// "" means no audit file (events still go to the log).
	AuditLog string
	// Audit is how the audit log fails, rotates and aggregates (the audit
	// block of the file; see docs/gateway.md).
	Audit audit.Options
	// CacheDir is the authenticated compile cache directory and CacheKey
	// its key file (cache_dir, cache_key; resolved against the config's
	// directory); "" for none / the default key location.
	CacheDir string
	CacheKey string
	// Request bounds what a client may send, Response what a guest may write.
	Request  RequestLimits
	Response ResponseLimits
	// RateLimit is the per-client token bucket; RequestsPerSecond 0 disables it.
	RateLimit RateLimit
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// SecurityHeaders are set on every response, replacing a guest's value.
	SecurityHeaders map[string]string
	// Connections bound the connections the listeners hold open.
	Connections ConnectionLimits
	// DrainDelay is how long, once a shutdown begins, /readyz answers 503
	// while the public listener still accepts and serves, so that load
	// balancers stop sending before the listener closes.
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after the listener stops accepting; runs still going then are stopped.
	ShutdownTimeout time.Duration
	// AdminTokenFile holds the bearer token that authorizes the admin
	// API's changes (deployments, rollback, reload); "" leaves the admin
	// API read-only. Resolved against the config's directory.
	AdminTokenFile string
	// ScanFailOn refuses a module (at start, reload and deploy) with a scan
	// finding at or above this severity; "off" ("" in Config) scans nothing.
	ScanFailOn string
	// Rollout is how deployments are checked and stepped (the deploy block).
	Rollout Rollout
	// State is where the deployment state lives (the state key): the
	// local store, or a fleet's NATS JetStream bucket.
	State StateConfig
	// Tracing is where and how request traces are exported (the tracing
	// block); Endpoint "" exports none.
	Tracing Tracing
	// Alerts are the alert rules, the alerting block and the default soft
	// thresholds (docs/alerts.md).
	Alerts alert.Config
	// Tenancy is the tenants, the memory budget and the process-wide
	// instance bound (see docs/tenancy.md).
	Tenancy Tenancy
	// Routes, in the order of the file.
	Routes []Route
}

// Rollout configures health-checked deployments: the synthetic check, the
// live-signal thresholds and the canary schedule. See docs/deploy.md.
type Rollout struct {
	// HealthInterval is how often the synthetic health check of a version
	// being rolled out runs.
	HealthInterval time.Duration
	// Window is the span of recent requests the live signals cover.
	Window time.Duration
	// MinRequests is how many requests the window needs before its rates
	// are judged (the synthetic check is judged always).
	MinRequests int
	// The thresholds: a new version breaches when a rate (or its p99
	// latency) is above the threshold and above Tolerance times the
	// previous version's over the same span. MaxP99 0 leaves latency
	// unjudged.
	MaxErrorRate     float64
	MaxViolationRate float64
	MaxTrapRate      float64
	MaxP99           time.Duration
	Tolerance        float64
	// CanarySteps are the percentages a canary goes through, ending at
	// 100; StepInterval is how long each step is watched, and how long a
	// replaced version is watched before its deployment succeeds.
	CanarySteps  []int
	StepInterval time.Duration
}

// DefaultRollout returns the deploy block's defaults.
func DefaultRollout() Rollout {
	return Rollout{
		HealthInterval: 10 * time.Second, Window: time.Minute, MinRequests: 20,
		MaxErrorRate: 0.05, MaxViolationRate: 0.01, MaxTrapRate: 0.01, MaxP99: 0, Tolerance: 1.5,
		CanarySteps: []int{10, 25, 50, 100}, StepInterval: time.Minute,
	}
}

// HealthCheck is a route's synthetic health check.
type HealthCheck struct {
	// Path is the request target (path and optional query); default the
	// route's path.
	Path string
	// Status is the status code a healthy version answers; default 200.
	Status int
}

// RequestLimits bound a client request.
type RequestLimits struct {
	MaxBody        int64
	MaxHeaderBytes int
	MaxHeaders     int
	// Timeout covers the whole request: reading the body, running the
	// handler, writing the response.
	Timeout time.Duration
	// BodyBudget bounds the bytes of request and response bodies buffered
	// across all connections at once; BodyWait is how long a request waits
	// for budget before it is refused with 503.
	BodyBudget int64
	BodyWait   time.Duration
}

// ConnectionLimits bound the connections of the public and admin listeners.
type ConnectionLimits struct {
	// Max is the public connections open at once; MaxPerClient those from
	// one peer address (peers in TrustedProxies are exempt). At a limit, the
	// connection idle the longest (of that client, for MaxPerClient) is
	// closed to make room; when none is idle the new connection is closed.
	Max          int
	MaxPerClient int
	// IdleTimeout closes a keep-alive connection idle this long;
	// PressureIdleTimeout replaces it while more than three quarters of Max
	// are open.
	IdleTimeout         time.Duration
	PressureIdleTimeout time.Duration
	// AdminMax is the admin listener's own connection budget.
	AdminMax int
}

// ResponseLimits bound a guest's response.
type ResponseLimits struct {
	MaxHeaderBytes int
	MaxHeaders     int
	MaxBody        int
	// WriteTimeout drops a client that does not take a chunk (64KiB) of the
	// response within it.
	WriteTimeout time.Duration
}

// RateLimit is a per-client token bucket.
type RateLimit struct {
	RequestsPerSecond float64
	Burst             int
	// MaxClients bounds the clients tracked; the least recently seen is
	// forgotten first.
	MaxClients int
}

// Route maps a path to a module.
type Route struct {
	// Path is the route as written; Prefix is true for "/x/..." routes, and
	// then Path holds "/x".
	Path   string
	Prefix bool
	// Module is the module path as written, Wasm its bytes.
	Module string
	Wasm   []byte
	// Policy is the default policy with the route's merged over it.
	Policy policy.Policy
	// MaxConcurrency bounds the instances of this route running at once.
	MaxConcurrency int
	// Trust is the route's trust material, for serve --trust.
	Trust RouteTrust
	// PassHeaders are the request headers (lowercase) the guest receives as
	// HTTP_* variables.
	PassHeaders []string
	// Methods, when not empty, are the only methods the route accepts (405
	// otherwise). When empty, every method but CONNECT and TRACE.
	Methods []string
	// Health is the route's synthetic health check for deployments.
	Health HealthCheck
	// StreamBody passes a body with a declared Content-Length to the guest's
	// stdin as it arrives instead of buffering it first; the route's
	// instance slot is held while it arrives.
	StreamBody bool
	// Soft are the route's soft thresholds (the defaults with the route's
	// soft_thresholds over them); nil when none is set.
	Soft *alert.Thresholds
	// Tenant pins the route's requests to a tenant; "" lets the request's
	// API key or host name decide, and the default tenant otherwise.
	Tenant string
}

// AdminOff as admin_listen (or --admin-listen) disables the admin listener.
const AdminOff = "off"

// Defaults applied to what a configuration leaves out.
const (
	DefaultMaxBody         = 1 << 20
	DefaultMaxHeaderBytes  = 16 << 10
	DefaultMaxHeaders      = 100
	DefaultRequestTimeout  = 5 * time.Second
	DefaultResponseHeaders = 16 << 10
	DefaultResponseBody    = 4 << 20
	DefaultMaxConcurrency  = 64
	DefaultMaxClients      = 10000
	DefaultShutdownTimeout = 10 * time.Second
	DefaultDrainDelay      = 5 * time.Second
	DefaultBodyBudget      = 256 << 20
	DefaultBodyWait        = 250 * time.Millisecond
	DefaultWriteTimeout    = 10 * time.Second
	DefaultMaxConns        = 8192
	DefaultMaxConnsClient  = 128
	DefaultIdleTimeout     = 60 * time.Second
	DefaultPressureIdle    = 5 * time.Second
	DefaultAdminMaxConns   = 32
)

// DefaultPassHeaders are the request headers passed to guests when neither
// the route nor the file names any.
var defaultPassHeaders = []string{"accept", "accept-language", "content-type", "user-agent"}

// DefaultSecurityHeaders returns the headers added to every response unless
// the configuration's security_headers replaces them.
func DefaultSecurityHeaders() map[string]string {
	return map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "frame-ancestors 'none'",
	}
}

// file is the YAML shape.
type file struct {
	Listen          string            `yaml:"listen"`
	AdminListen     *string           `yaml:"admin_listen"`
	AuditLog        string            `yaml:"audit_log"`
	CacheDir        string            `yaml:"cache_dir"`
	CacheKey        string            `yaml:"cache_key"`
	Audit           *fileAudit        `yaml:"audit"`
	Request         fileRequest       `yaml:"request"`
	Response        fileResponse      `yaml:"response"`
	RateLimit       fileRate          `yaml:"rate_limit"`
	TrustedProxies  []string          `yaml:"trusted_proxies"`
	SecurityHeaders map[string]string `yaml:"security_headers"`
	PassHeaders     []string          `yaml:"pass_headers"`
	Connections     fileConns         `yaml:"connections"`
	DrainDelay      *policy.Duration  `yaml:"drain_delay"`
	ShutdownTimeout *policy.Duration  `yaml:"shutdown_timeout"`
	Policy          yaml.Node         `yaml:"policy"`
	AdminTokenFile  string            `yaml:"admin_token_file"`
	ScanFailOn      string            `yaml:"scan_fail_on"`
	Deploy          fileDeploy        `yaml:"deploy"`
	State           string            `yaml:"state"`
	Tracing         *fileTracing      `yaml:"tracing"`
	Alerts          yaml.Node         `yaml:"alerts"`
	Alerting        yaml.Node         `yaml:"alerting"`
	SoftThresholds  yaml.Node         `yaml:"soft_thresholds"`
	MemoryBudget    *policy.Size      `yaml:"memory_budget"`
	MaxInstances    *int              `yaml:"max_instances"`
	BackgroundCPU   *bool             `yaml:"background_cpu"`
	TenantKeyHeader string            `yaml:"tenant_key_header"`
	Tenants         []fileTenant      `yaml:"tenants"`
	Routes          []fileRoute       `yaml:"routes"`
}

type fileDeploy struct {
	HealthInterval   *policy.Duration `yaml:"health_interval"`
	Window           *policy.Duration `yaml:"window"`
	MinRequests      *int             `yaml:"min_requests"`
	MaxErrorRate     *float64         `yaml:"max_error_rate"`
	MaxViolationRate *float64         `yaml:"max_violation_rate"`
	MaxTrapRate      *float64         `yaml:"max_trap_rate"`
	MaxP99           *policy.Duration `yaml:"max_p99"`
	Tolerance        *float64         `yaml:"tolerance"`
	CanarySteps      []int            `yaml:"canary_steps"`
	StepInterval     *policy.Duration `yaml:"step_interval"`
}

type fileHealth struct {
	Path   string `yaml:"path"`
	Status int    `yaml:"status"`
}

type fileRequest struct {
	MaxBody        *policy.Size     `yaml:"max_body"`
	MaxHeaderBytes *policy.Size     `yaml:"max_header_bytes"`
	MaxHeaders     *int             `yaml:"max_headers"`
	Timeout        *policy.Duration `yaml:"timeout"`
	BodyBudget     *policy.Size     `yaml:"body_budget"`
	BodyWait       *policy.Duration `yaml:"body_budget_wait"`
}

type fileConns struct {
	Max                 *int             `yaml:"max"`
	MaxPerClient        *int             `yaml:"max_per_client"`
	IdleTimeout         *policy.Duration `yaml:"idle_timeout"`
	PressureIdleTimeout *policy.Duration `yaml:"idle_timeout_under_pressure"`
	AdminMax            *int             `yaml:"admin_max"`
}

type fileResponse struct {
	MaxHeaderBytes *policy.Size     `yaml:"max_header_bytes"`
	MaxHeaders     *int             `yaml:"max_headers"`
	MaxBody        *policy.Size     `yaml:"max_body"`
	WriteTimeout   *policy.Duration `yaml:"write_timeout"`
}

type fileRate struct {
	RequestsPerSecond *float64 `yaml:"requests_per_second"`
	Burst             *int     `yaml:"burst"`
	MaxClients        *int     `yaml:"max_clients"`
}

type fileRoute struct {
	Route          string     `yaml:"route"`
	Module         string     `yaml:"module"`
	Policy         yaml.Node  `yaml:"policy"`
	MaxConcurrency *int       `yaml:"max_concurrency"`
	PassHeaders    []string   `yaml:"pass_headers"`
	Methods        []string   `yaml:"methods"`
	StreamBody     bool       `yaml:"stream_body"`
	Trust          RouteTrust `yaml:"trust"`
	Health         fileHealth `yaml:"health"`
	SoftThresholds yaml.Node  `yaml:"soft_thresholds"`
	Tenant         string     `yaml:"tenant"`
	line           int
}

// RouteTrust names a route module's trust material for `serve --trust`
// (the trust package decides what it means). Paths are resolved against
// the configuration's directory.
type RouteTrust struct {
	// Name is the operator's name for the module: it counts only where the
	// trust policy allows caller names and the module carries no signed one.
	Name string `yaml:"name"`
	// Attestation is a signed capability manifest for the module.
	Attestation string `yaml:"attestation"`
	// Signature and Bundle are detached cosign signatures of the module
	// (default MODULE.sig and MODULE.bundle next to it, when the trust
	// policy accepts cosign signatures).
	Signature string `yaml:"signature"`
	Bundle    string `yaml:"bundle"`
	// ModuleFile is the module's path, resolved (set by the loader).
	ModuleFile string `yaml:"-"`
}

// LoadConfig reads the configuration file at path. Relative module and audit
// paths resolve against the file's directory. Modules must be paths; see
// LoadConfigWith for sha256: and oci:// references.
func LoadConfig(path string) (*Config, error) {
	dir := filepath.Dir(path)
	return LoadConfigWith(path, func(p string) ([]byte, error) {
		if IsModuleRef(p) {
			return nil, fmt.Errorf("%s: sha256: and oci:// modules need the module store (serve --store)", p)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return os.ReadFile(p)
	})
}

// LoadConfigWith reads the configuration file at path, reading each
// route's module with readModule, which gets the module as written (a
// path relative to the file's directory, sha256:HEX or oci://...).
func LoadConfigWith(path string, readModule func(ref string) ([]byte, error)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path, readModule, filepath.Dir(path))
}

// IsModuleRef reports whether a route's module is a store digest
// (sha256:HEX) or a registry reference (oci://...) rather than a path.
func IsModuleRef(m string) bool {
	return strings.HasPrefix(m, "sha256:") || strings.HasPrefix(m, "oci://")
}

// ParseConfig parses and validates a configuration. name is used in errors
// ("gateway.yaml:12: unknown key \"modul\""), readModule loads a module by
// the path the file gives, and dir is where relative paths of the file (the
// audit log, policy mounts) resolve ("" leaves them as they are). Every
// error names the key or the line it is about.
func ParseConfig(data []byte, name string, readModule func(path string) ([]byte, error), dir string) (*Config, error) {
	// One strict YAML decoder for every configuration file
	// (internal/yamlstrict): one document, unknown keys named with their
	// line, one-line errors.
	var root yaml.Node
	if err := yamlstrict.Unmarshal(data, &root, name); err != nil {
		return nil, err
	}
	if root.Kind == 0 {
		return nil, fmt.Errorf("%s: empty configuration", name)
	}
	var f file
	if err := yamlstrict.Decode(&root, &f, name); err != nil {
		return nil, err
	}
	routesNode := mappingValue(&root, "routes")
	if routesNode != nil {
		for i := range f.Routes {
			if i < len(routesNode.Content) {
				f.Routes[i].line = routesNode.Content[i].Line
			}
		}
	}

	c := &Config{
		Source:          name,
		Listen:          f.Listen,
		AdminListen:     "127.0.0.1:9090",
		AuditLog:        f.AuditLog,
		CacheDir:        f.CacheDir,
		CacheKey:        f.CacheKey,
		ShutdownTimeout: DefaultShutdownTimeout,
		DrainDelay:      DefaultDrainDelay,
		Request: RequestLimits{
			MaxBody: DefaultMaxBody, MaxHeaderBytes: DefaultMaxHeaderBytes,
			MaxHeaders: DefaultMaxHeaders, Timeout: DefaultRequestTimeout,
			BodyBudget: DefaultBodyBudget, BodyWait: DefaultBodyWait,
		},
		Response: ResponseLimits{
			MaxHeaderBytes: DefaultResponseHeaders, MaxHeaders: DefaultMaxHeaders, MaxBody: DefaultResponseBody,
			WriteTimeout: DefaultWriteTimeout,
		},
		Connections: ConnectionLimits{
			Max: DefaultMaxConns, MaxPerClient: DefaultMaxConnsClient, IdleTimeout: DefaultIdleTimeout,
			PressureIdleTimeout: DefaultPressureIdle, AdminMax: DefaultAdminMaxConns,
		},
		RateLimit:       RateLimit{RequestsPerSecond: 100, Burst: 200, MaxClients: DefaultMaxClients},
		SecurityHeaders: DefaultSecurityHeaders(),
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	for _, p := range []*string{&c.CacheDir, &c.CacheKey} {
		if *p != "" && dir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if f.AdminListen != nil {
		c.AdminListen = *f.AdminListen
		if c.AdminListen == AdminOff {
			c.AdminListen = ""
		}
	}
	if err := applyAudit(c, &f, &root, name, dir); err != nil {
		return nil, err
	}
	if err := applyLimits(c, &f, &root, name); err != nil {
		return nil, err
	}
	if err := applyTracing(c, f.Tracing, &root, name); err != nil {
		return nil, err
	}
	if err := applyDeploy(c, &f, &root, name, dir); err != nil {
		return nil, err
	}
	for i, s := range f.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: trusted_proxies[%d]: %w", name, i, err)
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	if f.SecurityHeaders != nil {
		c.SecurityHeaders = map[string]string{}
		for k, v := range f.SecurityHeaders {
			if !httpfield.Valid(k) || strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("%s: security_headers: invalid header %q", name, k)
			}
			if v != "" {
				c.SecurityHeaders[k] = v
			}
		}
	}
	pass := defaultPassHeaders
	if f.PassHeaders != nil {
		var err error
		if pass, err = passHeaders(f.PassHeaders, false); err != nil {
			return nil, fmt.Errorf("%s: pass_headers: %w", name, err)
		}
	}

	base := policy.Default()
	var err error
	if f.Policy.Kind != 0 {
		if base, err = overlay(base, &f.Policy, name, "policy", dir); err != nil {
			return nil, err
		}
	}
	if len(f.Routes) == 0 {
		return nil, fmt.Errorf("%s: routes: at least one route is needed", name)
	}
	seen := map[string]int{}
	for i, fr := range f.Routes {
		where := fmt.Sprintf("%s:%d: routes[%d]", name, fr.line, i)
		r := Route{Module: fr.Module, MaxConcurrency: DefaultMaxConcurrency, PassHeaders: pass, StreamBody: fr.StreamBody}
		r.Path, r.Prefix, err = parseRoute(fr.Route)
		if err != nil {
			return nil, fmt.Errorf("%s: route: %w", where, err)
		}
		key := fr.Route
		if r.Prefix {
			key = r.Path + "/..."
		}
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s: route %q is also routes[%d]", where, fr.Route, j)
		}
		seen[key] = i
		if fr.MaxConcurrency != nil {
			if *fr.MaxConcurrency < 1 {
				return nil, fmt.Errorf("%s: max_concurrency: must be at least 1", where)
			}
			r.MaxConcurrency = *fr.MaxConcurrency
		}
		if fr.PassHeaders != nil {
			if r.PassHeaders, err = passHeaders(fr.PassHeaders, true); err != nil {
				return nil, fmt.Errorf("%s: pass_headers: %w", where, err)
			}
		}
		for _, m := range fr.Methods {
			if !httpfield.Valid(m) || strings.ToUpper(m) != m {
				return nil, fmt.Errorf("%s: methods: %q is not an upper-case method name", where, m)
			}
			r.Methods = append(r.Methods, m)
		}
		r.Policy = base
		if fr.Policy.Kind != 0 {
			if r.Policy, err = overlay(base, &fr.Policy, name, fmt.Sprintf("routes[%d].policy", i), dir); err != nil {
				return nil, err
			}
		}
		if fr.Module == "" {
			return nil, fmt.Errorf("%s: module: missing", where)
		}
		if r.Wasm, err = readModule(fr.Module); err != nil {
			return nil, fmt.Errorf("%s: module: %w", where, err)
		}
		r.Health = HealthCheck{Path: fr.Health.Path, Status: fr.Health.Status}
		if r.Health.Path == "" {
			r.Health.Path = r.Path
			if r.Health.Path == "" {
				r.Health.Path = "/"
			}
		} else if !strings.HasPrefix(r.Health.Path, "/") || strings.ContainsAny(r.Health.Path, " #\x00\r\n") {
			return nil, fmt.Errorf("%s: health.path: %q is not a request target (a path starting with /)", where, r.Health.Path)
		}
		if r.Health.Status == 0 {
			r.Health.Status = 200
		} else if r.Health.Status < 100 || r.Health.Status > 599 {
			return nil, fmt.Errorf("%s: health.status: %d is not an HTTP status", where, r.Health.Status)
		}
		r.Trust = fr.Trust
		r.Tenant = fr.Tenant
		if !IsModuleRef(fr.Module) {
			r.Trust.ModuleFile = fr.Module
		}
		for _, p := range []*string{&r.Trust.Attestation, &r.Trust.Signature, &r.Trust.Bundle, &r.Trust.ModuleFile} {
			if *p != "" && dir != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
		c.Routes = append(c.Routes, r)
	}
	if err := applyAlerts(c, &f, name, dir); err != nil {
		return nil, err
	}
	if err := applyTenancy(c, &f, &root, name, dir); err != nil {
		return nil, err
	}
	return c, nil
}

// applyAlerts validates the alerts, the alerting block and the soft
// thresholds (internal/alert), and sets each route's thresholds.
func applyAlerts(c *Config, f *file, name, dir string) error {
	labels := make([]string, len(c.Routes))
	for i, r := range c.Routes {
		labels[i] = routeLabel(r)
	}
	var err error
	if c.Alerts, err = alert.ParseConfig(alert.Nodes{Alerts: &f.Alerts, Alerting: &f.Alerting, SoftThresholds: &f.SoftThresholds}, name, dir, labels); err != nil {
		return err
	}
	for i := range c.Routes {
		t := c.Alerts.Soft
		if n := &f.Routes[i].SoftThresholds; n.Kind != 0 {
			if t, err = alert.ParseThresholds(n, name, fmt.Sprintf("routes[%d].soft_thresholds", i), t); err != nil {
				return err
			}
		}
		if !t.Zero() {
			c.Routes[i].Soft = &t
		}
	}
	return nil
}

// applyLimits copies the numeric settings of f into c, refusing what is out
// of range. Errors name the file, the line and the key.
func applyLimits(c *Config, f *file, root *yaml.Node, name string) error {
	const maxInt = int64(^uint(0) >> 1)
	at := func(key string) string {
		n := root
		for k := range strings.SplitSeq(key, ".") {
			if v := mappingValue(n, k); v != nil {
				n = v
			}
		}
		return fmt.Sprintf("%s:%d: %s", name, n.Line, key)
	}
	size := func(key string, s *policy.Size, dst *int, min int) error {
		if s == nil {
			return nil
		}
		if int64(*s) < int64(min) || uint64(*s) > uint64(maxInt) {
			return fmt.Errorf("%s: %s is out of range (at least %d bytes)", at(key), *s, min)
		}
		*dst = int(*s)
		return nil
	}
	count := func(key string, n *int, dst *int) error {
		if n == nil {
			return nil
		}
		if *n < 1 {
			return fmt.Errorf("%s: must be at least 1", at(key))
		}
		*dst = *n
		return nil
	}
	positive := func(key string, d *policy.Duration, dst *time.Duration) error {
		if d == nil {
			return nil
		}
		if *d <= 0 {
			return fmt.Errorf("%s: must be greater than zero", at(key))
		}
		*dst = d.Std()
		return nil
	}
	if s := f.Request.MaxBody; s != nil {
		if uint64(*s) > uint64(maxInt) {
			return fmt.Errorf("%s: %s is too large", at("request.max_body"), *s)
		}
		c.Request.MaxBody = int64(*s)
	}
	if s := f.Request.BodyBudget; s != nil {
		if *s < 64<<10 || uint64(*s) > uint64(maxInt) {
			return fmt.Errorf("%s: %s is out of range (at least 64KiB)", at("request.body_budget"), *s)
		}
		c.Request.BodyBudget = int64(*s)
	}
	if d := f.Request.BodyWait; d != nil {
		c.Request.BodyWait = d.Std() // 0: refuse at once
	}
	if d := f.DrainDelay; d != nil {
		c.DrainDelay = d.Std() // 0: no delay
	}
	for _, e := range []error{
		positive("request.timeout", f.Request.Timeout, &c.Request.Timeout),
		size("request.max_header_bytes", f.Request.MaxHeaderBytes, &c.Request.MaxHeaderBytes, 1024),
		count("request.max_headers", f.Request.MaxHeaders, &c.Request.MaxHeaders),
		size("response.max_header_bytes", f.Response.MaxHeaderBytes, &c.Response.MaxHeaderBytes, 64),
		count("response.max_headers", f.Response.MaxHeaders, &c.Response.MaxHeaders),
		size("response.max_body", f.Response.MaxBody, &c.Response.MaxBody, 0),
		positive("response.write_timeout", f.Response.WriteTimeout, &c.Response.WriteTimeout),
		count("rate_limit.max_clients", f.RateLimit.MaxClients, &c.RateLimit.MaxClients),
		count("connections.max", f.Connections.Max, &c.Connections.Max),
		count("connections.max_per_client", f.Connections.MaxPerClient, &c.Connections.MaxPerClient),
		count("connections.admin_max", f.Connections.AdminMax, &c.Connections.AdminMax),
		positive("connections.idle_timeout", f.Connections.IdleTimeout, &c.Connections.IdleTimeout),
		positive("connections.idle_timeout_under_pressure", f.Connections.PressureIdleTimeout, &c.Connections.PressureIdleTimeout),
		positive("shutdown_timeout", f.ShutdownTimeout, &c.ShutdownTimeout),
	} {
		if e != nil {
			return e
		}
	}
	if c.Connections.PressureIdleTimeout > c.Connections.IdleTimeout {
		c.Connections.PressureIdleTimeout = c.Connections.IdleTimeout
	}
	if r := f.RateLimit.RequestsPerSecond; r != nil {
		// NaN compares false with everything and +Inf disables the bucket:
		// both would switch the limit off without saying so.
		if math.IsNaN(*r) || math.IsInf(*r, 0) || *r < 0 {
			return fmt.Errorf("%s: must be a finite number, not negative (0 disables the limit)", at("rate_limit.requests_per_second"))
		}
		c.RateLimit.RequestsPerSecond = *r
	}
	if b := f.RateLimit.Burst; b != nil {
		if *b < 1 {
			return fmt.Errorf("%s: must be at least 1", at("rate_limit.burst"))
		}
		c.RateLimit.Burst = *b
	} else if f.RateLimit.RequestsPerSecond != nil && c.RateLimit.RequestsPerSecond > 0 {
		c.RateLimit.Burst = max(1, int(min(2*c.RateLimit.RequestsPerSecond, float64(maxInt>>1))))
	}
	return nil
}

// applyDeploy copies the deployment settings (admin_token_file,
// scan_fail_on, the deploy block) into c.
func applyDeploy(c *Config, f *file, root *yaml.Node, name, dir string) error {
	at := func(key string) string {
		n := root
		for _, k := range strings.Split(key, ".") {
			if v := mappingValue(n, k); v != nil {
				n = v
			}
		}
		return fmt.Sprintf("%s:%d: %s", name, n.Line, key)
	}
	c.AdminTokenFile = f.AdminTokenFile
	if c.AdminTokenFile != "" && dir != "" && !filepath.IsAbs(c.AdminTokenFile) {
		c.AdminTokenFile = filepath.Join(dir, c.AdminTokenFile)
	}
	switch f.ScanFailOn {
	case "":
		c.ScanFailOn = DefaultScanFailOn
	case "off":
	default:
		if _, err := scan.ParseSeverity(f.ScanFailOn); err != nil {
			return fmt.Errorf("%s: %q is not off, info, low, medium, high or critical", at("scan_fail_on"), f.ScanFailOn)
		}
		c.ScanFailOn = f.ScanFailOn
	}
	st, err := ParseState(f.State)
	if err != nil {
		return fmt.Errorf("%s: %w", at("state"), err)
	}
	c.State = st
	r, d := DefaultRollout(), f.Deploy
	for _, x := range []struct {
		key string
		v   *policy.Duration
		dst *time.Duration
	}{{"deploy.health_interval", d.HealthInterval, &r.HealthInterval}, {"deploy.window", d.Window, &r.Window},
		{"deploy.step_interval", d.StepInterval, &r.StepInterval}} {
		if x.v != nil {
			if *x.v <= 0 {
				return fmt.Errorf("%s: must be greater than zero", at(x.key))
			}
			*x.dst = x.v.Std()
		}
	}
	if d.MaxP99 != nil {
		r.MaxP99 = d.MaxP99.Std() // 0: latency not judged
	}
	if d.MinRequests != nil {
		if *d.MinRequests < 1 {
			return fmt.Errorf("%s: must be at least 1", at("deploy.min_requests"))
		}
		r.MinRequests = *d.MinRequests
	}
	for _, x := range []struct {
		key string
		v   *float64
		dst *float64
	}{{"deploy.max_error_rate", d.MaxErrorRate, &r.MaxErrorRate}, {"deploy.max_violation_rate", d.MaxViolationRate, &r.MaxViolationRate},
		{"deploy.max_trap_rate", d.MaxTrapRate, &r.MaxTrapRate}} {
		if x.v != nil {
			if math.IsNaN(*x.v) || *x.v < 0 || *x.v > 1 {
				return fmt.Errorf("%s: must be a rate from 0 to 1", at(x.key))
			}
			*x.dst = *x.v
		}
	}
	if d.Tolerance != nil {
		if math.IsNaN(*d.Tolerance) || math.IsInf(*d.Tolerance, 0) || *d.Tolerance < 1 {
			return fmt.Errorf("%s: must be a finite number, at least 1", at("deploy.tolerance"))
		}
		r.Tolerance = *d.Tolerance
	}
	if d.CanarySteps != nil {
		prev := 0
		for _, p := range d.CanarySteps {
			if p <= prev || p > 100 {
				return fmt.Errorf("%s: steps must rise from 1 to 100", at("deploy.canary_steps"))
			}
			prev = p
		}
		if prev != 100 {
			return fmt.Errorf("%s: the last step must be 100", at("deploy.canary_steps"))
		}
		r.CanarySteps = d.CanarySteps
	}
	c.Rollout = r
	return nil
}

// DefaultScanFailOn is scan_fail_on when the configuration does not say.
const DefaultScanFailOn = "critical"

// overlay merges a policy node over base, with errors naming the file and
// the key.
func overlay(base policy.Policy, n *yaml.Node, name, key, dir string) (policy.Policy, error) {
	if err := yamlstrict.CheckKeys(n, reflect.TypeFor[policy.Policy](), name); err != nil {
		return policy.Policy{}, err
	}
	p, err := policy.Overlay(base, n, fmt.Sprintf("%s:%d: %s", name, n.Line, key))
	if err != nil {
		return policy.Policy{}, err
	}
	if dir != "" {
		p.ResolvePaths(dir)
	}
	return p, nil
}

// parseRoute accepts "/exact" and "/prefix/..." (and "/..." for every path).
func parseRoute(s string) (string, bool, error) {
	if !strings.HasPrefix(s, "/") {
		return "", false, fmt.Errorf("%q must start with /", s)
	}
	if strings.ContainsAny(s, "?#*\x00 ") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false, fmt.Errorf("%q: invalid character", s)
	}
	p, prefix := strings.CutSuffix(s, "/...")
	if !prefix && strings.Contains(s, "...") {
		return "", false, fmt.Errorf("%q: \"...\" is allowed only as a final /... segment", s)
	}
	check := p
	if check == "" {
		check = "/"
	} else if !prefix && len(check) > 1 {
		check = strings.TrimSuffix(check, "/") // "/dir/" is an exact route too
	}
	if path.Clean(check) != check {
		return "", false, fmt.Errorf("%q is not a clean path", s)
	}
	return p, prefix, nil
}

// passHeaders lowercases and checks a pass_headers list. Credentials may be
// passed only by a route naming them.
func passHeaders(list []string, route bool) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, h := range list {
		l := strings.ToLower(h)
		if !httpfield.Valid(l) {
			return nil, fmt.Errorf("%q is not a header name", h)
		}
		if strings.Contains(l, "_") {
			// X-A_B and X-A-B would both be HTTP_X_A_B: a client could
			// forge one with the other.
			return nil, fmt.Errorf("%q: names with \"_\" are ambiguous as CGI variables", h)
		}
		if !route && sensitiveHeader(l) {
			return nil, fmt.Errorf("%q may be passed only by a route's own pass_headers, never by default", h)
		}
		if httpfield.Classify(l) == httpfield.Framing || l == "host" {
			return nil, fmt.Errorf("%q cannot be passed: it describes the client's connection or the message framing (the gateway sets CONTENT_LENGTH and SERVER_NAME itself)", h)
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out, nil
}

func sensitiveHeader(lower string) bool {
	return lower == "authorization" || lower == "cookie" || strings.HasPrefix(lower, "proxy-")
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
