// Command tenants is the noisy-neighbour load generator of
// bench/tenants/run.sh: tenant B sends a steady light load (open loop, a
// fixed rate) and records its latencies, alone and while tenant A floods
// CPU-heavy and memory-heavy requests on many connections (closed loop, as
// fast as the gateway answers). With -cycles N the two phases alternate N
// times (B alone for alone/N, then A floods with a head start and B is
// measured for flood/N, then A stops and the gateway settles), so both are
// measured under the same background load of the machine. It prints one
// line per phase, over all its windows:
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
	alone := flag.Duration("alone", 10*time.Second, "B alone, all cycles together")
	flood := flag.Duration("flood", 15*time.Second, "B while A floods, all cycles together")
	head := flag.Duration("head", 2*time.Second, "A's head start before each flood window")
	cycles := flag.Int("cycles", 1, "how many times the alone and flood windows alternate")
	settle := flag.Duration("settle", time.Second, "the pause after A stops, before the next alone window")
	flag.Parse()
	var as []string
	for _, p := range strings.Split(*aPaths, ",") {
		as = append(as, *base+p)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	n := max(*cycles, 1)
	var lone, flooded window
	var aDone, aOK int64
	for c := range n {
		lone.add(steady(client, *base+*bPath, *rate, *alone/time.Duration(n)))
		d, ok := floodWhile(as, *conns, *head, func() {
			flooded.add(steady(client, *base+*bPath, *rate, *flood/time.Duration(n)))
		})
		aDone, aOK = aDone+d, aOK+ok
		if c < n-1 {
			time.Sleep(*settle)
		}
	}
	lone.print("alone", 0, 0)
	flooded.print("flood", aDone, aOK)
}

// floodWhile floods as on conns connections, runs measure after the head
// start, then stops the flood (its requests are cancelled) and returns the
// A requests answered during measure and those answered 200 (or 502, the
// memory bomb's memory_limit).
func floodWhile(as []string, conns int, head time.Duration, measure func()) (done, ok int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var aDone, aOK atomic.Int64
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
			defer c.CloseIdleConnections()
			for n := i; ctx.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(ctx, "GET", as[n%len(as)], nil)
				resp, err := c.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				aDone.Add(1)
				if resp.StatusCode == 200 || resp.StatusCode == 502 {
					aOK.Add(1)
				}
			}
		}()
	}
	time.Sleep(head)
	aDone.Store(0)
	aOK.Store(0)
	measure()
	done, ok = aDone.Load(), aOK.Load()
	cancel()
	wg.Wait()
	return done, ok
}

// window is B's latencies (ms) of answered requests and its counts over
// one phase's windows.
type window struct {
	lat      []float64
	sent, ok int
}

func (w *window) add(o window) {
	w.lat = append(w.lat, o.lat...)
	w.sent += o.sent
	w.ok += o.ok
}

func (w *window) print(phase string, aDone, aOK int64) {
	slices.Sort(w.lat)
	q := func(p float64) float64 {
		if len(w.lat) == 0 {
			return 0
		}
		return w.lat[min(len(w.lat)-1, int(p*float64(len(w.lat))))]
	}
	fmt.Printf("%s %.2f %.2f %d %d %d %d %d %.2f\n", phase, q(0.5), q(0.99), w.sent, w.ok, w.sent-w.ok, aDone, aOK, q(1))
}

// steady sends rate requests per second for d, each on its own schedule
// (open loop: a slow answer does not delay the next request), and returns
// the latencies of those answered 200 and the counts.
func steady(c *http.Client, url string, rate int, d time.Duration) window {
	var mu sync.Mutex
	var w window
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		<-tick.C
		w.sent++
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
				w.ok++
				w.lat = append(w.lat, ms)
			} else {
				fmt.Fprintln(os.Stderr, "B: status", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	return w
}
