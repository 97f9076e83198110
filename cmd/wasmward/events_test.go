package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
)

// TestEventsNDJSON runs `wasmward events` end to end on NDJSON files: the
// counting example in C and in Go, and ev_test's failures going to the
// dead-letter file with their reason.
func TestEventsNDJSON(t *testing.T) {
	counting := `{"key":"a"}` + "\n" + `{"key":"b"}` + "\n\n" + `{"nokey":1}` + "\n" + `{"key":"a"}` + "\n"
	countOut := `{"data":{"key":"a","count":1}}
{"data":{"key":"b","count":1}}
{"data":{"key":"a","count":2}}
`
	// A line over the 16 MiB bound is dead-lettered with its first 4 KiB;
	// the stream goes on.
	huge := `{"key":"` + strings.Repeat("y", 17<<20) + `"}`
	tests := []struct {
		name, module, policy, events string
		wantOut, wantDead, wantErr   string
		code                         int
	}{
		{name: "count C", module: "../../examples/count.wasm", events: counting, wantOut: countOut,
			wantDead: `{"reason":"rejected: process_event returned 1","source":"IN:4","attempts":1,"data":{"nokey":1}}` + "\n",
			wantErr:  "wasmward events: 4 events, 3 outputs, 1 dead-lettered, 0 instances replaced\n"},
		{name: "count Go", module: fixture.Path(t, "ev_count_go"), events: counting, wantOut: countOut,
			wantDead: `{"reason":"rejected: process_event returned 1","source":"IN:4","attempts":1,"data":{"nokey":1}}` + "\n",
			wantErr:  "wasmward events: 4 events, 3 outputs, 1 dead-lettered, 0 instances replaced\n"},
		{name: "failures", module: fixture.Path(t, "ev_test"),
			policy: "limits: {fuel: 10000000}\nevents: {subjects: [alerts.*], emit_bytes: 16}\n",
			events: "o:one\nt:\nc:\ns:alerts.x\ns:secrets.x\nl:\ne:aaaaaaaa\nc:\no:\"quoted\"\no:\xff\n",
			wantOut: `{"data_base64":"b25l"}` + "\n" + `{"data":1}` + "\n" + `{"subject":"alerts.x","data":1}` + "\n" +
				`{"data":1}` + "\n" + `{"data":"quoted"}` + "\n" + `{"data_base64":"/w=="}` + "\n",
			wantDead: `{"reason":"trap: wasm error: unreachable","source":"IN:2","attempts":1,"data_base64":"dDo="}
{"reason":"violation capability_denied: emit_to: subject \"secrets.x\" is not allowed by the policy's events.subjects","source":"IN:5","attempts":1,"data_base64":"czpzZWNyZXRzLng="}
{"reason":"violation fuel_exhausted: the event's fuel budget of 10000000 exhausted","source":"IN:6","attempts":1,"data_base64":"bDo="}
{"reason":"violation output_limit: emit: more than 16B for one event","source":"IN:7","attempts":1,"data_base64":"ZTphYWFhYWFhYQ=="}
`,
			wantErr: "wasmward events: 10 events, 6 outputs, 4 dead-lettered, 4 instances replaced\n"},
		{name: "oversized line", module: "../../examples/count.wasm", events: huge + "\n" + `{"key":"c"}` + "\n",
			wantOut: `{"data":{"key":"c","count":1}}` + "\n",
			wantDead: `{"reason":"event larger than 16777216 bytes (the first 4096 kept)","source":"IN:1","attempts":1,"data_base64":"` +
				base64.StdEncoding.EncodeToString([]byte(huge[:4096])) + `"}` + "\n",
			wantErr: "wasmward events: 2 events, 1 outputs, 1 dead-lettered, 0 instances replaced\n"},
		{name: "bad ABI", module: fixture.Path(t, "ev_badsig"), events: "o:x\n", code: exitRefused,
			wantErr: "wasmward: module refused: not an event processor: export \"process_event\": signature (i32) -> (i32), want (i32, i32) -> (i32)\n"},
		{name: "kv not granted", module: fixture.Path(t, "ev_kv"), events: "a\n", code: exitRefused,
			wantErr: "wasmward: module refused: capability_denied: import wasmward.kv_get: the policy grants no key-value store (events.kv)\n"},
		{name: "bad policy", module: fixture.Path(t, "ev_test"), policy: "events: {subjects: [\"a..b\"]}\n", events: "o:x\n", code: exitUsage,
			wantErr: "wasmward: POLICY: events.subjects[0]: subject \"a..b\" has an empty token\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in, out, dead := filepath.Join(dir, "in.ndjson"), filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "dead.ndjson")
			if err := os.WriteFile(in, []byte(tc.events), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"events", tc.module, "--source", "ndjson:" + in, "--sink", "ndjson:" + out, "--dead-letter", "ndjson:" + dead}
			pol := filepath.Join(dir, "policy.yaml")
			if tc.policy != "" {
				if err := os.WriteFile(pol, []byte(tc.policy), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--policy", pol)
			}
			r := runProcess(t, args...)
			stderr := strings.ReplaceAll(r.stderr, pol, "POLICY")
			if r.code != tc.code || stderr != tc.wantErr {
				t.Fatalf("exit %d stderr %q, want %d %q", r.code, r.stderr, tc.code, tc.wantErr)
			}
			gotOut, _ := os.ReadFile(out)
			gotDead, _ := os.ReadFile(dead)
			if string(gotOut) != tc.wantOut {
				t.Errorf("outputs:\n%s\nwant:\n%s", gotOut, tc.wantOut)
			}
			if got := strings.ReplaceAll(string(gotDead), in, "IN"); got != tc.wantDead {
				t.Errorf("dead letters:\n%s\nwant:\n%s", got, tc.wantDead)
			}
		})
	}
}

// TestEventsUsage: malformed endpoints are usage errors naming the flag.
func TestEventsUsage(t *testing.T) {
	mod := fixture.Path(t, "ev_test")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--sink", "ndjson:-", "--dead-letter", "ndjson:d"}, "wasmward: --source is required\n"},
		{[]string{"--source", "kafka://x", "--sink", "ndjson:-", "--dead-letter", "ndjson:d"},
			"wasmward: --source: \"kafka://x\" is neither ndjson:FILE, ndjson:- nor nats://HOST/PATH\n"},
		{[]string{"--source", "nats://127.0.0.1:4222/EVENTS", "--sink", "ndjson:-", "--dead-letter", "ndjson:d"},
			"wasmward: --source: nats://127.0.0.1:4222/EVENTS: consumer=NAME is required (a durable consumer)\n"},
		{[]string{"--source", "nats://u:secret@127.0.0.1:4222/EVENTS?consumer=w&batch=0", "--sink", "ndjson:-", "--dead-letter", "ndjson:d"},
			"wasmward: --source: nats://127.0.0.1:4222/EVENTS: batch \"0\" is not 1..4096\n"},
		{[]string{"--source", "ndjson:-", "--sink", "nats://127.0.0.1/out.*", "--dead-letter", "ndjson:d"},
			"wasmward: --sink: nats://127.0.0.1/out.*: subject \"out.*\": wildcard \"*\" not allowed here\n"},
		{[]string{"--source", "ndjson:-", "--sink", "ndjson:-"}, "wasmward: --dead-letter is required\n"},
	}
	for _, tc := range tests {
		r := runProcess(t, append([]string{"events", mod}, tc.args...)...)
		if r.code != exitUsage || r.stderr != tc.want || strings.Contains(r.stderr, "secret") {
			t.Errorf("%v: exit %d %q, want 2 %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
