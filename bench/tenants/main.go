// Command tenants is the noisy-neighbour load generator of
// bench/tenants/run.sh: tenant B sends a steady light load (open loop, a
// fixed rate) and records its latencies, alone and then while tenant A
// floods CPU-heavy and memory-heavy requests on many connections (closed
// loop, as fast as the gateway answers). It prints one line per phase:
//
//	PHASE b_p50_ms b_p99_ms b_sent b_ok b_lost a_done a_ok b_max_ms
//
// b_lost counts B requests that did not get a 200 (errors and refusals).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18181", "the gateway")
	bPath := flag.String("b", "/b", "tenant B's request")
	aPaths := flag.String("a", "/a/cpu?spin=40,/a/mem?memory", "tenant A's requests, comma-separated, used in turn")
	rate := flag.Int("rate", 50, "B requests per second")
	conns := flag.Int("conns", 64, "A connections")
	alone := flag.Duration("alone", 10*time.Second, "B alone")
	flood := flag.Duration("flood", 15*time.Second, "B while A floods (after a 2s head start of A)")
	flag.Parse()
	var as []string
	for _, p := range strings.Split(*aPaths, ",") {
		as = append(as, *base+p)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	p50, p99, pmax, sent, ok := steady(client, *base+*bPath, *rate, *alone)
	fmt.Printf("alone %.2f %.2f %d %d %d 0 0 %.2f\n", p50, p99, sent, ok, sent-ok, pmax)

	ctx, cancel := context.WithCancel(context.Background())
	var aDone, aOK atomic.Int64
	var wg sync.WaitGroup
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
			for n := i; ctx.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(ctx, "GET", as[n%len(as)], nil)
				resp, err := c.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				aDone.Add(1)
				if resp.StatusCode == 200 || resp.StatusCode == 502 { // 502: the memory bomb's memory_limit
					aOK.Add(1)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	aDone.Store(0)
	aOK.Store(0)
	p50, p99, pmax, sent, ok = steady(client, *base+*bPath, *rate, *flood)
	fmt.Printf("flood %.2f %.2f %d %d %d %d %d %.2f\n", p50, p99, sent, ok, sent-ok, aDone.Load(), aOK.Load(), pmax)
	cancel()
	wg.Wait()
}

// steady sends rate requests per second for d, each on its own schedule
// (open loop: a slow answer does not delay the next request), and returns
// p50, p99 and the largest latency in milliseconds, the requests sent and
// those answered 200.
func steady(c *http.Client, url string, rate int, d time.Duration) (p50, p99, pmax float64, sent, ok int) {
	var mu sync.Mutex
	var lat []float64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		<-tick.C
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp, err := c.Get(url)
			if err != nil {
				fmt.Fprintln(os.Stderr, "B:", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ms := float64(time.Since(start).Microseconds()) / 1000
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode == 200 {
				ok++
				lat = append(lat, ms)
			} else {
				fmt.Fprintln(os.Stderr, "B: status", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return q(0.5), q(0.99), q(1), sent, ok
}
