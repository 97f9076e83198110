//go:build linux

// Package confine provides a filesystem for wazero guests that cannot reach
// outside the host directory it was created on.
//
// Confinement is by construction, not by checking paths: every name a guest
// passes is resolved beneath one directory file descriptor by os.Root, which
// walks the name one component at a time with openat(O_NOFOLLOW), follows a
// symbolic link only when its target stays beneath the root, refuses absolute
// link targets and ".." that climbs above the root, and never reopens a path
// from the host's namespace. Operations on a final name component (unlink,
// rmdir, rename, link) are issued as *at system calls on a parent directory
// descriptor obtained the same way, with a single component that contains no
// slash, so the kernel never resolves anything the root did not resolve.
//
// See docs/filesystem.md for the decisions, what was rejected and what the
// operator remains responsible for.
package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"
)

// FS is a confined experimentalsys.FS over one host directory. It is safe for
// concurrent use by any number of module instances. Create it once per mount
// and reuse it; Close releases the directory descriptor it holds.
//
// Every failure is reported as an experimentalsys.Errno; a name that would
// leave the mount (through ".." or a symbolic link whose target is absolute
// or climbs above the mount) fails with EPERM, and every write on a
// read-only FS is refused before any system call is made (see New). A
// leading slash names the mount's root, as in wazero's DirFS.
type FS struct {
	experimentalsys.UnimplementedFS

	root     *os.Root
	hostDir  string
	readOnly bool
	maxWalk  int // maxMoveWalk; lowered by tests
}

// New opens hostDir and returns a filesystem confined to it, for mounting with
// sysfs.FSConfig.WithSysFSMount. When readOnly is true every operation that
// could modify the tree fails before any system call: opens for writing,
// creating or truncating, mkdir, rmdir, unlink, rename, link, symlink, chmod
// and utimens with EROFS; the write, pwrite, truncate and utimens methods of
// opened files (all read-only descriptors) with EBADF, as wazero's read-only
// mounts do.
//
// The returned value is a *FS; callers that need to release the directory
// descriptor before the garbage collector does may close it through
// io.Closer. New fails when hostDir is empty, does not exist or is not a
// directory.
func New(hostDir string, readOnly bool) (experimentalsys.FS, error) {
	if hostDir == "" {
		return nil, fmt.Errorf("open mount: empty host directory")
	}
	abs, err := filepath.Abs(hostDir)
	if err != nil {
		return nil, fmt.Errorf("open mount %q: %w", hostDir, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open mount %q: %w", hostDir, err)
	}
	fi, err := root.Stat(".")
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("open mount %q: %w", hostDir, err)
	}
	if !fi.IsDir() {
		_ = root.Close()
		return nil, fmt.Errorf("open mount %q: not a directory", hostDir)
	}
	return &FS{root: root, hostDir: abs, readOnly: readOnly, maxWalk: maxMoveWalk}, nil
}

// Close releases the directory descriptor. Files already opened stay usable;
// later calls on the FS fail with EBADF.
func (f *FS) Close() error { return f.root.Close() }

// ReadOnly reports whether every write operation is refused.
func (f *FS) ReadOnly() bool { return f.readOnly }

// String returns the host directory, for diagnostics.
func (f *FS) String() string {
	if f.readOnly {
		return f.hostDir + " (read-only)"
	}
	return f.hostDir
}

// writable is clean for an operation that writes: on a read-only mount it
// refuses with EROFS before looking at the name.
func (f *FS) writable(p string) (name string, slash bool, errno experimentalsys.Errno) {
	if f.readOnly {
		return "", false, experimentalsys.EROFS
	}
	return clean(p)
}

