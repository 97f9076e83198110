package deploy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// signalsConfig judges every live signal, latency included (p99 above
// 150ms), with canary steps long enough for a slow version to collect
// min_requests answers: each breach below is caught within the first step.
const signalsConfig = `
listen: 127.0.0.1:0
rate_limit: {requests_per_second: 0}
drain_delay: 0s
shutdown_timeout: 5s
deploy:
  health_interval: 40ms
  window: 10s
  step_interval: 3s
  min_requests: 10
  max_p99: 150ms
  canary_steps: [50, 100]
routes:
  - route: /svc
    module: dep_v1.wasm
    health: {path: "/svc?health"}
`

// Automatic rollback on each live signal. Every fixture passes the
// synthetic check and breaches one signal under real traffic: dep_violate
// (a memory_limit violation on every request), dep_traplive (a trap on
// every request), dep_slow (correct answers after 300ms). A violation and a
// trap are answered 502, so the 5xx rate breaches with them: the rollback
// names the specific signal. For each: the rollout ends rolled_back saying
// which signal and its value, v1 serves alone again, the rollback is
// audited (type rollback, kind the signal) and counted
// (wasmward_rollbacks_total{signal}), the version is failed in /v1/routes
// and /metrics, a new deployment of it is refused (409) and only a
// promotion by an operator deploys it again.
func TestRollbackOnEachLiveSignal(t *testing.T) {
	tests := []struct {
		module, signal, reason string
		answer                 string // what the canary answers under load
	}{
		{"dep_violate", "violation_rate", "violation rate 1.000", "Bad Gateway"},
		{"dep_traplive", "trap_rate", "trap rate 1.000", "Bad Gateway"},
		{"dep_slow", "latency", "p99 latency 3", "slow OK"},
	}
	for _, tc := range tests {
		t.Run(tc.signal, func(t *testing.T) {
			e := newEnv(t, signalsConfig, true, nil)
			l := e.startLoad(t, 8)
			start := time.Now()
			rec, err := e.client.Deploy(context.Background(), Request{Route: "/svc", Module: tc.module + ".wasm", CanaryPercent: 50})
			if err != nil {
				t.Fatal(err)
			}
			rec = e.wait(t, rec.ID)
			took := time.Since(start)
			bodies := l.end()
			if rec.State != RolledBack || !strings.Contains(rec.Reason, tc.reason) {
				t.Fatalf("deployment %s: %q, want rolled_back for %q", rec.State, rec.Reason, tc.reason)
			}
			// Caught within the first canary step (3s), not by luck at its end.
			if took > 2500*time.Millisecond {
				t.Errorf("rolled back after %s, not within the first step", took)
			}
			if len(l.errs) > 0 {
				t.Errorf("socket errors: %v", l.errs[:min(3, len(l.errs))])
			}
			canaryAnswers := 0
			for k, n := range bodies {
				switch {
				case k == "v1 OK":
				case strings.HasSuffix(k, tc.answer):
					canaryAnswers += n
				default:
					t.Errorf("%d unexpected answers %q", n, k)
				}
			}
			if canaryAnswers < 10 {
				t.Errorf("the canary answered %d requests (%v): the window cannot have judged it", canaryAnswers, bodies)
			}
			for i := 0; i < 10; i++ {
				if code, body, _ := e.get(t, http.DefaultClient, "/svc"); code != 200 || body != "v1\n" {
					t.Fatalf("after the rollback: %d %q", code, body)
				}
			}

			r := e.route(t, "/svc")
			if a, f := versionSHA(r, "active"), versionSHA(r, "failed"); len(a) != 1 || a[0] != sha(t, "dep_v1") || len(f) != 1 || f[0] != sha(t, tc.module) {
				t.Errorf("versions after the rollback: %+v", r.Versions)
			}
			resp, err := http.Get(e.admin + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			mb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{
				`wasmward_rollbacks_total{route="/svc",signal="` + tc.signal + `"} 1`,
				`wasmward_route_version{route="/svc",sha256="` + sha(t, tc.module) + `",state="failed"} 0`,
				`wasmward_route_version{route="/svc",sha256="` + sha(t, "dep_v1") + `",state="active"} 100`,
			} {
				if !strings.Contains(string(mb), want) {
					t.Errorf("metrics lack %s:\n%s", want, grepLines(string(mb), "wasmward_r"))
				}
			}
			if strings.Contains(string(mb), `wasmward_rollbacks_total{route="/svc",signal="error_rate"}`) {
				t.Errorf("the rollback was also counted as error_rate")
			}
			a := e.auditText(t)
			if !strings.Contains(a, `"type":"rollback"`) || !strings.Contains(a, `"kind":"`+tc.signal+`"`) {
				t.Errorf("no rollback record of kind %s in the audit log:\n%s", tc.signal, grepLines(a, "rollback"))
			}

			// Not retried: the same bytes are refused until an operator
			// promotes the failed deployment.
			_, err = e.client.Deploy(context.Background(), Request{Route: "/svc", Module: tc.module + ".wasm"})
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "failed on /svc") {
				t.Fatalf("redeploy of the failed version: %v, want 409", err)
			}
			if _, body, _ := e.get(t, http.DefaultClient, "/svc"); body != "v1\n" {
				t.Errorf("after the refused redeploy: %q", body)
			}
			again, err := e.client.Promote(context.Background(), rec.ID)
			if err != nil {
				t.Fatalf("promote: %v", err)
			}
			if again.ID == rec.ID || !again.RetryFailed || again.SHA256 != sha(t, tc.module) {
				t.Errorf("promote deployed %+v", again)
			}
			if f := versionSHA(e.route(t, "/svc"), "failed"); len(f) != 0 {
				t.Errorf("still failed while promoted: %v", f)
			}
			if rb, err := e.client.Rollback(context.Background(), again.ID); err != nil || rb.State != RolledBack {
				t.Fatalf("operator rollback of the promoted deployment: %v %+v", err, rb)
			}
		})
	}
}
