package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/deploy"
)

// dashboardFile is the Grafana dashboard shipped in the repository.
var dashboardFile = filepath.Join("..", "..", "dashboards", "grafana", "wasmward.json")

type grafanaPanel struct {
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// dashboardQueries returns every PromQL query of the dashboard by where it
// is: the panels' targets (rows included) and the template variables'.
func dashboardQueries(t *testing.T) (exprs map[string][]string, variables map[string]string) {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels     []grafanaPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exprs, variables = map[string][]string{}, map[string]string{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs[p.Title] = append(exprs[p.Title], tg.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		variables[v.Name] = s
	}
	return exprs, variables
}

var (
	reString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	reMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	reRange    = regexp.MustCompile(`\[[^\]]*\]`)
	reGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	reIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	reOffset   = regexp.MustCompile(`\boffset\s+[0-9a-z]+`)
	// label_values(METRIC, LABEL), Grafana's variable query: the label
	// is not a metric.
	reLabelValues = regexp.MustCompile(`label_values\(([^,()]*?),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)`)
	// The PromQL functions and aggregations the dashboard may use; a name
	// called that is not here is a typo.
	promFuncs = map[string]bool{"rate": true, "irate": true, "increase": true, "sum": true, "max": true, "min": true,
		"avg": true, "count": true, "histogram_quantile": true, "topk": true, "clamp_min": true, "label_values": true}
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true}
)

// metricNames returns the metric names a PromQL expression selects, and
// the functions it calls.
func metricNames(expr string) (metrics, funcs []string) {
	s := reString.ReplaceAllString(expr, `""`)
	s = reMatchers.ReplaceAllString(s, "")
	s = reRange.ReplaceAllString(s, "")
	s = reGrouping.ReplaceAllString(s, "")
	s = reOffset.ReplaceAllString(s, "")
	s = reLabelValues.ReplaceAllString(s, "label_values($1)")
	for _, loc := range reIdent.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		switch {
		case strings.HasPrefix(rest, "("):
			funcs = append(funcs, id)
		case promKeywords[id]:
		default:
			metrics = append(metrics, id)
		}
	}
	return metrics, funcs
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr           string
		metrics, funcs string
	}{
		{`sum by (route) (rate(wasmward_requests_total{route=~"$route",code=~"5.."}[$__rate_interval]))`, "wasmward_requests_total", "sum,rate"},
		{`histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{x="y"}[5m]))) / b`, "a_bucket,b", "histogram_quantile,sum,rate"},
		{`min(wasmward_audit_healthy)`, "wasmward_audit_healthy", "min"},
		{`x and on (route) y offset 5m`, "x,y", ""},
		{`label_values(wasmward_requests_total, route)`, "wasmward_requests_total", "label_values"},
	}
	for _, tt := range tests {
		m, f := metricNames(tt.expr)
		if strings.Join(m, ",") != tt.metrics || strings.Join(f, ",") != tt.funcs {
			t.Errorf("%s: metrics %v funcs %v, want %s / %s", tt.expr, m, f, tt.metrics, tt.funcs)
		}
	}
}

// exported returns the metric names of a gateway's /metrics (histogram
// series by their _bucket, _sum and _count names, as queries use them).
func exported(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !f(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestDashboard: every query of the Grafana dashboard names only metrics
// a running gateway exports, once requests, violations, a deployment and
// a rollback made its series exist, and calls only PromQL functions.
func TestDashboard(t *testing.T) {
	exprs, variables := dashboardQueries(t)
	e := newEnv(t, Options{})
	id := e.deployV2(t)
	if _, err := e.m.Rollback(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// Three traps fire the isolating rule (an alert, an action, a
	// quarantine); "/evil?hello" writes its answer: a soft event.
	for _, p := range []string{"/svc", "/evil?hello", "/evil?memory", "/evil?trap", "/evil?trap", "/evil?trap", "/nowhere"} {
		e.get(t, p)
	}
	waitFor(t, "the isolation", func() bool { return e.mon.Quarantine().Len() == 1 })
	// A deployment of a module that does not compile is refused.
	if err := os.WriteFile(filepath.Join(e.dir, "bad.wasm"), []byte("\x00asm\x01\x00\x00\x00\x01\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rec, err := e.m.Deploy(context.Background(), deploy.Request{Route: "/svc", Module: "bad.wasm"}); err == nil && rec.State != deploy.Refused {
		t.Fatalf("deploying a malformed module: %s, want refused", rec.State)
	}
	req, _ := http.NewRequest(http.MethodTrace, e.pub+"/svc", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("TRACE: %d", resp.StatusCode)
	}
	var have map[string]bool
	// The isolation's action is counted just after the quarantine holds it.
	waitFor(t, "the action's metric", func() bool {
		have = exported(t, e.admin+"/metrics")
		return have["wasmward_alert_actions_total"]
	})

	used := map[string]bool{}
	check := func(where, expr string) {
		if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
			t.Errorf("%s: unbalanced query %q", where, expr)
		}
		ms, fs := metricNames(expr)
		if len(ms) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, m := range ms {
			used[m] = true
			if !have[m] {
				t.Errorf("%s: %q: the gateway exports no metric %s", where, expr, m)
			}
		}
		for _, f := range fs {
			if !promFuncs[f] {
				t.Errorf("%s: %q calls %s, not a PromQL function the dashboard may use", where, expr, f)
			}
		}
	}
	for title, es := range exprs {
		for _, x := range es {
			check("panel "+title, x)
		}
	}
	for name, q := range variables {
		check("variable "+name, q)
	}
	// What the dashboard must show (issue 14 item 4).
	for _, m := range []string{"wasmward_requests_total", "wasmward_request_duration_seconds_bucket", "wasmward_instance_duration_seconds_bucket",
		"wasmward_violations_total", "wasmward_guest_errors_total", "wasmward_deployments_total", "wasmward_rollbacks_total",
		"wasmward_soft_events_total", "wasmward_alerts", "wasmward_quarantined", "wasmward_alert_actions_total"} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	var all []string
	for m := range used {
		all = append(all, m)
	}
	sort.Strings(all)
	t.Logf("%d panels, metrics %v", len(exprs), all)
}
