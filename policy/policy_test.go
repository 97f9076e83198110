package policy

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  bool
	}{
		{"64MiB", 64 << 20, false},
		{"1GiB", 1 << 30, false},
		{"512", 512, false},
		{"10B", 10, false},
		{"1.5KiB", 1536, false},
		{"2MB", 2_000_000, false},
		{"16 KiB", 16 << 10, false},
		{"", 0, true},
		{"-1MiB", 0, true},
		{"MiB", 0, true},
		{"12XB", 0, true},
		{"99999999999999TiB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"500ms": 500 * time.Millisecond, "2s": 2 * time.Second, "0": 0, "1m30s": 90 * time.Second} {
		got, err := ParseDuration(in)
		if err != nil || got.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2", "-1s", "soon"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): want error", in)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := Parse([]byte(""), "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if p.Limits != d.Limits || p.Capabilities.Clock != ClockFixed || p.Capabilities.Stdin != StdinNone ||
		len(p.Capabilities.Imports) != 1 || p.Capabilities.Imports[0] != "wasi_snapshot_preview1.*" ||
		len(p.Capabilities.Mounts) != 0 || len(p.Capabilities.Env) != 0 {
		t.Fatalf("empty policy = %+v, want defaults", p)
	}
	if p.Limits.Memory == 0 || p.Limits.Timeout == 0 || p.Limits.Output == 0 || p.Limits.StackDepth == 0 {
		t.Fatal("a default limit is zero: every run must have limits")
	}
}

func TestParseFull(t *testing.T) {
	src := `
limits:
  memory: 64MiB
  timeout: 500ms
  output: 1KiB
  fuel: 1000000
  stack_depth: 500
capabilities:
  imports: ["wasi_snapshot_preview1.fd_write", "env.*"]
  mounts:
    - {host: /tmp, guest: /data, read_only: true}
  env: {A: "1", B: two}
  args: [x, y]
  stdin: inherit
  clock: real
  random: seeded:42
`
	p, err := Parse([]byte(src), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{Memory: 64 << 20, Timeout: Duration(500 * time.Millisecond), Output: 1024, Fuel: 1000000, StackDepth: 500, Network: DefaultNetworkLimits()}
	if p.Limits != want {
		t.Fatalf("limits = %+v, want %+v", p.Limits, want)
	}
	c := p.Capabilities
	if len(c.Mounts) != 1 || c.Mounts[0] != (Mount{Host: "/tmp", Guest: "/data", ReadOnly: true}) {
		t.Fatalf("mounts = %+v", c.Mounts)
	}
	if got := strings.Join(c.SortedEnv(), ","); got != "A=1,B=two" {
		t.Fatalf("env = %s", got)
	}
	seeded, seed, err := c.RandomSource()
	if err != nil || !seeded || seed != 42 {
		t.Fatalf("random = %v %v %v", seeded, seed, err)
	}
	if !p.AllowsImport("env", "anything") || !p.AllowsImport("wasi_snapshot_preview1", "fd_write") || p.AllowsImport("wasi_snapshot_preview1", "path_open") {
		t.Fatal("import allowlist mismatch")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"limits:\n  memroy: 1MiB\n", `p.yaml:2: unknown key "memroy"`},
		{"capabilities:\n  imports: []\n  foo: 1\n", `p.yaml:3: unknown key "foo"`},
		{"limits:\n  memory: lots\n", `p.yaml:2: invalid size "lots"`},
		{"limits:\n  timeout: 5\n", `p.yaml:2: invalid duration "5"`},
		{"limits:\n  memory: 8GiB\n", "limits.memory: 8GiB is above"},
		{"limits:\n  memory: 0\n", "limits.memory: must be greater than zero"},
		{"capabilities:\n  clock: wall\n", `capabilities.clock: "wall"`},
		{"capabilities:\n  random: dice\n", `capabilities.random: "dice"`},
		{"capabilities:\n  stdin: tty\n", `capabilities.stdin: "tty"`},
		{"capabilities:\n  mounts: [{host: /tmp, guest: data}]\n", `guest path "data" must be absolute`},
		{"capabilities:\n  imports: [fd_write]\n", `want module.name`},
		{"limits: [1, 2]\n", "p.yaml:1:"},
		{"limits:\n\tmemory: 1\n", "p.yaml:"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.src), "p.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want containing %q", tc.src, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error has several lines: %q", tc.src, err)
		}
	}
}

func TestOverlay(t *testing.T) {
	base, err := Parse([]byte("limits: {memory: 32MiB, timeout: 1s}\ncapabilities: {env: {A: a}}\n"), "base")
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("limits: {timeout: 3s}\ncapabilities: {env: {B: b}}\n"), &n); err != nil {
		t.Fatal(err)
	}
	p, err := Overlay(base, n.Content[0], "route")
	if err != nil {
		t.Fatal(err)
	}
	if p.Limits.Memory != 32<<20 || p.Limits.Timeout.Std() != 3*time.Second {
		t.Fatalf("overlay limits = %+v", p.Limits)
	}
	if got := strings.Join(p.Capabilities.SortedEnv(), ","); got != "A=a,B=b" {
		t.Fatalf("overlay env = %s", got)
	}
	if len(base.Capabilities.Env) != 1 {
		t.Fatal("overlay changed its base")
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"wasi_snapshot_preview1.*", "wasi_snapshot_preview1.fd_write", true},
		{"wasi_snapshot_preview1.*", "wasi_snapshot_preview2.fd_write", false},
		{"*.fd_*", "wasi_snapshot_preview1.fd_read", true},
		{"env.abort", "env.abort", true},
		{"env.abort", "env.abortx", false},
		{"*", "", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 60), false},
	}
	for _, tc := range tests {
		if got := Match(tc.pat, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		in   string
		want Mount
		err  bool
	}{
		{"/srv:/data", Mount{Host: "/srv", Guest: "/data"}, false},
		{"/srv:/data:ro", Mount{Host: "/srv", Guest: "/data", ReadOnly: true}, false},
		{"/srv:/data:rw", Mount{Host: "/srv", Guest: "/data"}, false},
		{"/srv", Mount{}, true},
		{"/srv:data", Mount{}, true},
		{"/srv:/data:xx", Mount{}, true},
		{":/data", Mount{}, true},
	}
	for _, tc := range tests {
		got, err := ParseMount(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseMount(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	p := Default()
	p.Limits.Fuel = 77
	p.Capabilities.Env = map[string]string{"K": "V"}
	p.Capabilities.Mounts = []Mount{{Host: "/h", Guest: "/g", ReadOnly: true}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(b, "rt")
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if q.Limits != p.Limits || q.Capabilities.Env["K"] != "V" || q.Capabilities.Mounts[0] != p.Capabilities.Mounts[0] {
		t.Fatalf("round trip: %+v != %+v", q, p)
	}
}

func TestOverlayErrorLinesPointIntoTheFile(t *testing.T) {
	src := "routes:\n  - route: /x\n    policy:\n      limits:\n        timeout: 1s\n        memroy: 1MiB\n"
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	pol := doc.Content[0].Content[1].Content[0].Content[3] // routes[0].policy
	_, err := Overlay(Default(), pol, "gw.yaml")
	if err == nil || err.Error() != `gw.yaml:6: unknown key "memroy"` {
		t.Fatalf("err = %v", err)
	}
}
