package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
)

// readmeBlock returns the shell block of the README's "Deploy a new
// version" section.
func readmeBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "### Deploy a new version\n")
	if !ok {
		t.Fatal("README.md has no \"Deploy a new version\" section")
	}
	_, block, ok := strings.Cut(sec, "\n```\n")
	if ok {
		block, _, ok = strings.Cut(block, "\n```\n")
	}
	if !ok {
		t.Fatal("the README's deploy section has no code block")
	}
	return block + "\n"
}

// TestReadmeDeployFlow runs the README's "Deploy a new version" block as
// written, with bash, against the real binaries built from this tree:
// wasmward and the registry command it starts (distribution's registry on
// loopback). Only the addresses change (free ports instead of 5000, 8080
// and 9090, which may be taken) and the wasmward on the PATH is the one
// just built. Then: v2, pushed and deployed by OCI reference, succeeded;
// v3 (broken) was rolled back automatically on its 5xx rate under the
// block's curl load; `wasmward status` shows v2 active, v3 failed and the
// history; /v1/routes agrees.
func TestReadmeDeployFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the README's flow")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the README's flow: %v", tool, err)
		}
	}
	bin := t.TempDir()
	for name, pkg := range map[string]string{"wasmward": ".", "registry": "../../internal/oci/ocitest/registry"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	block := readmeBlock(t)
	reg, pub, admin := freePort(t), freePort(t), freePort(t)
	fixtures, err := filepath.Abs(filepath.Dir(fixture.Path(t, "dep_v1")))
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer(
		"go run ./internal/oci/ocitest/registry", filepath.Join(bin, "registry"),
		"127.0.0.1:5000", reg, "localhost:5000", reg,
		"localhost:8080", pub, "localhost:9090", admin, "127.0.0.1:9090", admin,
		"internal/fixture/wasm/", fixtures+"/",
	).Replace(block)
	// The ports as ports (":8080"): the temporary directory's random name
	// may hold the digits (it did: TestReadmeDeployFlow2808064395).
	for _, s := range []string{":5000", ":8080", ":9090", "go run"} {
		if strings.Contains(script, s) {
			t.Fatalf("the README's block changed: %q left after the substitutions:\n%s", s, script)
		}
	}
	// The binary on the PATH, listening where the test says: serve gets
	// the listeners, the admin API's clients its URL.
	prelude := `wasmward() {
  case "$1" in
    serve) shift; exec "$WW" serve --listen ` + pub + ` --admin-listen ` + admin + ` "$@" ;;
    deploy|status|rollback) c=$1; shift; "$WW" "$c" --admin http://` + admin + ` "$@" ;;
    *) "$WW" "$@" ;;
  esac
}
`
	epilogue := "\necho \"== routes\"; curl -s http://" + admin + "/v1/routes; echo\nkill $(jobs -p) 2>/dev/null; wait\n"
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", prelude+script+epilogue)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WW="+filepath.Join(bin, "wasmward"), "DOCKER_CONFIG="+filepath.Join(dir, "docker"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(4 * time.Minute):
		err = os.ErrDeadlineExceeded
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the block left running
	stdout := out.String()
	if err != nil {
		t.Fatalf("the README's flow: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, errb.String())
	}
	v2, broken := digest.SHA256Hex(fixture.Bytes(t, "dep_v2")), digest.SHA256Hex(fixture.Bytes(t, "dep_broken"))
	for _, want := range []string{
		"pushed " + reg + "/demo/svc@sha256:", // push prints the pinned reference
		"succeeded",                           // deploy of v2
		"rolled_back",                         // deploy of v3
		"5xx rate",                            // why
		"sha256:" + broken[:12],               // status lists the failed version
		"sha256:" + v2[:12],
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the flow's output lacks %q\nstdout:\n%s\nstderr:\n%s", want, stdout, errb.String())
		}
	}
	_, routes, ok := strings.Cut(stdout, "== routes\n")
	var rs struct {
		Routes []deploy.RouteStatus `json:"routes"`
	}
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(routes)), &rs) != nil || len(rs.Routes) != 1 {
		t.Fatalf("/v1/routes after the flow: %q", routes)
	}
	states := map[string]string{}
	for _, v := range rs.Routes[0].Versions {
		states[v.State] = v.SHA256
	}
	if states["active"] != v2 || states["failed"] != broken || states["previous"] != digest.SHA256Hex(fixture.Bytes(t, "dep_v1")) {
		t.Errorf("versions after the flow: %+v", rs.Routes[0].Versions)
	}
	if !strings.Contains(rs.Routes[0].Versions[0].Module, "oci://"+reg+"/demo/svc:v2") {
		t.Errorf("the active version's module is %q, not the OCI reference deployed", rs.Routes[0].Versions[0].Module)
	}
}
