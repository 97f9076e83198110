package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

func TestAuditConfig(t *testing.T) {
	const routes = "routes: [{route: /r, module: m.wasm}]\n"
	def := audit.Options{OnFailure: audit.FailClosed, MaxSize: DefaultAuditMaxSize, AggregateWindow: DefaultAuditAggregateWindow}
	tests := []struct {
		name     string
		yml      string
		wantPath string
		want     audit.Options
		wantErr  string
	}{
		{"none", routes, "", def, ""},
		{"shorthand", "audit_log: a.jsonl\n" + routes, "/etc/ww/a.jsonl", def, ""},
		{"block", "audit:\n  path: /var/log/a.jsonl\n  on_failure: fail_open\n  max_size: 1MiB\n  max_age: 24h\n  keep: 5\n  aggregate_window: 0\n" + routes,
			"/var/log/a.jsonl", audit.Options{OnFailure: audit.FailOpen, MaxSize: 1 << 20, MaxAge: 24 * time.Hour, Keep: 5}, ""},
		{"rotation off", "audit: {path: a.jsonl, max_size: 0}\n" + routes, "/etc/ww/a.jsonl", audit.Options{OnFailure: audit.FailClosed, AggregateWindow: DefaultAuditAggregateWindow}, ""},
		{"bad mode", "audit:\n  path: a\n  on_failure: ignore\n" + routes, "", def, `gw.yaml:3: audit.on_failure "ignore" is not fail_closed or fail_open`},
		{"both spellings", "audit_log: a\naudit:\n  path: b\n" + routes, "", def, "gw.yaml:3: audit_log and audit.path both given"},
		{"no path", "audit:\n  keep: 3\n" + routes, "", def, "gw.yaml:2: audit: path is required"},
		{"keep 0", "audit:\n  path: a\n  keep: 0\n" + routes, "", def, "gw.yaml:3: audit.keep 0: keep at least 1"},
		{"tiny max_size", "audit:\n  path: a\n  max_size: 1KiB\n" + routes, "", def, "gw.yaml:2: audit: max_size 1024 is below the minimum"},
		{"negative age", "audit:\n  path: a\n  max_age: -1h\n" + routes, "", def, `gw.yaml:3: invalid duration "-1h": negative`},
		{"unknown key", "audit:\n  path: a\n  rotate: yes\n" + routes, "", def, `gw.yaml:3: unknown key "rotate"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.yml), "gw.yaml", func(string) ([]byte, error) { return []byte("\x00asm"), nil }, "/etc/ww")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AuditLog != tc.wantPath || cfg.Audit != tc.want {
				t.Errorf("path %q options %+v, want %q %+v", cfg.AuditLog, cfg.Audit, tc.wantPath, tc.want)
			}
		})
	}
}

// TestAuditFailurePolicy makes the audit log unwritable under a running
// gateway (its directory disappears, so the head sidecar cannot be
// replaced and each batch is undone and retried) and checks what each
// on_failure mode does to requests, /readyz and the metrics, and that
// both recover when the directory is back.
func TestAuditFailurePolicy(t *testing.T) {
	for _, mode := range []audit.FailureMode{audit.FailClosed, audit.FailOpen} {
		t.Run(string(mode), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "audit")
			os.Mkdir(dir, 0o700)
			cfg, err := ParseConfig([]byte("rate_limit: {requests_per_second: 0}\naudit: {path: "+filepath.Join(dir, "a.jsonl")+", on_failure: "+string(mode)+"}\nroutes: [{route: /r, module: m.wasm}]\n"),
				"gw.yaml", func(string) ([]byte, error) { return []byte("\x00asm"), nil }, "")
			if err != nil {
				t.Fatal(err)
			}
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			opts := cfg.Audit
			opts.Logger = logger
			al, err := audit.OpenOptions(cfg.AuditLog, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer al.Close()
			s, err := New(context.Background(), cfg, Options{Logger: logger, Audit: al,
				compile: func(context.Context, []byte, policy.Policy) (module, error) {
					return &fakeModule{run: func(context.Context, sandbox.Invocation) (*sandbox.Report, error) {
						return &sandbox.Report{Outcome: sandbox.OutcomeViolation, Violation: &sandbox.Violation{Kind: sandbox.KindMemoryLimit}}, nil
					}}, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			get := func(h http.Handler, p string) int {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
				return w.Code
			}
			metric := func(name string) string {
				w := httptest.NewRecorder()
				s.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
				for l := range strings.SplitSeq(w.Body.String(), "\n") {
					if strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+"{") {
						return l
					}
				}
				return ""
			}
			if c := get(s.Handler(), "/r"); c != 502 {
				t.Fatalf("healthy: %d", c)
			}
			if err := al.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if m := metric("wasmward_audit_healthy"); m != "wasmward_audit_healthy 1" {
				t.Errorf("healthy metric %q", m)
			}

			os.RemoveAll(dir)
			get(s.Handler(), "/r") // an event the log cannot write
			deadline := time.Now().Add(5 * time.Second)
			for al.Err() == nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if al.Err() == nil {
				t.Fatal("the audit log did not fail")
			}
			wantReq, wantReady := 503, 503
			if mode == audit.FailOpen {
				wantReq, wantReady = 502, 200
			}
			if c := get(s.Handler(), "/r"); c != wantReq {
				t.Errorf("request while the audit log fails: %d, want %d", c, wantReq)
			}
			if c := get(s.AdminHandler(), "/readyz"); c != wantReady {
				t.Errorf("/readyz while the audit log fails: %d, want %d", c, wantReady)
			}
			if m := metric("wasmward_audit_healthy"); m != "wasmward_audit_healthy 0" {
				t.Errorf("healthy metric %q", m)
			}
			if m := metric("wasmward_audit_write_errors_total"); m == "" || m == "wasmward_audit_write_errors_total 0" {
				t.Errorf("write errors metric %q", m)
			}
			if mode == audit.FailClosed {
				if m := metric(`wasmward_refused_total{reason="audit_unavailable",route="/r"}`); m != `wasmward_refused_total{reason="audit_unavailable",route="/r"} 1` {
					t.Errorf("refused metric %q", m)
				}
			}

			os.Mkdir(dir, 0o700)
			deadline = time.Now().Add(5 * time.Second)
			for al.Err() != nil && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if c := get(s.AdminHandler(), "/readyz"); c != 200 {
				t.Errorf("/readyz after recovery: %d", c)
			}
			if c := get(s.Handler(), "/r"); c != 502 {
				t.Errorf("request after recovery: %d", c)
			}
		})
	}
}
