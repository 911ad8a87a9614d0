// Package daemon runs one provisioning pass of ggl-fleetd: configuration,
// device identity, fleet provisioning, installation of the new credentials,
// configuration edits, the stamp, and the restart of the Greengrass Lite units.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/identity"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/install"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/notify"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/stamp"
)

// ErrLocal marks a failure of the device itself (an unreadable or corrupt
// state directory, say) that restarting the daemon cannot fix.
var ErrLocal = errors.New("local error")

// localError marks err as local without changing its message.
type localError struct{ err error }

func (e localError) Error() string        { return e.err.Error() }
func (e localError) Unwrap() error        { return e.err }
func (e localError) Is(target error) bool { return target == ErrLocal }

// Options are the inputs of one run, taken from the command line.
type Options struct {
	ConfigPath string // config.yaml; config.d/ beside it is read too
	StateDir   string // device ID, stamp and markers
	SysfsRoot  string // root under which sys/, proc/ and deviceIdFile are read
	BusAddress string // D-Bus address; "" is the system bus
	Log        *zap.Logger
	Notifier   *notify.Notifier
}

// Run provisions the device unless a valid stamp shows it already is, and
// returns nil once the device has a working identity of its own.
func Run(ctx context.Context, o Options) error {
	defer o.Notifier.Stopping()

	o.Notifier.Status("loading configuration")
	cfg, err := LoadConfig(o.ConfigPath, o.Log)
	if err != nil {
		return err
	}

	unlock, err := LockStateDir(o.StateDir)
	if err != nil {
		return err
	}
	defer unlock()

	o.Notifier.Status("working out the device ID")
	if err := recoverStoredID(o.StateDir, o.Log); err != nil {
		return err
	}
	id, err := identity.Resolve(newProber(cfg, o), o.StateDir)
	if err != nil {
		return fmt.Errorf("%w: device ID: %w", ErrLocal, err)
	}
	log := o.Log.With(
		zap.String("device-id", id.ID),
		zap.String("device-id-source", string(id.Source)))
	log.Info("device ID chosen", zap.Bool("stored", id.Stored))
	o.Notifier.Ready()

	o.Notifier.Alive()
	done, err := finishIfProvisioned(ctx, cfg, o, log)
	if done || err != nil {
		return err
	}
	return provisionAndInstall(ctx, cfg, id, o, log)
}

// LoadConfig loads and validates the configuration and logs the keys that
// ggl-fleetd does not know, since a misspelt key silently falls back to its
// default. Every error is local (ErrLocal): a missing or unreadable file
// does not fix itself on a restart.
func LoadConfig(path string, log *zap.Logger) (*ggconfig.Config, error) {
	cfg, err := ggconfig.Load(path)
	if err != nil {
		return nil, localError{err}
	}
	for _, u := range cfg.Unknown {
		log.Warn("unknown configuration key ignored",
			zap.String("path", ConfigRelative(cfg, u.File)), zap.Int("line", u.Line), zap.String("key", u.Key))
	}
	return cfg, nil
}

// ConfigRelative returns path relative to the folder of config.yaml when it
// lies inside it, as the configuration's error messages name files.
func ConfigRelative(cfg *ggconfig.Config, path string) string {
	rel, err := filepath.Rel(filepath.Dir(cfg.Path), path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	return rel
}

func newProber(cfg *ggconfig.Config, o Options) *identity.Prober {
	sources, _ := identity.ParseSources(cfg.Fleet.DeviceIDSources)
	return &identity.Prober{
		Root:         o.SysfsRoot,
		Sources:      sources,
		DeviceIDFile: cfg.Fleet.DeviceIDFile,
		Logger:       o.Log,
	}
}

// finishIfProvisioned reports whether a valid stamp makes provisioning
// unnecessary. A restart of the Greengrass Lite units that failed on the run
// that wrote the stamp is tried again here, without provisioning again.
func finishIfProvisioned(ctx context.Context, cfg *ggconfig.Config, o Options, log *zap.Logger) (bool, error) {
	again, err := stamp.Reprovision(o.StateDir)
	if err != nil {
		return false, err
	}
	if again {
		log.Info("reprovisioning requested; the current identity stays in force until the new one is installed")
		return false, nil
	}

	st, err := stamp.Check(o.StateDir)
	if err != nil {
		log.Info("device not provisioned yet", zap.String("reason", err.Error()))
		return false, nil
	}
	log.Info("device already provisioned", zap.String("thing-name", st.ThingName))

	if err := restoreConfig(cfg, st, o.StateDir, log); err != nil {
		return true, err
	}
	// A run cut short after the stamp may have left the superseded pair.
	removed, err := install.Sweep(installOptions(cfg), st.KeyPath, st.CertificatePath)
	for _, name := range removed {
		log.Info("leftover credentials removed", zap.String("path", name))
	}
	if err != nil {
		return true, err
	}
	// A run cut short after the stamp may have left the claim credentials.
	if err := removeClaim(cfg, log); err != nil {
		return true, err
	}
	pending, err := restartPending(o.StateDir)
	if err != nil || !pending {
		return true, err
	}
	return true, restartUnits(ctx, cfg, o, log)
}

// recoverStoredID puts the device ID of a valid stamp back into the state
// directory when the stored ID is missing or corrupt. Probing again could
// give another ID (a new NIC, a regenerated fallback) and so, on the next
// reprovisioning, a second thing. A reprovision request, which
// --new-identity makes along with discarding the ID, turns this off.
func recoverStoredID(stateDir string, log *zap.Logger) error {
	_, found, err := identity.LoadStored(stateDir)
	if found && err == nil {
		return nil
	}
	if again, _ := stamp.Reprovision(stateDir); again {
		return nil
	}
	st, stampErr := stamp.Check(stateDir)
	if stampErr != nil {
		return nil // not provisioned: the ID is probed or the error reported
	}

	recovered := identity.Result{ID: st.DeviceID, Source: identity.Source(st.DeviceIDSource)}
	if storeErr := identity.Store(stateDir, recovered); storeErr != nil {
		return fmt.Errorf("%w: restore device ID from the stamp: %w", ErrLocal, storeErr)
	}
	log.Warn("stored device ID missing or invalid; restored it from the stamp",
		zap.String("device-id", st.DeviceID), zap.String("device-id-source", st.DeviceIDSource),
		zap.NamedError("stored-error", err))
	return nil
}
