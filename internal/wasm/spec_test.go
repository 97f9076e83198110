package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// specSuites maps each directory of wazero's spec test suite to the core
// features its own runner enables.
var specSuites = map[string]api.CoreFeatures{
	"v1":             api.CoreFeaturesV1,
	"v2":             api.CoreFeaturesV2,
	"threads":        api.CoreFeaturesV2 | experimental.CoreFeaturesThreads,
	"tail-call":      api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall,
	"extended-const": api.CoreFeaturesV2 | experimental.CoreFeaturesExtendedConst,
	"exception-handling": api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling |
		experimental.CoreFeaturesTailCall | experimental.CoreFeaturesTypedFunctionReferences,
	"typed-function-references": api.CoreFeaturesV2 | experimental.CoreFeaturesTypedFunctionReferences |
		experimental.CoreFeaturesTailCall,
}

type specCommand struct {
	Type       string `json:"type"`
	Line       int    `json:"line"`
	Filename   string `json:"filename"`
	Text       string `json:"text"`
	ModuleType string `json:"module_type"`
}

// specDir returns the directory of wazero's spec test suite in the module
// cache, found through `go list`.
func specDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		t.Fatalf("go list wazero: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "internal", "integration_test", "spectest")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("spec suite: %v", err)
	}
	return dir
}

// TestSpecSuite runs the decoder over every binary module of the spec test
// suite shipped with wazero: modules the suite expects to be valid must
// decode, re-encode (Encode(Decode(b))) to a module wazero still compiles,
// and re-encode instruction by instruction to the same instructions; every
// assert_malformed binary module must be rejected by Decode or, failing
// that, by wazero's validation with the suite's features.
func TestSpecSuite(t *testing.T) {
	root := specDir(t)
	ctx := context.Background()
	for suite, feats := range specSuites {
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(feats))
			defer rt.Close(ctx)
			compiles := func(b []byte) error {
				cm, err := rt.CompileModule(ctx, b)
				if err == nil {
					cm.Close(ctx)
				}
				return err
			}
			files, _ := filepath.Glob(filepath.Join(root, suite, "testdata", "*.json"))
			if len(files) == 0 {
				t.Fatal("no spec files")
			}
			var valid, malformed, malformedByDecode, invalid int
			for _, jf := range files {
				raw, err := os.ReadFile(jf)
				if err != nil {
					t.Fatal(err)
				}
				var doc struct{ Commands []specCommand }
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatalf("%s: %v", jf, err)
				}
				for _, c := range doc.Commands {
					if !strings.HasSuffix(c.Filename, ".wasm") {
						continue
					}
					name := filepath.Base(jf) + ":" + c.Filename
					bin, err := os.ReadFile(filepath.Join(root, suite, "testdata", c.Filename))
					if err != nil {
						t.Fatal(err)
					}
					switch c.Type {
					case "module", "assert_unlinkable", "assert_uninstantiable", "assert_trap":
						valid++
						checkValid(t, name, bin, compiles)
					case "assert_malformed":
						malformed++
						if _, err := Decode(bin); err != nil {
							var we *Error
							if !errors.As(err, &we) {
								t.Errorf("%s: error %v is not a *wasm.Error", name, err)
							}
							malformedByDecode++
							continue
						}
						if compiles(bin) == nil {
							t.Errorf("%s (line %d, %q): malformed module accepted by decode and validation", name, c.Line, c.Text)
						}
					case "assert_invalid":
						invalid++
						_, _ = Decode(bin) // may succeed; must not panic
					}
				}
			}
			t.Logf("%s: %d valid, %d malformed (%d rejected by Decode), %d invalid", suite, valid, malformed, malformedByDecode, invalid)
			if valid == 0 {
				t.Error("no valid modules found")
			}
		})
	}
}

func checkValid(t *testing.T, name string, bin []byte, compiles func([]byte) error) {
	t.Helper()
	m, err := Decode(bin)
	if err != nil {
		t.Errorf("%s: valid module does not decode: %v", name, err)
		return
	}
	secs, err := Sections(bin)
	if err != nil || len(secs) != len(m.Sections) {
		t.Errorf("%s: Sections: %d sections, err %v; Decode saw %d", name, len(secs), err, len(m.Sections))
	}
	for i := range m.Code {
		checkInstrRoundTrip(t, name, m.Code[i].Body)
	}
	out, err := Encode(m)
	if err != nil {
		t.Errorf("%s: encode: %v", name, err)
		return
	}
	m2, err := Decode(out)
	if err != nil {
		t.Errorf("%s: re-encoded module does not decode: %v", name, err)
		return
	}
	if m2.Features != m.Features || len(m2.Code) != len(m.Code) || len(m2.Imports) != len(m.Imports) ||
		len(m2.Exports) != len(m.Exports) || len(m2.Data) != len(m.Data) || len(m2.Elements) != len(m.Elements) {
		t.Errorf("%s: re-encoded module differs", name)
	}
	if compiles(bin) == nil {
		if err := compiles(out); err != nil {
			t.Errorf("%s: re-encoded module no longer compiles: %v", name, err)
		}
	}
}

// checkInstrRoundTrip re-encodes every instruction of e with AppendInstr and
// checks that the result decodes to the same instructions.
func checkInstrRoundTrip(t *testing.T, name string, e Expr) {
	t.Helper()
	var buf []byte
	ir := e.Instrs()
	var in Instr
	n := 0
	for ir.Next(&in) {
		var err error
		if buf, err = AppendInstr(buf, &in); err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		n++
	}
	if ir.Err() != nil {
		t.Errorf("%s: %v", name, ir.Err())
		return
	}
	a, b := e.Instrs(), NewInstrReader(buf, 0)
	var ia, ib Instr
	for i := 0; i < n; i++ {
		if !a.Next(&ia) || !b.Next(&ib) {
			t.Errorf("%s: instruction %d: re-encoded body ends early: %v", name, i, b.Err())
			return
		}
		ia.Start, ia.End, ib.Start, ib.End = 0, 0, 0, 0
		if !reflect.DeepEqual(normInstr(ia), normInstr(ib)) {
			t.Errorf("%s: instruction %d: %+v re-encodes to %+v", name, i, ia, ib)
			return
		}
	}
	if b.Next(&ib) || b.Err() != nil {
		t.Errorf("%s: re-encoded body has extra content: %v", name, b.Err())
	}
	if bytes.Equal(buf, nil) && n > 0 {
		t.Errorf("%s: empty encoding", name)
	}
}

// normInstr makes nil and empty slices compare equal.
func normInstr(in Instr) Instr {
	if len(in.Targets) == 0 {
		in.Targets = nil
	} else {
		in.Targets = append([]uint32(nil), in.Targets...)
	}
	if len(in.Types) == 0 {
		in.Types = nil
	}
	if len(in.Catches) == 0 {
		in.Catches = nil
	}
	return in
}
