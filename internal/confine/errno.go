//go:build linux

package confine

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// escapeMessage is the text of os.Root's unexported error for a name or a
// symbolic link that would leave the root. TestEscapeIsEPERM pins it, so a
// Go release that changes it fails the tests instead of weakening the Errno.
const escapeMessage = "path escapes from parent"

// underlying strips the os wrappers from err.
func underlying(err error) error {
	for {
		switch e := err.(type) {
		case *os.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}

// toErrno maps an error from os.Root or a system call to an Errno. An
// attempt to leave the root is EPERM. Errors that are neither system call
// errors nor well-known os errors become EIO; none of them grants access.
func toErrno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	err = underlying(err)
	var e experimentalsys.Errno
	if errors.As(err, &e) {
		return e
	}
	switch err {
	case io.EOF:
		return 0
	case syscall.EXDEV: // a rename or link across file systems
		return experimentalsys.EPERM
	case syscall.EOPNOTSUPP:
		return experimentalsys.ENOTSUP
	case syscall.EBUSY:
		return experimentalsys.EPERM
	case syscall.EMLINK:
		return experimentalsys.EPERM
	case syscall.EDQUOT, syscall.ENOSPC, syscall.EFBIG:
		return experimentalsys.EIO
	}
	if _, ok := err.(syscall.Errno); ok {
		return experimentalsys.UnwrapOSError(err)
	}
	if err.Error() == escapeMessage {
		return experimentalsys.EPERM
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return experimentalsys.ENOENT
	case errors.Is(err, fs.ErrExist):
		return experimentalsys.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return experimentalsys.EPERM
	case errors.Is(err, fs.ErrClosed):
		return experimentalsys.EBADF
	case errors.Is(err, fs.ErrInvalid):
		return experimentalsys.EINVAL
	}
	return experimentalsys.EIO
}
