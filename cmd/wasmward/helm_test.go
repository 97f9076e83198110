package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/fixture"
)

// obj is one decoded Kubernetes manifest.
type obj = map[string]any

// dig walks a decoded manifest: string keys into maps, ints into lists.
func dig(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// renderedManifests reads the output of `helm template` named by
// $WASMWARD_HELM_RENDERED, by kind.
func renderedManifests(t *testing.T) map[string][]obj {
	t.Helper()
	p := os.Getenv("WASMWARD_HELM_RENDERED")
	if p == "" {
		t.Skip("SKIPPED LOUDLY: WASMWARD_HELM_RENDERED is not set, so the Helm chart (deploy/helm/wasmward) is not checked here; scripts/helm-check.sh (run by .ci/run) renders it and sets it")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]obj{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o obj
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if o != nil {
			out[str(o["kind"])] = append(out[str(o["kind"])], o)
		}
	}
	return out
}

// TestHelmChartRendered checks the manifests `helm template` renders from
// deploy/helm/wasmward against the real program: the container's arguments
// parse with the real `serve` command, the ConfigMap holds a configuration
// the real gateway loads, whose listeners are the container's ports, the
// Services and the NetworkPolicy name those ports, the probes ask the admin
// listener for paths the real admin handler answers 200, everything the
// gateway writes is on a writable volume under a read-only root
// filesystem, the pods run as non-root with no capabilities, and the admin
// port admits only selected peers.
func TestHelmChartRendered(t *testing.T) {
	m := renderedManifests(t)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"} {
		if len(m[kind]) == 0 {
			t.Fatalf("no %s rendered", kind)
		}
	}
	if len(m["Deployment"]) != 1 {
		t.Fatalf("%d Deployments rendered, want 1", len(m["Deployment"]))
	}
	dep := m["Deployment"][0]
	pod := dig(dep, "spec", "template", "spec")
	podLabels, _ := dig(dep, "spec", "template", "metadata", "labels").(obj)
	containers, _ := dig(pod, "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	ctr := containers[0]

	// The arguments are real serve flags.
	var args []string
	for _, a := range dig(ctr, "args").([]any) {
		args = append(args, str(a))
	}
	c, rest, err := newRoot(streams{}).Find(args)
	if err != nil || c.Name() != "serve" {
		t.Fatalf("args %v: %v (command %q)", args, err, c.Name())
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatalf("args %v: the real serve refuses them: %v", args, err)
	}
	if len(c.Flags().Args()) != 0 {
		t.Errorf("args %v: serve takes no arguments, got %v", args, c.Flags().Args())
	}
	flag := func(n string) string { return c.Flags().Lookup(n).Value.String() }

	// Volumes and where they are mounted.
	vols := map[string]any{}
	for _, v := range dig(pod, "volumes").([]any) {
		vols[str(dig(v, "name"))] = v
	}
	type mount struct {
		path     string
		readOnly bool
		vol      any
	}
	var mounts []mount
	for _, vm := range dig(ctr, "volumeMounts").([]any) {
		v, ok := vols[str(dig(vm, "name"))]
		if !ok {
			t.Errorf("volumeMount %v names no volume", vm)
		}
		mounts = append(mounts, mount{str(dig(vm, "mountPath")), dig(vm, "readOnly") == true, v})
	}
	mountOf := func(file string) (mount, bool) {
		best, found := mount{}, false
		for _, mt := range mounts {
			if strings.HasPrefix(file, strings.TrimSuffix(mt.path, "/")+"/") && len(mt.path) > len(best.path) {
				best, found = mt, true
			}
		}
		return best, found
	}

	// The configuration file is the ConfigMap's, and the real gateway
	// loads it (each module stands in as a test handler).
	cfgPath := flag("config")
	mt, ok := mountOf(cfgPath)
	cmName := str(dig(mt.vol, "configMap", "name"))
	if !ok || cmName == "" {
		t.Fatalf("--config %s is not on a ConfigMap volume", cfgPath)
	}
	var cfgText string
	for _, cm := range m["ConfigMap"] {
		if str(dig(cm, "metadata", "name")) == cmName {
			cfgText = str(dig(cm, "data", path.Base(cfgPath)))
		}
	}
	if cfgText == "" {
		t.Fatalf("ConfigMap %s has no key %s", cmName, path.Base(cfgPath))
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	var modules []string
	cfg, err := gateway.LoadConfigWith(file, func(ref string) ([]byte, error) {
		modules = append(modules, ref)
		return fixture.Bytes(t, "gw_hello"), nil
	})
	if err != nil {
		t.Fatalf("the real gateway refuses the ConfigMap's configuration: %v", err)
	}
	if len(modules) == 0 {
		t.Errorf("the configuration has no routes")
	}

	// Everything the gateway writes is on a writable volume.
	for what, p := range map[string]string{"--store": flag("store"), "audit_log": cfg.AuditLog, "cache_dir": cfg.CacheDir} {
		if p == "" {
			continue
		}
		if mt, ok := mountOf(p); !ok || mt.readOnly || dig(mt.vol, "emptyDir") == nil && dig(mt.vol, "persistentVolumeClaim") == nil {
			t.Errorf("%s %s is not on a writable volume (the root filesystem is read-only)", what, p)
		}
	}
	if cfg.AdminTokenFile != "" {
		if mt, ok := mountOf(cfg.AdminTokenFile); !ok || dig(mt.vol, "secret") == nil || str(dig(mt.vol, "secret", "defaultMode")) != "256" {
			t.Errorf("admin_token_file %s is not on a Secret volume of mode 0400 (the gateway refuses a group- or world-readable token)", cfg.AdminTokenFile)
		}
	}
	if p := flag("trust"); p != "" {
		if _, ok := mountOf(p); !ok {
			t.Errorf("--trust %s is not mounted", p)
		}
	}

	// The container's ports are the configuration's listeners.
	portNum := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("listener %q: %v", addr, err)
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	want := map[string]int{"public": portNum(cfg.Listen), "admin": portNum(cfg.AdminListen)}
	ctrPorts := map[string]int{}
	for _, p := range dig(ctr, "ports").([]any) {
		ctrPorts[str(dig(p, "name"))] = dig(p, "containerPort").(int)
	}
	for name, n := range want {
		if ctrPorts[name] != n {
			t.Errorf("container port %q is %d, the configuration listens on %d", name, ctrPorts[name], n)
		}
	}
	if len(ctrPorts) != len(want) {
		t.Errorf("container ports %v, want exactly %v", ctrPorts, want)
	}
	// resolve turns a named or numbered port into its number.
	resolve := func(p any) int {
		if n, ok := p.(int); ok {
			return n
		}
		return ctrPorts[str(p)]
	}

	// The probes ask the admin listener, for paths the real admin handler
	// answers 200.
	srv, err := gateway.New(context.Background(), cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	admin := srv.AdminHandler()
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		p := dig(ctr, probe, "httpGet", "path")
		if p == nil {
			t.Errorf("no %s httpGet", probe)
			continue
		}
		if port := resolve(dig(ctr, probe, "httpGet", "port")); port != want["admin"] {
			t.Errorf("%s asks port %d, not the admin listener's %d", probe, port, want["admin"])
		}
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, str(p), nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s path %s: the admin listener answers %d", probe, p, rec.Code)
		}
	}

	// Non-root, no capabilities, read-only root filesystem.
	sc := dig(ctr, "securityContext")
	for k, v := range map[string]any{"readOnlyRootFilesystem": true, "runAsNonRoot": true, "allowPrivilegeEscalation": false} {
		if dig(sc, k) != v {
			t.Errorf("container securityContext.%s = %v, want %v", k, dig(sc, k), v)
		}
	}
	if d := dig(sc, "capabilities", "drop"); fmt.Sprint(d) != "[ALL]" {
		t.Errorf("capabilities.drop = %v, want [ALL]", d)
	}
	if dig(sc, "capabilities", "add") != nil {
		t.Errorf("capabilities added: %v", dig(sc, "capabilities", "add"))
	}
	if u, ok := dig(pod, "securityContext", "runAsUser").(int); !ok || u == 0 {
		t.Errorf("pod runAsUser = %v, want a non-root uid", dig(pod, "securityContext", "runAsUser"))
	}

	selects := func(sel any) bool {
		ml, _ := sel.(obj)
		if len(ml) == 0 {
			return false
		}
		for k, v := range ml {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	// Services reach the pods on the listeners' ports.
	seen := map[int]bool{}
	for _, s := range m["Service"] {
		if !selects(dig(s, "spec", "selector")) {
			t.Errorf("Service %s does not select the pods", dig(s, "metadata", "name"))
		}
		for _, p := range dig(s, "spec", "ports").([]any) {
			n := resolve(dig(p, "targetPort"))
			if n != want["public"] && n != want["admin"] {
				t.Errorf("Service %s targets port %v, which nothing listens on", dig(s, "metadata", "name"), dig(p, "targetPort"))
			}
			seen[n] = true
		}
	}
	if !seen[want["public"]] {
		t.Errorf("no Service reaches the public listener")
	}
	if !selects(dig(m["PodDisruptionBudget"][0], "spec", "selector", "matchLabels")) {
		t.Errorf("the PodDisruptionBudget does not select the pods")
	}

	// The NetworkPolicy admits the admin port only from selected peers.
	np := m["NetworkPolicy"][0]
	if !selects(dig(np, "spec", "podSelector", "matchLabels")) {
		t.Fatalf("the NetworkPolicy does not select the pods")
	}
	if fmt.Sprint(dig(np, "spec", "policyTypes")) != "[Ingress]" {
		t.Errorf("policyTypes %v, want [Ingress]", dig(np, "spec", "policyTypes"))
	}
	adminRules := 0
	for i, r := range dig(np, "spec", "ingress").([]any) {
		ports, _ := dig(r, "ports").([]any)
		if len(ports) == 0 {
			t.Errorf("ingress[%d] admits every port, the admin port included", i)
		}
		for _, p := range ports {
			if resolve(dig(p, "port")) != want["admin"] {
				continue
			}
			adminRules++
			from, _ := dig(r, "from").([]any)
			if len(from) == 0 {
				t.Errorf("ingress[%d] admits the admin port from anywhere", i)
			}
			for _, peer := range from {
				pm, _ := peer.(obj)
				empty := len(pm) == 0 || dig(pm, "ipBlock") != nil
				for _, k := range []string{"podSelector", "namespaceSelector"} {
					if _, ok := pm[k]; !ok {
						continue
					}
					// A selector without labels or expressions selects everything.
					ml, _ := dig(pm, k, "matchLabels").(obj)
					me, _ := dig(pm, k, "matchExpressions").([]any)
					if len(ml) == 0 && len(me) == 0 {
						empty = true
					}
				}
				if empty {
					t.Errorf("ingress[%d] admits the admin port from %v: not a labelled selection", i, peer)
				}
			}
		}
	}
	if adminRules == 0 {
		t.Errorf("the NetworkPolicy never admits the admin port: metrics scrapers and the deploy pipeline are cut off")
	}
}
