// Package policy defines the one policy type of wasmward: the limits a guest
// runs under and the capabilities it is granted. `run`, `scan`, `serve` and
// signed capability manifests all use it.
//
// A policy is plain data. Parse reads YAML with strict keys on top of Default,
// so anything a file leaves out keeps its secure default: every run has a
// memory cap, a deadline, an output cap and a call-depth bound; only WASI
// preview1 imports are allowed; no file system, no environment, no host
// clock. Validate reports the first invalid field.
package policy

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wasmward/wasmward/internal/yamlstrict"
	"gopkg.in/yaml.v3"
)

// Policy is the limits and capabilities of one module. The zero value is not
// usable; start from Default or Parse.
type Policy struct {
	Limits       Limits       `yaml:"limits" json:"limits"`
	Capabilities Capabilities `yaml:"capabilities" json:"capabilities"`
	// Events bound and grant an event processor (wasmward events).
	Events Events `yaml:"events" json:"events"`
}

// Limits bound what one instance may consume. Every field has a non-zero
// default except Fuel, where zero means unmetered (the deadline still holds).
type Limits struct {
	// Memory caps the linear memory of each instance, in bytes.
	Memory Size `yaml:"memory" json:"memory"`
	// Timeout is the wall-clock deadline of one invocation.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Output caps stdout and stderr, each, in bytes.
	Output Size `yaml:"output" json:"output"`
	// Fuel is the instruction budget of one invocation; 0 is unmetered.
	Fuel uint64 `yaml:"fuel" json:"fuel"`
	// StackDepth bounds nested guest calls.
	StackDepth uint32 `yaml:"stack_depth" json:"stack_depth"`
	// Network bounds outbound requests; it matters only when
	// capabilities.network grants some.
	Network NetworkLimits `yaml:"network" json:"network"`
}

// Capabilities are what the host lends a guest. Nothing outside them reaches it.
type Capabilities struct {
	// Imports are the allowed imports as "module.name" patterns, where "*"
	// matches any run of characters, for example "wasi_snapshot_preview1.*".
	Imports []string `yaml:"imports" json:"imports"`
	// Mounts are host directories visible to the guest.
	Mounts []Mount `yaml:"mounts" json:"mounts,omitempty"`
	// Env is the guest's whole environment. The host's is never inherited.
	Env map[string]string `yaml:"env" json:"env,omitempty"`
	// Args follow the program name in the guest's argv.
	Args []string `yaml:"args" json:"args,omitempty"`
	// Stdin is where the guest's standard input comes from: "none" (empty),
	// "inherit" (the host process's stdin) or "file:PATH".
	Stdin string `yaml:"stdin" json:"stdin"`
	// Clock is "fixed" (deterministic clocks that reveal nothing of the host)
	// or "real" (the host's wall and monotonic clocks).
	Clock string `yaml:"clock" json:"clock"`
	// Random is "secure" (the host's CSPRNG) or "seeded:N" (a deterministic
	// stream from seed N, for reproducible runs).
	Random string `yaml:"random" json:"random"`
	// Network is the outbound network access: none unless it lists rules.
	Network Network `yaml:"network" json:"network"`
}

// Mount exposes the host directory Host at the guest path Guest.
type Mount struct {
	Host     string `yaml:"host" json:"host"`
	Guest    string `yaml:"guest" json:"guest"`
	ReadOnly bool   `yaml:"read_only" json:"read_only"`
}

// Defaults of every policy. They are deliberately tight; raise them per module.
const (
	DefaultMemory     = 128 << 20 // bytes per instance
	DefaultTimeout    = 10 * time.Second
	DefaultOutput     = 4 << 20 // bytes per stream
	DefaultStackDepth = 10000   // nested calls
	// MaxMemory is the largest linear memory wasm32 can address.
	MaxMemory = 4 << 30
)

// Clock and random and stdin settings.
const (
	ClockFixed   = "fixed"
	ClockReal    = "real"
	RandomSecure = "secure"
	StdinNone    = "none"
	StdinInherit = "inherit"
)

