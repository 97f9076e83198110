package trust_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wasmward/wasmward/trust"
)

// This example signs a module with an embedded (wasmsign2-format) signature
// and verifies it against a trust policy, the check `run --trust` and
// `serve --trust` make before anything is compiled.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "trust-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The publisher's key pair (ci.key stays private; ci.pub is published).
	key, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		log.Fatal(err)
	}
	if err := trust.WriteKeyPair(key, filepath.Join(dir, "ci"), nil); err != nil {
		log.Fatal(err)
	}

	// The smallest module there is; any module signs the same way.
	module := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	signed, err := trust.SignModule(module, key, trust.SignOptions{Version: "1.2.0"})
	if err != nil {
		log.Fatal(err)
	}

	// The host's trust policy: which keys it trusts for which modules.
	pol, err := trust.ParsePolicy([]byte(`
keys:
  - name: ci
    public_key: ci.pub
rules:
  - modules: "acme/*"
    keys: [ci]
`), "trust.yaml", dir)
	if err != nil {
		log.Fatal(err)
	}

	res, err := pol.Verify(ctx, "acme/hello", signed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed by:", res.Signers[0].Name, "version:", res.Version)

	// One flipped byte after signing and the module is refused.
	tampered := append([]byte(nil), signed...)
	tampered[len(tampered)-1] ^= 1
	_, err = pol.Verify(ctx, "acme/hello", tampered)
	var refused *trust.RefusedError
	fmt.Println("tampered refused:", errors.As(err, &refused))

	// The unsigned original is refused too: require_signature defaults to true.
	_, err = pol.Verify(ctx, "acme/hello", module)
	fmt.Println("unsigned:", errors.Is(err, trust.ErrUnsigned))
	// Output:
	// signed by: ci version: 1.2.0
	// tampered refused: true
	// unsigned: true
}
