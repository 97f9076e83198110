package statuspage

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// openStream opens the event stream and returns its reader.
func openStream(t *testing.T, e *env) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := http.Get(e.admin + "/v1/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

// nextEvent reads until a blank line and returns the event's lines.
func nextEvent(t *testing.T, br *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v (after %q)", err, lines)
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			if len(lines) > 0 {
				return lines
			}
			continue
		}
		lines = append(lines, l)
	}
}

// nextState reads events until a state event and decodes it.
func nextState(t *testing.T, br *bufio.Reader) State {
	t.Helper()
	for {
		ev := nextEvent(t, br)
		if ev[0] != "event: state" {
			continue
		}
		var s State
		for _, l := range ev {
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				if err := json.Unmarshal([]byte(d), &s); err != nil {
					t.Fatal(err)
				}
				return s
			}
		}
		t.Fatalf("state event without data: %q", ev)
	}
}

// TestStream: the stream sends the state at once and again when a guest
// fails; heartbeats keep an idle stream alive; at most MaxStreams are
// open (503 past it); they all end when the page shuts down.
func TestStream(t *testing.T) {
	e := newEnv(t, Options{MaxStreams: 2, Heartbeat: 100 * time.Millisecond, Poll: time.Hour})
	resp, br := openStream(t, e)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	s := nextState(t, br)
	if len(s.Routes) != 2 || s.Routes[0].Route != "/svc" || s.Routes[0].Health != "healthy" || len(s.Violations) != 0 || !s.DeployEnabled {
		t.Fatalf("first state: %+v", s)
	}

	// A trap: pushed at once (Poll is an hour), with the route's health.
	start := time.Now()
	if st := e.get(t, "/evil?trap"); st != 502 {
		t.Fatalf("trap: %d", st)
	}
	s = nextState(t, br)
	if len(s.Violations) != 1 || s.Violations[0].Type != "trap" || s.Violations[0].Route != "/evil" || s.Violations[0].RequestID == "" {
		t.Fatalf("after a trap: %+v", s.Violations)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("the violation took %v to reach the stream", time.Since(start))
	}
	for _, r := range s.Routes {
		if want := map[string]string{"/svc": "healthy", "/evil": "degraded"}[r.Route]; r.Health != want {
			t.Errorf("%s: health %s, want %s", r.Route, r.Health, want)
		}
	}

	// Heartbeats on an idle stream.
	if ev := nextEvent(t, br); ev[0] != ": heartbeat" {
		t.Fatalf("idle stream sent %q, want a heartbeat", ev)
	}

	// The bound: a second stream is served, a third refused.
	_, br2 := openStream(t, e)
	nextState(t, br2)
	r3, err := http.Get(e.admin + "/v1/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.StatusCode != http.StatusServiceUnavailable || r3.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d, want 503 with Retry-After", r3.StatusCode)
	}

	// Shutdown ends the streams within the admin server's drain.
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, br); done <- err }()
	stopped := time.Now()
	go e.stop()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the stream was still open 3s after shutdown began")
	}
	if d := time.Since(stopped); d > 2*time.Second {
		t.Errorf("stream ended %v after shutdown began", d)
	}
}

// TestPageHeaders: every file of the page carries the CSP and the
// security headers; the page has no inline script or handler, and the
// script never builds HTML from data nor evaluates strings.
func TestPageHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	for _, p := range []string{"/status", "/status/app.js", "/status/app.css", "/status/icon.svg"} {
		resp, err := http.Get(e.admin + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Security-Policy") != CSP || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Cache-Control") != "no-store" || len(b) == 0 {
			t.Errorf("%s: %d %v", p, resp.StatusCode, h)
		}
		body := string(b)
		switch p {
		case "/status":
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(body) || regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(body) {
				t.Errorf("the page has inline script")
			}
			if strings.Contains(body, testToken) {
				t.Errorf("the page embeds the admin token")
			}
		case "/status/app.js":
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", "sessionStorage", "document.cookie"} {
				if strings.Contains(body, bad) {
					t.Errorf("app.js uses %s", bad)
				}
			}
		}
	}
	if !strings.Contains(CSP, "script-src 'self'") || strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP %q", CSP)
	}
}

// TestStateJSON: GET /v1/status lists the routes with their versions,
// and the deployments.
func TestStateJSON(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.deployV2(t)
	resp, err := http.Get(e.admin + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s State
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if len(s.Deployments) != 1 || s.Deployments[0].ID != id || s.Deployments[0].State != "succeeded" {
		t.Fatalf("deployments %+v", s.Deployments)
	}
	var states []string
	for _, v := range s.Routes[0].Versions {
		states = append(states, v.State)
	}
	if s.Routes[0].Route != "/svc" || strings.Join(states, ",") != "active,previous" || s.Routes[0].SHA256 != e.activeSHA(t, "/svc") {
		t.Fatalf("route %+v", s.Routes[0])
	}
}

// TestStreamAlerts: three traps fire the isolating rule; the stream
// carries the firing alert and the quarantine (the route's health says
// quarantined) without waiting for the poll, and a release through the
// admin API is pushed too.
func TestStreamAlerts(t *testing.T) {
	e := newEnv(t, Options{Poll: time.Hour})
	_, br := openStream(t, e)
	if s := nextState(t, br); !s.AlertsEnabled || len(s.Alerts) != 0 || len(s.Quarantines) != 0 {
		t.Fatalf("first state: %+v", s)
	}
	for range 3 {
		e.get(t, "/evil?trap")
	}
	var s State
	for end := time.Now().Add(5 * time.Second); len(s.Quarantines) == 0 || len(s.Alerts) == 0; {
		if time.Now().After(end) {
			t.Fatalf("no quarantine and firing alert on the stream within 5s: %+v", s)
		}
		s = nextState(t, br)
	}
	a, q := s.Alerts[0], s.Quarantines[0]
	if a.Name != "repeated-traps" || a.State != "firing" || a.Route != "/evil" || a.Severity != "high" || a.Action != "isolate" {
		t.Errorf("alert %+v", a)
	}
	if q.ID != q.SHA256 || q.SHA256 != e.activeSHA(t, "/evil") {
		t.Errorf("quarantine %+v", q)
	}
	for _, r := range s.Routes {
		if r.Route == "/evil" && r.Health != "quarantined" {
			t.Errorf("/evil health %s, want quarantined", r.Health)
		}
	}
	req, _ := http.NewRequest("POST", e.admin+"/v1/quarantine/"+q.ID+"/release", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("release: %d", resp.StatusCode)
	}
	for end := time.Now().Add(5 * time.Second); len(s.Quarantines) != 0; {
		if time.Now().After(end) {
			t.Fatal("the release did not reach the stream within 5s")
		}
		s = nextState(t, br)
	}
}
