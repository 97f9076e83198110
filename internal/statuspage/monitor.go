package statuspage

import (
	"fmt"

	"github.com/wasmward/wasmward/internal/alert"
	"github.com/wasmward/wasmward/internal/monitor"
)

// monitorSource shows a monitor's pending and firing alerts and its
// quarantine.
type monitorSource struct{ m *monitor.Monitor }

// Alerts implements AlertSource.
func (p monitorSource) Alerts() []Alert {
	var out []Alert
	for _, a := range p.m.Engine().Snapshot() {
		if a.State != alert.Pending && a.State != alert.Firing {
			continue
		}
		sig := string(a.Signal)
		if a.Kind != "" {
			sig += "/" + a.Kind
		}
		out = append(out, Alert{Name: a.Rule, Severity: string(a.Severity), State: string(a.State), Route: a.Route,
			SHA256: a.SHA256, Action: string(a.Action), Since: a.Since, Detail: fmt.Sprintf("%s %g (threshold %g)", sig, a.Value, a.Threshold)})
	}
	return out
}

// Quarantines implements AlertSource.
func (p monitorSource) Quarantines() []Quarantine {
	q := p.m.Quarantine()
	if q == nil {
		return nil
	}
	var out []Quarantine
	for _, e := range q.List() {
		sq := Quarantine{ID: e.SHA256, SHA256: e.SHA256, Module: e.Module, Reason: e.Reason, Since: e.Since}
		if e.Route != "" {
			sq.Routes = []string{e.Route}
		}
		out = append(out, sq)
	}
	return out
}

// follow pushes the state after every alert transition and quarantine
// change of m, until the page closes.
func (p *Page) follow(m *monitor.Monitor) {
	if q := m.Quarantine(); q != nil {
		q.OnChange(p.Kick)
	}
	ch, stop := m.Engine().Subscribe(64)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-ch:
				p.Kick()
			}
		}
	}()
}
