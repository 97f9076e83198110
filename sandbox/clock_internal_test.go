package sandbox

import (
	"testing"
	"time"
)

// The fixed clocks read as wazero's own fixed clocks do (wall clock from
// 2022-01-01T00:00:00Z, monotonic from 0, 1 ms per reading), and a run
// state's reset makes the next run read them from the start again.
func TestFixedClocksPerRun(t *testing.T) {
	var st runState
	for run := range 3 {
		st.resetClocks()
		for i := range 3 {
			sec, nsec := st.fixedWalltime()
			want := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
			if got := time.Unix(sec, int64(nsec)); !got.Equal(want) {
				t.Fatalf("run %d reading %d: walltime %v, want %v", run, i, got.UTC(), want)
			}
			if got := st.fixedNanotime(); got != int64(i)*int64(time.Millisecond) {
				t.Fatalf("run %d reading %d: nanotime %d, want %d", run, i, got, int64(i)*int64(time.Millisecond))
			}
		}
	}
}
