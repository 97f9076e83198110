package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestConfigTracing: the tracing block's defaults, its strict keys and
// one-line errors naming the line and key.
func TestConfigTracing(t *testing.T) {
	const route = "\nroutes: [{route: /a, module: a.wasm}]"
	tests := []struct {
		yml  string
		want Tracing
		err  string
	}{
		{"listen: :8000", Tracing{}, ""},
		{"tracing: {endpoint: http://otel:4318}", Tracing{Endpoint: "http://otel:4318", SampleRatio: 0.01, ServiceName: "wasmward", Timeout: 10 * time.Second}, ""},
		{"tracing: {endpoint: https://otel/v1/traces, sample_ratio: 1, follow_parent_sampling: true, service_name: edge, timeout: 2s}",
			Tracing{Endpoint: "https://otel/v1/traces", SampleRatio: 1, FollowParent: true, ServiceName: "edge", Timeout: 2 * time.Second}, ""},
		{"tracing: {sample_ratio: 0.5}", Tracing{}, "gw.yaml:1: tracing.endpoint: required when the tracing block is present"},
		{"tracing:\n  endpoint: otel:4318", Tracing{}, "gw.yaml:2: tracing.endpoint: \"otel:4318\" is not an http:// or https:// URL"},
		{"tracing:\n  endpoint: http://user:pw@otel:4318", Tracing{}, "tracing.endpoint: \"http://user:pw@otel:4318\" is not an http:// or https:// URL with a host (and no credentials)"},
		{"tracing:\n  endpoint: http://otel\n  sample_ratio: 1.5", Tracing{}, "gw.yaml:3: tracing.sample_ratio: must be a ratio from 0 to 1"},
		{"tracing:\n  endpoint: http://otel\n  sample_ratio: .nan", Tracing{}, "gw.yaml:3: tracing.sample_ratio: must be a ratio from 0 to 1"},
		{"tracing:\n  endpoint: http://otel\n  timeout: 0s", Tracing{}, "gw.yaml:3: tracing.timeout: must be greater than zero"},
		{"tracing:\n  endpoint: http://otel\n  sample_rate: 0.1", Tracing{}, "gw.yaml:3: unknown key \"sample_rate\""},
	}
	for _, tt := range tests {
		c, err := parse(tt.yml + route)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: error %v, want one line containing %q", tt.yml, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.yml, err)
		}
		if c.Tracing != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.yml, c.Tracing, tt.want)
		}
	}
}
