package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// startRun starts ggl-fleetd run in the background and waits until the fake
// has the first CreateCertificateFromCsr request, which it holds back.
func startRun(t *testing.T, d *device) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	d.fake.Inject(fakeiot.OpCreateFromCSR, fakeiot.Delay(time.Minute))
	cmd := exec.Command(binary, "run", "--config", d.fix.ConfigPath,
		"--state-dir", d.stateDir, "--sysfs-root", board)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := d.fake.WaitFor(ctx, func(s fakeiot.Stats) bool { return s.Requests[fakeiot.OpCreateFromCSR] > 0 })
	if err != nil {
		t.Fatalf("first run never sent its request: %v\n%s", err, out.String())
	}
	return cmd, &out
}

func TestConcurrentRunRejected(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	startRun(t, d)

	r := d.run(nil, "run")
	if r.code != 1 {
		t.Fatalf("second run exited %d; want 1:\n%s", r.code, r.output)
	}
	if !strings.Contains(r.output, "run.lock") {
		t.Errorf("second run does not name the lock:\n%s", r.output)
	}
	if n := d.fake.Stats().Connects; n != 1 {
		t.Errorf("fake saw %d connections; want only the first run's", n)
	}
}

// TestSIGTERMStopsCleanly stops a run that waits for its response: the
// process must end by SIGTERM, which systemd counts as a clean stop, and
// leave nothing installed.
func TestSIGTERMStopsCleanly(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	before := d.configFiles()
	cmd, out := startRun(t, d)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("run ended with %v; want death by SIGTERM\n%s", err, out.String())
	}
	ws := exitErr.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("run ended with status %v; want death by SIGTERM\n%s", ws, out.String())
	}

	if !sameFiles(before, d.configFiles()) {
		t.Error("configuration changed by a stopped run")
	}
	entries, _ := os.ReadDir(filepath.Dir(d.fix.CertPath))
	if len(entries) != 0 {
		t.Errorf("credentials folder holds %d files after a stopped run; want 0", len(entries))
	}
}

// TestFailedRestartRetriedNextRun provisions with a D-Bus address where no
// bus listens: the run fails after the stamp, and the next run tries the
// restart again without provisioning again.
func TestFailedRestartRetriedNextRun(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	d.writeDropIn("zz-units.yaml", "restartUnits: [greengrass-lite.target]")
	bus := "unix:path=" + filepath.Join(t.TempDir(), "no-bus")

	r := d.run(nil, "run", "--bus-address", bus)
	if r.code != 1 || !strings.Contains(r.output, "the next run tries again") {
		t.Fatalf("run exited %d; want 1 saying the next run tries again:\n%s", r.code, r.output)
	}
	d.stamp()
	if !fileExists(filepath.Join(d.stateDir, "restart-pending")) {
		t.Fatal("no restart marker after a failed restart")
	}
	connects := d.fake.Stats().Connects

	r = d.run(nil, "run", "--bus-address", bus)
	if r.code != 1 || !strings.Contains(r.output, "greengrass-lite.target") {
		t.Errorf("second run exited %d; want 1 naming the unit it restarts:\n%s", r.code, r.output)
	}
	if got := d.fake.Stats().Connects; got != connects {
		t.Errorf("second run made %d connections; want none", got-connects)
	}
}
