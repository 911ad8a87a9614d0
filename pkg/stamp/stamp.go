// Package stamp records that a device is provisioned, in STATE_DIR/stamp.json,
// and decides whether that record still holds.
//
// The stamp is written after the credentials are installed and the
// configuration names them. It comes before the restart of the Greengrass
// Lite services, because their units start only once the stamp exists. A
// restart-pending marker written before the stamp makes a failed restart
// retry on the next run.
// It counts only when the certificate it names parses, has the recorded
// SHA-256 fingerprint and matches the private key it names, and the thing
// name is valid. A missing, empty or corrupt stamp, or one whose files were
// changed or lost, counts as not provisioned, so a crash never blocks the
// next attempt.
//
// # Reprovisioning
//
// MarkReprovision writes STATE_DIR/reprovision, which records the
// fingerprint of the stamp in force at that time. While the stamp still
// records that fingerprint, Reprovision reports true: the next run ignores
// the stamp and provisions anew, and the old credentials stay in force until
// the new ones are complete. Writing the new stamp is the commit, because it
// changes the fingerprint and so makes the marker stale at once; the caller
// then removes the marker with ClearReprovision. A crash between the two
// writes therefore does not provision the device a second time. A marker
// that is empty or unreadable, such as one made with touch, counts as a
// request until it is removed.
package stamp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/install"
)

// FileName is the stamp's file name inside the state directory.
const FileName = "stamp.json"

// ErrNotProvisioned is returned by Check when the device has no stamp that
// holds. The wrapping error gives the reason.
var ErrNotProvisioned = errors.New("not provisioned")

// Stamp is the record of one completed provisioning.
type Stamp struct {
	// ThingName is the name of the registered thing, 1 to 128 characters
	// of [a-zA-Z0-9:_-].
	ThingName string `json:"thingName"`
	// CertificateID is the AWS IoT ID of the device certificate, 64 hex
	// digits.
	CertificateID string `json:"certificateId"`

	// CertificateSHA256 is the SHA-256 of the certificate's DER bytes, in
	// lower-case hex.
	CertificateSHA256 string `json:"certificateSha256"`

	// CertificatePath is the absolute path of the installed device
	// certificate (PEM).
	CertificatePath string `json:"certificatePath"`
	// KeyPath is the absolute path of the installed private key of that
	// certificate.
	KeyPath string `json:"privateKeyPath"`

	// DeviceID is the device ID the thing was registered with, as chosen
	// by package identity.
	DeviceID string `json:"deviceId"`
	// DeviceIDSource is the identity source the device ID came from, such
	// as "mac" or "generated".
	DeviceIDSource string `json:"deviceIdSource"`

	// DeviceConfiguration is the deviceConfiguration map of the
	// RegisterThing response. An empty map is left out of the file, so it
	// reads back as nil.
	DeviceConfiguration map[string]string `json:"deviceConfiguration,omitempty"`

	// ProvisionedAt is the time the stamp was written, stored in UTC with
	// whole seconds (RFC 3339).
	ProvisionedAt time.Time `json:"provisionedAt"`

	// Version is the version of the tool that wrote the stamp.
	Version string `json:"version"`
}

// thingNamePattern matches the thing names that AWS IoT accepts.
var thingNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

var fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Write validates s and writes it to stateDir/stamp.json with mode 0644
// through package atomicfile, creating stateDir when it is missing.
func Write(stateDir string, s Stamp) error {
	err := validate(s)
	if err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	s.ProvisionedAt = s.ProvisionedAt.UTC().Truncate(time.Second)

	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}

	err = os.MkdirAll(stateDir, 0o755)
	if err != nil {
		return fmt.Errorf("write stamp: create state directory: %w", err)
	}

	return atomicfile.WriteFile(path(stateDir), append(data, '\n'), 0o644)
}

func validate(s Stamp) error {
	if !thingNamePattern.MatchString(s.ThingName) {
		const msg = "thing name %q is invalid: want 1 to 128 of a-z A-Z 0-9 : _ -"
		return fmt.Errorf(msg, s.ThingName)
	}
	if !fingerprintPattern.MatchString(s.CertificateSHA256) {
		const msg = "certificate fingerprint %q is invalid: want 64 lower-case hex digits"
		return fmt.Errorf(msg, s.CertificateSHA256)
	}
	if !filepath.IsAbs(s.CertificatePath) || !filepath.IsAbs(s.KeyPath) {
		const msg = "certificate path %q and key path %q must be absolute"
		return fmt.Errorf(msg, s.CertificatePath, s.KeyPath)
	}
	if s.DeviceID == "" {
		return errors.New("device ID is missing")
	}
	if s.ProvisionedAt.IsZero() {
		return errors.New("provisioning time is missing")
	}

	return nil
}

