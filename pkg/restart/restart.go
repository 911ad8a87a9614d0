// Package restart restarts systemd units over D-Bus, so that the Greengrass
// Lite services load the new credentials without a reboot.
//
// Before each restart it resets the failed state of the unit and of every
// unit that is PartOf it. A Greengrass Lite service that ran without
// credentials has usually hit its start limit and is in the failed state, and
// systemd would reject its start until the failed state is reset.
//
// A unit that is PartOf a restarted unit is stopped and started with it, so
// the daemon's own unit must not be PartOf any unit it restarts. Otherwise
// systemd stops the daemon in the middle of the restart, or the job waits for
// the daemon's unit while the daemon waits for the job. The caller chooses
// the units and must keep the daemon's unit out of them.
package restart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"go.uber.org/zap"
)

// errNoSuchUnit is the D-Bus error systemd returns for a unit that is not
// loaded (ResetFailedUnit) or has no unit file (RestartUnit).
const errNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"

// JobError is a restart job that finished with a result other than "done".
type JobError struct {
	// Unit is the name of the unit restarted, such as
	// "greengrass-lite.target".
	Unit string
	// Result is the job result systemd reported: "failed", "timeout",
	// "canceled", "dependency", "skipped" and a few rarer values.
	Result string
}

// Error returns the unit, the job result with a short explanation, and the
// journalctl command that shows the unit's log.
func (e *JobError) Error() string {
	return fmt.Sprintf(
		"restart of unit %q finished with result %q (%s): see journalctl -u %s",
		e.Unit, e.Result, describeResult(e.Result), e.Unit)
}

func describeResult(result string) string {
	switch result {
	case "failed":
		return "the unit failed to start, or hit its start limit"
	case "timeout":
		return "the unit did not start within its timeout"
	case "canceled":
		return "another job replaced the restart"
	case "dependency":
		return "a unit it requires failed to start"
	case "skipped":
		return "systemd skipped the restart"
	default:
		return "see systemd.job results"
	}
}

// Connect opens a connection to the D-Bus system bus, or to the bus at
// address (a D-Bus address such as "unix:path=/run/dbus/system_bus_socket")
// when address is not empty. With an empty address, godbus honours
// DBUS_SYSTEM_BUS_ADDRESS. The connection is closed when ctx is done; close
// it with Close when finished.
func Connect(ctx context.Context, address string) (*sd.Conn, error) {
	if address == "" {
		conn, err := sd.NewSystemConnectionContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("failed to connect to the D-Bus system bus: %w",
				err)
		}
		return conn, nil
	}

	conn, err := sd.NewConnection(func() (*dbus.Conn, error) {
		return dial(ctx, address)
	})
	if err != nil {
		return nil, fmt.Errorf("failed to connect to D-Bus at %q: %w", address, err)
	}
	return conn, nil
}

// dial opens a private connection with EXTERNAL authentication, as the
// system bus requires, and registers it with Hello.
func dial(ctx context.Context, address string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(address, dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}

	auth := []dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}
	if err := conn.Auth(auth); err != nil {
		conn.Close()
		return nil, err
	}

	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Units restarts each unit in order with job mode "replace" and waits for
// each job to finish. A unit that fails does not stop the others, because
// each one left running would keep stale credentials; the errors are joined.
// A failed job is a *JobError. When ctx is done, Units returns at once and
// the job it waited for goes on in systemd.
func Units(ctx context.Context, conn *sd.Conn, units []string,
	log *zap.Logger) error {
	var errs []error
	for _, unit := range units {
		if err := ctx.Err(); err != nil {
			err = fmt.Errorf("restart of unit %q not started: %w", unit, err)
			errs = append(errs, err)
			break
		}

		unitLog := log.With(zap.String("unit", unit))
		if err := restartUnit(ctx, conn, unit, unitLog); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func restartUnit(ctx context.Context, conn *sd.Conn, unit string,
	log *zap.Logger) error {
	if err := validateUnitName(unit); err != nil {
		return err
	}

	members := partOf(ctx, conn, unit, log)
	log.Info("restarting unit", zap.Strings("part-of", members))

	for _, name := range append(members, unit) {
		resetFailed(ctx, conn, name, log)
	}

	result, err := runRestartJob(ctx, conn, unit)
	if err != nil {
		return err
	}
	if result != "done" {
		return &JobError{Unit: unit, Result: result}
	}

	log.Info("unit restarted")
	return nil
}

// partOf returns the units that are PartOf unit, read from its ConsistsOf
// property. A failure to read it is logged and leaves the list empty,
// because the restart itself may still succeed.
func partOf(ctx context.Context, conn *sd.Conn, unit string,
	log *zap.Logger) []string {
	prop, err := conn.GetUnitPropertyContext(ctx, unit, "ConsistsOf")
	if err != nil {
		log.Warn("failed to list units that are part of unit", zap.Error(err))
		return nil
	}

	members, ok := prop.Value.Value().([]string)
	if !ok {
		log.Warn("unexpected ConsistsOf type, ignoring it",
			zap.String("type", prop.Value.Signature().String()))
		return nil
	}
	return members
}

// resetFailed clears the failed state and start limit counter of name. A unit
// that is not loaded has no failed state, so that error is ignored. Other
// errors are only logged, because the restart that follows reports the
// outcome.
func resetFailed(ctx context.Context, conn *sd.Conn, name string, log *zap.Logger) {
	err := conn.ResetFailedUnitContext(ctx, name)
	switch {
	case err == nil:
		log.Debug("failed state reset", zap.String("reset-unit", name))
	case isNoSuchUnit(err):
		log.Debug("unit not loaded, nothing to reset",
			zap.String("reset-unit", name))
	default:
		log.Warn("failed to reset failed state of unit",
			zap.String("reset-unit", name), zap.Error(err))
	}
}

// runRestartJob queues a restart job and returns its result.
func runRestartJob(ctx context.Context, conn *sd.Conn, unit string) (string, error) {
	// go-systemd sends the result on ch from its signal goroutine while
	// holding a lock. The buffer lets that send complete even when ctx ends
	// first and ch has no reader.
	ch := make(chan string, 1)
	_, err := conn.RestartUnitContext(ctx, unit, "replace", ch)
	if isNoSuchUnit(err) {
		return "", fmt.Errorf(
			"unit %q not found: check the name against systemctl list-unit-files: %w",
			unit, err)
	}
	if err != nil {
		return "", fmt.Errorf("failed to restart unit %q: %w", unit, err)
	}

	select {
	case result := <-ch:
		return result, nil
	case <-ctx.Done():
		return "", fmt.Errorf(
			"stopped waiting for restart of unit %q, the job goes on in systemd: %w",
			unit, ctx.Err())
	}
}

// isNoSuchUnit reports whether err is systemd's NoSuchUnit D-Bus error.
// godbus returns call errors as dbus.Error values; *dbus.Error is accepted too.
func isNoSuchUnit(err error) bool {
	var value dbus.Error
	if errors.As(err, &value) {
		return value.Name == errNoSuchUnit
	}
	var ptr *dbus.Error
	return errors.As(err, &ptr) && ptr.Name == errNoSuchUnit
}
