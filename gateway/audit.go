package gateway

import (
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/audit"
	"github.com/wasmward/wasmward/policy"
)

// Defaults of the audit block. Rotation and aggregation are on by default
// so that a flood of violations cannot fill the disk; retention is off (no
// audit record is deleted unless keep says so).
const (
	DefaultAuditMaxSize         = 100 << 20
	DefaultAuditAggregateWindow = 10e9 // 10s
)

// fileAudit is the YAML shape of the audit block.
type fileAudit struct {
	Path            string           `yaml:"path"`
	OnFailure       string           `yaml:"on_failure"`
	MaxSize         *policy.Size     `yaml:"max_size"`
	MaxAge          *policy.Duration `yaml:"max_age"`
	Keep            *int             `yaml:"keep"`
	AggregateWindow *policy.Duration `yaml:"aggregate_window"`
}

// applyAudit sets c.AuditLog and c.Audit from the audit block (or the
// audit_log shorthand), resolving the path against dir.
func applyAudit(c *Config, f *file, root *yaml.Node, name, dir string) error {
	c.Audit = audit.Options{OnFailure: audit.FailClosed, MaxSize: DefaultAuditMaxSize, AggregateWindow: DefaultAuditAggregateWindow}
	if f.Audit != nil {
		a, n := f.Audit, mappingValue(root, "audit")
		line := func(key string) int {
			if v := mappingValue(n, key); v != nil {
				return v.Line
			}
			return n.Line
		}
		if f.AuditLog != "" {
			return fmt.Errorf("%s:%d: audit_log and audit.path both given: use audit.path", name, line("path"))
		}
		if a.Path == "" {
			return fmt.Errorf("%s:%d: audit: path is required", name, n.Line)
		}
		c.AuditLog = a.Path
		switch mode := audit.FailureMode(a.OnFailure); mode {
		case "":
		case audit.FailClosed, audit.FailOpen:
			c.Audit.OnFailure = mode
		default:
			return fmt.Errorf("%s:%d: audit.on_failure %q is not fail_closed or fail_open", name, line("on_failure"), a.OnFailure)
		}
		if a.MaxSize != nil {
			if uint64(*a.MaxSize) > 1<<62 {
				return fmt.Errorf("%s:%d: audit.max_size %s is too large", name, line("max_size"), a.MaxSize)
			}
			c.Audit.MaxSize = int64(*a.MaxSize)
		}
		if a.MaxAge != nil {
			c.Audit.MaxAge = a.MaxAge.Std()
		}
		if a.Keep != nil {
			if *a.Keep < 1 {
				return fmt.Errorf("%s:%d: audit.keep %d: keep at least 1 rotated file (leave keep out to keep every file)", name, line("keep"), *a.Keep)
			}
			c.Audit.Keep = *a.Keep
		}
		if a.AggregateWindow != nil {
			c.Audit.AggregateWindow = a.AggregateWindow.Std()
		}
		if err := c.Audit.Validate(); err != nil {
			return fmt.Errorf("%s:%d: audit: %w", name, n.Line, err)
		}
	}
	if c.AuditLog != "" && dir != "" && !filepath.IsAbs(c.AuditLog) {
		c.AuditLog = filepath.Join(dir, c.AuditLog)
	}
	return nil
}

// auditAvailable returns why requests must be refused for the audit log's
// sake (FailClosed and the log cannot be written), or nil.
func (s *Server) auditAvailable() error {
	if s.audit == nil {
		return nil
	}
	return s.audit.Available()
}

// registerAuditMetrics exports the audit log's health and counters.
func (m *metrics) registerAuditMetrics(l *audit.Log) {
	stat := func(name, help string, v func(audit.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(l.Stats())) })
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wasmward_audit_healthy",
			Help: "1 while the audit log is being written, 0 while writes fail (alert on 0: under fail_closed requests are refused with 503).",
		}, func() float64 {
			if l.Err() != nil {
				return 0
			}
			return 1
		}),
		stat("wasmward_audit_records_total", "Audit records written.", func(s audit.Stats) uint64 { return s.Records }),
		stat("wasmward_audit_records_lost_total", "Audit events lost while the log could not be written (fail_open, or a full queue).", func(s audit.Stats) uint64 { return s.Lost }),
		stat("wasmward_audit_write_errors_total", "Failed audit log write attempts (each is retried).", func(s audit.Stats) uint64 { return s.WriteErrors }),
		stat("wasmward_audit_rotations_total", "Audit log files rotated out.", func(s audit.Stats) uint64 { return s.Rotations }),
		stat("wasmward_audit_aggregated_total", "Audit events folded into aggregated records.", func(s audit.Stats) uint64 { return s.Aggregated }),
	)
}
