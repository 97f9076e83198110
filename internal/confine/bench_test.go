//go:build linux

package confine

import (
	"os"
	"path/filepath"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// BenchmarkOpenReadClose compares a confined open+read+close of a file three
// directories deep with wazero's own (unconfined) directory mount.
func BenchmarkOpenReadClose(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b", "c"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "c", "f.txt"), []byte("hello"), 0o644); err != nil {
		b.Fatal(err)
	}
	confined, err := New(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	defer confined.(*FS).Close()
	plain := sysfs.DirFS(dir)
	for _, bc := range []struct {
		name string
		fs   experimentalsys.FS
	}{{"confine", confined}, {"wazero-dirfs", plain}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 16)
			for b.Loop() {
				f, errno := bc.fs.OpenFile("a/b/c/f.txt", experimentalsys.O_RDONLY, 0)
				if errno != 0 {
					b.Fatal(errno)
				}
				if _, errno := f.Read(buf); errno != 0 {
					b.Fatal(errno)
				}
				_ = f.Close()
			}
		})
	}
}
