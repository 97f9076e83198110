package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNetworkParse(t *testing.T) {
	p, err := Parse([]byte(`
limits:
  network:
    requests: 4
    response_bytes: 64KiB
    request_timeout: 750ms
capabilities:
  network:
    ca_file: ca.pem
    http:
      - url: https://api.example.com/v1/
        methods: [GET, POST]
      - {url: "http://*.internal.example:8080", allow_private: true}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := NetworkLimits{Requests: 4, RequestBytes: DefaultNetRequestBytes, ResponseBytes: 64 << 10,
		RequestTimeout: Duration(750 * time.Millisecond), Redirects: DefaultNetRedirects}
	if p.Limits.Network != want {
		t.Fatalf("limits.network = %+v, want %+v", p.Limits.Network, want)
	}
	n := p.Capabilities.Network
	if !n.DenyPrivate || len(n.HTTP) != 2 || n.CAFile != "ca.pem" {
		t.Fatalf("network = %+v", n)
	}
	e0, _ := n.HTTP[0].Endpoint()
	if e0 != (Endpoint{Scheme: "https", Host: "api.example.com", Port: 443, Path: "/v1/"}) {
		t.Fatalf("endpoint 0 = %+v", e0)
	}
	e1, _ := n.HTTP[1].Endpoint()
	if e1 != (Endpoint{Scheme: "http", Host: "internal.example", Wildcard: true, Port: 8080}) || e1.String() != "http://*.internal.example:8080" {
		t.Fatalf("endpoint 1 = %+v %s", e1, e1)
	}
	if !n.HTTP[0].AllowsMethod("POST") || n.HTTP[0].AllowsMethod("DELETE") || !n.HTTP[1].AllowsMethod("HEAD") || n.HTTP[1].AllowsMethod("POST") {
		t.Fatal("methods")
	}
	p.ResolvePaths("/etc/ww")
	if p.Capabilities.Network.CAFile != "/etc/ww/ca.pem" {
		t.Fatalf("ca_file = %q", p.Capabilities.Network.CAFile)
	}
	// Round trip and deep copy.
	out, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, "out.yaml")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if string(again) != string(out) || back.Limits != p.Limits {
		t.Fatalf("round trip:\n%s", out)
	}
	c := p.Clone()
	c.Capabilities.Network.HTTP[0].Methods[0] = "PUT"
	if p.Capabilities.Network.HTTP[0].Methods[0] != "GET" {
		t.Fatal("Clone shares the methods slice")
	}
}

func TestNetworkDefaults(t *testing.T) {
	p := Default()
	if len(p.Capabilities.Network.HTTP) != 0 || !p.Capabilities.Network.DenyPrivate {
		t.Fatalf("default network = %+v", p.Capabilities.Network)
	}
	if p.Limits.Network != DefaultNetworkLimits() {
		t.Fatalf("default limits.network = %+v", p.Limits.Network)
	}
}

func TestNetworkInvalid(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"capabilities: {network: {http: [{url: ftp://x/}]}}", "capabilities.network.http[0]: url \"ftp://x/\": scheme must be http or https"},
		{"capabilities: {network: {http: [{url: 'https://u:p@x/'}]}}", "credentials are not allowed"},
		{"capabilities: {network: {http: [{url: 'https://x/?a=1'}]}}", "no query or fragment"},
		{"capabilities: {network: {http: [{url: 'https://x:0/'}]}}", "invalid port \"0\""},
		{"capabilities: {network: {http: [{url: 'https://x:99999/'}]}}", "invalid port"},
		{"capabilities: {network: {http: [{url: 'https:///p'}]}}", "want a host name"},
		{"capabilities: {network: {http: [{url: 'https://a.*.x/'}]}}", "want a host name"},
		{"capabilities: {network: {http: [{url: 'http://2130706433/'}]}}", "four decimal numbers"},
		{"capabilities: {network: {http: [{url: 'http://0x7f.0.0.1/'}]}}", "four decimal numbers"},
		{"capabilities: {network: {http: [{url: 'http://127.1/'}]}}", "four decimal numbers"},
		{"capabilities: {network: {http: [{url: 'http://x/a/../b'}]}}", "is not clean"},
		{"capabilities: {network: {http: [{url: 'http://x/', methods: [get]}]}}", "method \"get\": want an upper-case method"},
		{"capabilities: {network: {http: [{url: 'http://x/', methods: [CONNECT]}]}}", "method CONNECT is never allowed"},
		{"capabilities: {network: {htp: []}}", "p.yaml:1: unknown key \"htp\""},
		{"limits: {network: {requests: 0}}", "limits.network.requests: must be greater than zero"},
		{"limits: {network: {request_timeout: 0}}", "limits.network.request_timeout: must be greater than zero"},
		{"limits: {network: {redirects: 11}}", "limits.network.redirects: 11 is above the maximum of 10"},
		{"limits: {network: {response_bytes: 0}}", "limits.network.response_bytes: must be greater than zero"},
	} {
		_, err := Parse([]byte(tc.src), "p.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestNetworkIPHostCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"http://[::ffff:127.0.0.1]:80/": "127.0.0.1",
		"http://[0:0::1]/":              "::1",
		"http://API.Example.COM./":      "api.example.com",
	} {
		e, err := HTTPRule{URL: in}.Endpoint()
		if err != nil || e.Host != want {
			t.Errorf("%s: host %q, %v; want %q", in, e.Host, err, want)
		}
	}
}

func TestAttestedNetwork(t *testing.T) {
	att := Default()
	att.Capabilities.Network.HTTP = []HTTPRule{{URL: "https://api.example.com/v1/", Methods: []string{"GET", "POST"}, AllowPrivate: true}}
	att.Limits.Network.Requests = 100
	op := Ceiling()
	if _, err := Attested(att, op); err == nil || !strings.Contains(err.Error(), "does not allow it") {
		t.Fatalf("operator without network: %v", err)
	}
	op.Capabilities.Network.HTTP = []HTTPRule{{URL: "https://API.example.com:443/v1/", Methods: []string{"GET"}}}
	op.Limits.Network.Requests = 5
	e, err := Attested(att, op)
	if err != nil {
		t.Fatal(err)
	}
	r := e.Capabilities.Network.HTTP
	if len(r) != 1 || !reflect.DeepEqual(r[0].Methods, []string{"GET"}) || r[0].AllowPrivate || e.Limits.Network.Requests != 5 {
		t.Fatalf("attested network = %+v, limits %+v", e.Capabilities.Network, e.Limits.Network)
	}
	att.Capabilities.Network.CAFile = "/home/pub/ca.pem"
	var ce *CapabilityError
	if _, err := Attested(att, op); !errors.As(err, &ce) {
		t.Fatalf("attested ca_file: %v", err)
	}
}

func TestAllowsNetworkImport(t *testing.T) {
	p := Default()
	p.Capabilities.Imports = []string{"*"}
	if p.AllowsImport(NetworkModule, "req") {
		t.Fatal("network import allowed by a pattern without capabilities.network")
	}
	p.Capabilities.Imports = nil
	p.Capabilities.Network.HTTP = []HTTPRule{{URL: "https://example.com/"}}
	if !p.AllowsImport(NetworkModule, "req") || p.AllowsImport("wasi_snapshot_preview1", "fd_write") {
		t.Fatal("capabilities.network should allow exactly the network imports here")
	}
}
