package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/notify"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/restart"
)

// RestartPendingFile marks a stamp whose Greengrass Lite units have not been
// restarted yet. It is written before the stamp and removed after a
// successful restart, so a failed restart is retried by the next run without
// provisioning again.
const RestartPendingFile = "restart-pending"

func restartPending(stateDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(stateDir, RestartPendingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check restart marker: %w", err)
	}
	return true, nil
}

func markRestartPending(stateDir string) error {
	return atomicfile.WriteFile(filepath.Join(stateDir, RestartPendingFile), nil, 0o644)
}

// restartUnits restarts the configured Greengrass Lite units over D-Bus so
// that they pick up the new identity without a reboot.
func restartUnits(ctx context.Context, cfg *ggconfig.Config, o Options, log *zap.Logger) error {
	units := cfg.Fleet.RestartUnits
	if len(units) == 0 {
		log.Info("no units to restart")
		return clearRestartPending(o.StateDir)
	}

	o.Notifier.Status(fmt.Sprintf("restarting %v", units))
	conn, err := restart.Connect(ctx, o.BusAddress)
	if err != nil {
		return fmt.Errorf("restart %v: %w; the next run tries again", units, err)
	}
	defer conn.Close()

	stop := keepAlive(o.Notifier)
	err = restart.Units(ctx, conn, units, log)
	stop()
	if err != nil {
		return fmt.Errorf("%w; the next run tries again", err)
	}
	log.Info("units restarted", zap.Strings("unit", units))
	return clearRestartPending(o.StateDir)
}

func clearRestartPending(stateDir string) error {
	return atomicfile.Remove(filepath.Join(stateDir, RestartPendingFile))
}

// keepAlive sends watchdog keep-alives while the daemon waits for the
// restart jobs, which can take longer than the watchdog interval when
// Greengrass Lite units start slowly. It returns the function that stops it.
func keepAlive(n *notify.Notifier) func() {
	interval := n.AliveInterval()
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				n.Alive()
			}
		}
	}()
	return func() { close(done) }
}
