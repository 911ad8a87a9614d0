package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/identity"
)

// identityReport is the --json output of the identity command.
type identityReport struct {
	ID      string          `json:"id"`
	Source  identity.Source `json:"source"`
	Skipped []skipReport    `json:"skipped"`
	Stored  *storedReport   `json:"stored,omitempty"`
}

type skipReport struct {
	Source identity.Source `json:"source"`
	Reason string          `json:"reason"`
}

type storedReport struct {
	ID     string          `json:"id"`
	Source identity.Source `json:"source"`
}

func identityCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var configPath, stateDir string
	var asJSON bool
	p := &identity.Prober{Logger: zap.NewNop()}
	fs := newFlagSet("identity", "identity [--sysfs-root DIR] [--state-dir DIR] [--config PATH] [--json]", stderr)
	fs.StringVar(&p.Root, "sysfs-root", defaultSysfsRoot, "root `directory` under which sys/, proc/ and deviceIdFile are read")
	fs.StringVar(&stateDir, "state-dir", defaultStateDir, "`directory` whose stored device ID is reported too")
	fs.StringVar(&configPath, "config", defaultConfigPath, "Greengrass Lite `config.yaml` whose deviceIdSources and deviceIdFile apply, when it exists")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	if err := applyIdentityConfig(p, configPath); err != nil {
		return err
	}
	res, err := p.Probe()
	if err != nil {
		return fmt.Errorf("probe device ID: %w", err)
	}
	stored, found, err := identity.LoadStored(stateDir)
	if err != nil {
		return err
	}

	report := newIdentityReport(res, stored, found)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	printIdentity(stdout, report)
	return nil
}

// applyIdentityConfig takes the identity settings from the configuration when
// the file exists; the built-in defaults apply otherwise.
func applyIdentityConfig(p *identity.Prober, configPath string) error {
	_, err := os.Stat(configPath)
	if errors.Is(err, fs.ErrNotExist) {
		p.Sources = identity.DefaultSources()
		return nil
	}
	cfg, err := ggconfig.Load(configPath)
	if err != nil {
		return err
	}
	sources, err := identity.ParseSources(cfg.Fleet.DeviceIDSources)
	if err != nil {
		return err
	}
	p.Sources = sources
	p.DeviceIDFile = cfg.Fleet.DeviceIDFile
	return nil
}

func newIdentityReport(res identity.Result, stored identity.Result, found bool) identityReport {
	r := identityReport{ID: res.ID, Source: res.Source, Skipped: []skipReport{}}
	for _, s := range res.Skipped {
		r.Skipped = append(r.Skipped, skipReport{Source: s.Source, Reason: s.Reason})
	}
	if found {
		r.Stored = &storedReport{ID: stored.ID, Source: stored.Source}
	}
	return r
}

func printIdentity(w io.Writer, r identityReport) {
	fmt.Fprintf(w, "device ID: %s\nsource:    %s\n", r.ID, r.Source)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped:   %s: %s\n", s.Source, s.Reason)
	}
	switch {
	case r.Stored != nil:
		fmt.Fprintf(w, "stored:    %s (from %s); provisioning uses this one\n", r.Stored.ID, r.Stored.Source)
	case r.Source == identity.SourceGenerated:
		fmt.Fprintln(w, "note:      a generated ID is random on each probe and not stored here;")
		fmt.Fprintln(w, "           the first run generates one and keeps it")
	}
}
