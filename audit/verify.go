package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wasmward/wasmward/internal/digest"
)

// TamperError says where a log stops being intact.
type TamperError struct {
	// File is the file (empty for Verify's single reader).
	File string
	// Line is the 1-based line number of the first line that does not
	// verify, within File.
	Line int
	// Reason says what is wrong with it.
	Reason string
}

func (e *TamperError) Error() string {
	s := "line " + strconv.Itoa(e.Line) + ": " + e.Reason
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

// Summary describes an intact log.
type Summary struct {
	// Records is the number of records (lines) checked.
	Records int
	// Files is the number of files checked.
	Files int
	// First is the seq of the first record checked: 1, or after the records
	// that retention removed (a log_pruned record accounts for them).
	First uint64
	// Head is the seq and hash of the last line (0 and Genesis when empty).
	Head Head
}

// Verify reads a whole single-file log and checks its chain. It returns a
// *TamperError naming the first line that breaks it, or an error wrapping a
// read failure. An empty log is intact. A log must start at record 1; use
// VerifyFiles for rotated logs.
func Verify(r io.Reader) (Summary, error) { return verifyOne(r, nil) }

// VerifyAnchor is Verify plus a check against a head recorded earlier (the
// PATH.head sidecar, or one shipped elsewhere). A log that ends before the
// anchor's record was truncated; one whose record at the anchor's seq has
// another hash was rewritten. Records after the anchor are accepted: the
// anchor may lag the log by the batch being written when it was read.
func VerifyAnchor(r io.Reader, anchor Head) (Summary, error) { return verifyOne(r, &anchor) }

func verifyOne(r io.Reader, anchor *Head) (Summary, error) {
	w := chain{prev: Genesis, anchor: anchor}
	if err := w.file("", r); err != nil {
		return Summary{}, err
	}
	return w.finish("", anchor)
}

// VerifyFiles checks a log kept in several files (rotated files and the
// current one) as one chain, in the order of their first records. The
// first file may start after record 1 only if a log_pruned record in the
// chain names the record before its first, with the same hash: otherwise
// the files before it were removed. A file missing in the middle, a
// truncated file that is not the last, or a file out of the chain is
// reported at the first record that does not follow. anchor, when not nil,
// is checked as VerifyAnchor does.
func VerifyFiles(paths []string, anchor *Head) (Summary, error) {
	type ordered struct {
		path  string
		first uint64
	}
	files := make([]ordered, 0, len(paths))
	for _, p := range paths {
		first, err := firstSeq(p)
		if err != nil {
			return Summary{}, err
		}
		files = append(files, ordered{p, first})
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].first < files[j].first })
	w := chain{prev: Genesis, pruned: map[uint64]string{}, anchor: anchor}
	for i, f := range files {
		w.allowStart = i == 0
		fh, err := os.Open(f.path)
		if err != nil {
			return Summary{}, fmt.Errorf("verify audit log: %w", err)
		}
		err = w.file(f.path, fh)
		fh.Close()
		if err != nil {
			return Summary{}, err
		}
	}
	first := ""
	if len(files) > 0 {
		first = files[0].path
	}
	s, err := w.finish(first, anchor)
	s.Files = len(files)
	return s, err
}

// firstSeq returns the seq of the first record of the file at path, or the
// largest seq for an empty file (it sorts last: a new current file).
func firstSeq(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("verify audit log: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadBytes('\n')
	if len(line) == 0 && err == io.EOF {
		return ^uint64(0), nil
	}
	var r struct {
		Seq uint64 `json:"seq"`
	}
	if json.Unmarshal(line, &r) != nil {
		return 0, nil // sorts first; the chain check names the line
	}
	return r.Seq, nil
}

// chain walks records in order.
type chain struct {
	seq        uint64
	prev       string
	records    int
	allowStart bool              // the next record may start the chain after record 1
	started    bool              // a record has been seen
	first      uint64            // seq of the first record seen
	firstPrev  string            // its prev
	pruned     map[uint64]string // log_pruned: through -> hash
	anchor     *Head
	lastFile   string // the file read last
	lastLines  int    // its lines
}

func (w *chain) file(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	w.lastFile = name
	defer func() { w.lastLines = n }()
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			n++
			if b[len(b)-1] != '\n' {
				return &TamperError{File: name, Line: n, Reason: "partial record (no newline at the end)"}
			}
			line := b[:len(b)-1]
			if err := w.record(name, n, line); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read audit log: %w", err)
		}
	}
}

