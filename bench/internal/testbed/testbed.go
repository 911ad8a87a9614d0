// Package testbed prepares what a benchmark run of ggl-fleetd needs: the fake
// AWS IoT endpoint on loopback and, for each run, a fresh Greengrass Lite
// configuration and state directory, so that every run is a first boot.
package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// Bed is a running fake endpoint and a working directory for runs.
type Bed struct {
	Server *fakeiot.Server
	Dir    string // removed by Close
	runs   int
}

// Start starts the fake endpoint with cfg and creates the working directory.
func Start(cfg fakeiot.Config) (*Bed, error) {
	dir, err := os.MkdirTemp("", "ggl-fleetd-bench-")
	if err != nil {
		return nil, fmt.Errorf("create working directory: %w", err)
	}

	srv, err := fakeiot.Start(cfg)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start fake endpoint: %w", err)
	}
	return &Bed{Server: srv, Dir: dir}, nil
}

// Close stops the fake endpoint and removes the working directory.
func (b *Bed) Close() error {
	err := b.Server.Close()
	if rmErr := os.RemoveAll(b.Dir); err == nil {
		err = rmErr
	}
	return err
}

// Run is the files of one run of the daemon.
type Run struct {
	Dir        string // the run's own directory
	ConfigPath string // config.yaml of the run's Greengrass Lite configuration
	StateDir   string // empty state directory; does not exist yet
	Fixture    fakeiot.Fixture
}

// NewRun writes a fresh configuration that points at the fake, with a drop-in
// that restarts no unit (the benchmark has no system bus) and sets keyType.
func (b *Bed) NewRun(keyType string) (Run, error) {
	b.runs++
	dir := filepath.Join(b.Dir, "run-"+strconv.Itoa(b.runs))

	f, err := b.Server.WriteFixture(filepath.Join(dir, "greengrass"))
	if err != nil {
		return Run{}, fmt.Errorf("write fixture: %w", err)
	}

	dropIn := "services:\n" +
		"  aws.greengrass.fleet_provisioning:\n" +
		"    configuration:\n" +
		"      restartUnits: []\n" +
		"      keyType: " + keyType + "\n"
	path := filepath.Join(f.Dir, "config.d", "zz-bench.yaml")
	if err := os.WriteFile(path, []byte(dropIn), 0o644); err != nil {
		return Run{}, fmt.Errorf("write drop-in %q: %w", path, err)
	}

	return Run{
		Dir:        dir,
		ConfigPath: f.ConfigPath,
		StateDir:   filepath.Join(dir, "state"),
		Fixture:    f,
	}, nil
}

// Env returns this process's environment without the variables that would
// change how the daemon runs (systemd notification and watchdog, journal,
// proxies), followed by extra.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !dropped[strings.ToUpper(name)] {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

var dropped = map[string]bool{
	"NOTIFY_SOCKET": true, "WATCHDOG_USEC": true, "WATCHDOG_PID": true,
	"JOURNAL_STREAM": true, "HTTPS_PROXY": true, "HTTP_PROXY": true,
	"ALL_PROXY": true, "NO_PROXY": true, "GGL_FLEETD_STOP_AT": true,
}
