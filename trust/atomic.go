package trust

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/wasmward/wasmward/internal/atomicfile"
)

// writeFileAtomic replaces path with data atomically.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}

// writeFileNew writes data to path, which must not exist yet (see
// atomicfile.WriteNew: the check and the write are one step).
func writeFileNew(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteNew(path, data, perm)
}

// WriteFile writes data to path atomically (temporary file, fsync, rename)
// with permissions perm. The CLI uses it for every file it produces.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := writeFileAtomic(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
