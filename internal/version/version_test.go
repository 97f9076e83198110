package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	base := Info{Version: "devel", Go: "go0", Platform: "linux/amd64"}
	tests := []struct {
		name      string
		bi        debug.BuildInfo
		want      Info
		wantShort string
	}{
		{
			name:      "source build",
			bi:        debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want:      Info{Version: "devel", Go: "go1.26.8", Platform: "linux/amd64"},
			wantShort: "wasmward devel (go1.26.8, linux/amd64)",
		},
		{
			name: "release with vcs",
			bi: debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Version: "v0.3.0"},
				Deps:      []*debug.Module{{Path: "github.com/tetratelabs/wazero", Version: "v1.12.0"}},
				Settings: []debug.BuildSetting{
					{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-30T00:00:00Z"}, {Key: "vcs.modified", Value: "true"},
				},
			},
			want:      Info{Version: "v0.3.0", Go: "go1.26.8", Wazero: "v1.12.0", Revision: "abc123", Time: "2026-11-30T00:00:00Z", Modified: true, Platform: "linux/amd64"},
			wantShort: "wasmward v0.3.0 (wazero v1.12.0, go1.26.8, linux/amd64)",
		},
		{
			name: "replaced wazero",
			bi: debug.BuildInfo{
				Main: debug.Module{Version: "v1.0.0"},
				Deps: []*debug.Module{{Path: "github.com/tetratelabs/wazero", Version: "v1.12.0", Replace: &debug.Module{Version: "v1.12.1-fork"}}},
			},
			want:      Info{Version: "v1.0.0", Go: "go0", Wazero: "v1.12.1-fork (replaced)", Platform: "linux/amd64"},
			wantShort: "wasmward v1.0.0 (wazero v1.12.1-fork (replaced), go0, linux/amd64)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(base, &tt.bi)
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.wantShort {
				t.Errorf("String() = %q, want %q", s, tt.wantShort)
			}
		})
	}
}

func TestReadRunningBinary(t *testing.T) {
	i := Read()
	// This test binary does not link wazero (the CLI's test checks that);
	// everything else comes from the running binary.
	if !strings.HasPrefix(i.Go, "go") || i.Platform == "" || i.Version == "" {
		t.Fatalf("Read() = %+v: want version, go and platform filled in", i)
	}
	if !strings.Contains(i.Long(), "wazero: unknown\n") {
		t.Errorf("Long() = %q", i.Long())
	}
}
