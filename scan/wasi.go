package scan

import (
	"slices"
	"sort"
	"strings"

	"github.com/wasmward/wasmward/internal/wasm"
)

// WASI capabilities reported by WW102 and in Result.Capabilities.
const (
	CapFilesystemRead  = "filesystem-read"
	CapFilesystemWrite = "filesystem-write"
	CapSockets         = "sockets"
	CapClocks          = "clocks"
	CapRandom          = "randomness"
	CapExit            = "process-exit"
	CapEnvironment     = "environment"
)

// capOrder fixes the order of capabilities in results.
var capOrder = []string{CapFilesystemRead, CapFilesystemWrite, CapSockets, CapClocks, CapRandom, CapExit, CapEnvironment}

// wasiCaps maps WASI preview1 functions to the capability they give. The
// fd_read/fd_write/fd_close family is not listed: every program uses it for
// stdio, and without a preopened directory (path_open) it reaches nothing
// else.
var wasiCaps = map[string]string{
	"path_open": CapFilesystemRead, "path_readlink": CapFilesystemRead, "path_filestat_get": CapFilesystemRead,
	"fd_readdir": CapFilesystemRead, "fd_prestat_get": CapFilesystemRead, "fd_prestat_dir_name": CapFilesystemRead,
	"fd_pread": CapFilesystemRead,

	"path_create_directory": CapFilesystemWrite, "path_remove_directory": CapFilesystemWrite,
	"path_rename": CapFilesystemWrite, "path_unlink_file": CapFilesystemWrite, "path_symlink": CapFilesystemWrite,
	"path_link": CapFilesystemWrite, "path_filestat_set_times": CapFilesystemWrite, "fd_pwrite": CapFilesystemWrite,
	"fd_allocate": CapFilesystemWrite, "fd_filestat_set_size": CapFilesystemWrite,
	"fd_filestat_set_times": CapFilesystemWrite, "fd_datasync": CapFilesystemWrite, "fd_sync": CapFilesystemWrite,

	"sock_accept": CapSockets, "sock_recv": CapSockets, "sock_send": CapSockets, "sock_shutdown": CapSockets,
	"sock_open": CapSockets, "sock_connect": CapSockets, "sock_bind": CapSockets, "sock_listen": CapSockets,

	"clock_time_get": CapClocks, "clock_res_get": CapClocks, "poll_oneoff": CapClocks,

	"random_get": CapRandom,

	"proc_exit": CapExit, "proc_raise": CapExit,

	"environ_get": CapEnvironment, "environ_sizes_get": CapEnvironment,
	"args_get": CapEnvironment, "args_sizes_get": CapEnvironment,
}

// isWASI reports whether an import module name is WASI preview 1 (or its
// pre-release name).
func isWASI(module string) bool {
	return module == "wasi_snapshot_preview1" || module == "wasi_unstable"
}

// capabilities summarises the WASI function imports as capabilities.
func (s *scanner) capabilities() {
	type capInfo struct {
		funcs []string
		off   int
	}
	found := map[string]*capInfo{}
	for _, im := range s.m.Imports {
		if im.Kind != wasm.ExternFunc || !isWASI(im.Module) {
			continue
		}
		c, ok := wasiCaps[im.Name]
		if !ok {
			continue
		}
		ci := found[c]
		if ci == nil {
			ci = &capInfo{off: im.Offset}
			found[c] = ci
		}
		if !slices.Contains(ci.funcs, im.Name) { // Go imports random_get twice
			ci.funcs = append(ci.funcs, im.Name)
		}
	}
	for _, c := range capOrder {
		ci := found[c]
		if ci == nil {
			continue
		}
		sort.Strings(ci.funcs)
		s.caps = append(s.caps, c)
		s.add(RuleWASICapability, Info, Location{Section: "import", Offset: ci.off, Function: -1},
			"Capability %s: imports %s.", c, strings.Join(ci.funcs, ", "))
	}
}
