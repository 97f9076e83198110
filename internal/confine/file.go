//go:build linux

package confine

import (
	"io"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// file is an experimentalsys.File over a descriptor opened beneath the root.
// It never reopens anything by path: append mode is toggled with fcntl and a
// directory is rewound with lseek, so nothing it does can resolve a name.
type file struct {
	seeker[int64] // Seek

	f        *os.File
	dev      uint64
	ino      sys.Inode
	isDir    bool
	append   bool
	nonblock bool
	readOnly bool // the mount is read-only
	closed   bool
}

func newFile(f *os.File, fi fs.FileInfo, flag experimentalsys.Oflag, readOnly bool) *file {
	st := sys.NewStat_t(fi)
	ff := &file{
		f:        f,
		dev:      st.Dev,
		ino:      st.Ino,
		isDir:    fi.IsDir(),
		append:   flag&experimentalsys.O_APPEND != 0,
		nonblock: flag&experimentalsys.O_NONBLOCK != 0,
		readOnly: readOnly,
	}
	ff.seeker.f = ff
	return ff
}

var _ experimentalsys.PollableFile = (*file)(nil)

// seeker carries File.Seek. The offset type is a type parameter only so that
// go vet's stdmethods check, which expects io.Seeker's (int64, error) result,
// does not apply to wazero's interface, whose Seek returns an Errno (wazero's
// own sysfs package fails go vet for this reason).
type seeker[O ~int64] struct{ f *file }

// Seek implements experimentalsys.File.Seek.
func (s seeker[O]) Seek(offset O, whence int) (O, experimentalsys.Errno) {
	n, errno := s.f.seek(int64(offset), whence)
	return O(n), errno
}

// Dev implements experimentalsys.File.Dev.
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	return f.dev, 0
}

// Ino implements experimentalsys.File.Ino.
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	return f.ino, 0
}

// IsDir implements experimentalsys.File.IsDir.
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	if f.closed {
		return false, experimentalsys.EBADF
	}
	return f.isDir, 0
}

// IsAppend implements experimentalsys.File.IsAppend.
func (f *file) IsAppend() bool { return f.append }

// SetAppend implements experimentalsys.File.SetAppend with fcntl(F_SETFL).
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.isDir:
		return experimentalsys.EISDIR
	}
	errno := withFd(f.f, func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if enable {
			fl |= unix.O_APPEND
		} else {
			fl &^= unix.O_APPEND
		}
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
		return err
	})
	if errno == 0 {
		f.append = enable
	}
	return errno
}

// IsNonblock implements experimentalsys.PollableFile.IsNonblock.
func (f *file) IsNonblock() bool { return f.nonblock }

// SetNonblock implements experimentalsys.PollableFile.SetNonblock. Regular
// files and directories ignore the flag; it is kept for fd_fdstat_get.
func (f *file) SetNonblock(enable bool) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	errno := withFd(f.f, func(fd int) error { return unix.SetNonblock(fd, enable) })
	if errno == 0 {
		f.nonblock = enable
	}
	return errno
}

// Poll implements experimentalsys.Pollable. Only regular files and
// directories are opened, and those are always ready.
func (f *file) Poll(experimentalsys.Pflag, int32) (bool, experimentalsys.Errno) {
	if f.closed {
		return false, experimentalsys.EBADF
	}
	return true, 0
}

// Stat implements experimentalsys.File.Stat.
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Read implements experimentalsys.File.Read.
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	switch {
	case f.closed:
		return 0, experimentalsys.EBADF
	case f.isDir:
		return 0, experimentalsys.EISDIR
	case len(buf) == 0:
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, f.ioErrno(err)
}

// Pread implements experimentalsys.File.Pread.
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	switch {
	case f.closed:
		return 0, experimentalsys.EBADF
	case f.isDir:
		return 0, experimentalsys.EISDIR
	case off < 0:
		return 0, experimentalsys.EINVAL
	case len(buf) == 0:
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, f.ioErrno(err)
}

