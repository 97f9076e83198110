package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmward/wasmward/audit"
)

// rotatedAuditLog writes a log rotated into several files.
func rotatedAuditLog(t *testing.T) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.OpenOptions(path, audit.Options{MaxSize: audit.MinMaxSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 700; i++ {
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
