package alert

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func parse(t *testing.T, src string, routes ...string) (Config, error) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	doc := root.Content[0]
	if len(routes) == 0 {
		routes = []string{"/evil/...", "/hello", "/api/v1/..."}
	}
	return ParseConfig(Nodes{Alerts: mapValue(doc, "alerts"), Alerting: mapValue(doc, "alerting"),
		SoftThresholds: mapValue(doc, "soft_thresholds")}, "gw.yaml", "/etc/ww", routes)
}

// The issue's form works as written.
func TestParseIssueForm(t *testing.T) {
	c, err := parse(t, `
alerts:
  - name: repeated-violations
    when: {signal: violations, over: 1m, count: 3}   # signals also: traps, soft, errors_5xx, p99_ms, findings
    routes: [/evil/...]                              # default: every route
    severity: high
    action: isolate                                  # isolate | restart | rollback | notify
alerting:
  state_dir: state
`)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rules[0]
	if r.Name != "repeated-violations" || r.Signal != Violations || r.Over != time.Minute || r.Count != 3 ||
		r.Severity != High || r.Action != Isolate || len(r.Routes) != 1 || r.ResolveAfter != time.Minute || r.ResolveBelow != 1.5 {
		t.Fatalf("rule %+v", r)
	}
	if c.StateDir != "/etc/ww/state" || c.RestartMax != DefaultRestartMax {
		t.Fatalf("config %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"alerts:\n  - name: a\n    when: {signal: violation, over: 1m, count: 3}\n    severity: high\n    action: notify\n",
			`gw.yaml:3: alerts[0].when.signal: "violation" is not one of violations, traps`},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3}\n    severity: high\n    action: isolate\n",
			"alerting.state_dir is required"},
		{"alerts:\n  - name: a\n    when: {signal: violations, count: 3}\n    severity: high\n    action: notify\n",
			"gw.yaml:3: alerts[0].when: over: missing"},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3, rate: 0.5}\n    severity: high\n    action: notify\n",
			"give one of count, rate and above"},
		{"alerts:\n  - name: a\n    when: {signal: p99_ms, over: 1m, count: 3}\n    severity: high\n    action: notify\n",
			"p99_ms signal needs above"},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3}\n    routes: [/nope/...]\n    severity: high\n    action: notify\n",
			`gw.yaml:4: alerts[0].routes: "/nope/..." matches no configured route`},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3}\n    severity: urgent\n    action: notify\n",
			`gw.yaml:4: alerts[0].severity: "urgent" is not info, warning, high or critical`},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3}\n    severity: high\n    action: reboot\n",
			`"reboot" is not isolate, restart, rollback or notify`},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3}\n    severity: high\n    action: notify\n  - name: a\n    when: {signal: traps, over: 1m, count: 1}\n    severity: high\n    action: notify\n",
			`gw.yaml:6: alerts[1]: name "a" is also alerts[0]`},
		{"alerts:\n  - name: a\n    when: {signal: violations, over: 1m, count: 3}\n    severity: high\n    action: notify\n    extra: 1\n",
			`unknown key "extra"`},
		{"alerts:\n  - name: a\n    when: {signal: traps, kind: x, over: 1m, count: 3}\n    severity: high\n    action: notify\n",
			"only the violations and soft signals take a kind"},
		{"alerts:\n  - name: a\n    when: {signal: soft, kind: cpu, over: 1m, count: 3}\n    severity: high\n    action: notify\n",
			`"cpu" is not a soft kind`},
		{"alerts:\n  - name: a\n    when: {signal: errors_5xx, over: 1m, rate: 2}\n    severity: high\n    action: notify\n",
			"alerts[0].when.rate: must be a fraction"},
		{"soft_thresholds:\n  memory_percent: 120\n", "gw.yaml:2: soft_thresholds.memory_percent: must be a percentage"},
		{"soft_thresholds:\n  host_calls: {fd_write: 3}\n", `"fd_write" is not module.name`},
		{"alerting:\n  webhook: {url: ftp://x}\n", `alerting.webhook.url: "ftp://x" is not an http`},
		{"alerting:\n  webhook: {url: http://x}\n", "secret_file: missing"},
		{"alerting:\n  webhook: {url: http://x, secret_file: s, format: xml}\n", `"xml" is not json or alertmanager`},
		{"alerts: {name: a}\n", "alerts: must be a list"},
	} {
		_, err := parse(t, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestMatchRoute(t *testing.T) {
	for _, tc := range []struct {
		p, label string
		want     bool
	}{
		{"/evil/...", "/evil/...", true},
		{"/evil/...", "/evil", true},
		{"/evil/...", "/evil/x", true},
		{"/evil/...", "/evil/x/...", true},
		{"/evil/...", "/evilx", false},
		{"/evil/...", "/evilx/...", false},
		{"/evil", "/evil", true},
		{"/evil", "/evil/...", false},
		{"/...", "/anything/...", true},
	} {
		if got := MatchRoute(tc.p, tc.label); got != tc.want {
			t.Errorf("MatchRoute(%q, %q) = %v", tc.p, tc.label, got)
		}
	}
}

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func engine(t *testing.T, rule Rule) (*Engine, *clock, *[]Transition) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	var got []Transition
	if rule.ResolveBelow == 0 {
		rule.ResolveBelow = rule.Threshold() * DefaultResolveFraction
	}
	if rule.MinRequests == 0 {
		rule.MinRequests = 1
	}
	e := NewEngine([]Rule{rule}, Options{Now: c.now, OnTransition: func(tr Transition) { got = append(got, tr) }})
	return e, c, &got
}

func states(ts []Transition) string {
	var s []string
	for _, t := range ts {
		s = append(s, string(t.Alert.State))
	}
	return strings.Join(s, ",")
}

// A count over a sliding window: three violations within the window fire;
// three spread wider than the window do not.
func TestWindowCount(t *testing.T) {
	rule := Rule{Name: "v", Signal: Violations, Over: 10 * time.Second, Count: 3, Severity: High, Action: Notify, ResolveAfter: 10 * time.Second}
	viol := &Sample{Route: "/evil/...", SHA256: "aa", Status: 502, Violation: "memory_limit"}
	t.Run("spread", func(t *testing.T) {
		e, c, got := engine(t, rule)
		for range 3 {
			e.Observe(viol)
			e.Evaluate()
			c.add(6 * time.Second)
		}
		e.Evaluate()
		if len(*got) != 0 {
			t.Fatalf("transitions %s", states(*got))
		}
	})
	t.Run("burst", func(t *testing.T) {
		e, c, got := engine(t, rule)
		for range 3 {
			e.Observe(viol)
			c.add(time.Second)
		}
		e.Evaluate()
		if states(*got) != "pending,firing" {
			t.Fatalf("transitions %s", states(*got))
		}
		a := e.Snapshot()[0]
		if a.State != Firing || a.Value != 3 || a.Threshold != 3 || a.Route != "/evil/..." || a.SHA256 != "aa" {
			t.Fatalf("alert %+v", a)
		}
		// The window empties; after resolve_after below the resolve
		// threshold, it resolves, once.
		c.add(10 * time.Second)
		e.Evaluate()
		c.add(9 * time.Second)
		e.Evaluate()
		if states(*got) != "pending,firing" {
			t.Fatalf("resolved early: %s", states(*got))
		}
		c.add(2 * time.Second)
		e.Evaluate()
		e.Evaluate()
		if states(*got) != "pending,firing,resolved" {
			t.Fatalf("transitions %s", states(*got))
		}
	})
	t.Run("kind", func(t *testing.T) {
		r := rule
		r.Kind = "timeout"
		e, _, got := engine(t, r)
		for range 5 {
			e.Observe(viol) // memory_limit: not counted
		}
		e.Evaluate()
		if len(*got) != 0 {
			t.Fatalf("transitions %s", states(*got))
		}
	})
}

// "for": the condition must hold that long before firing; a condition
// that stops holding while pending goes back to inactive.
func TestForPending(t *testing.T) {
	rule := Rule{Name: "slow", Signal: Soft, Kind: SoftMemory, Over: 5 * time.Second, Count: 1, For: 3 * time.Second,
		Severity: Warning, Action: Notify, ResolveAfter: 5 * time.Second}
	e, c, got := engine(t, rule)
	soft := &Sample{Route: "/a", SHA256: "bb", Status: 200, Soft: []SoftEvent{{Kind: SoftMemory, Value: 95, Threshold: 90}}}
	e.Observe(soft)
	e.Evaluate()
	if states(*got) != "pending" {
		t.Fatalf("transitions %s", states(*got))
	}
	c.add(6 * time.Second) // the window is empty before for elapsed
	e.Evaluate()
	if states(*got) != "pending,inactive" || len(e.Snapshot()) != 0 {
		t.Fatalf("transitions %s, snapshot %v", states(*got), e.Snapshot())
	}
	for range 4 {
		e.Observe(soft)
		e.Evaluate()
		c.add(time.Second)
	}
	if states(*got) != "pending,inactive,pending,firing" {
		t.Fatalf("transitions %s", states(*got))
	}
}

// No flapping: a signal oscillating around its threshold fires once and
// stays firing; it resolves once only after it stays low.
func TestNoFlapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		feed func(e *Engine, high bool)
	}{
		{"count", Rule{Name: "c", Signal: Errors5xx, Over: 2 * time.Second, Count: 6, Severity: High, Action: Notify, ResolveAfter: 2 * time.Second},
			func(e *Engine, high bool) {
				// 1 or 3 errors per 500ms: 4 (below) or 12 (above) per window.
				n := 1
				if high {
					n = 3
				}
				for range n {
					e.Observe(&Sample{Route: "/a", SHA256: "cc", Status: 500})
				}
			}},
		{"rate", Rule{Name: "r", Signal: Traps, Over: 2 * time.Second, Rate: 0.2, MinRequests: 5, Severity: High, Action: Notify, ResolveAfter: 2 * time.Second},
			func(e *Engine, high bool) {
				traps := 1
				if high {
					traps = 3
				}
				for i := range 10 {
					e.Observe(&Sample{Route: "/a", SHA256: "cc", Status: 200, Trap: i < traps})
				}
			}},
		{"p99", Rule{Name: "p", Signal: P99, Over: 2 * time.Second, Above: 100, MinRequests: 1, Severity: High, Action: Notify, ResolveAfter: 2 * time.Second},
			func(e *Engine, high bool) {
				d := 70 * time.Millisecond
				if high {
					d = 150 * time.Millisecond
				}
				for range 5 {
					e.Observe(&Sample{Route: "/a", SHA256: "cc", Status: 200, Duration: d})
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, c, got := engine(t, tc.rule)
			for i := range 80 { // 40s of a square wave, period 8s
				tc.feed(e, (i/8)%2 == 0)
				e.Evaluate()
				c.add(500 * time.Millisecond)
			}
			if states(*got) != "pending,firing" {
				t.Fatalf("transitions %s", states(*got))
			}
			for range 20 { // 10s quiet
				e.Evaluate()
				c.add(500 * time.Millisecond)
			}
			if states(*got) != "pending,firing,resolved" {
				t.Fatalf("transitions %s", states(*got))
			}
		})
	}
}

