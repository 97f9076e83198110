package scan

import (
	"fmt"
	"sort"
	"strings"
)

// Severity orders findings. The zero value is Info.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns "info", "low", "medium", "high" or "critical".
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity parses a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: want info, low, medium, high or critical", s)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Location points into the module. Offset is a byte offset in the file
// (-1 when the finding is about the module as a whole); Function is -1 when
// no function is concerned.
type Location struct {
	Section      string `json:"section,omitempty"`
	Offset       int    `json:"offset"`
	Length       int    `json:"length,omitempty"`
	Function     int64  `json:"function"`
	FunctionName string `json:"functionName,omitempty"`
	// Label says what a related location is (e.g. the import's name).
	Label string `json:"label,omitempty"`
}

// Finding is one result of one rule.
type Finding struct {
	RuleID   string   `json:"ruleId"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Location Location `json:"location"`
	// Related are further places the finding covers (each import of a
	// grouped WW101); SARIF writes them as relatedLocations.
	Related     []Location `json:"related,omitempty"`
	Remediation string     `json:"remediation"`
}

// Result is the scan of one module.
type Result struct {
	// Artifact is the module's path or name as given to Scan.
	Artifact string `json:"artifact"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
	// Findings are ordered by severity (highest first), then offset, then rule.
	Findings []Finding `json:"findings"`
	// Capabilities summarise the WASI imports ("filesystem-read", "clocks", ...).
	Capabilities []string `json:"capabilities"`
}

// Max returns the highest severity among the findings, and false when
// there are none.
func (r *Result) Max() (Severity, bool) {
	if len(r.Findings) == 0 {
		return 0, false
	}
	m := r.Findings[0].Severity
	for _, f := range r.Findings[1:] {
		if f.Severity > m {
			m = f.Severity
		}
	}
	return m, true
}

// AtLeast reports whether any finding has severity s or higher.
func (r *Result) AtLeast(s Severity) bool {
	m, ok := r.Max()
	return ok && m >= s
}

// Blocking returns, when a finding has severity s or higher, one line
// naming the first such finding (rule and message) and how many more there
// are; "" when none does. It is what a gate that refuses modules at a
// severity (serve's scan_fail_on, events --scan-fail-on) reports.
func (r *Result) Blocking(s Severity) string {
	var first string
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= s {
			if n == 0 {
				first = f.RuleID + " " + f.Message
			}
			n++
		}
	}
	if n > 1 {
		first += fmt.Sprintf(" (and %d more)", n-1)
	}
	return first
}

// Add appends findings made outside Scan (check's signature, benchmark and
// fuzzing results, under the rules WW8xx) and keeps the order Scan
// guarantees: severity (highest first), then offset, then rule.
func (r *Result) Add(fs ...Finding) {
	r.Findings = append(r.Findings, fs...)
	sortFindings(r.Findings)
}

func sortFindings(f []Finding) {
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Severity != f[j].Severity {
			return f[i].Severity > f[j].Severity
		}
		if f[i].Location.Offset != f[j].Location.Offset {
			return f[i].Location.Offset < f[j].Location.Offset
		}
		return f[i].RuleID < f[j].RuleID
	})
}