// Default returns the secure default policy: 128MiB memory, a 10s deadline,
// 4MiB per output stream, unmetered fuel with a 10000-deep call bound, only
// wasi_snapshot_preview1 imports, no mounts, no environment, no args, empty
// stdin, fixed clocks, secure randomness and no network (see
// DefaultNetworkLimits for the limits that apply once a policy grants it).
func Default() Policy {
	return Policy{
		Limits: Limits{
			Memory:     DefaultMemory,
			Timeout:    Duration(DefaultTimeout),
			Output:     DefaultOutput,
			StackDepth: DefaultStackDepth,
			Network:    DefaultNetworkLimits(),
		},
		Capabilities: Capabilities{
			Imports: []string{"wasi_snapshot_preview1.*"},
			Stdin:   StdinNone,
			Clock:   ClockFixed,
			Random:  RandomSecure,
			Network: Network{DenyPrivate: true},
		},
		Events: defaultEvents(),
	}
}

// Clone returns a deep copy, so that changing the copy's slices and maps
// leaves p untouched.
func (p Policy) Clone() Policy {
	c := p
	c.Events = p.Events.clone()
	c.Capabilities.Imports = append([]string(nil), p.Capabilities.Imports...)
	c.Capabilities.Mounts = append([]Mount(nil), p.Capabilities.Mounts...)
	c.Capabilities.Args = append([]string(nil), p.Capabilities.Args...)
	c.Capabilities.Network.HTTP = nil
	for _, r := range p.Capabilities.Network.HTTP {
		r.Methods = append([]string(nil), r.Methods...)
		c.Capabilities.Network.HTTP = append(c.Capabilities.Network.HTTP, r)
	}
	if p.Capabilities.Env != nil {
		c.Capabilities.Env = make(map[string]string, len(p.Capabilities.Env))
		maps.Copy(c.Capabilities.Env, p.Capabilities.Env)
	}
	return c
}

// Load reads and validates the policy file at path. Relative mount host paths
// are resolved against the file's directory.
func Load(path string) (Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("read policy: %w", err)
	}
	p, err := Parse(data, path)
	if err != nil {
		return Policy{}, err
	}
	p.ResolvePaths(filepath.Dir(path))
	return p, nil
}

