package fuzz

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"github.com/wasmward/wasmward/sandbox"
)

func le32(s string) uint64 { return uint64(binary.LittleEndian.Uint32([]byte(s))) }

// TestReplaceOperand: where one operand of a failed comparison appears in
// the input (any width up to the comparison's, either byte order, zero- or
// sign-extended), it is overwritten with the other.
func TestReplaceOperand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cmp  sandbox.Cmp
		want string
	}{
		{"i32 little-endian", "xxhellxx", sandbox.Cmp{A: le32("hell"), B: le32("WARD"), Size: 4}, "xxWARDxx"},
		{"i32 big-endian", "..\x01\x02\x03\x04..", sandbox.Cmp{A: 0x01020304, B: 0x0a0b0c0d, Size: 4}, "..\x0a\x0b\x0c\x0d.."},
		{"byte compare", "hello", sandbox.Cmp{A: 'h', B: 'W', Size: 4}, "Wello"},
		{"constant on the left", "hello", sandbox.Cmp{A: 'W', B: 'h', Size: 4}, "Wello"},
		{"sign-extended byte", "a\x80b", sandbox.Cmp{A: 0xffffff80, B: 'A', Size: 4}, "aAb"},
		{"i16 big-endian", "\x00\x00\x12\x34", sandbox.Cmp{A: 0x1234, B: 0xbeef, Size: 4}, "\x00\x00\xbe\xef"},
		{"i64", "..abcdefgh", sandbox.Cmp{A: binary.LittleEndian.Uint64([]byte("abcdefgh")), B: binary.LittleEndian.Uint64([]byte("ABCDEFGH")), Size: 8}, "..ABCDEFGH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(8) {
				got := replaceOperand(rand.New(rand.NewPCG(seed, 1)), []byte(tt.in), []sandbox.Cmp{tt.cmp})
				if string(got) != tt.want {
					t.Fatalf("seed %d: got %+q, want %+q", seed, got, tt.want)
				}
			}
		})
	}
	// No operand in the input: one is inserted (or written over) as a token.
	cmp := sandbox.Cmp{A: 0x1234, B: 0x5678, Size: 4}
	for seed := range uint64(16) {
		got := replaceOperand(rand.New(rand.NewPCG(seed, 2)), []byte("zzz"), []sandbox.Cmp{cmp})
		ok := false
		for _, tok := range []string{"\x34\x12", "\x12\x34", "\x78\x56", "\x56\x78"} {
			ok = ok || bytes.Contains(got, []byte(tok))
		}
		if !ok {
			t.Errorf("seed %d: %+q holds no operand", seed, got)
		}
	}
}

func TestFits(t *testing.T) {
	tests := []struct {
		v    uint64
		size uint8
		w    int
		want bool
	}{
		{0x7f, 4, 1, true},
		{0x180, 4, 1, false},
		{0x180, 4, 2, true},
		{0xffffff80, 4, 1, true},  // a signed byte load
		{0xffff8000, 4, 2, true},  // a signed 16-bit load
		{0xffffff80, 8, 1, false}, // in an i64 it is a u32, not a signed byte
		{0xffffff80, 8, 4, true},
		{0xffffffffffffff80, 8, 1, true},
		{0x123456789, 8, 4, false},
	}
	for _, tt := range tests {
		if got := fits(tt.v, tt.size, tt.w); got != tt.want {
			t.Errorf("fits(%#x, %d, %d) = %v, want %v", tt.v, tt.size, tt.w, got, tt.want)
		}
	}
}

// TestComparisonOperandsRecorded: a coverage run reports the operands of
// the eq/ne comparisons that failed, with their width, and not those that
// held.
func TestComparisonOperandsRecorded(t *testing.T) {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig().WithCoverage(true))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Compile(ctx, fixture.Bytes(t, "fz_cmp"), fuzzPolicy())
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	tests := []struct {
		name   string
		in     sandbox.Invocation
		want   []sandbox.Cmp
		absent []sandbox.Cmp
	}{
		{"stdin, first compare fails", sandbox.Invocation{Stdin: bytes.NewReader([]byte("hello, world"))},
			[]sandbox.Cmp{{A: le32("hell"), B: le32("WARD"), Size: 4}}, nil},
		{"stdin, second compare fails", sandbox.Invocation{Stdin: bytes.NewReader([]byte("WARDabcdefgh"))},
			[]sandbox.Cmp{{A: binary.LittleEndian.Uint64([]byte("abcdefgh")), B: 0xefcdab8967452301, Size: 8}},
			[]sandbox.Cmp{{A: le32("WARD"), B: le32("WARD"), Size: 4}}},
		{"invoke", sandbox.Invocation{Function: "check", Params: []uint64{5, 7}, Stdin: bytes.NewReader(nil)},
			[]sandbox.Cmp{{A: 5, B: 0x5741524400c0ffee, Size: 8}}, nil},
		{"invoke, second compare fails", sandbox.Invocation{Function: "check", Params: []uint64{0x5741524400c0ffee, 7}, Stdin: bytes.NewReader(nil)},
			[]sandbox.Cmp{{A: 7, B: 0x13572468, Size: 4}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cov sandbox.Coverage
			in := tt.in
			in.Coverage = &cov
			rep, err := mod.Run(ctx, in)
			if err != nil || rep.Outcome != sandbox.OutcomeExit {
				t.Fatalf("run: %v %+v", err, rep)
			}
			for _, c := range tt.want {
				if !slices.Contains(cov.Cmps, c) {
					t.Errorf("comparison %+v not recorded (%d recorded)", c, len(cov.Cmps))
				}
			}
			for _, c := range tt.absent {
				if slices.Contains(cov.Cmps, c) {
					t.Errorf("comparison %+v held but was recorded", c)
				}
			}
		})
	}
}