// clean turns a guest name into a name relative to the root. It refuses
// names that leave the root lexically (EPERM, as wazero does for "..") and
// names containing NUL (EINVAL). The result has no trailing slash; slash
// reports whether the input had one.
//
// Leading slashes name the root itself, as in wazero's own DirFS: wazero
// passes a name relative to a directory descriptor the guest opened as that
// descriptor's name, a slash and the guest's relative name, and a descriptor
// opened on the mount's root has the empty name ("/x" for "x" in the root).
// A guest's own absolute paths never get here: wasi-libc resolves them
// against the preopens and wazero refuses any absolute name it is passed.
func clean(p string) (name string, slash bool, errno experimentalsys.Errno) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", false, experimentalsys.EINVAL
	}
	p = strings.TrimLeft(p, "/")
	switch p {
	case "", ".":
		return ".", false, 0
	}
	slash = strings.HasSuffix(p, "/")
	name = path.Clean(p)
	if !fs.ValidPath(name) {
		return "", false, experimentalsys.EPERM
	}
	return name, slash && name != ".", 0
}

// withSlash restores a trailing slash so os.Root applies POSIX trailing-slash
// rules (the name must be a directory, a final symlink is resolved).
func withSlash(name string, slash bool) string {
	if slash {
		return name + "/"
	}
	return name
}

// OpenFile implements experimentalsys.FS.OpenFile. Symbolic links are
// followed only while they stay beneath the root; O_NOFOLLOW makes a final
// symbolic link fail with ELOOP. Only regular files and directories can be
// opened: device nodes, FIFOs and sockets fail with EACCES, and they are
// opened non-blocking so that a FIFO cannot stall the host.
func (f *FS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name, slash, errno := clean(p)
	if errno != 0 {
		return nil, errno
	}
	access := flag & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY)
	// O_APPEND alone writes nothing: a read-only descriptor opened with it
	// cannot write (wazero's read-only mounts accept it too).
	writes := access != experimentalsys.O_RDONLY ||
		flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC) != 0
	if writes && f.readOnly {
		return nil, experimentalsys.EROFS
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && flag&experimentalsys.O_CREAT != 0 {
		return nil, experimentalsys.EINVAL
	}
	if slash && flag&experimentalsys.O_CREAT != 0 {
		return nil, experimentalsys.EISDIR // Linux's open(2) and wazero's DirFS
	}

	osflag := syscall.O_CLOEXEC | syscall.O_NONBLOCK
	switch access {
	case experimentalsys.O_RDWR:
		osflag |= os.O_RDWR
	case experimentalsys.O_WRONLY:
		osflag |= os.O_WRONLY
	case experimentalsys.O_RDONLY:
		osflag |= os.O_RDONLY
	default:
		return nil, experimentalsys.EINVAL
	}
	for _, m := range [...]struct {
		from experimentalsys.Oflag
		to   int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_DIRECTORY, syscall.O_DIRECTORY},
		{experimentalsys.O_DSYNC, syscall.O_DSYNC},
		{experimentalsys.O_RSYNC, syscall.O_RSYNC},
		{experimentalsys.O_SYNC, syscall.O_SYNC},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
	} {
		if flag&m.from != 0 {
			osflag |= m.to
		}
	}
	if flag&experimentalsys.O_EXCL != 0 && flag&experimentalsys.O_CREAT != 0 {
		osflag |= os.O_EXCL
	}

	// os.Root follows a final symbolic link (within the root) whatever the
	// flags say, so O_NOFOLLOW is checked here. If the name is swapped for a
	// link between this check and the open, the link is still resolved
	// beneath the root: the race can change which file inside the mount is
	// opened, never whether one outside is.
	if flag&experimentalsys.O_NOFOLLOW != 0 && !slash && name != "." {
		if fi, err := f.root.Lstat(name); err == nil && fi.Mode().Type() == fs.ModeSymlink {
			switch {
			case flag&experimentalsys.O_CREAT != 0 && flag&experimentalsys.O_EXCL != 0:
				return nil, experimentalsys.EEXIST
			case flag&experimentalsys.O_DIRECTORY != 0: // as Linux's open(2)
				return nil, experimentalsys.ENOTDIR
			}
			return nil, experimentalsys.ELOOP
		}
	}

	osf, err := f.root.OpenFile(withSlash(name, slash), osflag, perm.Perm())
	if err != nil {
		if underlying(err) == syscall.ENXIO { // a FIFO without reader or a device
			return nil, experimentalsys.EACCES
		}
		return nil, toErrno(err)
	}
	fi, err := osf.Stat()
	if err != nil {
		_ = osf.Close()
		return nil, toErrno(err)
	}
	switch fi.Mode().Type() {
	case 0, fs.ModeDir:
	default:
		_ = osf.Close()
		return nil, experimentalsys.EACCES
	}
	if flag&experimentalsys.O_NONBLOCK == 0 {
		// Regular files and directories ignore O_NONBLOCK; clearing it keeps
		// the descriptor's flags equal to what the guest asked for.
		if rc, err := osf.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = unix.SetNonblock(int(fd), false) })
		}
	}
	return newFile(osf, fi, flag, f.readOnly), 0
}

