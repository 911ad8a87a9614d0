package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
)

// Sweep removes the credentials that a run cut short before its Cleanup
// left behind, other than the pair in force. These are the files at the
// configured key and certificate paths or named like a generation of them,
// and the temporary files of writes to those names. Certificates go before
// keys, so no certificate is ever left without its key. It returns the
// paths removed.
func Sweep(opts Options, keyInForce, certInForce string) ([]string, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{filepath.Clean(keyInForce): true, filepath.Clean(certInForce): true}

	certs, err := strays(opts.CertPath, keep)
	if err != nil {
		return nil, err
	}
	keys, err := strays(opts.KeyPath, keep)
	if err != nil {
		return nil, err
	}

	var removed []string
	for _, name := range append(certs, keys...) {
		if err := atomicfile.Remove(name); err != nil {
			return removed, fmt.Errorf("remove leftover credentials: %w", err)
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// strays lists the regular files in the folder of configured that are
// configured itself or a generation of it, and not in keep.
func strays(configured string, keep map[string]bool) ([]string, error) {
	dir := filepath.Dir(configured)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %q for leftover credentials: %w", dir, err)
	}

	pattern := generationPattern(configured)
	base := filepath.Base(configured)
	var found []string
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		target := e.Name()
		// A write cut short leaves atomicfile's ".<target>.tmp-*" file.
		if stem, _, cut := strings.Cut(target, ".tmp-"); cut && strings.HasPrefix(stem, ".") {
			target = stem[1:]
		}
		ours := target == base || pattern.MatchString(target)
		if ours && !keep[name] && e.Type().IsRegular() {
			found = append(found, name)
		}
	}
	return found, nil
}