func TestFindingsAndRefused(t *testing.T) {
	e, _, got := engine(t, Rule{Name: "f", Signal: Findings, Count: 1, Severity: Critical, Action: Notify})
	e.SetFindings("/a", "dd", "a.wasm", 0)
	e.Evaluate()
	if len(*got) != 0 {
		t.Fatalf("transitions %s", states(*got))
	}
	e.SetFindings("/a", "dd", "a.wasm", 2)
	e.Evaluate()
	if states(*got) != "pending,firing" || (*got)[1].Alert.Value != 2 || (*got)[1].Alert.Module != "a.wasm" {
		t.Fatalf("transitions %+v", *got)
	}
	e2, _, got2 := engine(t, Rule{Name: "r", Signal: RefusedDeploys, Over: time.Minute, Count: 2, Severity: Warning, Action: Notify})
	e2.RecordRefused("/a", "ee", "bad.wasm")
	e2.Evaluate()
	e2.RecordRefused("/a", "ee", "bad.wasm")
	e2.Evaluate()
	if states(*got2) != "pending,firing" {
		t.Fatalf("transitions %s", states(*got2))
	}
}

// A subscriber that does not read never holds the engine: its
// transitions are dropped and counted.
func TestSubscribe(t *testing.T) {
	e, _, _ := engine(t, Rule{Name: "t", Signal: Traps, Over: time.Minute, Count: 1, Severity: Info, Action: Notify})
	ch, stop := e.Subscribe(1)
	slow, stopSlow := e.Subscribe(1)
	defer stopSlow()
	e.Observe(&Sample{Route: "/a", SHA256: "01", Status: 502, Trap: true})
	e.Evaluate() // pending, firing: the second does not fit
	if tr := <-ch; tr.Alert.State != Pending || tr.From != Inactive {
		t.Fatalf("first %+v", tr)
	}
	if e.Dropped() != 2 {
		t.Fatalf("dropped %d, want 2 (one per subscriber)", e.Dropped())
	}
	stop()
	stop()
	if _, open := <-ch; open {
		t.Fatal("the channel is still open after stop")
	}
	_ = slow
}

