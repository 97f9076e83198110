package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmward/wasmward/gateway"
)

// FileResolver resolves module references that are paths on the gateway's
// host (relative ones against dir), with the trust material next to the
// module (MODULE.sig, MODULE.bundle) found by the trust gate as for a
// configured route. sha256: and oci:// references need the module store.
func FileResolver(dir string) Resolver {
	return func(_ context.Context, ref string) (gateway.ModuleSource, error) {
		if strings.HasPrefix(ref, "sha256:") || strings.Contains(ref, "://") {
			return gateway.ModuleSource{}, fmt.Errorf("%s: references other than paths need the module store", ref)
		}
		p := ref
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return gateway.ModuleSource{}, err
		}
		return gateway.ModuleSource{Ref: ref, Wasm: b, Trust: gateway.RouteTrust{ModuleFile: p}}, nil
	}
}
