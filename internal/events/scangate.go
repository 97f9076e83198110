package events

import (
	"context"
	"fmt"

	"github.com/wasmward/wasmward/internal/meter"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/scan"
)

// GrantedImports returns the imports (module.name) the event host provides
// to a processor under p: emit and emit_to always, kv_get and kv_put when
// the policy grants a key-value store.
func GrantedImports(p policy.Policy) []string {
	out := []string{meter.ImportModule + "." + ImportEmit, meter.ImportModule + "." + ImportEmitTo}
	if p.Events.KV != nil {
		out = append(out, meter.ImportModule+"."+ImportKVGet, meter.ImportModule+"."+ImportKVPut)
	}
	return out
}

// ScanGate scans an event processor under p, with the event imports p
// grants counted as allowed, and refuses it (a *sandbox.Refusal of kind
// "scan", naming the first finding) when a finding has severity failOn or
// higher. what names the threshold's setting in the message.
func ScanGate(ctx context.Context, name string, bin []byte, p policy.Policy, failOn scan.Severity, what string) error {
	sp := p.Clone()
	sp.Capabilities.Imports = append(sp.Capabilities.Imports, GrantedImports(p)...)
	res := scan.Scan(ctx, name, bin, scan.Options{Policy: &sp})
	first := res.Blocking(failOn)
	if first == "" {
		return nil
	}
	return &sandbox.Refusal{Violation: sandbox.Violation{Kind: "scan",
		Detail: fmt.Sprintf("scan finding at or above %s %s: %s", what, failOn, first)}}
}
