package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/internal/wagireq"
	"github.com/wasmward/wasmward/policy"
)

func fuzzPolicy() policy.Policy {
	p := policy.Default()
	p.Limits.Timeout = policy.Duration(2 * time.Second)
	return p
}

// beatSeeds are the seeds TestCoverageBeatsRandom runs every case with:
// each must find the bug, whatever the seed.
var beatSeeds = []uint64{1, 2, 3, 4, 5, 6}

// TestCoverageBeatsRandom: bugs behind multi-byte comparisons, found by
// the coverage-guided fuzzer for every seed of beatSeeds within a budget a
// CI job affords, and not by the same number of blind mutations of the
// seed input (about one chance in 95^4 per input for "WARD", 2^-96 for
// fz_cmp's 12 bytes). fz_magic compares "WARD" one byte at a time (edge
// coverage alone climbs that, slowly: 2 of 4 seeds in 25 000 executions
// before the comparison slots); fz_cmp compares 4 and then 8 bytes in one
// instruction each (edge coverage sees nothing until all match), from
// standard input and from an exported function's arguments: only the
// comparison operands (replaceOperand) find those. Budgets are about twice
// the slowest seed's need (measured: fz_magic 103-1423 executions, fz_cmp
// stdin 101-482, invoke 36-151).
func TestCoverageBeatsRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 36 fuzzing campaigns")
	}
	tests := []struct {
		name    string
		fixture string
		target  Target
		budget  int64
		// input checks the minimised input; repro what the reproduction
		// command must contain.
		input string
		repro []string
	}{
		{"bytewise/request", "fz_magic", Target{Kind: Request}, 3000, "WARD",
			[]string{"wasmward run", "fz_magic.wasm", "--stdin inherit", ".body"}},
		{"wide/stdin", "fz_cmp", Target{Kind: Stdin}, 1000, "WARD\x01#Eg\x89\xab\xcd\xef",
			[]string{"wasmward run", "fz_cmp.wasm", "--stdin inherit", ".bin"}},
		{"wide/invoke", "fz_cmp", Target{Kind: Invoke, Function: "check"}, 400, "",
			[]string{"--invoke check fz_cmp.wasm -- 6287397006809825262 324478056"}},
	}
	for _, tt := range tests {
		bin := fixture.Bytes(t, tt.fixture)
		for _, seed := range beatSeeds {
			for _, blind := range []bool{false, true} {
				name := fmt.Sprintf("%s/seed%d/guided", tt.name, seed)
				if blind {
					name = fmt.Sprintf("%s/seed%d/blind", tt.name, seed)
				}
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					res, err := Run(context.Background(), bin, Options{Target: tt.target, Policy: fuzzPolicy(),
						Executions: tt.budget, Seed: seed, Workers: 2, Blind: blind, Dir: dir, Module: tt.fixture + ".wasm"})
					if err != nil {
						t.Fatal(err)
					}
					if res.Executions != tt.budget {
						t.Errorf("executions = %d, want %d", res.Executions, tt.budget)
					}
					var trap *Finding
					for _, f := range res.Findings {
						if f.Kind == "trap" {
							trap = f
						}
					}
					if blind {
						if trap != nil {
							t.Fatalf("blind mutation found the trap (exec %d): the case does not show what feedback buys", trap.Exec)
						}
						return
					}
					if trap == nil {
						t.Fatalf("no trap in %d executions (corpus %d, features %d, findings %d)", tt.budget, res.Corpus, res.Features, len(res.Findings))
					}
					t.Logf("found at execution %d of %d", trap.Exec, tt.budget)
					if !strings.Contains(trap.Detail, "out of bounds memory access") {
						t.Errorf("detail = %q", trap.Detail)
					}
					in := trap.Input
					if tt.target.Kind == Request {
						r, err := wagireq.Parse(in)
						if err != nil {
							t.Fatal(err)
						}
						in = r.Body
						body, err := os.ReadFile(strings.TrimSuffix(trap.File, ".http") + ".body")
						if err != nil || string(body) != tt.input {
							t.Errorf("crash body file = %q, %v", body, err)
						}
					}
					if tt.input != "" && string(in) != tt.input {
						t.Errorf("minimised input = %+q, want %+q", in, tt.input)
					}
					saved, err := os.ReadFile(trap.File)
					if err != nil || !bytes.Equal(saved, trap.Input) {
						t.Errorf("crash input file: %v", err)
					}
					for _, want := range tt.repro {
						if !strings.Contains(trap.Repro, want) {
							t.Errorf("repro = %q, want it to contain %q", trap.Repro, want)
						}
					}
				})
			}
		}
	}
}

// TestDeterministic: the same seed and number of executions give the same
// corpus, features and findings with one worker or two.
func TestDeterministic(t *testing.T) {
	bin := fixture.Bytes(t, "fz_magic")
	run := func(workers int) *Result {
		res, err := Run(context.Background(), bin, Options{Target: Target{Kind: Request}, Policy: fuzzPolicy(),
			Executions: 1500, Seed: 11, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(1), run(2)
	if a.Corpus != b.Corpus || a.Features != b.Features || len(a.Findings) != len(b.Findings) {
		t.Fatalf("-j1: corpus %d features %d findings %d; -j2: corpus %d features %d findings %d",
			a.Corpus, a.Features, len(a.Findings), b.Corpus, b.Features, len(b.Findings))
	}
	for i := range a.Findings {
		if a.Findings[i].Key != b.Findings[i].Key || !bytes.Equal(a.Findings[i].Input, b.Findings[i].Input) {
			t.Errorf("finding %d differs: %s vs %s", i, a.Findings[i].Key, b.Findings[i].Key)
		}
	}
	if a.Features == 0 || a.Corpus < 2 {
		t.Errorf("coverage not collected: corpus %d, features %d", a.Corpus, a.Features)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{"request", Target{Kind: Request}, false},
		{"stdin", Target{Kind: Stdin}, false},
		{"invoke:parse", Target{Kind: Invoke, Function: "parse"}, false},
		{"invoke:", Target{}, true},
		{"http", Target{}, true},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

// TestShrink: chunks are removed while the predicate holds.
func TestShrink(t *testing.T) {
	got := shrink([]byte("xxxxWARDyyyyyyy"), func(b []byte) bool { return bytes.Contains(b, []byte("WARD")) })
	if string(got) != "WARD" {
		t.Fatalf("shrink = %q", got)
	}
}

func TestRunRefusesUnbounded(t *testing.T) {
	_, err := Run(context.Background(), fixture.Bytes(t, "fz_magic"), Options{Policy: fuzzPolicy()})
	if err == nil || !strings.Contains(err.Error(), "no bound") {
		t.Fatalf("err = %v", err)
	}
}
