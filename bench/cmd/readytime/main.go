// Command readytime measures how long ggl-fleetd takes from exec to READY=1
// on a unixgram NOTIFY_SOCKET that it listens on, as systemd does for a
// Type=notify unit. Each run has a fresh configuration pointing at the fake
// endpoint and an empty state directory, so the device ID is probed and
// stored as on a first boot; the daemon is killed once READY=1 arrives.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/sample"
	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/testbed"
	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// target is the required median time to READY=1 on a 2-core machine.
const target = 20 * time.Millisecond

func main() {
	bin := flag.String("bin", "bin/ggl-fleetd", "ggl-fleetd `binary` to run")
	runs := flag.Int("runs", 30, "number of runs")
	sysfs := flag.String("sysfs-root", "testdata/sysfs/raspberry-pi-4",
		"sysfs root `directory` that gives a fixed device ID")
	flag.Parse()

	if err := run(*bin, *sysfs, *runs); err != nil {
		fmt.Fprintf(os.Stderr, "readytime: %v\n", err)
		os.Exit(1)
	}
}

func run(bin, sysfs string, runs int) error {
	bed, err := testbed.Start(fakeiot.Config{ThingPrefix: "bench-"})
	if err != nil {
		return err
	}
	defer bed.Close()

	var times sample.Durations
	for range runs {
		d, err := measure(bed, bin, sysfs)
		if err != nil {
			return err
		}
		times = append(times, d)
	}

	fmt.Printf("time to READY=1: %d runs, median %s, p90 %s, max %s\n", runs,
		sample.Millis(times.Median()), sample.Millis(times.Percentile(90)),
		sample.Millis(times.Max()))
	value := sample.Millis(times.Median()) +
		" (p90 " + sample.Millis(times.Percentile(90)) + ")"
	sample.Result(os.Stdout, "time to READY=1", value, "<= "+sample.Millis(target),
		sample.Met(times.Median() <= target))
	return nil
}

// measure runs the daemon once and returns the time from exec to READY=1.
func measure(bed *testbed.Bed, bin, sysfs string) (time.Duration, error) {
	r, err := bed.NewRun("ec-p256")
	if err != nil {
		return 0, err
	}

	socket := filepath.Join(r.Dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return 0, fmt.Errorf("listen on %q: %w", socket, err)
	}
	defer conn.Close()

	var stderr bytes.Buffer
	cmd := exec.Command(bin, "run", "--config", r.ConfigPath,
		"--state-dir", r.StateDir, "--sysfs-root", sysfs)
	cmd.Env = testbed.Env("NOTIFY_SOCKET=" + socket)
	cmd.Stderr = &stderr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %q: %w", bin, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	if err := awaitReady(conn, start.Add(10*time.Second)); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("%w; daemon log:\n%s", err, stderr.String())
	}
	return time.Since(start), nil
}

// awaitReady reads notifications until one contains the line READY=1.
func awaitReady(conn *net.UnixConn, deadline time.Time) error {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return err
	}

	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errors.New("no READY=1 within 10 s")
			}
			return fmt.Errorf("read notification: %w", err)
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line == "READY=1" {
				return nil
			}
		}
	}
}
