package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wasmward/wasmward/gateway"
)

// Handlers returns the admin API's handlers by net/http ServeMux pattern,
// for gateway.Server.HandleAdmin:
//
//	GET  /v1/routes                      every route with its version states
//	GET  /v1/deployments[?route=R]       deployments, newest first
//	GET  /v1/deployments/{id}
//	POST /v1/deployments                 {route, module, strategy, canary_percent, retry_failed}
//	POST /v1/deployments/{id}/rollback
//	POST /v1/deployments/{id}/promote
//	POST /v1/reload
//
// Reads are open (the admin listener is private); every POST needs
// "Authorization: Bearer TOKEN" with the admin token, compared in constant
// time, and without a token the API is read-only.
func (m *Manager) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /v1/routes":                     http.HandlerFunc(m.serveRoutes),
		"GET /v1/deployments":                http.HandlerFunc(m.serveList),
		"GET /v1/deployments/{id}":           http.HandlerFunc(m.serveGet),
		"POST /v1/deployments":               m.auth(m.serveDeploy),
		"POST /v1/deployments/{id}/rollback": m.auth(m.serveRollback),
		"POST /v1/deployments/{id}/promote":  m.auth(m.servePromote),
		"POST /v1/reload":                    m.auth(m.serveReload),
	}
}

// ReadToken reads the admin token file: one line of at least 16
// characters, in a file only its owner can read.
func ReadToken(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("admin_token_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("admin_token_file %s: readable by group or others (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin_token_file: %w", err)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) < 16 || bytes.ContainsAny(tok, "\r\n") {
		return nil, fmt.Errorf("admin_token_file %s: the token must be one line of at least 16 characters", path)
	}
	return tok, nil
}

// auth admits a request carrying the admin token (RequireToken).
func (m *Manager) auth(h http.HandlerFunc) http.Handler { return RequireToken(m.token, h) }

// RequireToken admits a request carrying "Authorization: Bearer TOKEN"
// with the admin token: 401 without it, 403 when there is no token (the
// API is read-only). The token is compared as SHA-256 digests in constant
// time and never logged. Every admin API's changes go through it.
func RequireToken(token []byte, h http.HandlerFunc) http.Handler {
	want := sha256.Sum256(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == nil {
			writeErr(w, http.StatusForbidden, ErrReadOnly)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wasmward admin"`)
			writeErr(w, http.StatusUnauthorized, errors.New("a valid admin bearer token is required"))
			return
		}
		h(w, r)
	})
}

// WriteJSON writes v as the admin API's JSON answer with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }

// WriteError writes the admin API's JSON error answer ({"error": ...}).
func WriteError(w http.ResponseWriter, code int, err error) { writeErr(w, code, err) }

func (m *Manager) serveRoutes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Routes []RouteStatus `json:"routes"`
	}{m.Routes()})
}

func (m *Manager) serveList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Deployments []Record `json:"deployments"`
	}{m.List(r.URL.Query().Get("route"))})
}

