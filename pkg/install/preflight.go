package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Preflight checks, before any credential exists, that an installation to
// opts can succeed: the paths are absolute and distinct, the owner resolves,
// existing directories are no more permissive than allowed, existing
// targets are regular files, and each target's directory, or its nearest
// existing parent, accepts a new file. It writes and removes one empty
// temporary file per directory and changes nothing else.
//
// A run calls it before it asks the cloud for a certificate, so a local
// fault stops the run instead of leaving an unused certificate in the
// cloud on every retry.
func Preflight(opts Options) error {
	opts, err := withDefaults(opts)
	if err != nil {
		return err
	}
	uid, _, err := owner(opts)
	if err != nil {
		return err
	}

	targets := []struct {
		path string
		rule dirRule
	}{
		{opts.KeyPath, keyDir},
		{opts.CertPath, publicDir},
	}
	if opts.RootCAPath != "" {
		targets = append(targets, struct {
			path string
			rule dirRule
		}{opts.RootCAPath, publicDir})
	}

	for _, t := range targets {
		if err := checkTarget(t.path, t.rule, uid); err != nil {
			return err
		}
	}
	return nil
}

// checkTarget checks one destination file and its directory.
func checkTarget(path string, rule dirRule, uid int) error {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("check %s %q: %w", rule.purpose, path, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s target %q is a %s, not a regular file; remove it or set another path",
			rule.purpose, path, fileKind(info.Mode()))
	}

	dir := filepath.Dir(path)
	if err := checkDir(dir, rule, uid); err != nil {
		return err
	}
	return checkWritable(nearestExisting(dir))
}

// nearestExisting returns dir or its closest parent that exists.
func nearestExisting(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// checkWritable creates and removes an empty file in dir.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".ggl-fleetd-preflight-*")
	if err != nil {
		return fmt.Errorf("directory %q does not accept new files: %w; make it writable "+
			"(under systemd, list it in ReadWritePaths=)", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove preflight file %q: %w", name, err)
	}
	return nil
}

func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "directory"
	case mode&fs.ModeSymlink != 0:
		return "symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
