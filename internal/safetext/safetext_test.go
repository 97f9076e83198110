package safetext

import (
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fd_write", "fd_write"},
		{"", ""},
		{"héllo wörld ✓ 日本", "héllo wörld ✓ 日本"},
		{"\x1b[2J\x1b[Hwasmward: ok", `\x1b[2J\x1b[Hwasmward: ok`},
		{"a\nb\rc\td\x00e\x7f", `a\x0ab\x0dc\x09d\x00e\x7f`},
		{"\u0085next line \u009b", `\x85next line \x9b`},
		{"abc\u202edcba", `abc\u202edcba`},
		{"\u2066x\u2069\u200b", `\u2066x\u2069\u200b`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"\xe2\x80", `\xe2\x80`},
		{"private \U000F0000", `private \U000f0000`},
		{`already \x1b escaped`, `already \x1b escaped`},
	}
	for _, tc := range tests {
		got := Escape(tc.in)
		if got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := Escape(got); again != got {
			t.Errorf("not idempotent: Escape(%q) = %q", got, again)
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c < 0x20 || c == 0x7f {
				t.Errorf("Escape(%q) = %q keeps control byte %#x", tc.in, got, c)
			}
		}
		if !utf8.ValidString(got) {
			t.Errorf("Escape(%q) = %q is not valid UTF-8", tc.in, got)
		}
	}
}

func TestLines(t *testing.T) {
	for _, tc := range []struct{ in, first, one string }{
		{"", "", ""},
		{"one line", "one line", "one line"},
		{"wasm error: unreachable\nwasm stack trace:\n\tf()", "wasm error: unreachable", "wasm error: unreachable wasm stack trace: \\x09f()"},
		{"a\r\nb", "a\r", "a  b"},
		{"\nleading", "", " leading"},
		{"esc \x1b[2J\nrest", "esc \x1b[2J", `esc \x1b[2J rest`},
	} {
		if got := FirstLine(tc.in); got != tc.first {
			t.Errorf("FirstLine(%q) = %q, want %q", tc.in, got, tc.first)
		}
		if got := OneLine(tc.in); got != tc.one {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.one)
		}
	}
}

func TestEscapeNoAllocWhenClean(t *testing.T) {
	s := "wasi_snapshot_preview1.fd_write héllo"
	if n := testing.AllocsPerRun(100, func() { _ = Escape(s) }); n != 0 {
		t.Errorf("%v allocations for clean text", n)
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b[31mred")
	f.Add("\xff\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if Escape(got) != got {
			t.Fatalf("not idempotent on %q", s)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		for _, r := range got {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
				t.Fatalf("control %U kept from %q", r, s)
			}
		}
	})
}