// Read reads and decodes stateDir/stamp.json without checking it against the
// files it names. A missing stamp gives an error wrapping fs.ErrNotExist.
func Read(stateDir string) (Stamp, error) {
	name := path(stateDir)
	data, err := os.ReadFile(name)
	if err != nil {
		return Stamp{}, fmt.Errorf("read stamp: %w", err)
	}
	if len(data) == 0 {
		return Stamp{}, fmt.Errorf("stamp %q is empty", name)
	}

	var s Stamp
	err = json.Unmarshal(data, &s)
	if err != nil {
		return Stamp{}, fmt.Errorf("stamp %q is invalid: %w", name, err)
	}

	return s, nil
}

// Check reads the stamp and checks that it holds: the thing name is valid,
// the certificate it names parses, has the recorded fingerprint and matches
// the key it names. The certificate's validity period is not checked. Every
// failure wraps ErrNotProvisioned and gives the reason. The stamp is
// returned whenever it could be read.
func Check(stateDir string) (Stamp, error) {
	s, err := Read(stateDir)
	if err != nil {
		return Stamp{}, fmt.Errorf("%w: %w", ErrNotProvisioned, err)
	}

	if !thingNamePattern.MatchString(s.ThingName) {
		const msg = "%w: stamp %q has invalid thing name %q"
		return s, fmt.Errorf(msg, ErrNotProvisioned, path(stateDir), s.ThingName)
	}
	if s.CertificatePath == "" || s.KeyPath == "" {
		const msg = "%w: stamp %q names no certificate or no private key"
		return s, fmt.Errorf(msg, ErrNotProvisioned, path(stateDir))
	}

	cert, err := install.Match(s.CertificatePath, s.KeyPath)
	if err != nil {
		return s, fmt.Errorf("%w: %w", ErrNotProvisioned, err)
	}

	got := install.Fingerprint(cert.Raw)
	if got != s.CertificateSHA256 {
		const msg = "%w: certificate %q has SHA-256 %s, but the stamp records %s"
		return s, fmt.Errorf(msg, ErrNotProvisioned, s.CertificatePath, got,
			s.CertificateSHA256)
	}

	return s, nil
}

func path(stateDir string) string {
	return filepath.Join(stateDir, FileName)
}

// MarkerName is the reprovision marker's file name inside the state
// directory.
const MarkerName = "reprovision"

// marker is the content of the reprovision marker.
type marker struct {
	RequestedAt time.Time `json:"requestedAt"`

	// CertificateSHA256 is the fingerprint the stamp recorded when the
	// marker was written, or "" when there was no readable stamp.
	CertificateSHA256 string `json:"certificateSha256"`
}

// MarkReprovision requests that the next run provision the device anew, by
// writing stateDir/reprovision (mode 0644) through package atomicfile.
func MarkReprovision(stateDir string) error {
	m := marker{RequestedAt: time.Now().UTC().Truncate(time.Second)}
	s, err := Read(stateDir)
	if err == nil {
		m.CertificateSHA256 = s.CertificateSHA256
	}

	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("write reprovision marker: %w", err)
	}

	err = os.MkdirAll(stateDir, 0o755)
	if err != nil {
		return fmt.Errorf("write reprovision marker: create state directory: %w", err)
	}

	name := filepath.Join(stateDir, MarkerName)
	return atomicfile.WriteFile(name, append(data, '\n'), 0o644)
}

// Reprovision reports whether a reprovision request is pending: the marker
// exists and the stamp still records the fingerprint it recorded when the
// marker was written. A marker left behind after a newer stamp is stale and
// gives false. An empty or unreadable marker gives true.
func Reprovision(stateDir string) (bool, error) {
	name := filepath.Join(stateDir, MarkerName)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read reprovision marker: %w", err)
	}

	var m marker
	err = json.Unmarshal(data, &m)
	if err != nil {
		return true, nil
	}

	current := ""
	s, err := Read(stateDir)
	if err == nil {
		current = s.CertificateSHA256
	}

	return current == m.CertificateSHA256, nil
}

// ClearReprovision removes the reprovision marker; a missing marker is not
// an error. Call it after Write of the new stamp.
func ClearReprovision(stateDir string) error {
	err := atomicfile.Remove(filepath.Join(stateDir, MarkerName))
	if err != nil {
		return fmt.Errorf("clear reprovision marker: %w", err)
	}

	return nil
}
