package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/events/natstest"
	"github.com/wasmward/wasmward/internal/fixture"
)

// A fleet of three `wasmward serve` processes sharing one NATS JetStream
// bucket (an in-process nats-server started by the test): a deployment
// asked of one replica reaches all three; a broken canary is rolled back
// on all three by the one lease holder (one rollback record, in its audit
// log); killing the lease holder with SIGKILL moves the lease to a
// survivor within its TTL, and the next deployment completes on the
// survivors.
func TestFleetThreeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("three gateway processes")
	}
	const ttl = 2 * time.Second
	state := natstest.Start(t) + "/fleet?lease_ttl=" + ttl.String()
	dir := t.TempDir()
	var reps []*serveProc
	for i := range 3 {
		cfg := deployConfig(t, dir, fixture.Path(t, "dep_v1")) + fmt.Sprintf("state: %s&replica=gw%d\n", state, i)
		reps = append(reps, startServe(t, cfg, nil, ""))
	}
	sha := func(name string) string { return digest.SHA256Hex(fixture.Bytes(t, name)) }

	// leader waits until exactly one of the live replicas says it holds
	// the lease, and returns its index.
	leader := func(live []int, within time.Duration) int {
		t.Helper()
		end := time.Now().Add(within)
		for {
			var holders []int
			for _, i := range live {
				if f := reps[i].routeStatus(t, "/svc").Fleet; f != nil && f.Leader {
					holders = append(holders, i)
				}
			}
			if len(holders) == 1 {
				return holders[0]
			}
			if time.Now().After(end) {
				t.Fatalf("lease holders among %v: %v after %s", live, holders, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// converge waits until every live replica serves want (the body) with
	// activeSHA active and nothing else, on /v1/routes and on real HTTP.
	converge := func(live []int, activeSHA, want string) {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for _, i := range live {
			p := reps[i]
			for {
				rs := p.routeStatus(t, "/svc")
				served := ""
				for _, v := range rs.Versions {
					if v.State == "canary" || (v.State == "active" && v.SHA256 != activeSHA) {
						served = "other"
					}
				}
				if served == "" && rs.Deployment == "" && getBody(p.pub+"/svc") == want {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("replica gw%d does not serve %q (sha256:%s) alone: %+v body %q\n%s",
						i, want, activeSHA[:12], rs.Versions, getBody(p.pub+"/svc"), p.stderrText())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	all := []int{0, 1, 2}
	lead := leader(all, 15*time.Second)
	other := (lead + 1) % 3

	// (a) A deployment asked of a replica that does not hold the lease
	// reaches all three.
	r := reps[other].deployCLI(t, dir, "deploy", "/svc", fixture.Path(t, "dep_v2"))
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("deploy v2 through gw%d: exit %d\n%s%s", other, r.code, r.stdout, r.stderr)
	}
	converge(all, sha("dep_v2"), "v2")

	// (b) A broken canary, under traffic on every replica, is rolled back
	// everywhere, decided once.
	stop := make(chan struct{})
	var loads []*loadResult
	for _, p := range reps {
		res, wg := runLoad(p.pub, "/svc", 2, stop)
		loads = append(loads, res)
		defer wg.Wait()
	}
	r = reps[other].deployCLI(t, dir, "deploy", "/svc", fixture.Path(t, "dep_broken"), "--canary", "50%")
	close(stop)
	if r.code != exitFailure || !strings.Contains(r.stdout, "rolled_back") || !strings.Contains(r.stdout, "5xx rate") {
		t.Fatalf("deploy of a broken canary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	converge(all, sha("dep_v2"), "v2")
	for i, p := range reps {
		failed := false
		for _, v := range p.routeStatus(t, "/svc").Versions {
			failed = failed || (v.State == "failed" && v.SHA256 == sha("dep_broken"))
		}
		if !failed {
			t.Errorf("gw%d does not list the broken version as failed", i)
		}
		// The holder may judge before a replica's clients hit the canary:
		// each other replica shows, in its log, the canary applied and
		// then the rollback.
		if i == lead {
			if loads[i].answers["500 broken"] == 0 {
				t.Errorf("the lease holder gw%d never served the canary: %v", i, loads[i].answers)
			}
			continue
		}
		log := p.stderrText()
		canary := strings.Index(log, "state=canary percent=50")
		if canary < 0 || !strings.Contains(log[canary:], "state=rolled_back") {
			t.Errorf("gw%d did not apply the canary, then the rollback:\n%s", i, log)
		}
	}
	decisions := map[int]int{}
	for i, p := range reps {
		b, err := os.ReadFile(p.audit)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), `"type":"rollback"`); n > 0 {
			decisions[i] = n
		}
	}
	if len(decisions) != 1 || decisions[lead] != 1 {
		t.Errorf("rollback records by replica: %v; want one, by the lease holder gw%d", decisions, lead)
	}

	// (c) SIGKILL the lease holder: a survivor takes the lease within its
	// TTL (plus the time to notice), and the next deployment completes on
	// the survivors.
	killed := time.Now()
	if err := reps[lead].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-reps[lead].done
	var live []int
	for _, i := range all {
		if i != lead {
			live = append(live, i)
		}
	}
	next := leader(live, 3*ttl)
	if moved := time.Since(killed); moved > 2*ttl+time.Second {
		t.Errorf("the lease moved %s after the kill; want within 2 TTL", moved)
	}
	asker := live[0]
	if asker == next {
		asker = live[1]
	}
	r = reps[asker].deployCLI(t, dir, "deploy", "/svc", filepath.Clean(fixture.Path(t, "dep_v1")))
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("deploy v1 after the kill, through gw%d (holder gw%d): exit %d\n%s%s", asker, next, r.code, r.stdout, r.stderr)
	}
	converge(live, sha("dep_v1"), "v1")
}

// getBody GETs url (host:port/path) and returns its trimmed body, or "" on
// any error.
func getBody(url string) string {
	resp, err := http.Get("http://" + url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return strings.TrimSpace(b.String())
}
