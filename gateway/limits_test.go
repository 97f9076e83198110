package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/fixture"
)

const hostWorkCfg = `
rate_limit: {requests_per_second: 0}
request: {timeout: 400ms}
routes:
  - route: /random
    module: fixture:lim_random
    max_concurrency: 1
  - route: /poll
    module: fixture:lim_poll
    max_concurrency: 1
`

// TestE2EHostWorkAnswersAtTimeout: a handler looping over expensive host
// calls (random_get of 64 MiB, poll_oneoff with a million subscriptions)
// is answered 504 at its timeout and releases its only concurrency slot:
// the next request is served (and timed out) too. Before, host calls cost
// 2 fuel each, the deadline was checked every ~75 000 calls, and the
// handler held its slot for minutes.
func TestE2EHostWorkAnswersAtTimeout(t *testing.T) {
	yml := hostWorkCfg
	for _, name := range []string{"lim_random", "lim_poll"} {
		yml = strings.ReplaceAll(yml, "fixture:"+name, fixture.Path(t, name))
	}
	g := startGW(t, yml)
	for _, path := range []string{"/random", "/random", "/poll", "/poll"} {
		start := time.Now()
		r := g.get(path)
		if r.status != 504 || !strings.HasPrefix(r.body, "504 Gateway Timeout (request ") {
			t.Errorf("%s: got %d %q", path, r.status, r.body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v for a 400ms timeout", path, d)
		}
	}
}
