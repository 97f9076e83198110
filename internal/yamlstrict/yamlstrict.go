// Package yamlstrict decodes YAML configuration strictly: a key the target
// type does not have is an error that names the key and its line in the
// original file, and every error is one line, "NAME:LINE: what".
//
// yaml.v3 checks known fields only on a Decoder, whose line numbers would be
// those of a re-encoded node; this package walks the node itself instead, so
// line numbers always point into the user's file.
package yamlstrict

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Unmarshal decodes the single YAML document in data into v. An empty
// document leaves v as it is. A second document is an error: a security
// setting after "---" must not be silently ignored.
func Unmarshal(data []byte, v any, name string) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return Error(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("%s:%d: a second YAML document is not allowed", name, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return Error(name, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return Decode(doc.Content[0], v, name)
}

// Decode decodes n into v (a pointer), refusing keys v's type does not have.
// Fields already set in v and absent from n keep their values.
func Decode(n *yaml.Node, v any, name string) error {
	if err := CheckKeys(n, reflect.TypeOf(v), name); err != nil {
		return err
	}
	if err := n.Decode(v); err != nil {
		return Error(name, err)
	}
	return nil
}

// CheckKeys walks n against the YAML shape of t (yaml struct tags) and
// reports the first key t does not have, with its line. Fields of type
// yaml.Node are left to their consumer.
func CheckKeys(n *yaml.Node, t reflect.Type, name string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == nodeType || n.Kind != yaml.MappingNode {
			return nil
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("%s:%d: unknown key %q", name, k.Line, k.Value)
			}
			if err := CheckKeys(n.Content[i+1], ft, name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for _, c := range n.Content {
			if err := CheckKeys(c, t.Elem(), name); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 1; i < len(n.Content); i += 2 {
			if err := CheckKeys(n.Content[i], t.Elem(), name); err != nil {
				return err
			}
		}
	}
	return nil
}

var nodeType = reflect.TypeFor[yaml.Node]()

var lineRE = regexp.MustCompile(`^line (\d+): `)

// Error makes a yaml.v3 error one line: "NAME:LINE: what".
func Error(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], msg[len(m[0]):])
	}
	return fmt.Errorf("%s: %s", name, msg)
}
