package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmward/wasmward/internal/alert"
)

func TestSignVerify(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"status":"firing"}`)
	h := Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"good", secret, h, body, now, true},
		{"body changed", secret, h, []byte(`{"status":"resolved"}`), now, false},
		{"other secret", []byte("another-secret-0123"), h, body, now, false},
		{"replayed later", secret, h, body, now.Add(10 * time.Minute), false},
		{"timestamp changed", secret, strings.Replace(h, "t=1800000000", "t=1800000001", 1), body, now, false},
		{"malformed", secret, "v1=00", body, now, false},
	} {
		err := Verify(tc.secret, tc.header, tc.body, tc.now, time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func tr(id string) alert.Transition {
	return alert.Transition{From: alert.Pending, Alert: alert.Alert{ID: id, Rule: id, State: alert.Firing}}
}

// A full queue drops its oldest notification; Send never blocks.
func TestQueueDropsOldest(t *testing.T) {
	n := New(Options{URL: "http://127.0.0.1:1/", Secret: []byte("s"), Queue: 2})
	start := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		n.Send(tr(id))
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("Send blocked")
	}
	if n.Stats().Dropped != 1 || len(n.queue) != 2 || n.queue[0].Alert.ID != "b" {
		t.Fatalf("stats %+v queue %v", n.Stats(), n.queue)
	}
}

// 4xx other than 408/429 is final; redirects are not followed.
func TestPermanentFailuresAndRedirects(t *testing.T) {
	var hits, elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
			return
		}
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer ts.Close()
	for _, p := range []string{"/bad", "/redirect"} {
		hits.Store(0)
		n := New(Options{URL: ts.URL + p, Secret: []byte("s"), Retries: 3, Backoff: time.Millisecond})
		n.deliver(context.Background(), tr("x"))
		if hits.Load() != 1 || n.Stats().Failed != 1 || n.Stats().Retried != 0 {
			t.Fatalf("%s: hits %d stats %+v", p, hits.Load(), n.Stats())
		}
	}
	if elsewhere.Load() != 0 {
		t.Fatal("a redirect was followed")
	}
}

// Deliveries are retried with backoff and arrive in order.
func TestRunRetriesInOrder(t *testing.T) {
	var fails atomic.Int32
	fails.Store(2)
	got := make(chan string, 10)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := Verify([]byte("secret-0123456789"), r.Header.Get(SignatureHeader), b, time.Now(), time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
		if fails.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m Message
		json.Unmarshal(b, &m)
		got <- m.Alert.ID
	}))
	defer ts.Close()
	n := New(Options{URL: ts.URL, Secret: []byte("secret-0123456789"), Retries: 5, Backoff: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	n.Send(tr("first"))
	n.Send(tr("second"))
	for _, want := range []string{"first", "second"} {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("got %s, want %s", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not delivered")
		}
	}
	for end := time.Now().Add(5 * time.Second); n.Stats().Sent < 2 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if s := n.Stats(); s.Sent != 2 || s.Retried != 2 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		want       string
	}{
		{"ok", "0123456789abcdef\n", 0o600, ""},
		{"short", "tiny-secret", 0o600, "at least 16 bytes"},
		{"open", "0123456789abcdef", 0o644, "readable by group or others"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.body), tc.mode)
		os.Chmod(p, tc.mode)
		s, err := ReadSecret(p)
		if tc.want == "" {
			if err != nil || string(s) != "0123456789abcdef" {
				t.Errorf("%s: %q %v", tc.name, s, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.body) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
