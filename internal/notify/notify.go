// Package notify delivers alert transitions to a webhook: a JSON body (or
// the Alertmanager webhook format), signed with HMAC-SHA256 over the
// timestamp and the body, from a bounded queue by one goroutine that
// retries with exponential backoff. Enqueueing never blocks: when the
// queue is full the oldest notification is dropped and counted.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmward/wasmward/internal/alert"
)

// Headers of a delivery. The signature is
// "t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, UNIX_SECONDS + "." + body))".
const (
	SignatureHeader = "X-Wasmward-Signature"
	TimestampHeader = "X-Wasmward-Timestamp"
)

// Options configure a Notifier.
type Options struct {
	URL    string
	Secret []byte
	// Format is "json" or "alertmanager".
	Format  string
	Timeout time.Duration
	Retries int
	Queue   int
	// Backoff is the first retry's delay (default 500ms), doubled per
	// retry up to MaxBackoff (default 30s), with jitter.
	Backoff, MaxBackoff time.Duration
	// Client sends the requests (a client of its own when nil; redirects
	// are never followed: the signature is for URL only).
	Client *http.Client
	Logger *slog.Logger
	// ExternalURL is where the alerts can be seen (the admin listener), for
	// the Alertmanager format's externalURL and generatorURL.
	ExternalURL string
}

// Notifier delivers notifications. Send is safe for concurrent use.
type Notifier struct {
	o     Options
	mu    sync.Mutex
	queue []alert.Transition
	wake  chan struct{}

	sent, failed, dropped, retried atomic.Uint64
}

// ReadSecret reads a webhook secret file: at least 16 bytes once trimmed,
// in a file only its owner can read.
func ReadSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("webhook secret_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("webhook secret_file %s: readable by group or others (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("webhook secret_file: %w", err)
	}
	s := bytes.TrimSpace(b)
	if len(s) < 16 {
		return nil, fmt.Errorf("webhook secret_file %s: the secret must be at least 16 bytes", path)
	}
	return s, nil
}

// New returns a notifier; Run delivers.
func New(o Options) *Notifier {
	if o.Timeout <= 0 {
		o.Timeout = alert.DefaultWebhookTimeout
	}
	if o.Queue <= 0 {
		o.Queue = alert.DefaultWebhookQueue
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	return &Notifier{o: o, wake: make(chan struct{}, 1)}
}

// Wants reports whether a transition is notified: an alert that fires or
// resolves (pending ones are not).
func Wants(t alert.Transition) bool {
	return t.Alert.State == alert.Firing || t.Alert.State == alert.Resolved
}

// Send queues t for delivery and returns at once. When the queue is full
// the oldest queued notification is dropped (and counted).
func (n *Notifier) Send(t alert.Transition) {
	n.mu.Lock()
	if len(n.queue) >= n.o.Queue {
		n.queue = n.queue[1:]
		n.dropped.Add(1)
		n.o.Logger.Warn("webhook queue full: oldest notification dropped", "queue", n.o.Queue)
	}
	n.queue = append(n.queue, t)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Stats are the notifier's counters.
type Stats struct{ Sent, Failed, Dropped, Retried uint64 }

// Stats returns the counters: deliveries that succeeded, that failed after
// every retry, notifications dropped from a full queue, and retries.
func (n *Notifier) Stats() Stats {
	return Stats{n.sent.Load(), n.failed.Load(), n.dropped.Load(), n.retried.Load()}
}

// Run delivers queued notifications, one at a time and in order, until
// ctx is done.
func (n *Notifier) Run(ctx context.Context) {
	for {
		n.mu.Lock()
		var t alert.Transition
		ok := len(n.queue) > 0
		if ok {
			t = n.queue[0]
			n.queue = n.queue[1:]
		}
		n.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-n.wake:
				continue
			}
		}
		n.deliver(ctx, t)
	}
}

