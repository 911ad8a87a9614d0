package command

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/internal/daemon"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/identity"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/stamp"
)

func checkCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var configPath string
	fs := newFlagSet("check", "check [--config PATH]", stderr)
	fs.StringVar(&configPath, "config", defaultConfigPath, "Greengrass Lite `config.yaml`; every *.yaml in config.d/ beside it is read too")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	cfg, err := daemon.LoadConfig(configPath, zap.NewNop())
	if err != nil {
		return err
	}
	if _, err := identity.ParseSources(cfg.Fleet.DeviceIDSources); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	claim, err := checkClaimFiles(cfg)
	if err != nil {
		return err
	}
	if err := daemon.Preflight(cfg, zap.NewNop()); err != nil {
		return err
	}

	printCheck(stdout, cfg, claim)
	return nil
}

// checkClaimFiles checks that the claim certificate and key parse, match
// and are valid now, and that the root CA parses; it returns the claim
// certificate.
func checkClaimFiles(cfg *ggconfig.Config) (*x509.Certificate, error) {
	f := cfg.Fleet
	fleet := "services.aws.greengrass.fleet_provisioning.configuration."
	_, claim, err := provision.LoadClaim(f.ClaimCertPath, f.ClaimKeyPath, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errConfig,
			settingPlaces(cfg, fleet+"claimCertPath", fleet+"claimKeyPath"), err)
	}
	if f.RootCAPath == "" {
		return claim, nil
	}
	if err := checkRootCA(f.RootCAPath); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errConfig, settingPlaces(cfg, fleet+"rootCaPath"), err)
	}
	return claim, nil
}

// printCheck prints the result of a successful check and its warnings.
func printCheck(w io.Writer, cfg *ggconfig.Config, claim *x509.Certificate) {
	f := cfg.Fleet
	fmt.Fprintf(w, "configuration: valid (files: %d)\n", len(cfg.Files))
	for _, u := range cfg.Unknown {
		fmt.Fprintf(w, "warning: %s:%d: %s is not a setting of ggl-fleetd and is ignored\n",
			daemon.ConfigRelative(cfg, u.File), u.Line, u.Key)
	}
	for _, warning := range daemon.OwnerWarnings(cfg) {
		fmt.Fprintln(w, "warning: "+warning)
	}
	if f.MQTTPort == 443 && !f.ALPN {
		fmt.Fprintln(w, "warning: mqttPort is 443 with mqttAlpn false; AWS IoT accepts MQTT with client certificates on port 443 only with ALPN x-amzn-mqtt-ca")
	}

	fmt.Fprintln(w, "installation: the credentials folder and the configuration can take the new identity")
	fmt.Fprintf(w, "claim certificate: valid until %s (%s)\n",
		claim.NotAfter.UTC().Format(time.RFC3339), f.ClaimCertPath)
	if f.RootCAPath != "" {
		fmt.Fprintf(w, "root CA: valid (%s)\n", f.RootCAPath)
	} else {
		fmt.Fprintln(w, "root CA: the system's CA pool (useSystemRoots)")
	}
}

// settingPlaces names where the configuration sets each key, as
// "config.d/fleet.yaml:6: KEY", so that an error about a file points at
// the setting that names it.
func settingPlaces(cfg *ggconfig.Config, keys ...string) string {
	var places []string
	for _, key := range keys {
		defs := cfg.Definitions(key)
		if len(defs) == 0 {
			places = append(places, key)
			continue
		}
		last := defs[len(defs)-1]
		places = append(places, fmt.Sprintf("%s:%d: %s", daemon.ConfigRelative(cfg, last.File), last.Line, key))
	}
	return strings.Join(places, ", ")
}

// checkRootCA checks that path holds at least one PEM certificate.
func checkRootCA(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read root CA: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return fmt.Errorf("root CA %q contains no PEM certificate; copy the Amazon root CA there", path)
	}
	return nil
}

func statusCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var stateDir string
	var asJSON bool
	fs := newFlagSet("status", "status [--state-dir DIR] [--json]", stderr)
	fs.StringVar(&stateDir, "state-dir", defaultStateDir, "`directory` that keeps the stamp")
	fs.BoolVar(&asJSON, "json", false, "print the stamp as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	st, err := stamp.Check(stateDir)
	if err != nil {
		return err
	}
	again, err := stamp.Reprovision(stateDir)
	if err != nil {
		return err
	}
	if again {
		fmt.Fprintln(stderr, "reprovisioning requested: the next run replaces this identity")
	}
	if _, err := os.Stat(filepath.Join(stateDir, daemon.RestartPendingFile)); err == nil {
		fmt.Fprintln(stderr, "the Greengrass Lite units have not been restarted since provisioning; the next run restarts them")
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStamp(stdout, st)
	return nil
}

func reprovisionCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var stateDir, configPath string
	var newIdentity, cancel bool
	fs := newFlagSet("reprovision", "reprovision [--state-dir DIR] [--config PATH] [--new-identity | --cancel]", stderr)
	fs.StringVar(&stateDir, "state-dir", defaultStateDir, "`directory` that keeps the device ID and the stamp")
	fs.StringVar(&configPath, "config", defaultConfigPath, "Greengrass Lite `config.yaml`, to check that the claim credentials are still there")
	fs.BoolVar(&newIdentity, "new-identity", false, "also discard the stored device ID, so the next run works it out again")
	fs.BoolVar(&cancel, "cancel", false, "withdraw a reprovisioning request that has not run yet")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if newIdentity && cancel {
		return fmt.Errorf("%w: --new-identity and --cancel exclude each other", errUsage)
	}

	// A mistyped --state-dir must not create a folder the daemon never reads.
	if info, err := os.Stat(stateDir); err != nil || !info.IsDir() {
		return fmt.Errorf("state directory %q not found; pass the --state-dir the daemon uses", stateDir)
	}
	unlock, err := daemon.LockStateDir(stateDir)
	if err != nil {
		return err
	}
	defer unlock()

	if cancel {
		return cancelReprovision(stateDir, stdout)
	}
	if _, err := stamp.Check(stateDir); err != nil {
		if newIdentity {
			if err := identity.Discard(stateDir); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "stored device ID discarded")
		}
		fmt.Fprintln(stdout, "the device is not provisioned yet; the next run provisions it")
		return nil
	}
	if err := checkClaimPresent(configPath); err != nil {
		return err
	}
	return markReprovision(stateDir, newIdentity, stdout)
}

// checkClaimPresent stops a reprovisioning that could not succeed, because
// removeClaimCredentials deleted the claim after the first provisioning.
func checkClaimPresent(configPath string) error {
	cfg, err := daemon.LoadConfig(configPath, zap.NewNop())
	if err != nil {
		return err
	}
	for _, path := range []string{cfg.Fleet.ClaimCertPath, cfg.Fleet.ClaimKeyPath} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: claim file %q is missing (removeClaimCredentials deletes the claim after provisioning); "+
				"install a claim certificate and key first, then reprovision", errConfig, path)
		}
	}
	return nil
}

func markReprovision(stateDir string, newIdentity bool, stdout io.Writer) error {
	if err := stamp.MarkReprovision(stateDir); err != nil {
		return err
	}
	if newIdentity {
		if err := identity.Discard(stateDir); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "stored device ID discarded")
	}
	fmt.Fprintln(stdout, "device marked for reprovisioning; the current identity stays in force until the new one is installed")
	fmt.Fprintln(stdout, "run: systemctl start ggl.gg_fleetprovisioning.service")
	return nil
}

func cancelReprovision(stateDir string, stdout io.Writer) error {
	if err := stamp.ClearReprovision(stateDir); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "reprovisioning request withdrawn")
	return nil
}

// version is set at build time with -ldflags "-X ...command.version=V".
var version = "devel"

func versionCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ggl-fleetd", version)
	return nil
}

func printStamp(w io.Writer, st stamp.Stamp) {
	fmt.Fprintf(w, "provisioned:    yes, at %s\n", st.ProvisionedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "thing name:     %s\n", st.ThingName)
	fmt.Fprintf(w, "device ID:      %s (from %s)\n", st.DeviceID, st.DeviceIDSource)
	fmt.Fprintf(w, "certificate ID: %s\n", st.CertificateID)
	fmt.Fprintf(w, "SHA-256:        %s\n", st.CertificateSHA256)
	fmt.Fprintf(w, "certificate:    %s\n", st.CertificatePath)
	fmt.Fprintf(w, "private key:    %s\n", st.KeyPath)
	for k, v := range st.DeviceConfiguration {
		fmt.Fprintf(w, "device configuration: %s=%s\n", k, v)
	}
}
