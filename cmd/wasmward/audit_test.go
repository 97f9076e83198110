package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/internal/fixture"
)

// rotatedAuditLog writes a log rotated into several files.
func rotatedAuditLog(t *testing.T) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.OpenOptions(path, audit.Options{MaxSize: audit.MinMaxSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 700 {
		l.Append(audit.Event{Type: audit.TypeViolation, Detail: fmt.Sprintf("%d %s", i, strings.Repeat("v", 200))})
		if i%100 == 99 {
			l.Sync(context.Background())
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := audit.LogFiles(path)
	if err != nil || len(files) < 3 {
		t.Fatalf("files %v %v", files, err)
	}
	return path, files
}

func TestAuditVerifyRotated(t *testing.T) {
	tests := []struct {
		name     string
		args     func(path string, files []string) []string
		edit     func(files []string)
		wantCode int
		wantOut  string // in stdout (code 0) or stderr
	}{
		{"current file takes its rotated files", func(p string, _ []string) []string { return []string{p} }, nil, 0, "files, from record 1): intact, "},
		{"directory", func(p string, _ []string) []string { return []string{filepath.Dir(p)} }, nil, 0, "anchored at record"},
		{"list in glob order", func(p string, f []string) []string { return append([]string{p}, f[:len(f)-1]...) }, nil, 0, "intact"},
		{"missing middle file", func(p string, _ []string) []string { return []string{p} }, func(f []string) { os.Remove(f[1]) },
			1, ":1: tampered: prev "},
		{"only the current file listed", func(p string, f []string) []string { return []string{f[len(f)-2], p} }, nil,
			1, "no log_pruned record accounts for records 1 to"},
		{"directory with two logs", func(p string, _ []string) []string { return []string{filepath.Dir(p)} },
			func(f []string) { os.WriteFile(filepath.Join(filepath.Dir(f[0]), "x.head"), nil, 0o600) }, 2, "holds 2 audit logs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, files := rotatedAuditLog(t)
			if tc.edit != nil {
				tc.edit(files)
			}
			code, out, stderr := gwCLI(context.Background(), append([]string{"audit", "verify"}, tc.args(path, files)...)...)
			got := out
			if code != 0 {
				got = stderr
			}
			if code != tc.wantCode || !strings.Contains(got, tc.wantOut) {
				t.Errorf("exit %d, out %q, stderr %q; want %d with %q", code, out, stderr, tc.wantCode, tc.wantOut)
			}
			if tc.name == "missing middle file" && !strings.Contains(stderr, files[2]+":1:") {
				t.Errorf("stderr %q does not name %s", stderr, files[2])
			}
		})
	}
}

// TestServeStartsAfterCutAuditRecord: a gateway that died mid-write (or
// hit a full disk) left a partial last line in its audit log; serve starts
// anyway, the cut record is removed and recorded, and the log verifies.
func TestServeStartsAfterCutAuditRecord(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.jsonl")
	l, err := audit.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(audit.Event{Type: audit.TypeServerStart})
	l.Append(audit.Event{Type: audit.TypeViolation, Route: "/hello", Kind: "timeout"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":3,"time":"2026-11-30T00:00:00Z","prev":"ab`)
	f.Close()

	cfg := filepath.Join(dir, "gw.yaml")
	os.WriteFile(cfg, []byte("audit: {path: audit.jsonl, on_failure: fail_closed}\ndrain_delay: 0\nroutes:\n  - route: /hello\n    module: "+fixture.Path(t, "gw_hello")+"\n"), 0o600)
	pub, adm := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stderr string
	go func() {
		c, _, e := gwCLI(ctx, "serve", "--config", cfg, "--listen", pub, "--admin-listen", adm)
		stderr = e
		done <- c
	}()
	ready := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + adm + "/readyz"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == 200
		}
	}
	cancel()
	if code := <-done; code != 0 || !ready {
		t.Fatalf("serve: ready %v, exit %d, stderr %s", ready, code, stderr)
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), `"seq":3,`) || !strings.Contains(string(b), `"type":"log_repaired"`) || !strings.Contains(string(b), "partial record of 49 bytes at offset") {
		t.Errorf("log:\n%s", b)
	}
	if code, out, errs := gwCLI(context.Background(), "audit", "verify", log); code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("verify: %d %q %q", code, out, errs)
	}
}
