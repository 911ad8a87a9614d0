package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
)

// storeFile is the name of the device ID file in the state directory.
const storeFile = "device-id"

// maxStoreLen bounds the read of the device ID file; a valid one is under
// 200 bytes.
const maxStoreLen = 4096

// storedID is the JSON content of the device ID file.
type storedID struct {
	ID     string `json:"id"`
	Source Source `json:"source"`
}

// Store writes r's ID and source to stateDir/device-id, mode 0644, replacing
// the file atomically, and creates stateDir (0755) if needed. An invalid ID
// or source is rejected before anything is written.
func Store(stateDir string, r Result) error {
	if err := checkStored(storedID{ID: r.ID, Source: r.Source}); err != nil {
		return fmt.Errorf("store device ID: %w", err)
	}

	data, err := json.Marshal(storedID{ID: r.ID, Source: r.Source})
	if err != nil {
		return fmt.Errorf("store device ID: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory %q: %w", stateDir, err)
	}

	name := filepath.Join(stateDir, storeFile)
	if err := atomicfile.WriteFile(name, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("store device ID in %q: %w", name, err)
	}
	return nil
}

// LoadStored reads the ID that Store wrote to stateDir. It returns false and
// no error when there is none. A file that is empty, corrupt, or holds an
// invalid ID is an error naming the file, because choosing a new ID silently
// would register a second thing for this device.
func LoadStored(stateDir string) (Result, bool, error) {
	name := filepath.Join(stateDir, storeFile)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("read device ID file: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, maxStoreLen))
	if err != nil {
		return Result{}, false, fmt.Errorf("read device ID file: %w", err)
	}
	stored, err := decodeStored(data)
	if err != nil {
		return Result{}, false, fmt.Errorf("device ID file %q is invalid: %w; "+
			"run \"ggl-fleetd reprovision --new-identity\", or delete the "+
			"file if this device was never provisioned", name, err)
	}
	return Result{ID: stored.ID, Source: stored.Source, Stored: true}, true, nil
}

func decodeStored(data []byte) (storedID, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return storedID{}, errors.New("file is empty")
	}

	var s storedID
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		return storedID{}, fmt.Errorf("decode JSON: %w", err)
	}
	if dec.More() {
		return storedID{}, errors.New("data after the JSON object")
	}
	return s, checkStored(s)
}

func checkStored(s storedID) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	if !s.Source.known() {
		return fmt.Errorf("unknown device ID source %q", s.Source)
	}
	return nil
}

// Resolve returns the ID stored in stateDir, or else probes with p and
// stores the result before returning it, so that the ID never changes once
// chosen: not when a NIC is replaced or renamed, nor when a generated ID
// would come out different. A stored ID is kept even if its source is no
// longer configured. An exclusive flock(2) on stateDir keeps two processes
// from storing different IDs at once.
func Resolve(p *Prober, stateDir string) (Result, error) {
	unlock, err := lockDir(stateDir)
	if err != nil {
		return Result{}, err
	}
	defer unlock()

	r, ok, err := LoadStored(stateDir)
	if err != nil {
		return Result{}, err
	}
	if ok {
		p.logger().Info("device id loaded", zap.String("device-id", r.ID),
			zap.String("device-id-source", string(r.Source)))
		return r, nil
	}

	r, err = p.Probe()
	if err != nil {
		return Result{}, err
	}
	if err := Store(stateDir, r); err != nil {
		return Result{}, err
	}
	p.logger().Info("device id stored", zap.String("device-id", r.ID),
		zap.String("device-id-source", string(r.Source)),
		zap.String("path", filepath.Join(stateDir, storeFile)))
	return r, nil
}

// lockDir creates dir if needed and takes an exclusive flock on it. The
// returned function releases it.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory %q: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open state directory %q: %w", dir, err)
	}

	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state directory %q: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func flock(f *os.File, operation int) error {
	for {
		err := syscall.Flock(int(f.Fd()), operation)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Discard removes the stored ID from stateDir, so the next Resolve chooses
// one again. A missing file is not an error.
func Discard(stateDir string) error {
	name := filepath.Join(stateDir, storeFile)
	if err := atomicfile.Remove(name); err != nil {
		return fmt.Errorf("remove device ID file %q: %w", name, err)
	}
	return nil
}
