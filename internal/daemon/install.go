package daemon

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/identity"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/install"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/stamp"
)

// Version is recorded in the stamp; the command sets it at start-up.
var Version = "devel"

// installIdentity writes the new credentials, switches the configuration to
// them and records the stamp. The order survives a crash at any point: key,
// certificate, root CA, configuration (the commit point), restart marker,
// stamp, then removal of the superseded files.
func installIdentity(ctx context.Context, cfg *ggconfig.Config, id identity.Result, res *provision.Result, o Options, log *zap.Logger) error {
	o.Notifier.Status("installing the new credentials")
	plan, err := prepareInstall(cfg, res)
	if err != nil {
		return err
	}
	edits, err := planConfig(cfg, res.ThingName, plan)
	if err != nil {
		return err
	}
	if err := writeCredentials(plan, log); err != nil {
		return err
	}

	if err := applyConfig(edits, log); err != nil {
		return err
	}
	reached(StepConfig)

	if err := markRestartPending(o.StateDir); err != nil {
		return fmt.Errorf("write restart marker: %w", err)
	}
	reached(StepRestartPending)

	if err := writeStamp(o.StateDir, id, res, plan); err != nil {
		return err
	}
	reached(StepStamp)
	log.Info("stamp written", zap.String("path", filepath.Join(o.StateDir, stamp.FileName)))

	return finishInstall(cfg, plan, o, log)
}

func prepareInstall(cfg *ggconfig.Config, res *provision.Result) (*install.Plan, error) {
	// With useSystemRoots and no rootCaPath there is no root CA to copy.
	var rootCA []byte
	if cfg.Fleet.RootCAPath != "" {
		var err error
		rootCA, err = os.ReadFile(cfg.Fleet.RootCAPath)
		if err != nil {
			return nil, fmt.Errorf("read root CA to install: %w", err)
		}
	}
	plan, err := install.Prepare(installOptions(cfg), res.KeyPEM, res.CertificatePEM, rootCA)
	if err != nil {
		return nil, fmt.Errorf("prepare installation: %w", err)
	}
	return plan, nil
}

// installOptions maps the configuration onto the destination of the new
// credentials.
func installOptions(cfg *ggconfig.Config) install.Options {
	return install.Options{
		KeyPath:         cfg.Fleet.KeyPath,
		CertPath:        cfg.Fleet.CertPath,
		RootCAPath:      cfg.Fleet.DeviceRootCAPath,
		CurrentKeyPath:  cfg.System.PrivateKeyPath,
		CurrentCertPath: cfg.System.CertificateFilePath,
		User:            cfg.Fleet.User,
		Group:           cfg.Fleet.Group,
		Keep:            []string{cfg.Fleet.ClaimCertPath, cfg.Fleet.ClaimKeyPath},
	}
}

// Preflight checks that the new identity can be installed and written into
// the configuration, before the cloud is asked for a certificate: a local
// fault found after registration would leave an unused certificate in the
// cloud on every retry. Its errors are local, so a restart cannot fix them.
func Preflight(cfg *ggconfig.Config, log *zap.Logger) error {
	if err := install.Preflight(installOptions(cfg)); err != nil {
		return fmt.Errorf("%w: %w", ErrLocal, err)
	}
	for _, w := range OwnerWarnings(cfg) {
		log.Warn(w)
	}

	f := cfg.Fleet
	// The thing name is not known yet; any valid name exercises the edit.
	values := configValues(cfg, "ggl-fleetd-preflight", f.KeyPath, f.CertPath, f.DeviceRootCAPath)
	edits, err := cfg.Plan(values, ggconfig.DefaultDropIn)
	if err != nil {
		return fmt.Errorf("%w: the configuration cannot take the new identity: %w", ErrLocal, err)
	}
	for _, f := range edits.Files {
		if err := install.CheckWritable(filepath.Dir(f.Path)); err != nil {
			return fmt.Errorf("%w: configuration: %w", ErrLocal, err)
		}
	}
	return nil
}

// OwnerWarnings returns a warning for the configured user or group when it
// does not exist, since the installed files then belong to root, which
// Greengrass Lite running as that user cannot read.
func OwnerWarnings(cfg *ggconfig.Config) []string {
	u, g, userFound, groupFound, err := install.Owners(installOptions(cfg))
	if err != nil {
		return nil
	}
	var warnings []string
	if !userFound {
		warnings = append(warnings, fmt.Sprintf("user %q does not exist, so the installed files will belong to root; create it or set the user setting", u))
	}
	if !groupFound {
		warnings = append(warnings, fmt.Sprintf("group %q does not exist, so the installed files will belong to group root; create it or set the group setting", g))
	}
	return warnings
}

func writeCredentials(plan *install.Plan, log *zap.Logger) error {
	key, cert, rootCA := plan.Paths()

	if err := plan.WriteKey(); err != nil {
		return err
	}
	reached(StepKey)
	log.Info("private key written", zap.String("path", key))

	if err := plan.WriteCertificate(); err != nil {
		return err
	}
	reached(StepCertificate)
	log.Info("certificate written", zap.String("path", cert))

	if err := plan.WriteRootCA(); err != nil {
		return err
	}
	reached(StepRootCA)
	if rootCA != "" {
		log.Info("root CA written", zap.String("path", rootCA))
	}
	return nil
}

func writeStamp(stateDir string, id identity.Result, res *provision.Result, plan *install.Plan) error {
	key, cert, _ := plan.Paths()
	block, _ := pem.Decode(res.CertificatePEM)
	if block == nil {
		return fmt.Errorf("write stamp: certificate of %q is not PEM", res.CertificateID)
	}
	err := stamp.Write(stateDir, stamp.Stamp{
		ThingName:           res.ThingName,
		CertificateID:       res.CertificateID,
		CertificateSHA256:   install.Fingerprint(block.Bytes),
		CertificatePath:     cert,
		KeyPath:             key,
		DeviceID:            id.ID,
		DeviceIDSource:      string(id.Source),
		DeviceConfiguration: res.DeviceConfiguration,
		ProvisionedAt:       time.Now().UTC().Truncate(time.Second),
		Version:             Version,
	})
	if err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	return nil
}

// finishInstall removes what the new identity supersedes: the reprovision
// marker, the old credentials and, when configured, the claim credentials.
func finishInstall(cfg *ggconfig.Config, plan *install.Plan, o Options, log *zap.Logger) error {
	if err := stamp.ClearReprovision(o.StateDir); err != nil {
		return err
	}
	if err := plan.Cleanup(); err != nil {
		return err
	}
	reached(StepCleanup)
	for _, name := range plan.Superseded() {
		log.Info("superseded credentials removed", zap.String("path", name))
	}

	if err := removeClaim(cfg, log); err != nil {
		return err
	}
	reached(StepClaimRemoval)
	return nil
}

// removeClaim removes the claim certificate and key when the configuration
// requests it. It runs only after the new certificate has connected and the
// stamp is written, so the device never loses both identities.
func removeClaim(cfg *ggconfig.Config, log *zap.Logger) error {
	f := cfg.Fleet
	if !f.RemoveClaimCredentials || !(exists(f.ClaimCertPath) || exists(f.ClaimKeyPath)) {
		return nil
	}
	if err := install.RemoveClaim(f.ClaimCertPath, f.ClaimKeyPath); err != nil {
		return fmt.Errorf("remove claim credentials: %w", err)
	}
	log.Info("claim credentials removed",
		zap.String("certificate", f.ClaimCertPath), zap.String("key", f.ClaimKeyPath))
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