// seek implements experimentalsys.File.Seek. A directory can only be rewound
// to offset zero, which restarts Readdir.
func (f *file) seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	switch {
	case f.closed:
		return 0, experimentalsys.EBADF
	case whence < io.SeekStart || whence > io.SeekEnd:
		return 0, experimentalsys.EINVAL
	case f.isDir && (offset != 0 || whence != io.SeekStart):
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Seek(offset, whence)
	return n, f.ioErrno(err)
}

// Readdir implements experimentalsys.File.Readdir. Entries come from
// getdents on this descriptor and are described with fstatat relative to it
// (os.File does both), never by a host path.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	switch {
	case f.closed:
		return nil, experimentalsys.EBADF
	case !f.isDir:
		return nil, experimentalsys.EBADF
	}
	fis, err := f.f.Readdir(n)
	if err != nil && err != io.EOF {
		errno := toErrno(err)
		if errno == experimentalsys.EINVAL || errno == experimentalsys.ENOTDIR {
			errno = experimentalsys.EBADF
		}
		return nil, errno
	}
	dirents := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		var ino sys.Inode
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		dirents = append(dirents, experimentalsys.Dirent{Name: fi.Name(), Ino: ino, Type: fi.Mode().Type()})
	}
	return dirents, 0
}

// Write implements experimentalsys.File.Write.
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	switch {
	case f.closed, f.readOnly: // every descriptor on a read-only mount is read-only
		return 0, experimentalsys.EBADF
	case f.isDir:
		return 0, experimentalsys.EISDIR
	case len(buf) == 0:
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, f.ioErrno(err)
}

// Pwrite implements experimentalsys.File.Pwrite with pwrite(2) on the
// descriptor (os.File refuses WriteAt in append mode; the kernel does not).
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	switch {
	case f.closed:
		return 0, experimentalsys.EBADF
	case f.isDir:
		return 0, experimentalsys.EISDIR
	case f.readOnly:
		return 0, experimentalsys.EBADF
	case off < 0:
		return 0, experimentalsys.EINVAL
	case len(buf) == 0:
		return 0, 0
	}
	total := 0
	errno := withFd(f.f, func(fd int) error {
		for total < len(buf) {
			n, err := unix.Pwrite(fd, buf[total:], off+int64(total))
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n == 0 {
				return syscall.EIO
			}
			total += n
		}
		return nil
	})
	return total, errno
}

// Truncate implements experimentalsys.File.Truncate.
func (f *file) Truncate(size int64) experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.isDir:
		return experimentalsys.EISDIR
	case f.readOnly:
		return experimentalsys.EBADF
	case size < 0:
		return experimentalsys.EINVAL
	}
	return f.ioErrno(f.f.Truncate(size))
}

// Sync implements experimentalsys.File.Sync.
func (f *file) Sync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return f.ioErrno(f.f.Sync())
}

// Datasync implements experimentalsys.File.Datasync.
func (f *file) Datasync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return withFd(f.f, func(fd int) error { return unix.Fdatasync(fd) })
}

// Utimens implements experimentalsys.File.Utimens with futimens(2).
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed || f.readOnly { // futimens would work on a read-only descriptor
		return experimentalsys.EBADF
	}
	ts := [2]unix.Timespec{toTimespec(atim), toTimespec(mtim)}
	return withFd(f.f, func(fd int) error {
		// utimensat(fd, NULL, ts, 0) is futimens: it acts on the descriptor.
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

func toTimespec(ns int64) unix.Timespec {
	if ns == experimentalsys.UTIME_OMIT {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(ns)
}

// Close implements experimentalsys.File.Close. Closing twice is not an error.
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return toErrno(f.f.Close())
}

// ioErrno maps an I/O error; io.EOF is not an error in this interface.
func (f *file) ioErrno(err error) experimentalsys.Errno {
	if err == nil || err == io.EOF {
		return 0
	}
	errno := toErrno(err)
	if errno == experimentalsys.EBADF && f.isDir {
		return experimentalsys.EISDIR
	}
	return errno
}
