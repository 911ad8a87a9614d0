// Package atomicfile replaces files so that a crash at any point leaves either
// the old content or the new content under the final name, never a partial
// file.
//
// A write goes to a temporary file in the same directory as the target,
// because rename(2) is atomic only within one file system. The temporary file
// gets its mode through fchmod, so the process umask does not matter, and
// optionally its owner through fchown. Its data is flushed with fsync before
// the rename, so the new name never points at blocks that were not written.
// The directory is flushed after the rename, so the new directory entry
// survives a power cut.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// failAt, when set, is called before each step of a write with the step's
// name ("chmod", "chown", "write", "sync", "close", "rename"). A non-nil
// result makes that step fail. Only tests set it, to reach error paths that a
// real file system does not produce on demand.
var failAt func(step string) error

// WriteFile writes data to name through a temporary file in the same
// directory: explicit mode (umask ignored), fsync, close, rename, fsync of the
// directory. The file is owned by the calling process. An existing target
// that is not a regular file (a directory, symbolic link, FIFO or device) is
// rejected. The temporary file is removed on every error.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return write(name, data, perm, -1, -1)
}

// WriteFileOwned is WriteFile with fchown(uid, gid) before the rename, so the
// file appears under its final name with its final owner already set.
func WriteFileOwned(name string, data []byte, perm fs.FileMode, uid, gid int) error {
	if uid < 0 || gid < 0 {
		const msg = "write %q: invalid owner %d:%d: uid and gid must not be negative"
		return fmt.Errorf(msg, name, uid, gid)
	}

	return write(name, data, perm, uid, gid)
}

// Remove removes name and fsyncs its directory, so the removal survives a
// power cut. A missing file is not an error. A directory is rejected.
func Remove(name string) error {
	info, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	if info.IsDir() {
		return fmt.Errorf("remove %q: is a directory, not a file", name)
	}

	err = os.Remove(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}

	return syncDir(filepath.Dir(name))
}

func write(name string, data []byte, perm fs.FileMode, uid, gid int) error {
	if perm&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		const msg = "write %q: invalid mode %v: only permission bits are allowed"
		return fmt.Errorf(msg, name, perm)
	}

	err := CheckTarget(name)
	if err != nil {
		return err
	}

	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: create temporary file: %w", name, err)
	}

	err = fill(tmp, data, perm, uid, gid)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %q: %w", name, err)
	}

	err = commit(tmp.Name(), name)
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %q: %w", name, err)
	}

	return syncDir(dir)
}

// CheckTarget returns the error WriteFile would give for name because it
// exists and is not a regular file, or nil. Lstat is used because rename(2)
// replaces a symbolic link itself rather than the file it points to, which
// would silently detach the link.
func CheckTarget(name string) error {
	info, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		const msg = "write %q: target is a %s, not a regular file; remove it"
		return fmt.Errorf(msg, name, describe(info.Mode()))
	}

	return nil
}

func describe(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "directory"
	case mode&fs.ModeSymlink != 0:
		return "symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "FIFO"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	}

	return mode.Type().String()
}

// fill sets the mode and owner of tmp, writes data, flushes it and closes
// tmp. The caller closes and removes tmp when fill fails.
func fill(tmp *os.File, data []byte, perm fs.FileMode, uid, gid int) error {
	err := step("chmod", func() error { return tmp.Chmod(perm) })
	if err != nil {
		return fmt.Errorf("set mode %v: %w", perm, err)
	}

	if uid >= 0 {
		err = step("chown", func() error { return tmp.Chown(uid, gid) })
		if err != nil {
			return fmt.Errorf("set owner %d:%d: %w", uid, gid, err)
		}
	}

	err = step("write", func() error { _, err := tmp.Write(data); return err })
	if err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}

	err = step("sync", tmp.Sync)
	if err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}

	err = step("close", tmp.Close)
	if err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}

	return nil
}

func commit(tmp, name string) error {
	err := step("rename", func() error { return os.Rename(tmp, name) })
	if err != nil {
		return fmt.Errorf("rename temporary file: %w", err)
	}

	return nil
}

func step(name string, do func() error) error {
	if failAt != nil {
		err := failAt(name)
		if err != nil {
			return err
		}
	}

	return do()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %q for sync: %w", dir, err)
	}
	defer d.Close()

	err = d.Sync()
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}

	return nil
}
