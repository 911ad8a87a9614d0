package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/install"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/stamp"
)

// planConfig computes the configuration that points Greengrass Lite at the
// new identity, without writing, so that an unparsable file stops the run
// before any credential is written.
func planConfig(cfg *ggconfig.Config, thingName string, plan *install.Plan) (*ggconfig.Plan, error) {
	key, cert, rootCA := plan.Paths()
	values := configValues(cfg, thingName, key, cert, rootCA)
	edits, err := cfg.Plan(values, ggconfig.DefaultDropIn)
	if err != nil {
		return nil, fmt.Errorf("plan configuration edits: %w", err)
	}
	return edits, nil
}

// configValues returns the configuration keys that name the identity, and
// their new values.
func configValues(cfg *ggconfig.Config, thingName, key, cert, rootCA string) map[string]string {
	values := map[string]string{
		"system.thingName":           thingName,
		"system.privateKeyPath":      key,
		"system.certificateFilePath": cert,
	}
	if rootCA != "" {
		values["system.rootCaPath"] = rootCA
	}
	nucleus := "services.aws.greengrass.NucleusLite.configuration."
	if ep := cfg.DataEndpoint(); ep != "" {
		values[nucleus+"iotDataEndpoint"] = ep
	}
	if ep := cfg.CredEndpoint(); ep != "" {
		values[nucleus+"iotCredEndpoint"] = ep
	}
	return values
}

// applyConfig writes the planned configuration files, each atomically and
// with the mode and owner of the file it replaces. This is the commit point
// of an installation: until it lands, the old identity stays in force.
//
// NOTE: when the keys live in several files, each file is replaced on its
// own, so a crash between two of them can leave a key path and a
// certificate path of different pairs. No stamp is written then, so the next
// run provisions again and repairs the configuration.
func applyConfig(edits *ggconfig.Plan, log *zap.Logger) error {
	for _, f := range edits.Files {
		if err := ensureConfigDir(f); err != nil {
			return err
		}
		var err error
		if f.UID >= 0 && f.GID >= 0 {
			err = atomicfile.WriteFileOwned(f.Path, f.Data, f.Mode, f.UID, f.GID)
		} else {
			err = atomicfile.WriteFile(f.Path, f.Data, f.Mode)
		}
		if err != nil {
			return fmt.Errorf("%w: write configuration %q: %w", ErrLocal, f.Path, err)
		}
	}
	for _, c := range edits.Changes {
		log.Info("configuration value set", zap.String("path", c.File),
			zap.String("key", c.Key), zap.String("old", c.Old), zap.String("new", c.New))
	}
	return nil
}

// ensureConfigDir creates the config.d folder of a new drop-in when the
// image has none, as ggconfigd reads it when it exists.
func ensureConfigDir(f ggconfig.FileEdit) error {
	dir := filepath.Dir(f.Path)
	if !f.Create || exists(dir) {
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("%w: create configuration folder %q: %w", ErrLocal, dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("%w: set mode of %q: %w", ErrLocal, dir, err)
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir makes a new entry of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %q for sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", dir, err)
	}
	return nil
}

// restoreConfig writes the stamp's identity into the configuration again
// when the configuration no longer names it, as after an image update that
// ships the original drop-in, and marks the units for a restart. Without it
// a valid stamp would keep the daemon idle while Greengrass Lite runs with
// an empty thing name.
func restoreConfig(cfg *ggconfig.Config, st stamp.Stamp, stateDir string, log *zap.Logger) error {
	sys := cfg.System
	if sys.ThingName == st.ThingName && sys.CertificateFilePath == st.CertificatePath &&
		sys.PrivateKeyPath == st.KeyPath {
		return nil
	}
	log.Warn("configuration no longer names the provisioned identity; writing it again",
		zap.String("thing-name", st.ThingName), zap.String("configured-thing-name", sys.ThingName))

	rootCA := cfg.Fleet.DeviceRootCAPath
	if _, err := os.Stat(rootCA); err != nil {
		rootCA = ""
	}
	values := configValues(cfg, st.ThingName, st.KeyPath, st.CertificatePath, rootCA)
	edits, err := cfg.Plan(values, ggconfig.DefaultDropIn)
	if err != nil {
		return fmt.Errorf("%w: restore configuration: %w", ErrLocal, err)
	}
	if err := markRestartPending(stateDir); err != nil {
		return fmt.Errorf("write restart marker: %w", err)
	}
	return applyConfig(edits, log)
}
