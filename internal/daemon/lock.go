package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile serialises runs on one state directory: two runs at once would
// share a client ID, knock each other off the broker and register the
// thing twice.
const lockFile = "run.lock"

// ErrBusy is returned when another run holds the state directory.
var ErrBusy = errors.New("another ggl-fleetd run is in progress")

// LockStateDir takes an exclusive lock on the state directory for the
// rest of the run and returns the function that releases it.
func LockStateDir(stateDir string) (func(), error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create state directory: %w", ErrLocal, err)
	}
	path := filepath.Join(stateDir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: open lock %q: %w", ErrLocal, path, err)
	}

	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("%w: %q is locked; wait for the other run to end", ErrBusy, path)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", path, err)
	}
	return func() { f.Close() }, nil
}
