// Package atomicfile writes files so that a reader sees the old content or
// the new, never a part: data goes to a temporary file in the same directory,
// which is synced and then renamed (or linked) into place, and the directory
// is synced after. Every file wasmward produces is written through it.
//
// Only regular files (and new paths) are replaced that way. A path that
// names an existing device, FIFO or socket (`--report /dev/null`,
// `-o /dev/stdout`, a named pipe) is written through, in place: renaming a
// file over /dev/null would replace the device node with a regular file
// (as root, for the whole machine). Write and WriteFunc follow symbolic
// links, so `-o link` writes where the link points and keeps the link;
// WriteContained, for files wasmward owns (keys, state), refuses a link
// that leads out of the file's directory and never writes through to a
// non-regular file.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write replaces path with data, created with permissions perm, or writes
// data through to path when it is an existing device, FIFO or socket.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc replaces path with what fill writes, created with permissions
// perm. When fill fails, path is untouched and no temporary file is left.
// A symbolic link is followed (its target is replaced, the link kept). An
// existing device, FIFO or socket is written through instead (opened for
// writing, not truncated, not replaced; what fill wrote before failing
// has been delivered). A directory is an error.
func WriteFunc(path string, perm os.FileMode, fill func(io.Writer) error) error {
	t, err := resolve(path, false)
	if err != nil {
		return err
	}
	if t.through {
		return writeThrough(t.path, fill)
	}
	return write(t.path, perm, true, fill)
}

// WriteContained is Write for files wasmward owns (key files, state): a
// symbolic link at path is followed only when its target stays in path's
// directory (a link planted to redirect the write elsewhere is refused),
// and only a regular file or a new path is written (atomically), never a
// device, FIFO or socket.
func WriteContained(path string, data []byte, perm os.FileMode) error {
	t, err := resolve(path, true)
	if err != nil {
		return err
	}
	return write(t.path, perm, true, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteNew writes data to path, which must not exist: the synced temporary
// file is hard-linked into place, which fails if path exists (a symbolic
// link, even a dangling one, included), even if it appeared after any
// earlier check. Private keys are written this way.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	return write(path, perm, false, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}

// ErrNotContained is returned (wrapped) by WriteContained for a symbolic
// link whose target is outside the link's directory.
var ErrNotContained = errors.New("symbolic link leads out of its directory")

// target is where a write to a path goes.
type target struct {
	path    string // the path to replace or write through (symlinks resolved)
	through bool   // an existing non-regular file: write in place
}

// resolve decides how a write to path is done. Symbolic links are
// resolved (a dangling link's target is created); contained refuses a
// link out of path's directory and any non-regular file.
func resolve(path string, contained bool) (target, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return target{path: path}, nil
	}
	if err != nil {
		return target{}, err
	}
	p := path
	if fi.Mode()&fs.ModeSymlink != 0 {
		// Through the link (the kernel follows /proc's descriptor links
		// too, which name pipes and sockets no path reaches).
		st, serr := os.Stat(path)
		switch {
		case serr == nil && !contained && !st.Mode().IsRegular() && !st.IsDir():
			return target{path: path, through: true}, nil
		case serr == nil && !contained && st.Mode().IsRegular() && viaDescriptor(path):
			// /dev/stdout redirected to a file: the file is the shell's
			// open descriptor; write to it, not to a new file.
			return target{path: path, through: true}, nil
		}
		if p, err = resolveLink(path); err != nil {
			return target{}, err
		}
		if contained {
			dir, err := filepath.EvalSymlinks(filepath.Dir(path))
			if err != nil {
				return target{}, err
			}
			if filepath.Dir(p) != dir {
				return target{}, fmt.Errorf("%s: %w (it points to %s)", path, ErrNotContained, p)
			}
		}
		if fi, err = os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return target{path: p}, nil
		} else if err != nil {
			return target{}, err
		}
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return target{path: p}, nil
	case m.IsDir():
		return target{}, fmt.Errorf("%s: is a directory", path)
	case contained:
		return target{}, fmt.Errorf("%s: not a regular file (%v); refusing to write through it", path, m.Type())
	}
	return target{path: p, through: true}, nil
}

// viaDescriptor reports whether the chain of links from path passes
// through a descriptor link (/proc/*/fd/N, /dev/fd/N), as /dev/stdout does.
func viaDescriptor(path string) bool {
	for range 40 {
		if strings.HasPrefix(path, "/proc/") || strings.HasPrefix(path, "/dev/fd/") {
			return true
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return false
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return false
}

// resolveLink returns the absolute path a symbolic link leads to, links
// in the chain resolved; a dangling final target is returned as the path
// it would have.
func resolveLink(path string) (string, error) {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return filepath.Abs(p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	// Dangling: resolve the directory, keep the link's last name.
	for range 40 {
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		fi, err := os.Lstat(dest)
		if errors.Is(err, fs.ErrNotExist) {
			dir, err := filepath.EvalSymlinks(filepath.Dir(dest))
			if err != nil {
				return "", err
			}
			return filepath.Abs(filepath.Join(dir, filepath.Base(dest)))
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return filepath.Abs(dest)
		}
		path = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// writeThrough writes to an existing non-regular file in place.
func writeThrough(path string, fill func(io.Writer) error) error {
	// O_APPEND: a descriptor link to a regular file (`>> log` behind
	// /dev/stdout) is continued, not overwritten; devices and FIFOs ignore it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func write(path string, perm os.FileMode, replace bool, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else if err = os.Link(tmp, path); err == nil {
		_ = os.Remove(tmp)
	}
	if err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
