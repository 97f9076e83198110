package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAttested(t *testing.T) {
	att := Default()
	att.Limits.Memory = 32 << 20
	att.Limits.Fuel = 0
	att.Capabilities.Mounts = []Mount{{Host: "/publisher/data", Guest: "/data"}}
	att.Capabilities.Env = map[string]string{"K": "V"}

	op := Ceiling()
	op.Limits.Memory = 16 << 20
	op.Limits.Fuel = 1000
	op.Limits.Timeout = Duration(time.Second)
	op.Capabilities.Mounts = []Mount{{Host: "/srv/data", Guest: "/data/", ReadOnly: true}}

	got, err := Attested(att, op)
	if err != nil {
		t.Fatal(err)
	}
	if got.Limits.Memory != 16<<20 || got.Limits.Fuel != 1000 || got.Limits.Timeout.Std() != time.Second || got.Limits.Output != att.Limits.Output {
		t.Fatalf("limits = %+v", got.Limits)
	}
	if len(got.Capabilities.Mounts) != 1 || got.Capabilities.Mounts[0] != (Mount{Host: "/srv/data", Guest: "/data", ReadOnly: true}) {
		t.Fatalf("mounts = %+v", got.Capabilities.Mounts)
	}
	if got.Capabilities.Env["K"] != "V" {
		t.Fatal("attested env lost")
	}

	// A ceiling never loosens: an operator memory above the attested keeps the attested.
	op.Limits.Memory = 1 << 30
	if got, _ := Attested(att, op); got.Limits.Memory != 32<<20 {
		t.Fatalf("memory loosened to %v", got.Limits.Memory)
	}

	denied := []struct {
		name   string
		mutate func(a, o *Policy)
		want   string
	}{
		{"attested mount without operator mount", func(a, o *Policy) { o.Capabilities.Mounts = nil }, "grants mount /data"},
		{"operator mount not granted", func(a, o *Policy) {
			o.Capabilities.Mounts = append(o.Capabilities.Mounts, Mount{Host: "/etc", Guest: "/etc"})
		}, "mount /etc is not granted"},
		{"attested stdin file", func(a, o *Policy) { a.Capabilities.Stdin = "file:/home/publisher/in" }, "stdin"},
	}
	for _, tc := range denied {
		a, o := att.Clone(), op.Clone()
		tc.mutate(&a, &o)
		_, err := Attested(a, o)
		var ce *CapabilityError
		if !errors.As(err, &ce) || !strings.Contains(ce.Detail, tc.want) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestParseCeiling(t *testing.T) {
	p, err := ParseCeiling([]byte("limits: {memory: 8MiB}\ncapabilities:\n  mounts: [{host: /srv, guest: /d}]\n"), "op.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Limits.Memory != 8<<20 || p.Limits.Timeout != Ceiling().Limits.Timeout || len(p.Capabilities.Mounts) != 1 {
		t.Fatalf("ceiling = %+v", p)
	}
	_, err = ParseCeiling([]byte("capabilities:\n  env: {A: b}\n"), "op.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "op.yaml:2: capabilities.env:") {
		t.Fatalf("err = %v", err)
	}
}
