package statuspage

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/fixture"
)

// browserPath finds a Chromium to drive: $WASMWARD_CHROMIUM, else the
// Debian package's binary (scripts/install-toolchain.sh installs it) or a
// Chrome on PATH. With WASMWARD_REQUIRE_BROWSER=1 (CI), none is a failure.
func browserPath(t *testing.T) string {
	if p := os.Getenv("WASMWARD_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := "\n" + strings.Repeat("!", 72) + "\n" +
		"!!! SKIPPING THE STATUS PAGE BROWSER TEST: no chromium on this machine.\n" +
		"!!! Install it (apt-get install chromium; scripts/install-toolchain.sh does)\n" +
		"!!! or point WASMWARD_CHROMIUM at a Chrome binary.\n" +
		strings.Repeat("!", 72)
	if os.Getenv("WASMWARD_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// consoleErrors collects what the page reports as errors: console.error,
// uncaught exceptions, and the browser's own error log entries (failed
// loads, CSP violations).
type consoleErrors struct {
	mu   sync.Mutex
	errs []string
}

func (c *consoleErrors) collect(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.mu.Lock()
				c.errs = append(c.errs, m.String()+" ("+m.Source+" "+m.URL+")")
				c.mu.Unlock()
			}
		}
	}()
}

func (c *consoleErrors) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// TestBrowser drives the page in headless Chromium against a real
// gateway: it loads with no console error, shows a violation within
// seconds of the request that caused it and a firing alert (with the
// quarantine its isolate action made) within seconds of the triggering
// requests; with the operator's token its rollback button rolls a
// deployment back and its release button frees the quarantined module,
// through the admin API.
func TestBrowser(t *testing.T) {
	bin := browserPath(t)
	t0 := time.Now()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-extensions", true), chromedp.Flag("no-first-run", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	// The browser starts while the gateway does (it is the slow part on a
	// loaded machine).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	e := newEnv(t, Options{})
	depID := e.deployV2(t)
	t.Logf("gateway up and v2 deployed in %v", time.Since(t0).Round(time.Millisecond))
	v1, v2 := digest.SHA256Hex(fixture.Bytes(t, "dep_v1")), digest.SHA256Hex(fixture.Bytes(t, "dep_v2"))
	if got := e.activeSHA(t, "/svc"); got != v2 {
		t.Fatalf("/svc serves %s, want v2 %s", got, v2)
	}
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Logf("browser started %v after start", time.Since(t0).Round(time.Millisecond))
	var ce consoleErrors
	ce.collect(ctx)
	// The page loads and goes live.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.admin+"/status"),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#routes tr[data-route="/svc"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#deployments tr[data-deployment="`+depID+`"][data-state="succeeded"]`)),
	); err != nil {
		t.Fatalf("page load: %v (console: %q)", err, ce.get())
	}
	if errs := ce.get(); len(errs) > 0 {
		t.Fatalf("console errors on load: %q", errs)
	}
	t.Logf("page live %v after start", time.Since(t0).Round(time.Millisecond))

	// A guest traps: its violation appears without a reload.
	start := time.Now()
	if st := e.get(t, "/evil?trap"); st != 502 {
		t.Fatalf("trap: %d", st)
	}
	wctx, cancelW := context.WithTimeout(ctx, 5*time.Second)
	err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`#violations tr[data-kind="trap"][data-route="/evil"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#routes tr[data-route="/evil"][data-health="degraded"]`)))
	cancelW()
	if err != nil {
		t.Fatalf("the trap did not appear within 5s: %v", err)
	}
	t.Logf("violation shown %v after the request", time.Since(start).Round(time.Millisecond))

	// Two more traps fire the rule (three in a minute), which isolates the
	// module: the alert, the quarantine and the route's health appear.
	evil := digest.SHA256Hex(fixture.Bytes(t, "gw_evil"))
	start = time.Now()
	for range 2 {
		if st := e.get(t, "/evil?trap"); st != 502 {
			t.Fatalf("trap: %d", st)
		}
	}
	wctx, cancelW = context.WithTimeout(ctx, 5*time.Second)
	err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`#alerts tr[data-alert="repeated-traps"][data-state="firing"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#quarantines tr[data-quarantine="`+evil+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#routes tr[data-route="/evil"][data-health="quarantined"]`)))
	cancelW()
	if err != nil {
		t.Fatalf("the firing alert and the quarantine did not appear within 5s: %v", err)
	}
	t.Logf("firing alert and quarantine shown %v after the triggering requests", time.Since(start).Round(time.Millisecond))
	if st := e.get(t, "/evil?hello"); st != 503 {
		t.Fatalf("a quarantined route answered %d, want 503", st)
	}

	// Roll back from the page with the operator's token.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#token`), testToken),
		chromedp.Click(chromedp.CSS(`#routes tr[data-route="/svc"] button.rollback`)),
		chromedp.WaitVisible(chromedp.CSS(`#deployments tr[data-deployment="`+depID+`"][data-state="rolled_back"]`)),
	); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#message`)))
		t.Fatalf("rollback from the page: %v (message %q, console %q)", err, msg, ce.get())
	}
	if got := e.activeSHA(t, "/svc"); got != v1 {
		t.Fatalf("after the rollback /svc serves %s, want v1 %s", got, v1)
	}
	versions, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#routes tr[data-route="/svc"] td.versions`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(versions, "active "+v1[:12]) {
		t.Errorf("the page shows %q, want v1 active", versions)
	}

	// Release the quarantine from the page: the module serves again.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#quarantines tr[data-quarantine="`+evil+`"] button.release`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#quarantines tr[data-quarantine="`+evil+`"]`)),
	); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#message`)))
		t.Fatalf("release from the page: %v (message %q, console %q)", err, msg, ce.get())
	}
	if q := e.mon.Quarantine(); q.Quarantined(evil) {
		t.Fatal("the module is still quarantined after the page released it")
	}
	if st := e.get(t, "/evil?hello"); st != 200 {
		t.Fatalf("after the release /evil answered %d, want 200", st)
	}
	if errs := ce.get(); len(errs) > 0 {
		t.Fatalf("console errors: %q", errs)
	}
	// The collector sees errors (so its silence above means something).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`console.error("probe")`)); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); len(ce.get()) == 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if errs := ce.get(); len(errs) != 1 || !strings.Contains(errs[0], "probe") {
		t.Fatalf("the console collector saw %q, want the probe", errs)
	}
}
