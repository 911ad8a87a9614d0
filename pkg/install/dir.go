package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// dirRule is the requirement on a directory of installed files: the mode it
// gets when created here, and the permission bits it must not have when it
// already exists.
type dirRule struct {
	create    fs.FileMode
	forbidden fs.FileMode
	purpose   string
}

var (
	// keyDir forbids group and world write, so no other user can swap the
	// key. World read only lets others list the names, since the key itself
	// is 0600; images that ship the credentials folder as 0755 keep working.
	// A folder created here is 0750 and belongs to root with the Greengrass
	// Lite group: the group can reach the key, no other user can, and the
	// daemon, which runs without CAP_DAC_OVERRIDE, can still write in it.
	keyDir = dirRule{create: 0o750, forbidden: 0o022, purpose: "private key"}

	// publicDir forbids group and world write only, because certificates
	// are public.
	publicDir = dirRule{create: 0o755, forbidden: 0o022, purpose: "certificate"}
)

// checkDir checks that an existing directory is no more permissive than r
// allows and belongs to root, to uid or to the user running this process. A missing directory passes, because
// ensureDir creates it. A stricter mode than r.create, such as 0700 where
// 0755 would do, is accepted.
//
// NOTE: only the directory that holds a file is checked. A parent writable
// by another user could still let that user replace the whole directory.
func checkDir(dir string, r dirRule, uid int) error {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s directory %q: %w", r.purpose, dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s directory %q is not a directory", r.purpose, dir)
	}

	extra := info.Mode().Perm() & r.forbidden
	if extra != 0 {
		const msg = "%s directory %q has mode %#o, open to %s; run chmod %s %q"
		return fmt.Errorf(msg, r.purpose, dir, info.Mode().Perm(),
			describeBits(extra), chmodArg(extra), dir)
	}

	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	dirUID := int(st.Uid)
	if dirUID != 0 && dirUID != uid && dirUID != os.Geteuid() {
		const msg = "%s directory %q belongs to uid %d, not root or uid %d; run chown"
		return fmt.Errorf(msg, r.purpose, dir, dirUID, uid)
	}

	return nil
}

func describeBits(bits fs.FileMode) string {
	switch {
	case bits&0o022 != 0 && bits&0o004 != 0:
		return "writing by others and reading by everyone"
	case bits&0o022 != 0:
		return "writing by others"
	}

	return "reading by everyone"
}

// chmodArg returns a symbolic chmod argument that clears bits.
func chmodArg(bits fs.FileMode) string {
	arg := ""
	if bits&0o020 != 0 {
		arg += "g-w,"
	}
	if bits&0o006 != 0 {
		arg += "o-"
		if bits&0o004 != 0 {
			arg += "r"
		}
		if bits&0o002 != 0 {
			arg += "w"
		}
		arg += ","
	}

	return arg[:len(arg)-1]
}

// ensureDir creates dir when it is missing, and checks it otherwise. The
// directory itself gets r.create, the running user as owner and group gid. Missing parents get
// 0755, which every user can traverse, and the user running this process
// (root for the daemon). Each new entry is made durable by an fsync of its
// parent.
func ensureDir(dir string, r dirRule, uid, gid int) error {
	err := checkDir(dir, r, uid)
	if err != nil {
		return err
	}

	_, err = os.Stat(dir)
	if err == nil {
		return nil
	}

	err = mkdirAll(filepath.Dir(dir), 0o755, os.Geteuid(), os.Getegid())
	if err != nil {
		return err
	}

	// The folder belongs to the user running this process (root for the
	// daemon), so that later runs can write in it without CAP_DAC_OVERRIDE;
	// gid gives the Greengrass Lite group its access.
	return mkdir(dir, r.create, os.Geteuid(), gid)
}

func mkdirAll(dir string, mode fs.FileMode, uid, gid int) error {
	_, err := os.Stat(dir)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check directory %q: %w", dir, err)
	}

	err = mkdirAll(filepath.Dir(dir), mode, uid, gid)
	if err != nil {
		return err
	}

	return mkdir(dir, mode, uid, gid)
}

// mkdir creates dir with an explicit mode, so the umask does not matter.
func mkdir(dir string, mode fs.FileMode, uid, gid int) error {
	err := os.Mkdir(dir, mode)
	if err != nil {
		return fmt.Errorf("create directory %q: %w", dir, err)
	}

	err = os.Chmod(dir, mode)
	if err != nil {
		return fmt.Errorf("set mode of directory %q: %w", dir, err)
	}

	err = chown(dir, uid, gid)
	if err != nil {
		return fmt.Errorf("set owner of directory %q: %w", dir, err)
	}

	return syncDir(filepath.Dir(dir))
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

// chown sets the owner of name unless the process already is that owner, so
// tests and tools that run without root can still create directories.
func chown(name string, uid, gid int) error {
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}

	return os.Chown(name, uid, gid)
}
