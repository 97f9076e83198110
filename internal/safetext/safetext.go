// Package safetext makes text derived from untrusted bytes (names and
// custom sections of a module, messages that quote them) safe to print on
// a terminal or in a log line.
package safetext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every byte or character that is not printable
// replaced by an escape: C0 and C1 controls and DEL (ESC, CR, LF, tab,
// ...) as \xNN, other non-graphic characters (format characters such as
// the bidirectional overrides U+202E and U+2066-U+2069, private use,
// unassigned, line and paragraph separators) as \uNNNN or \UNNNNNNNN, and
// bytes that are not valid UTF-8 as \xNN. Printable text, non-ASCII
// letters included, is unchanged, and s itself is returned (no
// allocation) when nothing needs escaping.
//
// A backslash is not escaped, so Escape is idempotent: text escaped where
// it was produced (a refusal's detail) can be escaped again where it is
// printed (the CLI's error line) without growing. The cost is that a name
// containing the four characters `\x1b` prints like one containing ESC;
// either way no control byte reaches the terminal.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if c >= utf8.RuneSelf && printable(r, n) {
			i += n
			continue
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c < utf8.RuneSelf || (r == utf8.RuneError && n == 1):
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		case printable(r, n):
			b.WriteString(s[i : i+n])
		case r <= 0xff:
			// C1 controls: \xNN, like the C0 ones (as code points).
			b.WriteString(`\x`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		case r <= 0xffff:
			b.WriteString(`\u`)
			b.WriteString(pad(strconv.FormatUint(uint64(r), 16), 4))
		default:
			b.WriteString(`\U`)
			b.WriteString(pad(strconv.FormatUint(uint64(r), 16), 8))
		}
		i += n
	}
	return b.String()
}

const hex = "0123456789abcdef"

func printable(r rune, n int) bool {
	if r == utf8.RuneError && n == 1 {
		return false
	}
	// IsGraphic: letters, marks, numbers, punctuation, symbols and U+0020
	// like spaces; not controls (Cc), format characters (Cf, the bidi
	// overrides among them), private use, surrogates or unassigned.
	return unicode.IsGraphic(r)
}

func pad(s string, n int) string {
	return strings.Repeat("0", n-len(s)) + s
}

// FirstLine returns s up to its first line feed (all of s when it has
// none): the message of a wazero error without the stack trace it appends.
// It does not escape; pass the result to Escape before printing it.
func FirstLine(s string) string {
	before, _, _ := strings.Cut(s, "\n")
	return before
}

// OneLine folds a multi-line message into one line (every CR and LF becomes
// a space) and escapes the rest as Escape does: for a message that quotes
// module names, file names or wazero's errors and is printed as one line
// of a terminal or a log.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return Escape(s)
	}
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return Escape(string(b))
}
