package scan

import (
	"strings"
	"testing"

	"github.com/wasmward/wasmward/policy"
)

// TestNetworkImports: scan judges the wasi_experimental_http imports as
// the sandbox does: refused without capabilities.network, allowed with it
// (docs/network.md).
func TestNetworkImports(t *testing.T) {
	p := policy.Default()
	p.Capabilities.Imports = []string{"*"}
	fs := find(scanFixture(t, "net_fetch", Options{Policy: &p}), RuleImportNotAllowed)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, `4 imports from "wasi_experimental_http"`) {
		t.Fatalf("without the grant: %+v", fs)
	}
	p.Capabilities.Imports = policy.Default().Capabilities.Imports
	p.Capabilities.Network.HTTP = []policy.HTTPRule{{URL: "https://api.example.com/"}}
	if fs := find(scanFixture(t, "net_fetch", Options{Policy: &p}), RuleImportNotAllowed); len(fs) != 0 {
		t.Fatalf("with the grant: %+v", fs)
	}
}
