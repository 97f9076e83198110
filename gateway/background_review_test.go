package gateway

import (
	"strings"
	"testing"
)

// background_cpu configures the sandbox runtime the gateway starts with:
// a reload that changes it is refused as a restart (a running runtime
// cannot change it), never applied silently in part.
func TestReloadBackgroundCPU(t *testing.T) {
	const routes = "routes: [{route: /a, module: a.wasm}]\ntenants: [{name: default}]\n"
	tests := []struct{ from, to string }{
		{"", "background_cpu: false\n"},
		{"background_cpu: false\n", "background_cpu: true\n"},
	}
	for _, tc := range tests {
		a, err := parse(routes + tc.from)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parse(routes + tc.to)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameSettings(a, b); err == nil || !strings.Contains(err.Error(), "Tenancy changed: it takes a restart") {
			t.Errorf("reload from %q to %q: %v, want refused as a restart", tc.from, tc.to, err)
		}
	}
}
