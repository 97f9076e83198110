package dsse

import (
	"strings"
	"testing"
)

// The example from the DSSE v1 protocol specification.
func TestPAE(t *testing.T) {
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Fatalf("PAE %q, want %q", got, want)
	}
	if got := string(PAE("", nil)); got != "DSSEv1 0  0 " {
		t.Fatalf("empty PAE %q", got)
	}
}

func TestParse(t *testing.T) {
	e, p, err := Parse([]byte(`{"payload":"aGk","payloadType":"t","signatures":[{"keyid":"k","sig":"c2ln"}]}`))
	if err != nil || string(p) != "hi" || e.Signatures[0].KeyID != "k" {
		t.Fatalf("%v %q %+v", err, p, e)
	}
	if s, err := e.Signatures[0].DecodeSig(); err != nil || string(s) != "sig" {
		t.Fatalf("sig %q %v", s, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{`, "dsse envelope"},
		{`{"payload":"aGk","signatures":[{"sig":"c2ln"}]}`, "no payloadType"},
		{`{"payload":"aGk","payloadType":"t","signatures":[]}`, "no signatures"},
		{`{"payload":"!!","payloadType":"t","signatures":[{"sig":"c2ln"}]}`, "payload: not base64"},
	} {
		if _, _, err := Parse([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s): %v, want %q", tc.in, err, tc.want)
		}
	}
}