func (m *Manager) serveGet(w http.ResponseWriter, r *http.Request) {
	rec, err := m.Get(r.PathValue("id"))
	if err != nil {
		writeErr(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// maxRequestBody bounds a POST body of the admin API.
const maxRequestBody = 64 << 10

func (m *Manager) serveDeploy(w http.ResponseWriter, r *http.Request) {
	var req Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("deployment request: %w", err))
		return
	}
	rec, err := m.Deploy(r.Context(), req)
	switch {
	case errors.Is(err, ErrRefused):
		writeJSON(w, http.StatusUnprocessableEntity, errBody{Error: err.Error(), Deployment: &rec})
	case err != nil:
		writeErr(w, status(err), err)
	default:
		w.Header().Set("Location", "/v1/deployments/"+rec.ID)
		writeJSON(w, http.StatusAccepted, rec)
	}
}

func (m *Manager) serveRollback(w http.ResponseWriter, r *http.Request) {
	m.serveCommand(w, r, m.Rollback)
}

func (m *Manager) servePromote(w http.ResponseWriter, r *http.Request) {
	m.serveCommand(w, r, m.Promote)
}

func (m *Manager) serveCommand(w http.ResponseWriter, r *http.Request, f func(context.Context, string) (Record, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	rec, err := f(ctx, r.PathValue("id"))
	if err != nil {
		writeErr(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (m *Manager) serveReload(w http.ResponseWriter, r *http.Request) {
	res, err := m.ReloadConfig(r.Context())
	if err != nil {
		writeErr(w, status(err), err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

type errBody struct {
	Error      string  `json:"error"`
	Deployment *Record `json:"deployment,omitempty"`
}

func status(err error) int {
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, gateway.ErrNoRoute):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrRefused):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrBadInput):
		return http.StatusBadRequest
	case errors.Is(err, ErrReadOnly):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// Client calls a gateway's admin API.
type Client struct {
	// URL is the admin listener's base URL, "http://127.0.0.1:9090".
	URL string
	// Token is the admin bearer token (needed for changes).
	Token []byte
	// HTTP is the client to use; nil uses one with a 2-minute timeout.
	HTTP *http.Client
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int
	Message string
	// Deployment is the refused deployment's record, when there is one.
	Deployment *Record
}

func (e *APIError) Error() string { return fmt.Sprintf("admin API: %s (HTTP %d)", e.Message, e.Status) }

// Call sends a request to the admin API (path p, body and answer as
// JSON; nil for none) with the token; an error answer is an *APIError.
func (c *Client) Call(ctx context.Context, method, p string, body, out any) error {
	return c.do(ctx, method, p, body, out)
}

func (c *Client) do(ctx context.Context, method, p string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+p, rd)
	if err != nil {
		return fmt.Errorf("admin API %s: %w", c.URL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != nil {
		req.Header.Set("Authorization", "Bearer "+string(c.Token))
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API %s %s: read answer: %w", method, p, err)
	}
	if resp.StatusCode >= 300 {
		var eb errBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error, Deployment: eb.Deployment}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("admin API %s %s: %w", method, p, err)
		}
	}
	return nil
}

// Deploy starts a deployment.
func (c *Client) Deploy(ctx context.Context, req Request) (Record, error) {
	var r Record
	err := c.do(ctx, http.MethodPost, "/v1/deployments", req, &r)
	return r, err
}

// Deployment returns deployment id.
func (c *Client) Deployment(ctx context.Context, id string) (Record, error) {
	var r Record
	err := c.do(ctx, http.MethodGet, "/v1/deployments/"+id, nil, &r)
	return r, err
}

// Deployments returns the deployments of route ("" for all), newest first.
func (c *Client) Deployments(ctx context.Context, route string) ([]Record, error) {
	var out struct {
		Deployments []Record `json:"deployments"`
	}
	p := "/v1/deployments"
	if route != "" {
		p += "?route=" + url.QueryEscape(route)
	}
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out.Deployments, err
}

// Rollback rolls back deployment id.
func (c *Client) Rollback(ctx context.Context, id string) (Record, error) {
	var r Record
	err := c.do(ctx, http.MethodPost, "/v1/deployments/"+id+"/rollback", nil, &r)
	return r, err
}

// Promote promotes deployment id.
func (c *Client) Promote(ctx context.Context, id string) (Record, error) {
	var r Record
	err := c.do(ctx, http.MethodPost, "/v1/deployments/"+id+"/promote", nil, &r)
	return r, err
}

// Routes returns the routes with their version states.
func (c *Client) Routes(ctx context.Context) ([]RouteStatus, error) {
	var out struct {
		Routes []RouteStatus `json:"routes"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/routes", nil, &out)
	return out.Routes, err
}

// Reload asks the gateway to reload its configuration.
func (c *Client) Reload(ctx context.Context) (*gateway.ReloadResult, error) {
	var r gateway.ReloadResult
	err := c.do(ctx, http.MethodPost, "/v1/reload", nil, &r)
	return &r, err
}

// Wait polls deployment id every poll until it is final.
func (c *Client) Wait(ctx context.Context, id string, poll time.Duration, progress func(Record)) (Record, error) {
	last := ""
	for {
		r, err := c.Deployment(ctx, id)
		if err != nil {
			return r, err
		}
		if key := fmt.Sprintf("%s/%d", r.State, r.Percent); key != last && progress != nil {
			progress(r)
			last = key
		}
		if Final(r.State) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// RollbackRoute rolls back what route's latest deployment did: the one in
// progress, else the one that made the active version active.
func (c *Client) RollbackRoute(ctx context.Context, route string) (Record, error) {
	routes, err := c.Routes(ctx)
	if err != nil {
		return Record{}, err
	}
	for _, r := range routes {
		if r.Route != route {
			continue
		}
		id := r.Deployment
		if id == "" {
			for _, v := range r.Versions {
				if v.State == "active" {
					id = v.Deployment
				}
			}
		}
		if id == "" {
			return Record{}, fmt.Errorf("route %s serves its configured module: no deployment to roll back", route)
		}
		return c.Rollback(ctx, id)
	}
	return Record{}, fmt.Errorf("route %q: %w", route, ErrNotFound)
}
