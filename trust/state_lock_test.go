package trust

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stateHelperEnv makes the test binary a helper process that admits one
// module version into a state file (see TestStateLockProcesses).
const stateHelperEnv = "WASMWARD_TEST_STATE_HELPER"

// TestStateLockHelper is not a test: it is the body of the helper processes.
func TestStateLockHelper(t *testing.T) {
	spec := os.Getenv(stateHelperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	// PATH|MODULE|VERSION|START (unix nanoseconds to wait for, so that all
	// helpers race for the file at the same moment)
	parts := strings.Split(spec, "|")
	start, _ := strconv.ParseInt(parts[3], 10, 64)
	time.Sleep(time.Until(time.Unix(0, start)))
	s, err := OpenState(parts[0])
	if err == nil {
		err = s.Admit(context.Background(), parts[1], parts[2], false)
	}
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(3)
	}
	fmt.Println("admitted")
}

// Several processes sharing one state file lose no update: every module a
// process admitted is in the file at the end, at the highest version
// admitted. Without the lock, processes that read the same old file each
// wrote it back with only their own module (7 of 30 trials lost one).
func TestStateLockProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	type job struct{ module, version string }
	var jobs []job
	for i := range 12 {
		jobs = append(jobs, job{fmt.Sprintf("m%d", i), "1.0.0"}) // one module per process
	}
	for v := 1; v <= 12; v++ {
		jobs = append(jobs, job{"shared", fmt.Sprintf("2.%d.0", v)}) // one module, racing versions
	}
	start := time.Now().Add(time.Second).UnixNano()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted = map[string][]string{}
	)
	for _, j := range jobs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestStateLockHelper$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%s|%d", stateHelperEnv, path, j.module, j.version, start))
			out, err := cmd.Output()
			mu.Lock()
			defer mu.Unlock()
			if err == nil && strings.Contains(string(out), "admitted") {
				admitted[j.module] = append(admitted[j.module], j.version)
			} else if !strings.Contains(string(out), "refused (rollback)") {
				t.Errorf("%s %s: %v: %s", j.module, j.version, err, out)
			}
		})
	}
	wg.Wait()
	s, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	for m, vs := range admitted {
		highest := vs[0]
		for _, v := range vs {
			a, _ := ParseVersion(v)
			h, _ := ParseVersion(highest)
			if a.Compare(h) > 0 {
				highest = v
			}
		}
		if got, _ := s.Accepted(m); got != highest {
			t.Errorf("module %s: state says %q, but %s was admitted (admitted: %v)", m, got, highest, vs)
		}
	}
	if len(admitted) != 13 {
		t.Errorf("%d modules admitted, want 13: %v", len(admitted), admitted)
	}
	if !slices.Contains(admitted["shared"], "2.12.0") {
		t.Errorf("the highest version of shared was refused: %v", admitted["shared"])
	}
}