// Parse reads a YAML policy over Default and validates it. name is used in
// error messages ("policy.yaml:3: unknown key \"memroy\"").
func Parse(data []byte, name string) (Policy, error) {
	p := Default()
	if err := yamlstrict.Unmarshal(data, &p, name); err != nil {
		return Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// Overlay decodes the YAML mapping node over a copy of base: keys present in
// node replace base's (lists are replaced whole, env maps are merged), keys
// absent keep base's values. The result is validated. The gateway uses it to
// merge a route's policy over the default one.
func Overlay(base Policy, node *yaml.Node, name string) (Policy, error) {
	p := base.Clone()
	if node == nil {
		return p, p.Validate()
	}
	if err := yamlstrict.Decode(node, &p, name); err != nil {
		return Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// ResolvePaths makes relative mount host paths and the network CA file
// relative to dir.
func (p *Policy) ResolvePaths(dir string) {
	if f := p.Capabilities.Network.CAFile; f != "" && !filepath.IsAbs(f) {
		p.Capabilities.Network.CAFile = filepath.Join(dir, f)
	}
	for i, m := range p.Capabilities.Mounts {
		if m.Host != "" && !filepath.IsAbs(m.Host) {
			p.Capabilities.Mounts[i].Host = filepath.Join(dir, m.Host)
		}
	}
}

// Validate reports the first field that is out of range or malformed.
func (p Policy) Validate() error {
	l := p.Limits
	switch {
	case l.Memory == 0:
		return errors.New("limits.memory: must be greater than zero")
	case l.Memory > MaxMemory:
		return fmt.Errorf("limits.memory: %s is above the 4GiB a wasm32 memory can address", l.Memory)
	case l.Timeout <= 0:
		return errors.New("limits.timeout: must be greater than zero")
	case l.Output == 0:
		return errors.New("limits.output: must be greater than zero")
	case l.StackDepth == 0:
		return errors.New("limits.stack_depth: must be greater than zero")
	}
	c := p.Capabilities
	for _, pat := range c.Imports {
		if err := checkImportPattern(pat); err != nil {
			return fmt.Errorf("capabilities.imports: %w", err)
		}
	}
	seen := map[string]bool{}
	for i, m := range c.Mounts {
		switch {
		case m.Host == "":
			return fmt.Errorf("capabilities.mounts[%d]: host is empty", i)
		case !strings.HasPrefix(m.Guest, "/"):
			return fmt.Errorf("capabilities.mounts[%d]: guest path %q must be absolute", i, m.Guest)
		case strings.Contains(m.Guest, "\x00") || strings.Contains(m.Host, "\x00"):
			return fmt.Errorf("capabilities.mounts[%d]: path contains NUL", i)
		}
		g := filepath.Clean(m.Guest)
		if seen[g] {
			return fmt.Errorf("capabilities.mounts[%d]: guest path %q mounted twice", i, g)
		}
		seen[g] = true
	}
	for k, v := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
			return fmt.Errorf("capabilities.env: invalid variable %q", k)
		}
	}
	for i, a := range c.Args {
		if strings.Contains(a, "\x00") {
			return fmt.Errorf("capabilities.args[%d]: contains NUL", i)
		}
	}
	switch {
	case c.Stdin == StdinNone || c.Stdin == StdinInherit:
	case strings.HasPrefix(c.Stdin, "file:") && len(c.Stdin) > len("file:"):
	default:
		return fmt.Errorf("capabilities.stdin: %q is not none, inherit or file:PATH", c.Stdin)
	}
	if c.Clock != ClockFixed && c.Clock != ClockReal {
		return fmt.Errorf("capabilities.clock: %q is not fixed or real", c.Clock)
	}
	if _, _, err := c.RandomSource(); err != nil {
		return err
	}
	if err := c.Network.validate(l.Network); err != nil {
		return err
	}
	return p.Events.validate()
}

// RandomSource reports whether randomness is seeded and the seed.
func (c Capabilities) RandomSource() (seeded bool, seed int64, err error) {
	if c.Random == RandomSecure {
		return false, 0, nil
	}
	if s, ok := strings.CutPrefix(c.Random, "seeded:"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return true, n, nil
		}
	}
	return false, 0, fmt.Errorf("capabilities.random: %q is not secure or seeded:N", c.Random)
}

// SortedEnv returns the environment as sorted "K=V" pairs, the order a guest sees.
func (c Capabilities) SortedEnv() []string {
	out := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func checkImportPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	if !strings.Contains(p, ".") && p != "*" {
		return fmt.Errorf("pattern %q: want module.name, for example wasi_snapshot_preview1.*", p)
	}
	return nil
}

// AllowsImport reports whether the import module.name matches one of the
// policy's import patterns. Imports from NetworkModule are decided by
// capabilities.network alone: allowed when it lists an HTTP rule, refused
// otherwise, whatever the patterns say.
func (p Policy) AllowsImport(module, name string) bool {
	if module == NetworkModule {
		return len(p.Capabilities.Network.HTTP) > 0
	}
	full := module + "." + name
	for _, pat := range p.Capabilities.Imports {
		if Match(pat, full) {
			return true
		}
	}
	return false
}

// Match reports whether s matches the glob pattern, where "*" matches any run
// of characters (dots and slashes included) and every other byte matches itself.
func Match(pattern, s string) bool {
	// Iterative glob with backtracking to the last star: linear in practice,
	// never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// ParseMount parses the command-line form HOST:GUEST[:ro|:rw] (read-write
// unless ":ro").
func ParseMount(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	m := Mount{}
	switch {
	case len(parts) == 3 && (parts[2] == "ro" || parts[2] == "rw"):
		m.ReadOnly = parts[2] == "ro"
		parts = parts[:2]
	case len(parts) != 2:
		return Mount{}, fmt.Errorf("invalid mount %q: want HOST:GUEST[:ro]", s)
	}
	m.Host, m.Guest = parts[0], parts[1]
	if m.Host == "" || m.Guest == "" {
		return Mount{}, fmt.Errorf("invalid mount %q: want HOST:GUEST[:ro]", s)
	}
	if !strings.HasPrefix(m.Guest, "/") {
		return Mount{}, fmt.Errorf("invalid mount %q: guest path must be absolute", s)
	}
	return m, nil
}

// Marshal returns the policy as YAML that Parse reads back to an equal policy.
func (p Policy) Marshal() ([]byte, error) { return yaml.Marshal(p) }
