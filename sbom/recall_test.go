package sbom_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/corpus"
	"github.com/wasmward/wasmward/sbom"
)

// The recall recorded in docs/sbom.md: TestCorpusRecall fails when the
// figures on the corpus fall below these, and when docs/sbom.md does not
// state the figures measured.
const (
	recallNamesFound    = 70
	recallNamesKnown    = 106
	recallVersionsFound = 9
	recallVersionsKnown = 26
)

type expectation struct {
	names   []string // alternatives
	version string
}

func (e expectation) String() string {
	s := strings.Join(e.names, "|")
	if e.version != "" {
		s += "@" + e.version
	}
	return s
}

// readExpectations parses testdata/corpus-expect.tsv: sha256 -> components.
func readExpectations(t *testing.T) (map[string][]expectation, map[string]string) {
	t.Helper()
	f, err := os.Open("testdata/corpus-expect.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]expectation{}
	names := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cols := strings.Split(l, "\t")
		if len(cols) != 3 || len(cols[0]) != 64 {
			t.Fatalf("corpus-expect.tsv line %d: want sha256, module, components", line)
		}
		for _, item := range strings.Split(cols[2], ", ") {
			n, v, _ := strings.Cut(item, "@")
			out[cols[0]] = append(out[cols[0]], expectation{names: strings.Split(n, "|"), version: v})
		}
		names[cols[0]] = cols[1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out, names
}

// TestCorpusRecall measures how many of the components the corpus modules
// are known to contain sbom finds (by name; and, where the version is
// known, with that version), and holds the figures recorded in
// docs/sbom.md.
func TestCorpusRecall(t *testing.T) {
	exp, names := readExpectations(t)
	dir, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := corpus.Entries(dir)
	if err != nil {
		t.Fatal(err)
	}
	file := map[string]string{}
	for _, e := range entries {
		file[e.SHA256] = e.File
	}
	var known, found, vKnown, vFound, missing, metaFound int
	for sha, want := range exp {
		path, ok := file[sha]
		if !ok {
			t.Fatalf("corpus-expect.tsv names %s (%s), which the corpus manifest does not hold", names[sha], sha)
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			missing++
			continue
		}
		inv, err := sbom.Read(filepath.Base(path), bin)
		if err != nil {
			t.Errorf("%s: %v", names[sha], err)
			continue
		}
		if inv.Subject.SHA256 != sha {
			t.Fatalf("%s: the cached file's sha256 is %s, not the manifest's", path, inv.Subject.SHA256)
		}
		versions := map[string][]string{}
		fromMetadata := map[string]bool{} // what build metadata alone gives
		for _, c := range inv.Components {
			versions[c.Name] = append(versions[c.Name], strings.TrimPrefix(c.Version, "v"))
			fromMetadata[c.Name] = fromMetadata[c.Name] || c.Kind != sbom.KindDetected
		}
		var misses []string
		for _, w := range want {
			known++
			if w.version != "" {
				vKnown++
			}
			hit, vHit, meta := false, false, false
			for _, n := range w.names {
				vs, ok := versions[n]
				hit = hit || ok
				meta = meta || fromMetadata[n]
				for _, v := range vs {
					vHit = vHit || (w.version != "" && v == strings.TrimPrefix(w.version, "v"))
				}
			}
			switch {
			case !hit:
				misses = append(misses, w.String())
			case w.version != "" && !vHit:
				misses = append(misses, w.String()+" (found, other version)")
			}
			if hit {
				found++
			}
			if meta {
				metaFound++
			}
			if vHit {
				vFound++
			}
		}
		if len(misses) > 0 {
			t.Logf("%s: not found: %s", names[sha], strings.Join(misses, ", "))
		}
	}
	if missing == len(exp) {
		t.Skipf("CORPUS ABSENT: none of the %d modules of sbom/testdata/corpus-expect.tsv is in %s; run %s to fetch them, or set %s",
			len(exp), dir, corpus.Script, corpus.EnvDir)
	}
	t.Logf("recall: names %d of %d (%.0f%%), versions %d of %d (%.0f%%), %d modules missing from the cache; from build metadata alone: names %d",
		found, known, 100*float64(found)/float64(known), vFound, vKnown, 100*float64(vFound)/float64(vKnown), missing, metaFound)
	if missing > 0 {
		t.Logf("WARNING: %d corpus modules missing; the recorded figures are checked on the whole corpus only", missing)
		return
	}
	if found < recallNamesFound || known != recallNamesKnown || vFound < recallVersionsFound || vKnown != recallVersionsKnown {
		t.Errorf("recall fell: names %d of %d, versions %d of %d; recorded %d of %d and %d of %d",
			found, known, vFound, vKnown, recallNamesFound, recallNamesKnown, recallVersionsFound, recallVersionsKnown)
	}
	doc, err := os.ReadFile("../docs/sbom.md")
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("| %d of %d known components by name | %d of %d known versions |", found, known, vFound, vKnown)
	if !strings.Contains(string(doc), line) {
		t.Errorf("docs/sbom.md does not record the measured recall; it should contain the line\n%s", line)
	}
}
