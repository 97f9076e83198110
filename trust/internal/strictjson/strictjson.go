// Package strictjson reads JSON objects the way protobuf's JSON reader
// (and so cosign) does, not the way encoding/json does: a key given twice,
// or in another letter case, is an error instead of silently winning or
// merging.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// Object decodes data, which must be one JSON object, into its members. It
// refuses a key that appears twice, also in another letter case ("mediaType"
// and "MediaType" would be one field to encoding/json), and a key that is
// not exactly one of allowed (a case variant of an allowed key is named as
// such). what names the object in errors.
func Object(data []byte, what string, allowed ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s: not a JSON object", what)
	}
	m := map[string]json.RawMessage{}
	folded := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: not valid JSON: %w", what, err)
		}
		k := tok.(string) // object keys are strings
		if prev, dup := folded[fold(k)]; dup {
			return nil, fmt.Errorf("%s: key %q given twice (as %q and %q)", what, k, prev, k)
		}
		folded[fold(k)] = k
		if !slices.Contains(allowed, k) {
			for _, a := range allowed {
				if fold(a) == fold(k) {
					return nil, fmt.Errorf("%s: key %q is a case variant of %q (refused)", what, k, a)
				}
			}
			return nil, fmt.Errorf("%s: unknown key %q (want one of %s)", what, k, strings.Join(allowed, ", "))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", what, k, err)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the object", what)
	}
	return m, nil
}

// Unique checks that no object anywhere in data has a key twice, also in
// another letter case. It does not otherwise validate data.
func Unique(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := unique(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// fold maps every rune of s to the smallest rune of its Unicode case
// folding orbit, so that keys encoding/json would match to one field (it
// folds "K", "k" and the Kelvin sign alike) fold to one string.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// maxDepth bounds nesting, like encoding/json's own limit, so a hostile
// document cannot exhaust the stack.
const maxDepth = 1000

func unique(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]string{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			k := tok.(string)
			if prev, dup := seen[fold(k)]; dup {
				return fmt.Errorf("key %q given twice (as %q and %q)", k, prev, k)
			}
			seen[fold(k)] = k
			if err := unique(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := unique(dec, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
