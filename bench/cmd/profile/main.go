// Command profile runs ggl-fleetd's provisioning pass (daemon.Run, as
// `ggl-fleetd run` does) in process N times against the fake endpoint, each
// time on a fresh configuration and state directory, and writes a CPU and a
// heap profile. Samples of the daemon's goroutines carry the label
// side=device, so `go tool pprof -tagfocus side=device` leaves out the fake.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/testbed"
	"github.com/ggl-fleetd/ggl-fleetd/internal/daemon"
	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/notify"
)

func main() {
	runs := flag.Int("runs", 200, "provisioning passes to profile")
	out := flag.String("out", "profiles", "`directory` for cpu.pprof and heap.pprof")
	keyType := flag.String("key-type", "ec-p256", "keyType of the configuration")
	sysfs := flag.String("sysfs-root", "testdata/sysfs/raspberry-pi-4",
		"sysfs root `directory` that gives a fixed device ID")
	flag.Parse()

	if err := run(*runs, *out, *keyType, *sysfs); err != nil {
		fmt.Fprintf(os.Stderr, "profile: %v\n", err)
		os.Exit(1)
	}
}

func run(runs int, out, keyType, sysfs string) error {
	bed, err := testbed.Start(fakeiot.Config{ThingPrefix: "bench-"})
	if err != nil {
		return err
	}
	defer bed.Close()

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cpu, err := os.Create(filepath.Join(out, "cpu.pprof"))
	if err != nil {
		return err
	}
	defer cpu.Close()

	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	start := time.Now()
	err = provisionRepeatedly(bed, runs, keyType, sysfs)
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}

	fmt.Printf("%d provisioning passes in process: %.1f ms each on average\n",
		runs, float64(elapsed)/float64(runs)/float64(time.Millisecond))
	return writeHeap(filepath.Join(out, "heap.pprof"))
}

// provisionRepeatedly runs daemon.Run runs times, each under the label
// side=device; writing the fixture of each run stays outside the label.
func provisionRepeatedly(bed *testbed.Bed, runs int, keyType, sysfs string) error {
	log := zap.NewNop()
	labels := pprof.Labels("side", "device")
	for range runs {
		r, err := bed.NewRun(keyType)
		if err != nil {
			return err
		}

		pprof.Do(context.Background(), labels, func(ctx context.Context) {
			err = daemon.Run(ctx, daemon.Options{
				ConfigPath: r.ConfigPath,
				StateDir:   r.StateDir,
				SysfsRoot:  sysfs,
				Log:        log,
				Notifier:   notify.New(log),
			})
		})
		if err != nil {
			return fmt.Errorf("provisioning pass: %w", err)
		}
	}
	return nil
}

// writeHeap writes the heap profile, whose alloc_space sample covers every
// allocation since the start, the fake's included.
func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()

	runtime.GC()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
