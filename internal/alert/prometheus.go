package alert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// PromRuleGroups is the Prometheus rule file shape (groups of alerting
// rules), as `promtool check rules` reads it.
type PromRuleGroups struct {
	Groups []PromRuleGroup `yaml:"groups"`
}

// PromRuleGroup is one group of a Prometheus rule file.
type PromRuleGroup struct {
	Name  string     `yaml:"name"`
	Rules []PromRule `yaml:"rules"`
}

// PromRule is one Prometheus alerting rule.
type PromRule struct {
	Alert         string            `yaml:"alert"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// PrometheusRules translates rules into Prometheus alerting rules over the
// metrics the gateway exports, one group named group. The translation is
// per route (Prometheus sees routes, not module digests); the hysteresis
// becomes keep_firing_for (the resolve period; the resolve threshold has
// no Prometheus equivalent). docs/alerts.md lists the expressions.
func PrometheusRules(rules []Rule, group string) PromRuleGroups {
	g := PromRuleGroup{Name: group, Rules: []PromRule{}}
	for _, r := range rules {
		pr := PromRule{Alert: r.Name, Expr: promExpr(r),
			Labels: map[string]string{"severity": string(r.Severity), "wasmward_action": string(r.Action)},
			Annotations: map[string]string{
				"summary": fmt.Sprintf("%s: %s %s", r.Name, r.Signal, condText(r)),
				"action":  "wasmward takes the action " + string(r.Action) + " itself; this rule only alerts",
			}}
		if r.For > 0 {
			pr.For = promDur(r.For.Seconds())
		}
		if r.ResolveAfter > 0 && r.Signal != Findings {
			pr.KeepFiringFor = promDur(r.ResolveAfter.Seconds())
		}
		g.Rules = append(g.Rules, pr)
	}
	return PromRuleGroups{Groups: []PromRuleGroup{g}}
}

// MarshalPrometheusRules returns the rule file's YAML.
func MarshalPrometheusRules(g PromRuleGroups) ([]byte, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(g); err != nil {
		return nil, fmt.Errorf("encode Prometheus rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode Prometheus rules: %w", err)
	}
	return []byte(b.String()), nil
}

func condText(r Rule) string {
	switch {
	case r.Signal == P99:
		return fmt.Sprintf("above %gms over %s", r.Above, r.Over)
	case r.Signal == Findings:
		return fmt.Sprintf("at least %d", r.Count)
	case r.Rate > 0:
		return fmt.Sprintf("rate at least %g over %s", r.Rate, r.Over)
	}
	return fmt.Sprintf("at least %d over %s", r.Count, r.Over)
}

// promDur formats seconds as a Prometheus duration (whole milliseconds).
func promDur(sec float64) string {
	ms := int64(sec*1000 + 0.5)
	switch {
	case ms > 0 && ms%3_600_000 == 0:
		return strconv.FormatInt(ms/3_600_000, 10) + "h"
	case ms > 0 && ms%60_000 == 0:
		return strconv.FormatInt(ms/60_000, 10) + "m"
	case ms%1000 == 0:
		return strconv.FormatInt(ms/1000, 10) + "s"
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// routeMatcher is the PromQL label matcher for a rule's routes.
func routeMatcher(routes []string) string {
	if len(routes) == 0 {
		return ""
	}
	var alts []string
	for _, p := range routes {
		base, prefix := strings.CutSuffix(p, "/...")
		q := regexp.QuoteMeta(base)
		if prefix {
			// The route labels "/x", "/x/..." and everything below /x.
			alts = append(alts, q+"(/.*)?")
		} else {
			alts = append(alts, q)
		}
	}
	re := strings.Join(alts, "|")
	// PromQL strings take Go-style escapes: double the backslashes.
	return `route=~"` + strings.ReplaceAll(re, `\`, `\\`) + `"`
}

func sel(metric string, matchers ...string) string {
	var ms []string
	for _, m := range matchers {
		if m != "" {
			ms = append(ms, m)
		}
	}
	return metric + "{" + strings.Join(ms, ",") + "}"
}

// promExpr is the rule's condition in PromQL, per route.
func promExpr(r Rule) string {
	rm := routeMatcher(r.Routes)
	over := promDur(r.Over.Seconds())
	increase := func(s string) string { return "sum by (route) (increase(" + s + "[" + over + "]))" }
	var events string
	switch r.Signal {
	case Violations:
		k := ""
		if r.Kind != "" {
			k = `kind="` + r.Kind + `"`
		}
		events = increase(sel("wasmward_violations_total", rm, k))
	case Traps:
		events = increase(sel("wasmward_guest_errors_total", rm, `kind="trap"`))
	case Soft:
		k := ""
		if r.Kind != "" {
			k = `kind="` + r.Kind + `"`
		}
		events = increase(sel("wasmward_soft_events_total", rm, k))
	case Errors5xx:
		events = increase(sel("wasmward_requests_total", rm, `code=~"5.."`))
	case RefusedDeploys:
		events = increase(sel("wasmward_modules_refused_total", rm))
	case P99:
		return fmt.Sprintf("histogram_quantile(0.99, sum by (route, le) (rate(%s[%s]))) * 1000 > %g",
			sel("wasmward_request_duration_seconds_bucket", rm), over, r.Above)
	case Findings:
		return fmt.Sprintf("max by (route) (%s) >= %d", sel("wasmward_dependency_findings", rm), r.Count)
	}
	if r.Rate > 0 {
		reqs := increase(sel("wasmward_requests_total", rm))
		return fmt.Sprintf("(%s / (%s >= %d)) >= %g", events, reqs, r.MinRequests, r.Rate)
	}
	return fmt.Sprintf("%s >= %d", events, r.Count)
}
