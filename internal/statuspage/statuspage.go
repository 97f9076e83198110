// Package statuspage is the gateway's status page on the admin listener:
// routes with their versions and health, firing alerts, quarantined
// modules, recent deployments and recent violations, kept live over
// server-sent events, with buttons that roll a route back or release a
// quarantine through the admin API.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary (no
// build step), served under a Content-Security-Policy that allows scripts
// from the page's own origin only: no inline script, no eval, and
// everything the page shows is set as text, never as HTML. The admin token
// is typed by the operator and kept in the page's memory; it is never
// embedded in the page, stored, or sent anywhere but the admin API's POST
// requests. See docs/alerts.md, "Status page".
package statuspage

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/monitor"
)

//go:embed static
var static embed.FS

// Defaults of Options.
const (
	DefaultMaxStreams = 8
	DefaultHeartbeat  = 15 * time.Second
	DefaultPoll       = time.Second
	// RecentViolations is how many recent violations the page keeps.
	RecentViolations = 50
	// RecentDeployments is how many deployments the page lists.
	RecentDeployments = 20
	// maxDetail bounds a violation's detail as the page shows it.
	maxDetail = 300
)

// Alert is a firing (or pending) alert as the page shows it.
type Alert struct {
	Name     string    `json:"name"`
	Severity string    `json:"severity"`
	State    string    `json:"state"`
	Route    string    `json:"route,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
	Action   string    `json:"action,omitempty"`
	Since    time.Time `json:"since"`
	Detail   string    `json:"detail,omitempty"`
}

// Quarantine is a quarantined module as the page shows it; ID is what
// POST /v1/quarantine/{id}/release takes.
type Quarantine struct {
	ID     string    `json:"id"`
	SHA256 string    `json:"sha256"`
	Module string    `json:"module,omitempty"`
	Routes []string  `json:"routes,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// AlertSource is what the page needs of the alert engine.
type AlertSource interface {
	// Alerts returns the alerts pending or firing now.
	Alerts() []Alert
	// Quarantines returns the quarantined modules.
	Quarantines() []Quarantine
}

// Options are the page's collaborators and bounds.
type Options struct {
	// Server is the gateway (required): its routes and its security
	// events (recent violations).
	Server *gateway.Server
	// Deploy, when set, gives the routes' version states and the
	// deployments; the page's rollback buttons need it.
	Deploy *deploy.Manager
	// Monitor, when set, gives the alerts and quarantines (it replaces
	// Alerts), and the page follows their changes as they happen.
	Monitor *monitor.Monitor
	// Alerts, when set, gives the alerts and quarantines; call Kick when
	// they change.
	Alerts AlertSource
	// MaxStreams bounds the event streams open at once (503 past it).
	MaxStreams int
	// Heartbeat is how often an idle stream gets a comment line, so that
	// proxies keep it and the browser notices a dead one.
	Heartbeat time.Duration
	// Poll is how often the state is recomputed while streams are open
	// (an event recomputes it at once).
	Poll time.Duration
}

// Page serves the status page and its event stream. Create it with New;
// its handlers are safe for concurrent use.
type Page struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}

	mu         sync.Mutex
	subs       map[*stream]struct{}
	violations []Violation // newest first
	last       []byte      // the last state sent
	seq        uint64
}

