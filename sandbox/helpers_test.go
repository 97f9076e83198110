package sandbox_test

import (
	"testing"

	"github.com/wasmward/wasmward/internal/fixture"
	"io"
	"strconv"
)

func strconvItoa(n int64) string { return strconv.FormatInt(n, 10) }

func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

func fixtureBytes(t testing.TB, name string) []byte { return fixture.Bytes(t, name) }
