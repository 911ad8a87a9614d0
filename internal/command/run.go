package command

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap/zapcore"

	"github.com/ggl-fleetd/ggl-fleetd/internal/daemon"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/logger"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/notify"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision"
)

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o daemon.Options
	level := zapcore.InfoLevel
	fs := newFlagSet("run", "run [--config PATH] [--state-dir DIR] [--sysfs-root DIR] [--log-level LEVEL]", stderr)
	fs.StringVar(&o.ConfigPath, "config", defaultConfigPath, "Greengrass Lite `config.yaml`; every *.yaml in config.d/ beside it is read too")
	fs.StringVar(&o.StateDir, "state-dir", defaultStateDir, "`directory` that keeps the device ID, the stamp and the reprovision marker")
	fs.StringVar(&o.SysfsRoot, "sysfs-root", defaultSysfsRoot, "root `directory` under which sys/, proc/ and deviceIdFile are read for the device ID")
	fs.StringVar(&o.BusAddress, "bus-address", "", "D-Bus `address` used to restart units (default: the system bus, or DBUS_SYSTEM_BUS_ADDRESS)")
	fs.TextVar(&level, "log-level", zapcore.InfoLevel, "log `level`: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	log, err := logger.New(level)
	if err != nil {
		return fmt.Errorf("start logger: %w", err)
	}
	defer log.Sync()
	o.Log = log
	o.Notifier = notify.New(log)
	daemon.Version = version

	err = daemon.Run(ctx, o)
	if err != nil && ctx.Err() != nil {
		log.Info("stopped by signal")
		return fmt.Errorf("stopped by signal: %w", err)
	}
	return err
}

// isConfigError reports whether err comes from the local configuration or
// the claim credentials, which a restart cannot fix.
func isConfigError(err error) bool {
	var cfgErr *ggconfig.Error
	if errors.As(err, &cfgErr) {
		return true
	}
	return provision.IsLocalConfig(err) || errors.Is(err, daemon.ErrLocal) || errors.Is(err, errConfig)
}

// errConfig marks a local configuration error found by the command itself.
var errConfig = errors.New("invalid configuration")
