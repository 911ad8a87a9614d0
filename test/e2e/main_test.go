// Package e2e runs the real ggl-fleetd binary against the fake AWS IoT
// endpoint: crash safety at every installation step, reprovisioning, file
// modes and the configuration edits as a whole.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// binary is the ggl-fleetd built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ggl-fleetd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ggl-fleetd")
	build := exec.Command("go", "build", "-o", binary, "github.com/ggl-fleetd/ggl-fleetd/cmd/ggl-fleetd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ggl-fleetd:", err)
		os.Exit(1)
	}

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// board is the system tree that gives the tests a fixed device ID.
const board = "../../testdata/sysfs/raspberry-pi-4"

// device is one simulated device: a configuration folder made by the fake
// endpoint, a state directory and the fake itself.
type device struct {
	t        *testing.T
	fake     *fakeiot.Server
	fix      fakeiot.Fixture
	stateDir string
}

// newDevice starts a fake endpoint and writes a device configuration for
// it. extra is YAML for the fleet provisioning block, one setting a line.
func newDevice(t *testing.T, cfg fakeiot.Config, extra ...string) *device {
	t.Helper()
	if cfg.ThingPrefix == "" {
		// A thing name unlike the device ID keeps the claim connection and
		// the check with the new certificate on different client IDs.
		cfg.ThingPrefix = "e2e-"
	}
	fake, err := fakeiot.Start(cfg)
	if err != nil {
		t.Fatalf("start fake endpoint: %v", err)
	}
	t.Cleanup(func() { fake.Close() })

	dir := t.TempDir()
	fix, err := fake.WriteFixture(dir)
	if err != nil {
		t.Fatalf("write fixture: %v", err)
	}
	d := &device{t: t, fake: fake, fix: fix, stateDir: filepath.Join(dir, "state")}
	d.writeDropIn("zz-test.yaml", append([]string{"restartUnits: []"}, extra...)...)
	return d
}

// writeDropIn writes a config.d file that sets fleet provisioning settings.
func (d *device) writeDropIn(name string, settings ...string) {
	d.t.Helper()
	var b strings.Builder
	b.WriteString("services:\n  aws.greengrass.fleet_provisioning:\n    configuration:\n")
	for _, s := range settings {
		b.WriteString("      " + s + "\n")
	}
	path := filepath.Join(d.fix.Dir, "config.d", name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// result is the outcome of one run of the binary.
type result struct {
	code   int  // exit code, -1 when killed by a signal
	killed bool // ended by SIGKILL
	output string
}

// run runs ggl-fleetd with args and the device's paths; env adds variables.
func (d *device) run(env []string, args ...string) result {
	d.t.Helper()
	full := append(args, "--state-dir", d.stateDir)
	if len(args) > 0 && args[0] == "run" {
		full = append(full, "--config", d.fix.ConfigPath, "--sysfs-root", board)
	}
	if len(args) > 0 && args[0] == "reprovision" {
		full = append(full, "--config", d.fix.ConfigPath)
	}
	// The timeout only catches a hang; a run takes well under a second.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, full...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()

	r := result{output: out.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = ws.Signal() == syscall.SIGKILL
		}
	default:
		d.t.Fatalf("run %v: %v", full, err)
	}
	return r
}

// mustProvision runs the daemon and fails the test unless it exits 0.
func (d *device) mustProvision() result {
	d.t.Helper()
	r := d.run(nil, "run")
	if r.code != 0 {
		d.t.Fatalf("ggl-fleetd run exited %d; want 0; output:\n%s", r.code, r.output)
	}
	return r
}
