package install

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
)

// Preflight checks, before any credential exists, that an installation to
// opts can succeed. The paths must be absolute and distinct and the owner
// must resolve. Existing directories must be no more permissive than
// allowed, and existing targets must be regular files. Each target's
// directory, or its nearest existing parent, must accept a new file.
// Preflight writes and removes one empty temporary file per directory and
// changes nothing else.
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
	if err := atomicfile.CheckTarget(path); err != nil {
		return fmt.Errorf("%s: %w", rule.purpose, err)
	}

	dir := filepath.Dir(path)
	if err := checkDir(dir, rule, uid); err != nil {
		return err
	}
	return CheckWritable(dir)
}

// CheckWritable checks that dir, or its nearest existing parent when dir
// is missing, accepts a new file, by creating and removing an empty one.
func CheckWritable(dir string) error {
	existing, err := nearestExisting(dir)
	if err != nil {
		return err
	}
	return checkWritable(existing)
}

// nearestExisting returns dir or its closest parent that exists. An entry
// that exists but does not resolve, such as a symbolic link to a volume not
// mounted yet, is an error: a write under it would fail later.
func nearestExisting(dir string) (string, error) {
	for {
		if _, err := os.Lstat(dir); err == nil {
			if _, err := os.Stat(dir); err != nil {
				return "", fmt.Errorf("folder %q exists but does not resolve: %w; "+
					"fix the link or mount its target", dir, err)
			}
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return dir, nil
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
