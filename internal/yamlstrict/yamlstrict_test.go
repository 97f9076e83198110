package yamlstrict

import (
	"strings"
	"testing"
)

type inner struct {
	A int    `yaml:"a"`
	B string `yaml:"b"`
}

type outer struct {
	Name  string           `yaml:"name"`
	In    inner            `yaml:"in"`
	List  []inner          `yaml:"list"`
	ByKey map[string]inner `yaml:"by_key"`
}

func TestUnmarshal(t *testing.T) {
	tests := []struct{ src, err string }{
		{"name: x\nin: {a: 1, b: y}\n", ""},
		{"", ""},
		{"name: x\nnmae: y\n", `f.yaml:2: unknown key "nmae"`},
		{"in:\n  a: 1\n  c: 2\n", `f.yaml:3: unknown key "c"`},
		{"list:\n  - a: 1\n  - z: 1\n", `f.yaml:3: unknown key "z"`},
		{"by_key:\n  k:\n    q: 1\n", `f.yaml:3: unknown key "q"`},
		{"in:\n  a: notanumber\n", `f.yaml:2: cannot unmarshal`},
		{"name: x\n---\nname: y\n", `f.yaml:2: a second YAML document`},
		{"name: [unclosed\n", `f.yaml:`},
	}
	for _, tc := range tests {
		var o outer
		err := Unmarshal([]byte(tc.src), &o, "f.yaml")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.src, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want %q", tc.src, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%q: multi-line error %q", tc.src, err)
		}
	}
}

func TestDecodeKeepsAbsentFields(t *testing.T) {
	o := outer{Name: "keep", In: inner{A: 7}}
	if err := Unmarshal([]byte("in: {b: z}\n"), &o, "f"); err != nil {
		t.Fatal(err)
	}
	if o.Name != "keep" || o.In.A != 7 || o.In.B != "z" {
		t.Fatalf("got %+v", o)
	}
}