// Lstat implements experimentalsys.FS.Lstat. A symbolic link is described
// itself, whatever its target.
func (f *FS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	return statWith(p, f.root.Lstat)
}

// Stat implements experimentalsys.FS.Stat. Symbolic links are followed only
// beneath the root; one that leaves it fails with EPERM.
func (f *FS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	return statWith(p, f.root.Stat)
}

// statWith cleans the guest path p and describes it with stat (the root's
// Stat or Lstat).
func statWith(p string, stat func(string) (fs.FileInfo, error)) (sys.Stat_t, experimentalsys.Errno) {
	name, slash, errno := clean(p)
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	fi, err := stat(withSlash(name, slash))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Mkdir implements experimentalsys.FS.Mkdir.
func (f *FS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	name, _, errno := f.writable(p)
	if errno != 0 {
		return errno
	}
	if name == "." {
		return experimentalsys.EEXIST
	}
	errno = toErrno(f.root.Mkdir(name, perm.Perm()))
	if errno == experimentalsys.ENOTDIR { // a parent is not a directory
		errno = experimentalsys.ENOENT
	}
	return errno
}

// Chmod implements experimentalsys.FS.Chmod. A final symbolic link is
// followed beneath the root.
func (f *FS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	name, slash, errno := f.writable(p)
	if errno != 0 {
		return errno
	}
	return toErrno(f.root.Chmod(withSlash(name, slash), perm.Perm()))
}

// Utimens implements experimentalsys.FS.Utimens. A final symbolic link is
// followed beneath the root.
func (f *FS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	name, slash, errno := f.writable(p)
	if errno != 0 {
		return errno
	}
	return toErrno(f.root.Chtimes(withSlash(name, slash), toTime(atim), toTime(mtim)))
}

// toTime converts wazero's nanoseconds to the time os.Root.Chtimes takes; the
// zero time.Time leaves the timestamp unchanged (UTIME_OMIT).
func toTime(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Readlink implements experimentalsys.FS.Readlink. It returns the stored
// target, which may name a host path; reading it never follows it.
func (f *FS) Readlink(p string) (string, experimentalsys.Errno) {
	name, slash, errno := clean(p)
	if errno != 0 {
		return "", errno
	}
	if name == "." {
		return "", experimentalsys.EINVAL
	}
	if slash { // "l/" names what l resolves to, which is no link
		if _, err := f.root.Stat(name + "/"); err != nil {
			return "", toErrno(err)
		}
		return "", experimentalsys.EINVAL
	}
	dst, err := f.root.Readlink(name)
	if err != nil {
		return "", toErrno(err)
	}
	return dst, 0
}

// Symlink implements experimentalsys.FS.Symlink. The link is created inside
// the root. Its target is refused with EPERM when it is absolute or has a
// ".." component (see climbs): a link the guest creates only ever descends
// from its own directory, so it cannot lead host tools outside wasmward out
// of the mount, wherever it or its directory is later renamed.
func (f *FS) Symlink(target, link string) experimentalsys.Errno {
	name, slash, errno := f.writable(link)
	if errno != 0 {
		return errno
	}
	if name == "." {
		return experimentalsys.EEXIST
	}
	if slash {
		return experimentalsys.ENOENT
	}
	if target == "" {
		return experimentalsys.ENOENT
	}
	if strings.IndexByte(target, 0) >= 0 {
		return experimentalsys.EINVAL
	}
	if path.IsAbs(target) || climbs(target) {
		return experimentalsys.EPERM
	}
	return toErrno(f.root.Symlink(target, name))
}

// climbs reports whether a symbolic link target has a ".." component.
//
// Such a target is refused at creation, and a link that has one (only the
// operator can have put it there) cannot be moved to another directory:
// what ".." names depends on where the link is and on whether the names
// before it are directories or links, which the guest can change after the
// link is checked ("a -> ." makes an earlier "esc -> a/.." name the mount's
// parent). Targets without ".." only ever descend from the link's directory,
// so no link the guest makes can lead a host tool out of the mount, whatever
// the guest renames later. docs/filesystem.md records the choice.
func climbs(target string) bool {
	for target != "" {
		var c string
		c, target, _ = strings.Cut(target, "/")
		if c == ".." {
			return true
		}
	}
	return false
}

// maxMoveWalk bounds the entries read to move a directory to another
// parent (see movesClimbingLink): about 0.1 s of host work. A larger tree
// cannot be moved across directories (EPERM); renames within a directory
// read nothing.
const maxMoveWalk = 100_000

// errClimbing and errMoveTooBig end the walk of movesClimbingLink.
var (
	errClimbing   = errors.New("a symbolic link with .. in its target")
	errMoveTooBig = errors.New("too many entries to check")
)

// movesClimbingLink refuses (EPERM) an operation that would give a symbolic
// link whose target climbs with ".." (only the operator can have made one)
// a different directory, where its target would name something else: the
// entry oldBase in oldfd (its name beneath the root is oldName) when it is
// such a link, or a directory holding one at any depth, when newfd is not
// oldfd's directory. Anything else passes.
func (f *FS) movesClimbingLink(oldfd int, oldBase, oldName string, newfd int) error {
	var od, nd, st unix.Stat_t
	if unix.Fstat(oldfd, &od) == nil && unix.Fstat(newfd, &nd) == nil && od.Dev == nd.Dev && od.Ino == nd.Ino {
		return nil // same directory: every target keeps its meaning
	}
	if err := unix.Fstatat(oldfd, oldBase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil // the operation itself reports a missing name
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		if n, err := unix.Readlinkat(oldfd, oldBase, buf); err == nil && climbs(string(buf[:n])) {
			return syscall.EPERM
		}
	case unix.S_IFDIR:
		// Walked by name beneath the root: resolution stays inside whatever
		// changes meanwhile. No directory holding such a link ever changes
		// parent, so none can arrive in this one between the walk and the
		// rename.
		seen := 0
		err := fs.WalkDir(f.root.FS(), oldName, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if seen++; seen > f.maxWalk {
				return errMoveTooBig
			}
			if d.Type() == fs.ModeSymlink {
				if target, err := f.root.Readlink(p); err == nil && climbs(target) {
					return errClimbing
				}
			}
			return nil
		})
		if err != nil {
			return syscall.EPERM
		}
	}
	return nil
}

// Unlink implements experimentalsys.FS.Unlink: it removes a name that is not
// a directory (EISDIR otherwise). A symbolic link is removed, not followed.
func (f *FS) Unlink(p string) experimentalsys.Errno {
	name, slash, errno := f.writable(p)
	if errno != 0 {
		return errno
	}
	if name == "." {
		return experimentalsys.EISDIR
	}
	if slash { // "x/" names a directory, which unlink cannot remove.
		fi, err := f.root.Lstat(name)
		if err != nil {
			return toErrno(err)
		}
		if fi.IsDir() {
			return experimentalsys.EISDIR
		}
		return experimentalsys.ENOTDIR
	}
	return f.atParent(name, func(dirfd int, base string) error {
		return unix.Unlinkat(dirfd, base, 0)
	})
}

// Rmdir implements experimentalsys.FS.Rmdir: it removes an empty directory
// (ENOTDIR for anything else, including a symbolic link to a directory).
func (f *FS) Rmdir(p string) experimentalsys.Errno {
	name, _, errno := f.writable(p)
	if errno != 0 {
		return errno
	}
	if name == "." {
		return experimentalsys.EINVAL
	}
	return f.atParent(name, func(dirfd int, base string) error {
		return unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
	})
}

// Rename implements experimentalsys.FS.Rename. Both names are resolved
// beneath the root; a symbolic link is renamed, not followed.
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	oldName, oldSlash, errno := f.writable(from)
	if errno != 0 {
		return errno
	}
	newName, newSlash, errno := clean(to)
	if errno != 0 {
		return errno
	}
	if oldName == "." || newName == "." {
		return experimentalsys.EINVAL
	}
	if oldSlash || newSlash { // a trailing slash requires a directory source
		fi, err := f.root.Lstat(oldName)
		if err != nil {
			return toErrno(err)
		}
		if !fi.IsDir() {
			return experimentalsys.ENOTDIR
		}
	}
	if oldName == newName {
		return 0
	}
	return f.atParents(oldName, newName, func(oldfd int, oldBase string, newfd int, newBase string) error {
		if err := f.movesClimbingLink(oldfd, oldBase, oldName, newfd); err != nil {
			return err
		}
		return unix.Renameat(oldfd, oldBase, newfd, newBase)
	})
}