func (w *chain) record(name string, n int, line []byte) error {
	if !w.started && w.allowStart {
		// The first record of a set of files may start after record 1: its
		// seq and prev are taken as given here and justified in finish.
		var r struct {
			Seq  uint64 `json:"seq"`
			Prev string `json:"prev"`
		}
		if json.Unmarshal(line, &r) == nil && r.Seq > 1 {
			w.seq, w.prev = r.Seq-1, r.Prev
		}
	}
	if !w.started {
		w.started = true
		w.first, w.firstPrev = w.seq+1, w.prev
	}
	if reason := checkLine(line, w.seq+1, w.prev); reason != "" {
		if n == 1 && name != "" && w.records > 0 {
			reason += fmt.Sprintf("; the file before ends at record %d: a file or records between them are missing", w.seq)
		}
		return &TamperError{File: name, Line: n, Reason: reason}
	}
	w.seq++
	w.records++
	w.prev = digest.SHA256Hex(line)
	if w.anchor != nil && w.seq == w.anchor.Seq && w.prev != w.anchor.Hash {
		return &TamperError{File: name, Line: n, Reason: fmt.Sprintf("record %d has hash %s, the anchor says %s", w.seq, short(w.prev), short(w.anchor.Hash))}
	}
	if w.pruned != nil && json.Valid(line) {
		var r struct {
			Type    string `json:"type"`
			Through uint64 `json:"through"`
			SHA256  string `json:"sha256"`
		}
		if json.Unmarshal(line, &r) == nil && r.Type == TypeLogPruned {
			w.pruned[r.Through] = r.SHA256
		}
	}
	return nil
}

func (w *chain) finish(first string, anchor *Head) (Summary, error) {
	if w.started && w.first > 1 {
		if h, ok := w.pruned[w.first-1]; !ok || h != w.firstPrev {
			return Summary{}, &TamperError{File: first, Line: 1, Reason: fmt.Sprintf(
				"the log starts at record %d and no log_pruned record accounts for records 1 to %d: a file was removed", w.first, w.first-1)}
		}
	}
	s := Summary{Records: w.records, First: w.first, Head: Head{Seq: w.seq, Hash: w.prev}}
	if !w.started {
		s.First = 0
	}
	if anchor != nil {
		if w.seq < anchor.Seq {
			return Summary{}, &TamperError{File: w.lastFile, Line: w.lastLines + 1, Reason: fmt.Sprintf("log ends at record %d but the anchor names record %d: the tail was truncated", w.seq, anchor.Seq)}
		}
	}
	return s, nil
}

// checkLine returns why line is not record number seq following prev, or "".
func checkLine(line []byte, seq uint64, prev string) string {
	var r struct {
		Seq  *uint64 `json:"seq"`
		Time *string `json:"time"`
		Prev *string `json:"prev"`
		Type *string `json:"type"`
	}
	if !json.Valid(line) {
		return "not valid JSON"
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return "not an audit record: " + err.Error()
	}
	switch {
	case r.Seq == nil || r.Time == nil || r.Prev == nil || r.Type == nil:
		return "missing seq, time, prev or type"
	case *r.Prev != prev:
		return fmt.Sprintf("prev %s does not match the hash of the line before (%s): that line was changed, removed or inserted", short(*r.Prev), short(prev))
	case *r.Seq != seq:
		return fmt.Sprintf("seq %d, want %d", *r.Seq, seq)
	}
	if _, err := time.Parse(time.RFC3339Nano, *r.Time); err != nil {
		return fmt.Sprintf("time %q is not RFC 3339", *r.Time)
	}
	return ""
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "..."
	}
	return strings.ToValidUTF8(h, "?")
}

// LogFiles returns the files of the log at path, oldest first: its rotated
// files (PATH.NNNNNNNNNNNNNNNNNNNN) and path itself when it exists.
func LogFiles(path string) ([]string, error) {
	rot, err := rotatedFiles(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rot)+1)
	for _, r := range rot {
		out = append(out, r.path)
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return out, nil
}

// LogInDir returns the path of the one log kept in dir: the file whose
// PATH.head sidecar is there, or the base name of the rotated files there.
// More than one log, or none, is an error.
func LogInDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("list audit directory: %w", err)
	}
	bases := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if b, ok := strings.CutSuffix(name, ".head"); ok && e.Type().IsRegular() {
			bases[b] = true
			continue
		}
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if _, ok := rotatedSeq(name, name[:i]); ok {
				bases[name[:i]] = true
			}
		}
	}
	if len(bases) != 1 {
		names := make([]string, 0, len(bases))
		for b := range bases {
			names = append(names, b)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return "", fmt.Errorf("%s: no audit log here (no FILE.head and no rotated FILE.NNNNNNNNNNNNNNNNNNNN)", dir)
		}
		return "", fmt.Errorf("%s: holds %d audit logs (%s): name the files", dir, len(names), strings.Join(names, ", "))
	}
	var base string
	for b := range bases {
		base = b
	}
	return filepath.Join(dir, base), nil
}
