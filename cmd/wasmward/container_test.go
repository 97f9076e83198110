package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerfile is the instructions of the repository's Dockerfile, by stage:
// each is [instruction, arguments], continuation lines joined.
func dockerfile(t *testing.T) [][][2]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][][2]string
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ins, args, _ := strings.Cut(line, " ")
		ins = strings.ToUpper(ins)
		if ins == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before FROM", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], [2]string{ins, strings.TrimSpace(args)})
	}
	return stages
}

// TestContainerImage checks the image definition against the real CLI: a
// static binary on an empty base, a non-root numeric user, the store on a
// volume, and a default command whose flags the real `serve` accepts and
// whose listeners are the ports exposed.
func TestContainerImage(t *testing.T) {
	stages := dockerfile(t)
	final := stages[len(stages)-1]
	get := func(stage [][2]string, ins string) []string {
		var out []string
		for _, i := range stage {
			if i[0] == ins {
				out = append(out, i[1])
			}
		}
		return out
	}
	if from := get(final, "FROM"); len(from) != 1 || from[0] != "scratch" {
		t.Errorf("final stage FROM %v, want scratch (nothing but the static binary)", from)
	}
	// The binary is built static and copied to where ENTRYPOINT runs it.
	var built string
	for _, st := range stages[:len(stages)-1] {
		for _, run := range get(st, "RUN") {
			if m := regexp.MustCompile(`CGO_ENABLED=0 go build .*-o (\S+) \./cmd/wasmward`).FindStringSubmatch(run); m != nil {
				built = m[1]
			}
		}
	}
	if built == "" {
		t.Fatal("no RUN builds ./cmd/wasmward with CGO_ENABLED=0")
	}
	var entry, cmd []string
	if e := get(final, "ENTRYPOINT"); len(e) != 1 || json.Unmarshal([]byte(e[0]), &entry) != nil || len(entry) != 1 {
		t.Fatalf("ENTRYPOINT %v: want the exec form naming the binary", e)
	}
	if !slices.ContainsFunc(get(final, "COPY"), func(c string) bool { return strings.HasSuffix(c, built+" "+entry[0]) }) {
		t.Errorf("the final stage does not COPY %s to %s", built, entry[0])
	}
	if c := get(final, "CMD"); len(c) != 1 || json.Unmarshal([]byte(c[0]), &cmd) != nil {
		t.Fatalf("CMD %v: want the exec form", c)
	}
	// A numeric user (Kubernetes runAsNonRoot checks it without /etc/passwd), not root.
	if u := get(final, "USER"); len(u) != 1 || !regexp.MustCompile(`^[1-9][0-9]*:[1-9][0-9]*$`).MatchString(u[0]) {
		t.Errorf("USER %v: want a numeric non-root uid:gid", u)
	}
	// The store, the one thing written, is on a volume (read-only root).
	vols := get(final, "VOLUME")
	var store string
	for _, e := range get(final, "ENV") {
		if v, ok := strings.CutPrefix(e, "WASMWARD_STORE="); ok {
			store = v
		}
	}
	if len(vols) != 1 || store == "" || !strings.HasPrefix(store, strings.Trim(vols[0], `[]"`)+"/") {
		t.Errorf("WASMWARD_STORE=%q is not under the VOLUME %v", store, vols)
	}

	// The default command parses with the real CLI, and its listeners are
	// the exposed ports.
	root := newRoot(streams{})
	c, rest, err := root.Find(cmd)
	if err != nil || c.Name() != "serve" {
		t.Fatalf("CMD %v: %v (command %q)", cmd, err, c.Name())
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatalf("CMD %v: the real serve refuses its flags: %v", cmd, err)
	}
	var ports []string
	for _, f := range []string{"listen", "admin-listen"} {
		_, port, err := net.SplitHostPort(c.Flags().Lookup(f).Value.String())
		if err != nil {
			t.Fatalf("CMD --%s: %v", f, err)
		}
		ports = append(ports, port)
	}
	if exposed := strings.Fields(strings.Join(get(final, "EXPOSE"), " ")); !slices.Equal(exposed, ports) {
		t.Errorf("EXPOSE %v, but the command listens on %v", exposed, ports)
	}
}
