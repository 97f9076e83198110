package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// rotated is one rotated file: PATH.NNNNNNNNNNNNNNNNNNNN.
type rotated struct {
	path  string
	first uint64 // the seq of its first record, from its name
}

// RotatedName returns the name a log at path is rotated to when its first
// record is number first.
func RotatedName(path string, first uint64) string {
	return fmt.Sprintf("%s.%020d", path, first)
}

// rotatedFiles returns path's rotated files, oldest first.
func rotatedFiles(path string) ([]rotated, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list rotated audit files: %w", err)
	}
	var out []rotated
	for _, e := range ents {
		if n, ok := rotatedSeq(e.Name(), base); ok && e.Type().IsRegular() {
			out = append(out, rotated{path: filepath.Join(dir, e.Name()), first: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	return out, nil
}

// rotatedSeq parses name as base's rotated file.
func rotatedSeq(name, base string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok || len(rest) != 20 {
		return 0, false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil && n > 0
}

// maybeRotate renames the current file away and opens a new one when the
// batch would take it past MaxSize or its first record is MaxAge old. The
// next record written is then a log_continued.
func (l *Log) maybeRotate(batch []Event) error {
	if l.f == nil { // a rotation failed after the rename
		f, err := l.open(l.path)
		if err != nil {
			return err
		}
		l.f, l.size, l.fileFirst = f, 0, 0
	}
	if l.fileFirst == 0 || l.size == 0 {
		return nil
	}
	due := l.opts.MaxAge > 0 && l.now().Sub(l.fileTime) >= l.opts.MaxAge
	if l.opts.MaxSize > 0 && !due {
		est := int64(0)
		for i := range batch {
			est += int64(len(batch[i].Detail)+len(batch[i].Route)+len(batch[i].Module)+len(batch[i].Client)+len(batch[i].RequestID)+len(batch[i].Kind)) + 200
		}
		due = l.size+est > l.opts.MaxSize
	}
	if !due {
		return nil
	}
	to := RotatedName(l.path, l.fileFirst)
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("rotate: %s exists", to)
	}
	if err := os.Rename(l.path, to); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	old := l.f
	l.f = nil
	_ = old.Close()
	l.continues = to
	l.mu.Lock()
	l.stats.Rotations++
	l.mu.Unlock()
	f, err := l.open(l.path)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	l.f, l.size, l.fileFirst = f, 0, 0
	syncDir(filepath.Dir(l.path))
	return nil
}

// pruneEvents returns a log_pruned event for each rotated file beyond Keep
// (oldest first) and remembers them, to be removed once the records naming
// them are durable.
func (l *Log) pruneEvents() ([]Event, error) {
	l.prune = l.prune[:0]
	if l.opts.Keep <= 0 || l.continues == "" {
		return nil, nil
	}
	rot, err := rotatedFiles(l.path)
	if err != nil {
		return nil, err
	}
	var evs []Event
	for i := 0; i+l.opts.Keep < len(rot); i++ {
		// The file's last record is the one before the next file's first,
		// and its hash is that first record's prev.
		next := rot[i+1]
		prev, err := firstPrev(next.path)
		if err != nil {
			return nil, err
		}
		evs = append(evs, Event{Type: TypeLogPruned, File: filepath.Base(rot[i].path), Through: next.first - 1, SHA256: prev,
			Detail: fmt.Sprintf("removed %s (records %d to %d) to keep %d rotated files", filepath.Base(rot[i].path), rot[i].first, next.first-1, l.opts.Keep)})
		l.prune = append(l.prune, rot[i].path)
	}
	return evs, nil
}

// removePruned removes the files named by the log_pruned records just made
// durable.
func (l *Log) removePruned() {
	for _, p := range l.prune {
		if err := os.Remove(p); err != nil {
			l.log.Error("audit log retention: remove rotated file", "path", p, "err", err)
		}
	}
	if len(l.prune) > 0 {
		syncDir(filepath.Dir(l.path))
	}
	l.prune = l.prune[:0]
}

// firstPrev returns the "prev" of the first record of the file at path.
func firstPrev(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("%s: read the first record: %w", path, err)
	}
	var r struct {
		Prev string `json:"prev"`
	}
	if err := json.Unmarshal(line, &r); err != nil || len(r.Prev) != 64 {
		return "", fmt.Errorf("%s: line 1: not an audit record", path)
	}
	return r.Prev, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
