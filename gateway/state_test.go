package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		in   string
		want StateConfig
		err  string
	}{
		{in: "", want: StateConfig{}},
		{in: "nats://127.0.0.1:4222/wasmward", want: StateConfig{URL: "nats://127.0.0.1:4222/wasmward", Server: "nats://127.0.0.1:4222", Bucket: "wasmward", LeaseTTL: DefaultLeaseTTL}},
		{in: "nats://nats.internal:4222/prod_fleet-1?lease_ttl=3s&replica=gw-a.1&creds=/etc/ww/nats.creds",
			want: StateConfig{URL: "nats://nats.internal:4222/prod_fleet-1?lease_ttl=3s&replica=gw-a.1&creds=/etc/ww/nats.creds",
				Server: "nats://nats.internal:4222", Bucket: "prod_fleet-1", LeaseTTL: 3 * time.Second, Replica: "gw-a.1", Creds: "/etc/ww/nats.creds"}},
		{in: "http://127.0.0.1:4222/b", err: "is not nats://HOST:PORT/BUCKET"},
		{in: "nats://u:secretpw@127.0.0.1:4222/b", err: "credentials in the state URL are refused"},
		{in: "nats://127.0.0.1/b", err: "the server must be HOST:PORT"},
		{in: "nats://127.0.0.1:4222", err: `the bucket name "" must be`},
		{in: "nats://127.0.0.1:4222/a/b", err: `the bucket name "a/b" must be`},
		{in: "nats://127.0.0.1:4222/b?lease_ttl=10ms", err: `lease_ttl "10ms" is not a duration from 500ms to 10m`},
		{in: "nats://127.0.0.1:4222/b?lease_ttl=x", err: `lease_ttl "x"`},
		{in: "nats://127.0.0.1:4222/b?replica=a/b", err: `replica "a/b" must be`},
		{in: "nats://127.0.0.1:4222/b?creds=rel.creds", err: `creds "rel.creds" must be an absolute path`},
		{in: "nats://127.0.0.1:4222/b?leasettl=1s", err: `unknown parameter "leasettl"`},
	}
	for _, tt := range tests {
		got, err := ParseState(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "secretpw") {
				t.Errorf("%q: the error shows the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// The state key is validated with the rest of the file, its line named;
// changing it takes a restart.
func TestConfigState(t *testing.T) {
	_, err := parse("routes: [{route: /a, module: a.wasm}]\nstate: nats://127.0.0.1/b\n")
	if err == nil || !strings.Contains(err.Error(), "gw.yaml:2: state: ") {
		t.Fatalf("error %v", err)
	}
	a, err := parse("routes: [{route: /a, module: a.wasm}]\nstate: nats://127.0.0.1:4222/b\n")
	if err != nil || !a.State.Shared() || a.State.Bucket != "b" {
		t.Fatalf("%+v %v", a, err)
	}
	b, err := parse("routes: [{route: /a, module: a.wasm}]\n")
	if err != nil || b.State.Shared() {
		t.Fatalf("%+v %v", b, err)
	}
	if err := sameSettings(a, b); err == nil || !strings.Contains(err.Error(), "State changed: it takes a restart") {
		t.Errorf("reload across a state change: %v", err)
	}
}
