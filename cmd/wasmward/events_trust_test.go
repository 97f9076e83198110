package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestEventsTrustGate: `wasmward events --trust` verifies the module as
// run and serve do, before anything else: an unsigned (or wrongly signed,
// or downgraded) module is refused with exit 126 and one line, nothing is
// compiled, no sink is created and the source is not opened: an NDJSON
// source that is a FIFO with no writer would block the process if it were
// opened, and a JetStream source keeps its messages unconsumed (the
// durable consumer is never created). The scan gate refuses the same way.
func TestEventsTrustGate(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	t.Setenv("WASMWARD_KEY_PASSWORD", "")
	for _, n := range []string{"ci", "other"} {
		if code, _, e := trustRun(t, "keygen", "--output-key-prefix", p(n)); code != 0 {
			t.Fatalf("keygen: %d %s", code, e)
		}
	}
	count := "../../examples/count.wasm"
	for _, s := range []struct{ key, version, out string }{{"ci", "2.0.0", "v2.wasm"}, {"ci", "1.0.0", "v1.wasm"}, {"other", "2.0.0", "other.wasm"}} {
		if code, _, e := trustRun(t, "sign", count, "--key", p(s.key+".key"), "--module-version", s.version, "--module-name", "count", "-o", p(s.out)); code != 0 {
			t.Fatalf("sign: %d %s", code, e)
		}
	}
	if err := os.WriteFile(p("trust.yaml"), []byte("keys:\n  - name: ci\n    public_key: ci.pub\nrules:\n  - modules: \"*\"\n    keys: [ci]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("in.ndjson"), []byte(`{"key":"a"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The state file has seen version 2.0.0.
	if code, _, e := trustRun(t, "events", p("v2.wasm"), "--trust", p("trust.yaml"), "--state", p("state.json"),
		"--source", "ndjson:"+p("in.ndjson"), "--sink", "ndjson:"+p("seed.out"), "--dead-letter", "ndjson:"+p("seed.dead")); code != 0 {
		t.Fatalf("seeding the state: %d %s", code, e)
	}
	if out, _ := os.ReadFile(p("seed.out")); string(out) != `{"data":{"key":"a","count":1}}`+"\n" {
		t.Fatalf("the signed module's output: %q", out)
	}
	fifo := p("events.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		module string
		args   []string
		code   int
		stderr string // the whole of it
	}{
		{"unsigned", count, []string{"--trust", p("trust.yaml")}, exitRefused,
			"wasmward: module refused: signature: unsigned (module \"count\"): module is not signed\n"},
		{"untrusted signer", p("other.wasm"), []string{"--trust", p("trust.yaml")}, exitRefused,
			"wasmward: module refused: signature: untrusted (module \"other\"): no valid signature by a trusted key: 1 signature(s) cover this module, none by the 1 key(s) given\n"},
		{"downgrade", p("v1.wasm"), []string{"--trust", p("trust.yaml"), "--state", p("state.json")}, exitRefused,
			"wasmward: module refused: signature: rollback (module \"count\"): version 1.0.0 is older than 2.0.0, accepted before (--allow-downgrade to run it anyway)\n"},
		{"scan gate", count, []string{"--scan-fail-on", "medium"}, exitRefused,
			"wasmward: module refused: scan: scan finding at or above --scan-fail-on medium: WW201 Memory 0 declares no maximum (minimum 6 pages); only the host cap of 128MiB bounds it.\n"},
		{"state without trust", count, []string{"--state", p("state.json")}, exitUsage, "wasmward: --state needs --trust FILE\n"},
		{"bad severity", count, []string{"--scan-fail-on", "severe"}, exitUsage,
			"wasmward: --scan-fail-on: \"severe\" is not off, info, low, medium, high or critical\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink, dead := p(tc.name+".out"), p(tc.name+".dead")
			args := append([]string{"events", tc.module, "--source", "ndjson:" + fifo, "--sink", "ndjson:" + sink, "--dead-letter", "ndjson:" + dead}, tc.args...)
			start := time.Now()
			r := runProcess(t, args...)
			if r.code != tc.code || r.stderr != tc.stderr {
				t.Fatalf("exit %d stderr %q, want %d %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			for _, f := range []string{sink, dead} {
				if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s was created (%v): the sinks were opened before the gate", filepath.Base(f), err)
				}
			}
		})
	}

	t.Run("jetstream source untouched", func(t *testing.T) {
		url, js := eventStreams(t)
		ctx := context.Background()
		for i := range 5 {
			if _, err := js.Publish(ctx, "events.k", []byte(`{"key":"k`+string(rune('0'+i))+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		r := runProcess(t, "events", count, "--trust", p("trust.yaml"), "--source", url+"/EVENTS?consumer=workers",
			"--sink", url+"/out.results", "--dead-letter", url+"/dead.letters")
		if r.code != exitRefused || !strings.HasPrefix(r.stderr, "wasmward: module refused: signature: unsigned") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
		if _, err := js.Consumer(ctx, "EVENTS", "workers"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer lookup: %v, want it never created", err)
		}
		for name, want := range map[string]uint64{"EVENTS": 5, "OUT": 0} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != want || info.State.Consumers != 0 {
				t.Errorf("stream %s: %d messages, %d consumers; want %d, 0", name, info.State.Msgs, info.State.Consumers, want)
			}
		}
	})
}