func (n *Notifier) deliver(ctx context.Context, t alert.Transition) {
	body, err := n.body(t)
	if err != nil {
		n.failed.Add(1)
		n.o.Logger.Error("webhook: encode notification", "err", err)
		return
	}
	delay := n.o.Backoff
	for attempt := 0; ; attempt++ {
		err := n.post(ctx, body, time.Now())
		if err == nil {
			n.sent.Add(1)
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) || attempt >= n.o.Retries || ctx.Err() != nil {
			n.failed.Add(1)
			n.o.Logger.Warn("webhook delivery failed", "alert", t.Alert.ID, "state", t.Alert.State, "attempts", attempt+1, "err", err)
			return
		}
		n.retried.Add(1)
		// Full jitter on the upper half: delay/2 to delay.
		d := delay/2 + time.Duration(rand.Int64N(int64(delay/2)+1))
		select {
		case <-ctx.Done():
			n.failed.Add(1)
			return
		case <-time.After(d):
		}
		delay = min(2*delay, n.o.MaxBackoff)
	}
}

type permanentError struct{ status int }

func (e *permanentError) Error() string {
	return "the receiver answered " + strconv.Itoa(e.status) + " (not retried)"
}

// Sign returns the signature header's value for body at time ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	unix := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(unix))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + unix + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against body and secret, and that its
// timestamp is within tolerance of now (replays of old deliveries fail).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts int64
	var sig string
	for _, part := range bytes.Split([]byte(header), []byte(",")) {
		k, v, _ := bytes.Cut(part, []byte("="))
		switch string(k) {
		case "t":
			ts, _ = strconv.ParseInt(string(v), 10, 64)
		case "v1":
			sig = string(v)
		}
	}
	if ts == 0 || sig == "" {
		return errors.New("signature header malformed")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature timestamp outside the tolerance")
	}
	want := Sign(secret, time.Unix(ts, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+strconv.FormatInt(ts, 10)+",v1="+sig)) {
		return errors.New("signature mismatch")
	}
	return nil
}

func (n *Notifier) post(ctx context.Context, body []byte, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.o.URL, bytes.NewReader(body))
	if err != nil {
		return &permanentError{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wasmward-alerts")
	req.Header.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(SignatureHeader, Sign(n.o.Secret, now, body))
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return &permanentError{resp.StatusCode}
}

// Message is the json format's body.
type Message struct {
	// Version of the format: "1".
	Version string `json:"version"`
	// Status is the alert's new state: firing or resolved.
	Status string      `json:"status"`
	From   alert.State `json:"from"`
	Alert  alert.Alert `json:"alert"`
}

// amMessage is the Alertmanager webhook body (version 4).
type amMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

func (n *Notifier) body(t alert.Transition) ([]byte, error) {
	a := t.Alert
	if n.o.Format != "alertmanager" {
		return json.Marshal(Message{Version: "1", Status: string(a.State), From: t.From, Alert: a})
	}
	labels := map[string]string{"alertname": a.Rule, "route": a.Route, "sha256": a.SHA256,
		"severity": string(a.Severity), "action": string(a.Action), "signal": string(a.Signal)}
	if a.Kind != "" {
		labels["kind"] = a.Kind
	}
	status := "firing"
	var ends time.Time
	if a.State == alert.Resolved {
		status, ends = "resolved", a.ResolvedAt
	}
	fp := sha256.Sum256([]byte(a.ID))
	am := amAlert{Status: status, Labels: labels, StartsAt: a.FiredAt, EndsAt: ends,
		Annotations: map[string]string{
			"summary": fmt.Sprintf("%s on %s: %s %g (threshold %g)", a.Rule, a.Route, a.Signal, a.Value, a.Threshold),
			"module":  a.Module,
		},
		GeneratorURL: n.o.ExternalURL, Fingerprint: hex.EncodeToString(fp[:8])}
	common := map[string]string{}
	for k, v := range labels {
		common[k] = v
	}
	return json.Marshal(amMessage{Version: "4", GroupKey: "{}:{alertname=\"" + a.Rule + "\"}", Status: status, Receiver: "wasmward",
		GroupLabels: map[string]string{"alertname": a.Rule}, CommonLabels: common, CommonAnnotations: am.Annotations,
		ExternalURL: n.o.ExternalURL, Alerts: []amAlert{am}})
}
