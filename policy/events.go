package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Events are the limits and grants of an event processor (`wasmward
// events`, docs/events.md). The policy's limits.fuel and limits.timeout
// bound each event; limits.memory bounds each instance for its whole life.
type Events struct {
	// EmitBytes caps the payload bytes one event may emit (emit and emit_to
	// together).
	EmitBytes Size `yaml:"emit_bytes" json:"emit_bytes"`
	// Emits caps the number of messages one event may emit.
	Emits uint32 `yaml:"emits" json:"emits"`
	// InstanceFuel is the fuel one instance may consume across events before
	// it is replaced; 0 is unbounded.
	InstanceFuel uint64 `yaml:"instance_fuel" json:"instance_fuel"`
	// RecycleAfter is how many events one instance processes before it is
	// replaced; 0 is never.
	RecycleAfter uint64 `yaml:"recycle_after" json:"recycle_after"`
	// MaxDeliver is how many times a stream event is attempted before it
	// goes to the dead-letter sink.
	MaxDeliver int `yaml:"max_deliver" json:"max_deliver"`
	// Subjects are the subjects emit_to may name, as NATS subject patterns
	// ("*" one token, ">" the rest). Empty refuses every emit_to.
	Subjects []string `yaml:"subjects" json:"subjects,omitempty"`
	// KV, when set, grants the kv_get and kv_put imports on a key-value
	// bucket. Without it a module importing them is refused.
	KV *KV `yaml:"kv" json:"kv,omitempty"`
}

// KV is the key-value grant of an event processor.
type KV struct {
	// Bucket is the JetStream key-value bucket.
	Bucket string `yaml:"bucket" json:"bucket"`
	// Prefix is prepended to every key the module names ("PREFIX.key"), so
	// modules sharing a bucket never see each other's keys. Empty: the
	// module's file name without its extension.
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
	// Bytes caps the key and value bytes one event reads and writes; 0 is
	// DefaultKVBytes.
	Bytes Size `yaml:"bytes" json:"bytes"`
}

// Defaults of the events section.
const (
	DefaultEmitBytes  = 1 << 20
	DefaultEmits      = 1024
	DefaultMaxDeliver = 5
	DefaultKVBytes    = 64 << 10
)

// KVBytes is the per-event byte cap of the grant: Bytes, or DefaultKVBytes.
func (k KV) KVBytes() uint64 {
	if k.Bytes == 0 {
		return DefaultKVBytes
	}
	return uint64(k.Bytes)
}

func defaultEvents() Events {
	return Events{EmitBytes: DefaultEmitBytes, Emits: DefaultEmits, MaxDeliver: DefaultMaxDeliver}
}

func (e Events) clone() Events {
	c := e
	c.Subjects = append([]string(nil), e.Subjects...)
	if e.KV != nil {
		kv := *e.KV
		c.KV = &kv
	}
	return c
}

func (e Events) validate() error {
	switch {
	case e.EmitBytes == 0:
		return errors.New("events.emit_bytes: must be greater than zero")
	case e.Emits == 0:
		return errors.New("events.emits: must be greater than zero")
	case e.MaxDeliver < 1:
		return errors.New("events.max_deliver: must be at least 1")
	}
	for i, s := range e.Subjects {
		if err := CheckSubject(s, true); err != nil {
			return fmt.Errorf("events.subjects[%d]: %w", i, err)
		}
	}
	if kv := e.KV; kv != nil {
		switch {
		case kv.Bucket == "" || strings.ContainsFunc(kv.Bucket, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}):
			return fmt.Errorf("events.kv.bucket: %q is not a bucket name (letters, digits, - and _)", kv.Bucket)
		case kv.Prefix != "" && CheckSubject(kv.Prefix, false) != nil:
			return fmt.Errorf("events.kv.prefix: %q is not a key prefix (dot-separated tokens without wildcards)", kv.Prefix)
		}
	}
	return nil
}

// CheckSubject reports whether s is a NATS subject: non-empty dot-separated
// tokens of printable characters without spaces; with wildcards, a token
// may be "*" and the last one ">".
func CheckSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("empty subject")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", s)
		case (t == "*" || t == ">" && i == len(toks)-1) && wildcards:
		case strings.ContainsAny(t, "*>"):
			return fmt.Errorf("subject %q: wildcard %q not allowed here", s, t)
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return fmt.Errorf("subject %q contains a space or control character", s)
		}
	}
	return nil
}

// MatchSubject reports whether subject s matches the NATS pattern pat.
func MatchSubject(pat, s string) bool {
	for {
		pt, prest, pmore := strings.Cut(pat, ".")
		st, srest, smore := strings.Cut(s, ".")
		switch {
		case pt == ">":
			return true
		case pt != "*" && pt != st:
			return false
		case !pmore || !smore:
			return pmore == smore
		}
		pat, s = prest, srest
	}
}
