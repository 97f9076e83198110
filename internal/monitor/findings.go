package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/sbom"
)

// watchFindings matches the SBOM of every served module against the OSV
// directory: at start, for every version that appears (a deployment, a
// reload), and for all of them again whenever the directory changes
// (checked every OSVPoll).
func (m *Monitor) watchFindings(ctx context.Context) {
	var db *sbom.Database
	last := ""
	t := time.NewTicker(m.cfg.OSVPoll)
	defer t.Stop()
	for {
		if fp, err := dirPrint(m.cfg.OSVDir); err != nil {
			m.log.Warn("OSV directory unreadable; dependency findings keep their last values", "dir", m.cfg.OSVDir, "err", err)
		} else if fp != last {
			d, err := sbom.LoadOSV(m.cfg.OSVDir)
			if err != nil {
				m.log.Warn("OSV directory not loaded; dependency findings keep their last values", "dir", m.cfg.OSVDir, "err", err)
			} else {
				db, last = d, fp
				m.fmu.Lock()
				clear(m.scanned)
				m.fmu.Unlock()
				m.metrics.findings.Reset()
				m.log.Info("OSV advisories loaded", "dir", m.cfg.OSVDir, "advisories", db.Len())
			}
		}
		if db != nil {
			m.scanServed(ctx, db)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ScanFindings matches every served module against the OSV directory now
// (what the watcher does on its own every OSVPoll).
func (m *Monitor) ScanFindings(ctx context.Context) error {
	db, err := sbom.LoadOSV(m.cfg.OSVDir)
	if err != nil {
		return err
	}
	m.fmu.Lock()
	clear(m.scanned)
	m.fmu.Unlock()
	m.metrics.findings.Reset()
	m.scanServed(ctx, db)
	return nil
}

func (m *Monitor) scanServed(ctx context.Context, db *sbom.Database) {
	for _, label := range m.srv.RouteLabels() {
		active, canary, _, err := m.srv.Versions(label)
		if err != nil {
			continue
		}
		vs := []interface {
			SHA256() string
			Ref() string
			Release()
		}{active}
		if canary != nil {
			vs = append(vs, canary)
		}
		for _, v := range vs {
			key := label + " " + v.SHA256()
			m.fmu.Lock()
			done := m.scanned[key]
			m.fmu.Unlock()
			if !done {
				n, err := m.findings(ctx, v.Ref(), v.SHA256(), db)
				if err != nil {
					m.log.Warn("dependency findings not computed", "route", label, "module", v.Ref(), "err", err)
				} else {
					m.eng.SetFindings(label, v.SHA256(), v.Ref(), n)
					m.metrics.findings.WithLabelValues(label, v.SHA256()).Set(float64(n))
					m.fmu.Lock()
					m.scanned[key] = true
					m.fmu.Unlock()
				}
			}
			v.Release()
		}
	}
}

// findings is the number of OSV advisories matching the module's SBOM.
func (m *Monitor) findings(ctx context.Context, ref, sha string, db *sbom.Database) (int, error) {
	if m.resolve == nil {
		return 0, fmt.Errorf("no module resolver")
	}
	src, err := m.resolve(ctx, ref)
	if err != nil {
		return 0, err
	}
	if digest.SHA256Hex(src.Wasm) != sha {
		return 0, fmt.Errorf("%s no longer has digest %.12s", ref, sha)
	}
	inv, err := sbom.Read(ref, src.Wasm)
	if inv == nil {
		return 0, fmt.Errorf("sbom: %w", err)
	}
	if err != nil {
		// Malformed metadata: the rest of the inventory still counts.
		m.log.Warn("module dependency metadata malformed", "module", ref, "err", err)
	}
	inv.MatchOSV(db)
	return len(inv.Vulnerabilities), nil
}

// dirPrint fingerprints a directory tree: names, sizes and modification
// times of its files.
func dirPrint(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
