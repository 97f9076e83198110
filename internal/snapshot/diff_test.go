package snapshot

import (
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/wasm"
)

func TestDiffSections(t *testing.T) {
	a := onceModule()
	b := onceModule()
	b.Globals[1].Init = i32Const(5)
	b.Exports = nil
	b.Sections = append(b.Sections, wasm.Section{ID: wasm.SectionCustom, Name: "producers", Raw: wasm.AppendCustomSection(nil, "producers", []byte{0})})
	ea, eb := encode(t, a), encode(t, b)
	diffs, err := DiffSections(ea, eb)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range diffs {
		lines = append(lines, d.String())
	}
	got := strings.Join(lines, "\n")
	want := strings.Join([]string{
		"type: same", "function: same", "memory: same",
		"global: differs: 11 vs 11 bytes, first difference at byte 9 of the section",
		"export: differs: only in the first (49 bytes)",
		"start: same", "code: same", "data: same",
		"custom producers: differs: only in the second (11 bytes)",
	}, "\n")
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if _, err := DiffSections(ea, []byte("nope")); err == nil || !strings.Contains(err.Error(), "second module") {
		t.Errorf("error %v, want one about the second module", err)
	}
}