// Violation is a recent guest failure (violation, trap, bad response,
// host error) as the page shows it.
type Violation struct {
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	Route     string    `json:"route"`
	SHA256    string    `json:"sha256,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// RouteState is one route on the page: what the admin API says of it
// and a health word: quarantined, alerting, deploying, degraded (a
// violation in the last minute) or healthy.
type RouteState struct {
	deploy.RouteStatus
	Health string `json:"health"`
}

// State is what the page shows, as the stream and GET /v1/status send it.
type State struct {
	Time        time.Time       `json:"time"`
	Routes      []RouteState    `json:"routes"`
	Alerts      []Alert         `json:"alerts"`
	Quarantines []Quarantine    `json:"quarantines"`
	Deployments []deploy.Record `json:"deployments"`
	Violations  []Violation     `json:"violations"`
	// AlertsEnabled and DeployEnabled say which parts exist.
	AlertsEnabled bool `json:"alerts_enabled"`
	DeployEnabled bool `json:"deploy_enabled"`
}

type stream struct {
	ch   chan []byte
	gone chan struct{} // closed when the page drops the stream (too slow)
}

// New returns the page and starts its publisher, which stops when ctx is
// done or Close is called; the streams end then too. It observes the
// server's security events: call it before the server serves.
func New(ctx context.Context, o Options) (*Page, error) {
	if o.Server == nil {
		return nil, errors.New("status page: no gateway server")
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	p := &Page{o: o, kick: make(chan struct{}, 1), subs: map[*stream]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(ctx)
	o.Server.Observe(p.observe)
	if o.Monitor != nil {
		p.o.Alerts = monitorSource{o.Monitor}
		p.follow(o.Monitor)
	}
	p.wg.Add(1)
	go p.publish()
	return p, nil
}

// Close ends the streams and stops the publisher.
func (p *Page) Close() {
	p.cancel()
	p.wg.Wait()
}

// Kick recomputes the state and sends it to the streams if it changed
// (the alert engine calls it when an alert or a quarantine changes).
func (p *Page) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Handlers returns the page's handlers by ServeMux pattern, for
// gateway.Server.HandleAdmin:
//
//	GET /status                the page
//	GET /status/{file}         its script, style sheet and icon
//	GET /v1/status             the state, JSON
//	GET /v1/events/stream      the state, live (text/event-stream)
func (p *Page) Handlers() map[string]http.Handler {
	files, _ := fs.Sub(static, "static")
	return map[string]http.Handler{
		"GET /status":           p.file(files, "index.html", "text/html; charset=utf-8"),
		"GET /status/app.js":    p.file(files, "app.js", "text/javascript; charset=utf-8"),
		"GET /status/app.css":   p.file(files, "app.css", "text/css; charset=utf-8"),
		"GET /status/icon.svg":  p.file(files, "icon.svg", "image/svg+xml"),
		"GET /v1/status":        http.HandlerFunc(p.serveState),
		"GET /v1/events/stream": http.HandlerFunc(p.serveStream),
	}
}

// CSP is the page's Content-Security-Policy: its own scripts, styles and
// connections only; no inline script, no eval, no frames, no forms.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func secure(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func (p *Page) file(files fs.FS, name, ctype string) http.Handler {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		panic("statuspage: embedded file missing: " + name) // a build defect, caught by every test
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		secure(w.Header())
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
}

// observe keeps the guest failures among the gateway's security events.
// It runs on the request's goroutine: it takes a lock and never blocks.
func (p *Page) observe(e audit.Event) {
	switch e.Type {
	case audit.TypeViolation, audit.TypeTrap, audit.TypeBadResponse, audit.TypeHostError:
	default:
		return
	}
	d := e.Detail
	if len(d) > maxDetail {
		d = d[:maxDetail] + "…"
	}
	v := Violation{Time: time.Now().UTC(), Type: e.Type, Route: e.Route, SHA256: e.SHA256, Kind: e.Kind, RequestID: e.RequestID, Detail: d}
	p.mu.Lock()
	if len(p.violations) < RecentViolations {
		p.violations = append(p.violations, Violation{})
	}
	copy(p.violations[1:], p.violations)
	p.violations[0] = v
	p.mu.Unlock()
	p.Kick()
}

// State computes what the page shows now.
func (p *Page) State() State {
	now := time.Now().UTC()
	s := State{Time: now, Alerts: []Alert{}, Quarantines: []Quarantine{}, Deployments: []deploy.Record{},
		AlertsEnabled: p.o.Alerts != nil, DeployEnabled: p.o.Deploy != nil}
	var routes []deploy.RouteStatus
	if p.o.Deploy != nil {
		routes = p.o.Deploy.Routes()
		s.Deployments = p.o.Deploy.List("")
		if len(s.Deployments) > RecentDeployments {
			s.Deployments = s.Deployments[:RecentDeployments]
		}
		for i := range s.Deployments {
			s.Deployments[i].Steps = nil
		}
	} else {
		for _, ri := range p.o.Server.Routes() {
			routes = append(routes, deploy.RouteStatus{RouteInfo: ri})
		}
	}
	if p.o.Alerts != nil {
		s.Alerts = append(s.Alerts, p.o.Alerts.Alerts()...)
		s.Quarantines = append(s.Quarantines, p.o.Alerts.Quarantines()...)
		sort.SliceStable(s.Alerts, func(i, j int) bool { return s.Alerts[i].Since.Before(s.Alerts[j].Since) })
	}
	p.mu.Lock()
	s.Violations = append([]Violation{}, p.violations...)
	p.mu.Unlock()
	for _, r := range routes {
		s.Routes = append(s.Routes, RouteState{RouteStatus: r, Health: health(r, &s, now)})
	}
	if s.Routes == nil {
		s.Routes = []RouteState{}
	}
	return s
}

// health is the route's health word.
func health(r deploy.RouteStatus, s *State, now time.Time) string {
	for _, q := range s.Quarantines {
		for _, v := range r.Versions {
			if q.SHA256 == v.SHA256 && (v.State == "active" || v.State == "canary") {
				return "quarantined"
			}
		}
	}
	for _, a := range s.Alerts {
		if a.Route == r.Route && a.State == "firing" {
			return "alerting"
		}
	}
	for _, v := range r.Versions {
		if v.State == "canary" {
			return "deploying"
		}
	}
	for _, v := range s.Violations {
		if v.Route == r.Route && now.Sub(v.Time) < time.Minute {
			return "degraded"
		}
	}
	return "healthy"
}

func (p *Page) serveState(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(p.State())
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// message is one server-sent event carrying the state.
func (p *Page) message() ([]byte, bool) {
	b, err := json.Marshal(p.State())
	if err != nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.Equal(b, p.last) {
		return nil, false
	}
	p.last = b
	p.seq++
	return fmt.Appendf(nil, "event: state\nid: %d\ndata: %s\n\n", p.seq, b), true
}

// publish recomputes the state on a kick or a tick while streams are open,
// and sends it to every stream when it changed. A stream whose buffer is
// full is dropped (its browser reconnects) rather than waited for.
func (p *Page) publish() {
	defer p.wg.Done()
	t := time.NewTicker(p.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
		p.mu.Lock()
		n := len(p.subs)
		p.mu.Unlock()
		if n == 0 {
			continue
		}
		msg, changed := p.message()
		if !changed {
			continue
		}
		p.mu.Lock()
		for s := range p.subs {
			select {
			case s.ch <- msg:
			default:
				delete(p.subs, s)
				close(s.gone)
			}
		}
		p.mu.Unlock()
	}
}

// ErrTooManyStreams is the answer past Options.MaxStreams.
var ErrTooManyStreams = errors.New("too many status streams open")

func (p *Page) subscribe() (*stream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.subs) >= p.o.MaxStreams {
		return nil, ErrTooManyStreams
	}
	if p.ctx.Err() != nil {
		return nil, errors.New("the status page is shutting down")
	}
	s := &stream{ch: make(chan []byte, 4), gone: make(chan struct{})}
	p.subs[s] = struct{}{}
	p.last = nil // the new stream gets the state at once
	return s, nil
}

func (p *Page) unsubscribe(s *stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.subs[s]; ok {
		delete(p.subs, s)
		close(s.gone)
	}
}

// streamWriteTimeout bounds one write to a stream's client.
const streamWriteTimeout = 10 * time.Second

func (p *Page) serveStream(w http.ResponseWriter, r *http.Request) {
	s, err := p.subscribe()
	if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer p.unsubscribe(s)
	p.Kick()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	write := func(b []byte) bool {
		// The admin server's write timeout would end a stream after 30s:
		// each write gets a deadline of its own instead.
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: 2000\n\n")) {
		return
	}
	hb := time.NewTicker(p.o.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-r.Context().Done():
			return
		case <-s.gone:
			return
		case msg := <-s.ch:
			if !write(msg) {
				return
			}
		case <-hb.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

// Streams returns how many event streams are open.
func (p *Page) Streams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.subs)
}