func TestCheckSoft(t *testing.T) {
	th := &Thresholds{MemoryPercent: 90, Duration: time.Second, Fuel: 1000, OutputPercent: 50,
		HostCalls: map[string]uint64{"wasi_snapshot_preview1.fd_write": 10, "wasi_snapshot_preview1.fd_read": 5}}
	for _, tc := range []struct {
		u    Usage
		want string
	}{
		{Usage{PeakMemory: 89 << 20, MemoryCap: 100 << 20, Duration: 999 * time.Millisecond, Fuel: 999, Stdout: 49, OutputCap: 100,
			HostCalls: map[string]uint64{"wasi_snapshot_preview1.fd_write": 9}}, ""},
		{Usage{PeakMemory: 90 << 20, MemoryCap: 100 << 20}, "memory:90/90"},
		{Usage{Duration: 1500 * time.Millisecond}, "duration:1500/1000"},
		{Usage{Fuel: 1000}, "fuel:1000/1000"},
		{Usage{Stderr: 60, OutputCap: 100}, "output:60/50"},
		{Usage{HostCalls: map[string]uint64{"wasi_snapshot_preview1.fd_write": 10, "wasi_snapshot_preview1.fd_read": 7}},
			"host_calls:wasi_snapshot_preview1.fd_read:7/5 host_calls:wasi_snapshot_preview1.fd_write:10/10"},
	} {
		var parts []string
		for _, ev := range CheckSoft(nil, th, &tc.u) {
			p := ev.Kind + ":"
			if ev.Name != "" {
				p += ev.Name + ":"
			}
			parts = append(parts, p+trim(ev.Value)+"/"+trim(ev.Threshold))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.u, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { CheckSoft(nil, th, &Usage{MemoryCap: 1, OutputCap: 1}) }); n != 0 {
		t.Fatalf("a run under every threshold allocates %v times", n)
	}
}

func trim(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }
