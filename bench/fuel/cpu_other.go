//go:build !linux

package main

import "time"

// processCPU is not available here: the benchmark falls back to wall time.
func processCPU() (time.Duration, bool) { return 0, false }
