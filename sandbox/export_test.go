package sandbox

// SetFuelSlice changes how much fuel one refuel hands out, for tests that
// prove the budget is exact whatever the slice.
func SetFuelSlice(r *Runtime, n int64) { r.fuelSlice = n }
