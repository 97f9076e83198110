package sandbox

import "syscall"

// mapNoReserve: do not account the reservation against swap (overcommit).
const mapNoReserve = syscall.MAP_NORESERVE
