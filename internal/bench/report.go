package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes r as a table, one measure per row.
func WriteText(w io.Writer, name string, r *Result) error {
	fmt.Fprintf(w, "%s (sha256 %s)\n", name, r.SHA256)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tn\tmin\tmedian\tp90\tp99\tmax\tspread\t")
	row := func(label string, s Stats, unit string, scale float64, format string) {
		f := func(v float64) string { return fmt.Sprintf(format, v/scale) }
		fmt.Fprintf(tw, "%s (%s)\t%d\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t\n", label, unit, s.N, f(s.Min), f(s.Median), f(s.P90), f(s.P99), f(s.Max), 100*s.Spread)
	}
	row("compile", r.Compile, "ms", 1, "%.3f")
	row("instantiate", r.Instantiate, "ms", 1, "%.3f")
	row("run", r.Run, "ms", 1, "%.3f")
	row("total", r.Total, "ms", 1, "%.3f")
	row("fuel", r.Fuel, "units", 1, "%.0f")
	row("peak memory", r.PeakMemory, "KiB", 1024, "%.0f")
	return tw.Flush()
}

// WriteComparison writes both tables and the ratio line.
func WriteComparison(w io.Writer, candidate, baseline string, c *Comparison) error {
	if err := WriteText(w, candidate, c.Candidate); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := WriteText(w, baseline, c.Baseline); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s / %s: median total time x%.3f (95%% CI %.3f .. %.3f), fuel x%.3f\n",
		candidate, baseline, c.Ratio, c.Low, c.High, c.FuelRatio)
	return err
}
