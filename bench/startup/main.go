// Command startup measures `wasmward serve` start-up, cold (empty compile
// cache: every route's module is compiled) against warm (every module's
// compiled code loaded from the authenticated cache), for a configuration
// of many routes: from process start to the first 200 of the admin
// /readyz, which answers 200 once every route is compiled and serving.
// Cold and warm runs alternate, so drift on a shared machine hits both.
//
//	go run ./bench/startup -bin /tmp/wasmward -rounds 7 MODULE...
//
// Each MODULE becomes one route; the medians, their ratio and the
// command are printed as a Markdown table (see BENCHMARKS.md).
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the wasmward binary (required)")
	rounds := flag.Int("rounds", 5, "cold and warm starts each")
	flag.Parse()
	if err := run(*bin, *rounds, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

func run(bin string, rounds int, modules []string) error {
	if bin == "" || len(modules) == 0 || rounds < 1 {
		return errors.New("usage: startup -bin WASMWARD [-rounds N] MODULE [MODULE ...]")
	}
	dir, err := os.MkdirTemp("", "wasmward-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cache := filepath.Join(dir, "cache")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "cache_dir: %s\ncache_key: %s\nrate_limit: {requests_per_second: 0}\nroutes:\n", cache, filepath.Join(dir, "cache.key"))
	var size int64
	for i, m := range modules {
		if m, err = filepath.Abs(m); err != nil {
			return err
		}
		fi, err := os.Stat(m)
		if err != nil {
			return err
		}
		size += fi.Size()
		fmt.Fprintf(&cfg, "  - route: /r%d\n    module: %s\n", i, m)
	}
	cfgPath := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	// One start fills the cache, so that the first warm start is warm.
	if _, err := start(bin, cfgPath); err != nil {
		return err
	}
	var cold, warm []time.Duration
	for i := range rounds {
		for _, isCold := range []bool{i%2 == 0, i%2 != 0} {
			if isCold {
				ents, _ := filepath.Glob(filepath.Join(cache, "*"))
				for _, e := range ents {
					os.Remove(e)
				}
			}
			d, err := start(bin, cfgPath)
			if err != nil {
				return err
			}
			if isCold {
				cold = append(cold, d)
			} else {
				warm = append(warm, d)
			}
		}
	}
	c, w := median(cold), median(warm)
	fmt.Printf("cold: %v\nwarm: %v\n\n", cold, warm)
	fmt.Printf("| routes | modules' size | cold start (median) | warm start (median) | cold / warm |\n|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| %d | %.1f MB | %s | %s | %.1fx |\n", len(modules), float64(size)/1e6, ms(c), ms(w), float64(c)/float64(w))
	return nil
}

// start runs serve on cfg until its admin /readyz answers 200, stops it
// with SIGTERM, and returns the time to ready.
func start(bin, cfg string) (time.Duration, error) {
	pub, admin := freePort(), freePort()
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", pub, "--admin-listen", admin, "--log-level", "warn")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	c := http.Client{Timeout: time.Second}
	for deadline := t0.Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		select {
		case <-done:
			return 0, fmt.Errorf("serve exited before it was ready: %s", strings.TrimSpace(stderr.String()))
		default:
		}
		resp, err := c.Get("http://" + admin + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			d := time.Since(t0)
			if strings.Contains(stderr.String(), "rejected") {
				return 0, fmt.Errorf("a cache entry was rejected: %s", stderr.String())
			}
			return d, nil
		}
	}
	return 0, errors.New("serve not ready within 5 minutes")
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }
