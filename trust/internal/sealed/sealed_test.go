package sealed

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	box, err := Seal([]byte("secret der"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(box), "secret der") {
		t.Fatal("plaintext in the sealed document")
	}
	out, err := Open(box, []byte("pw"))
	if err != nil || string(out) != "secret der" {
		t.Fatalf("open: %v %q", err, out)
	}
	if _, err := Open(box, []byte("pW")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// A hostile document cannot ask for arbitrary scrypt work.
	var d map[string]any
	_ = json.Unmarshal(box, &d)
	d["kdf"].(map[string]any)["params"].(map[string]any)["N"] = 1 << 30
	huge, _ := json.Marshal(d)
	if _, err := Open(huge, []byte("pw")); err == nil || !strings.Contains(err.Error(), "unsupported scrypt parameters") {
		t.Fatalf("huge N: %v", err)
	}
	d["kdf"].(map[string]any)["name"] = "pbkdf2"
	other, _ := json.Marshal(d)
	if _, err := Open(other, []byte("pw")); err == nil || !strings.Contains(err.Error(), `unknown kdf "pbkdf2"`) {
		t.Fatalf("kdf: %v", err)
	}
}
