package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parse(yml string) (*Config, error) {
	return ParseConfig([]byte(yml), "gw.yaml", func(p string) ([]byte, error) {
		if p == "missing.wasm" {
			return nil, os.ErrNotExist
		}
		return []byte("bytes of " + p), nil
	}, "/etc/ww")
}

func TestConfigFull(t *testing.T) {
	c, err := parse(`
listen: 0.0.0.0:8000
admin_listen: ""
audit_log: audit.jsonl
request: {max_body: 2MiB, max_header_bytes: 8KiB, max_headers: 50, timeout: 3s, body_budget: 8MiB, body_budget_wait: 0}
response: {max_header_bytes: 1KiB, max_headers: 10, max_body: 1MiB, write_timeout: 2s}
connections: {max: 100, max_per_client: 7, idle_timeout: 9s, idle_timeout_under_pressure: 1s, admin_max: 3}
drain_delay: 0
rate_limit: {requests_per_second: 10, burst: 20, max_clients: 5}
trusted_proxies: [10.0.0.0/8, 192.0.2.1]
security_headers: {X-Frame-Options: SAMEORIGIN}
pass_headers: [Accept]
shutdown_timeout: 1s
policy:
  limits: {memory: 32MiB, timeout: 1s}
routes:
  - route: /a
    module: a.wasm
  - route: /b/...
    module: /abs/b.wasm
    policy: {limits: {timeout: 2s}}
    max_concurrency: 3
    pass_headers: [Authorization, user-agent]
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:8000" || c.AdminListen != "" || c.AuditLog != "/etc/ww/audit.jsonl" {
		t.Errorf("addresses %q %q %q", c.Listen, c.AdminListen, c.AuditLog)
	}
	if c.Request != (RequestLimits{MaxBody: 2 << 20, MaxHeaderBytes: 8 << 10, MaxHeaders: 50, Timeout: 3 * time.Second, BodyBudget: 8 << 20}) {
		t.Errorf("request %+v", c.Request)
	}
	if c.Response != (ResponseLimits{MaxHeaderBytes: 1 << 10, MaxHeaders: 10, MaxBody: 1 << 20, WriteTimeout: 2 * time.Second}) {
		t.Errorf("response %+v", c.Response)
	}
	if c.Connections != (ConnectionLimits{Max: 100, MaxPerClient: 7, IdleTimeout: 9 * time.Second, PressureIdleTimeout: time.Second, AdminMax: 3}) || c.DrainDelay != 0 {
		t.Errorf("connections %+v drain %v", c.Connections, c.DrainDelay)
	}
	if c.RateLimit != (RateLimit{RequestsPerSecond: 10, Burst: 20, MaxClients: 5}) || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Errorf("rate %+v proxies %v", c.RateLimit, c.TrustedProxies)
	}
	if len(c.SecurityHeaders) != 1 || c.SecurityHeaders["X-Frame-Options"] != "SAMEORIGIN" || c.ShutdownTimeout != time.Second {
		t.Errorf("security %v shutdown %v", c.SecurityHeaders, c.ShutdownTimeout)
	}
	a, b := c.Routes[0], c.Routes[1]
	if a.Path != "/a" || a.Prefix || string(a.Wasm) != "bytes of a.wasm" || a.MaxConcurrency != DefaultMaxConcurrency ||
		strings.Join(a.PassHeaders, ",") != "accept" || a.Policy.Limits.Memory != 32<<20 || a.Policy.Limits.Timeout.Std() != time.Second {
		t.Errorf("route a %+v", a)
	}
	if b.Path != "/b" || !b.Prefix || b.MaxConcurrency != 3 || strings.Join(b.PassHeaders, ",") != "authorization,user-agent" ||
		b.Policy.Limits.Memory != 32<<20 || b.Policy.Limits.Timeout.Std() != 2*time.Second {
		t.Errorf("route b %+v", b)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := parse("routes: [{route: /, module: m.wasm}]")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.AdminListen != "127.0.0.1:9090" || c.AuditLog != "" ||
		c.Request.MaxBody != DefaultMaxBody || c.Request.Timeout != DefaultRequestTimeout ||
		c.RateLimit.RequestsPerSecond != 100 || c.RateLimit.Burst != 200 || len(c.SecurityHeaders) != 4 {
		t.Errorf("defaults %+v", c)
	}
	if strings.Join(c.Routes[0].PassHeaders, ",") != "accept,accept-language,content-type,user-agent" {
		t.Errorf("default pass headers %v", c.Routes[0].PassHeaders)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ yml, want string }{
		{"listen: x\nroutes: []\nbogus: 1\n", `gw.yaml:3: unknown key "bogus"`},
		{"routes:\n  - route: /a\n    module: a.wasm\n    modul: x\n", `gw.yaml:4: unknown key "modul"`},
		{"request:\n  max_bdy: 1\nroutes: []\n", `gw.yaml:2: unknown key "max_bdy"`},
		{"policy:\n  limits:\n    memroy: 1MiB\nroutes: []\n", `gw.yaml:3: unknown key "memroy"`},
		{"routes:\n  - route: /a\n    module: a.wasm\n    policy:\n      capabilities: {envv: {}}\n", `gw.yaml:5: unknown key "envv"`},
		{"routes: []\n", "at least one route"},
		{"routes: [{route: a, module: a.wasm}]", "must start with /"},
		{"routes: [{route: /a/../b, module: a.wasm}]", "not a clean path"},
		{"routes: [{route: /a/.../b, module: a.wasm}]", "only as a final"},
		{"routes: [{route: /a, module: a.wasm}, {route: /a, module: b.wasm}]", "also routes[0]"},
		{"routes: [{route: /a}]", "module: missing"},
		{"routes: [{route: /a, module: missing.wasm}]", "routes[0]: module:"},
		{"routes: [{route: /a, module: a.wasm, max_concurrency: 0}]", "max_concurrency: must be at least 1"},
		{"pass_headers: [authorization]\nroutes: [{route: /a, module: a.wasm}]", "only by a route's own pass_headers"},
		{"pass_headers: [proxy-authorization]\nroutes: [{route: /a, module: a.wasm}]", "only by a route's own pass_headers"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [x_y]}]", "ambiguous"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [content-length]}]", "cannot be passed"},
		// One rule for the configuration and the guest response parser
		// (httpfield): every framing or connection field is refused.
		{"routes: [{route: /a, module: a.wasm, pass_headers: [Transfer-Encoding]}]", "cannot be passed"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [te]}]", "cannot be passed"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [upgrade]}]", "cannot be passed"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [keep-alive]}]", "cannot be passed"},
		{"pass_headers: [trailer]\nroutes: [{route: /a, module: a.wasm}]", "cannot be passed"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [host]}]", "cannot be passed"},
		{"routes: [{route: /a, module: a.wasm, pass_headers: [\"a b\"]}]", "not a header name"},
		{"request: {max_body: lots}\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: invalid size"},
		{"request: {timeout: 0}\nroutes: [{route: /a, module: a.wasm}]", "request.timeout: must be greater than zero"},
		// Non-finite and negative numbers are refused wherever a number is
		// read, with the line (before: .nan was accepted and switched the
		// rate limit off).
		{"rate_limit: {requests_per_second: -1}\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: rate_limit.requests_per_second: must be a finite number"},
		{"rate_limit:\n  requests_per_second: .nan\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: rate_limit.requests_per_second: must be a finite number"},
		{"rate_limit:\n  requests_per_second: .NaN\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: rate_limit.requests_per_second: must be a finite number"},
		{"rate_limit:\n  requests_per_second: .inf\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: rate_limit.requests_per_second: must be a finite number"},
		{"rate_limit:\n  requests_per_second: -.inf\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: rate_limit.requests_per_second: must be a finite number"},
		{"rate_limit:\n  burst: -1\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: rate_limit.burst: must be at least 1"},
		{"rate_limit:\n  burst: .inf\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2:"},
		{"rate_limit:\n  max_clients: -5\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: rate_limit.max_clients: must be at least 1"},
		{"request:\n  max_body: -1\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: invalid size"},
		{"request:\n  max_body: .nan\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: invalid size"},
		{"request:\n  max_body: .inf\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: invalid size"},
		{"request:\n  max_headers: -3\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: request.max_headers: must be at least 1"},
		{"request:\n  timeout: -1s\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: invalid duration"},
		{"request:\n  body_budget: 1KiB\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: request.body_budget: 1KiB is out of range"},
		{"response:\n  max_headers: .nan\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2:"},
		{"response:\n  write_timeout: 0\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: response.write_timeout: must be greater than zero"},
		{"connections:\n  max: 0\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: connections.max: must be at least 1"},
		{"connections:\n  max_per_client: -1\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: connections.max_per_client: must be at least 1"},
		{"connections:\n  idle_timeout: 0s\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:2: connections.idle_timeout: must be greater than zero"},
		{"shutdown_timeout: 0\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: shutdown_timeout: must be greater than zero"},
		{"drain_delay: -2s\nroutes: [{route: /a, module: a.wasm}]", "gw.yaml:1: invalid duration"},
		{"routes:\n  - {route: /a, module: a.wasm, max_concurrency: .inf}", "gw.yaml:2:"},
		{"routes:\n  - {route: /a, module: a.wasm, max_concurrency: -1}", "gw.yaml:2: routes[0]: max_concurrency: must be at least 1"},
		{"routes:\n  - {route: /a, module: a.wasm, policy: {limits: {fuel: -1}}}", "gw.yaml:2:"},
		{"routes:\n  - {route: /a, module: a.wasm, policy: {limits: {fuel: .nan}}}", "gw.yaml:2:"},
		{"routes:\n  - {route: /a, module: a.wasm, policy: {limits: {memory: .inf}}}", "gw.yaml:2:"},
		{"routes:\n  - {route: /a, module: a.wasm, methods: [get]}", "methods: \"get\" is not an upper-case method name"},
		{"trusted_proxies: [nope]\nroutes: [{route: /a, module: a.wasm}]", "trusted_proxies[0]"},
		{"security_headers: {\"Bad Name\": x}\nroutes: [{route: /a, module: a.wasm}]", "security_headers"},
		{"policy: {limits: {memory: 0}}\nroutes: [{route: /a, module: a.wasm}]", "limits.memory: must be greater than zero"},
		{"routes: [{route: /a, module: a.wasm, policy: {limits: {timeout: 0}}}]", "routes[0].policy"},
		{"routes: {route: /a}", "gw.yaml:1:"},
		{"", "empty configuration"},
		{"routes: [\n", "gw.yaml:"},
	}
	for _, tc := range tests {
		_, err := parse(tc.yml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", tc.yml, err)
		}
	}
}

// admin_listen: off disables the admin listener in the file as the
// --admin-listen flag does (before: the file took "off" for an address).
func TestConfigAdminListenOff(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"admin_listen: off\n", ""},
		{"admin_listen: \"off\"\n", ""},
		{"admin_listen: \"\"\n", ""},
		{"admin_listen: 127.0.0.1:9999\n", "127.0.0.1:9999"},
		{"", "127.0.0.1:9090"},
	} {
		c, err := parse(tc.yml + "routes: [{route: /a, module: a.wasm}]")
		if err != nil {
			t.Fatalf("%q: %v", tc.yml, err)
		}
		if c.AdminListen != tc.want {
			t.Errorf("%q: admin listen %q, want %q", tc.yml, c.AdminListen, tc.want)
		}
	}
}

func TestLoadConfigResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "h.wasm"), []byte("wasm!"), 0o600)
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	cfgPath := filepath.Join(dir, "gw.yaml")
	os.WriteFile(cfgPath, []byte(`
audit_log: a.jsonl
policy:
  capabilities:
    mounts: [{host: data, guest: /data, read_only: true}]
routes: [{route: /h, module: h.wasm}]
`), 0o600)
	// From another working directory.
	t.Chdir(t.TempDir())
	c, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Routes[0].Wasm) != "wasm!" || c.AuditLog != filepath.Join(dir, "a.jsonl") ||
		c.Routes[0].Policy.Capabilities.Mounts[0].Host != filepath.Join(dir, "data") {
		t.Errorf("%+v", c)
	}
}

func TestParseRoute(t *testing.T) {
	for in, want := range map[string]struct {
		path   string
		prefix bool
	}{
		"/":        {"/", false},
		"/...":     {"", true},
		"/a":       {"/a", false},
		"/a/":      {"/a/", false},
		"/a/b/...": {"/a/b", true},
	} {
		p, pre, err := parseRoute(in)
		if err != nil || p != want.path || pre != want.prefix {
			t.Errorf("%q: %q %v %v", in, p, pre, err)
		}
	}
}
