package gateway

import (
	"fmt"
	"sync"
	"testing"
)

// TestE2EPolicyEnvDoesNotMixRequests runs concurrent requests on a route
// whose policy sets environment variables (and one CGI variable the gateway
// overrides): every guest must see its own request's variables, never
// another's, and the policy's values must not be overwritten.
func TestE2EPolicyEnvDoesNotMixRequests(t *testing.T) {
	g := startGW(t, `
rate_limit: {requests_per_second: 0}
routes:
  - route: /echo/...
    module: fixture:gw_echo
    policy:
      capabilities:
        env: {A1: "1", A2: "2", A3: "3", A4: "4", A5: "5", A6: "6", A7: "7", A8: "8", A9: "9", QUERY_STRING: policy}
`)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				p := fmt.Sprintf("/w%d-%d", w, i)
				env := envOf(g.get("/echo" + p + "?q" + p).body)
				if env["PATH_INFO"] != p || env["QUERY_STRING"] != "q"+p || env["A9"] != "9" {
					t.Errorf("request %s saw PATH_INFO=%q QUERY_STRING=%q A9=%q", p, env["PATH_INFO"], env["QUERY_STRING"], env["A9"])
					return
				}
			}
		})
	}
	wg.Wait()
}