// Link implements experimentalsys.FS.Link. Both names are resolved beneath
// the root and a final symbolic link in oldPath is linked itself, not
// followed, so a hard link can only ever name an inode already reachable
// inside the mount.
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	oldName, oldSlash, errno := f.writable(oldPath)
	if errno != 0 {
		return errno
	}
	newName, newSlash, errno := clean(newPath)
	if errno != 0 {
		return errno
	}
	if oldName == "." {
		return experimentalsys.EPERM // directories cannot be hard linked
	}
	if oldSlash { // "x/" must be a directory, which cannot be hard linked
		if fi, err := f.root.Stat(oldName + "/"); err != nil {
			return toErrno(err)
		} else if fi.IsDir() {
			return experimentalsys.EPERM
		}
		return experimentalsys.ENOTDIR
	}
	if newName == "." {
		return experimentalsys.EEXIST
	}
	if newSlash {
		return experimentalsys.ENOENT
	}
	return f.atParents(oldName, newName, func(oldfd int, oldBase string, newfd int, newBase string) error {
		if err := f.movesClimbingLink(oldfd, oldBase, oldName, newfd); err != nil {
			return err
		}
		return unix.Linkat(oldfd, oldBase, newfd, newBase, 0)
	})
}

// openParent opens the directory holding name beneath the root and returns
// it with the final component, which contains no slash and is neither "."
// nor "..".
func (f *FS) openParent(name string) (*os.File, string, experimentalsys.Errno) {
	dir, base := path.Split(name)
	if dir == "" {
		dir = "."
	}
	if base == "" || base == "." || base == ".." || strings.Contains(base, "/") {
		return nil, "", experimentalsys.EINVAL // unreachable after clean
	}
	d, err := f.root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", toErrno(err)
	}
	return d, base, 0
}

// atParent runs op on the parent directory descriptor of name and its final
// component.
func (f *FS) atParent(name string, op func(dirfd int, base string) error) experimentalsys.Errno {
	d, base, errno := f.openParent(name)
	if errno != 0 {
		return errno
	}
	defer d.Close()
	return withFd(d, func(fd int) error { return op(fd, base) })
}

// atParents is atParent for operations on two names.
func (f *FS) atParents(oldName, newName string, op func(oldfd int, oldBase string, newfd int, newBase string) error) experimentalsys.Errno {
	od, oldBase, errno := f.openParent(oldName)
	if errno != 0 {
		return errno
	}
	defer od.Close()
	nd, newBase, errno := f.openParent(newName)
	if errno != 0 {
		return errno
	}
	defer nd.Close()
	return withFd(od, func(oldfd int) error {
		return errnoErr(withFd(nd, func(newfd int) error { return op(oldfd, oldBase, newfd, newBase) }))
	})
}

// withFd runs op with the descriptor of d, retrying on EINTR.
func withFd(d *os.File, op func(fd int) error) experimentalsys.Errno {
	rc, err := d.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			opErr = op(int(fd))
			if opErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return toErrno(err)
	}
	return toErrno(opErr)
}

// errnoErr turns a zero Errno into a nil error, for nesting withFd.
func errnoErr(e experimentalsys.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
