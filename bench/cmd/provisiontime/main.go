// Command provisiontime measures ggl-fleetd's whole provisioning run, exec to
// exit 0, against the fake AWS IoT endpoint on loopback: wall time and peak
// RSS for each key type, the already-provisioned boot, a bare paho.golang
// client of the same flow as the baseline, and the same flow with the AWS
// IoT Device SDK v2 for JavaScript under Node.js.
//
// Every provisioning run starts from a fresh configuration and an empty
// state directory. The fake prefixes thing names, so the thing name differs
// from the device ID and the connection check with the new certificate does
// not wait for the reconnect spacing of one client ID.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/sample"
	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/testbed"
	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// Targets.
const (
	provisionTarget = 60 * time.Millisecond // median, ec-p256
	stampedTarget   = 10 * time.Millisecond // median, already provisioned
	rssTarget       = 16 * 1024             // KiB, peak RSS of a provisioning run
	speedRatio      = 5                     // Node.js SDK time / ggl-fleetd time
	memoryRatio     = 3                     // Node.js SDK RSS / ggl-fleetd RSS
)

const template = "FleetTemplate"

// maxFailures is how many failed runs a measurement tolerates.
const maxFailures = 3

// config is the command line.
type config struct {
	bin, bare, sysfs string
	nodeDir          string
	runs, rssRuns    int
	nodeRuns         int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "bin/ggl-fleetd", "ggl-fleetd `binary` to run")
	flag.StringVar(&c.bare, "bare", "",
		"bareclient `binary` (bench/cmd/bareclient); empty skips the baseline")
	flag.StringVar(&c.sysfs, "sysfs-root", "testdata/sysfs/raspberry-pi-4",
		"sysfs root `directory` that gives a fixed device ID")
	flag.IntVar(&c.runs, "runs", 30, "runs of each ggl-fleetd and bare client measurement")
	flag.IntVar(&c.rssRuns, "rss-runs", 10, "runs under GNU time for the peak RSS")
	flag.StringVar(&c.nodeDir, "node", "",
		"`directory` of provision.js with node_modules; empty skips the Node.js client")
	flag.IntVar(&c.nodeRuns, "node-runs", 10, "runs of the Node.js client")
	flag.Parse()

	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "provisiontime: %v\n", err)
		os.Exit(1)
	}
}

func run(c config) error {
	bed, err := testbed.Start(fakeiot.Config{TemplateName: template, ThingPrefix: "bench-"})
	if err != nil {
		return err
	}
	defer bed.Close()

	ec, last, err := measureDaemon(c, bed, "ec-p256")
	if err != nil {
		return err
	}
	report("provisioning, ec-p256, exec to exit 0", ec, provisionTarget)
	rsa, _, err := measureDaemon(c, bed, "rsa-2048")
	if err != nil {
		return err
	}
	report("provisioning, rsa-2048, exec to exit 0", rsa, 0)

	if err := measureStamped(c, bed, last); err != nil {
		return err
	}

	if err := measureBare(c, bed); err != nil {
		return err
	}

	return compareNode(c, bed, ec)
}

// samples are the runs of one measurement.
type samples struct {
	wall sample.Durations
	rss  sample.Ints // empty without GNU time
}

// job is one exec to measure: the command, the directory for its log, and
// a check of its result after exit 0 (nil for none).
type job struct {
	cmd   *exec.Cmd
	dir   string
	check func() error
}

// measure runs the jobs of next: runs+1 for the wall time, the first being a
// warm-up, then rssRuns under GNU time for the peak RSS. A failed job is
// replaced by the next one up to maxFailures times, and each failure is
// printed.
func measure(runs, rssRuns int, next func(i int) (job, error)) (samples, error) {
	var s samples
	failures := 0
	for i := 0; len(s.wall) < runs; i++ {
		j, err := next(i)
		if err != nil {
			return s, err
		}
		p, err := execLogged(j.cmd, j.dir)
		if err == nil && j.check != nil {
			err = j.check()
		}
		if err != nil {
			failures++
			fmt.Printf("run %d failed (%d of at most %d): %v\n", i, failures, maxFailures, err)
			if failures > maxFailures {
				return s, err
			}
			continue
		}
		if i > 0 {
			s.wall = append(s.wall, p.wall)
		}
	}

	if !haveGNUTime() {
		return s, nil
	}
	for i := range rssRuns {
		j, err := next(runs + failures + 1 + i)
		if err != nil {
			return s, err
		}
		kib, err := execRSS(j.cmd, j.dir)
		if err != nil {
			return s, err
		}
		s.rss = append(s.rss, kib)
	}
	return s, nil
}

// measureDaemon provisions with keyType and returns the measurements and the
// last run.
func measureDaemon(c config, bed *testbed.Bed, keyType string) (samples, testbed.Run, error) {
	var last testbed.Run
	s, err := measure(c.runs, c.rssRuns, func(int) (job, error) {
		r, err := bed.NewRun(keyType)
		if err != nil {
			return job{}, err
		}
		last = r
		check := func() error {
			_, err := os.Stat(filepath.Join(r.StateDir, "stamp.json"))
			return err
		}
		return job{daemonCommand(c.bin, c.sysfs, r), r.Dir, check}, nil
	})
	if err != nil {
		return s, last, fmt.Errorf("provisioning with %s: %w", keyType, err)
	}
	return s, last, nil
}

// measureStamped boots on the state of an earlier provisioning and checks
// that no connection reached the fake meanwhile.
func measureStamped(c config, bed *testbed.Bed, r testbed.Run) error {
	before := bed.Server.Stats()
	s, err := measure(c.runs, c.rssRuns, func(int) (job, error) {
		return job{daemonCommand(c.bin, c.sysfs, r), r.Dir, nil}, nil
	})
	if err != nil {
		return fmt.Errorf("already provisioned boot: %w", err)
	}
	after := bed.Server.Stats()

	connects := after.Connects + after.ConnectRejections -
		before.Connects - before.ConnectRejections
	fmt.Printf("already provisioned boot: median %s, p90 %s, peak RSS %s, "+
		"connections to the fake during %d runs: %d\n",
		sample.Millis(s.wall.Median()), sample.Millis(s.wall.Percentile(90)),
		rssText(s.rss), len(s.wall)+len(s.rss)+1, connects)
	sample.Result(os.Stdout, "already provisioned boot, exec to exit 0",
		withP90(s.wall)+", "+strconv.Itoa(connects)+" connections",
		"<= "+sample.Millis(stampedTarget)+", 0 connections",
		sample.Met(s.wall.Median() <= stampedTarget && connects == 0))
	return nil
}

// measureBare runs the bare paho.golang client of bench/cmd/bareclient.
func measureBare(c config, bed *testbed.Bed) error {
	if c.bare == "" {
		fmt.Println("bare client skipped: no --bare binary")
		return nil
	}
	s, err := measure(c.runs, c.rssRuns, func(i int) (job, error) {
		r, err := bed.NewRun("ec-p256")
		if err != nil {
			return job{}, err
		}
		f := r.Fixture
		cmd := exec.Command(c.bare, "--endpoint", f.Endpoint,
			"--port", strconv.Itoa(f.Port), "--ca", f.RootCAPath,
			"--cert", f.ClaimCertPath, "--key", f.ClaimKeyPath,
			"--client-id", "bare-"+strconv.Itoa(i), "--template", template)
		cmd.Env = testbed.Env()
		return job{cmd, r.Dir, nil}, nil
	})
	if err != nil {
		return fmt.Errorf("bare client: %w", err)
	}
	report("baseline: bare paho.golang client, ec-p256", s, 0)
	return nil
}

// compareNode runs the Node.js client and reports it next to ggl-fleetd's
// ec-p256 runs.
func compareNode(c config, bed *testbed.Bed, ec samples) error {
	if c.nodeDir == "" {
		fmt.Println("Node.js client skipped: no --node directory")
		return nil
	}
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Println("Node.js client skipped: node is not installed")
		return nil
	}

	s, err := measure(c.nodeRuns, c.nodeRuns, func(i int) (job, error) {
		r, err := bed.NewRun("ec-p256")
		if err != nil {
			return job{}, err
		}
		cmd, out, err := nodeCommand(c.nodeDir, r, template, "node-"+strconv.Itoa(i))
		return job{cmd, out, nil}, err
	})
	if err != nil {
		return fmt.Errorf("Node.js client: %w", err)
	}

	report("AWS IoT Device SDK v2 for JavaScript, ec-p256", s, 0)
	speed := float64(s.wall.Median()) / float64(ec.wall.Median())
	sample.Result(os.Stdout, "time, Node.js SDK / ggl-fleetd",
		fmt.Sprintf("%.1fx", speed), fmt.Sprintf(">= %dx", speedRatio),
		sample.Met(speed >= speedRatio))
	if len(s.rss) > 0 && len(ec.rss) > 0 {
		memory := float64(s.rss.Median()) / float64(ec.rss.Median())
		sample.Result(os.Stdout, "peak RSS, Node.js SDK / ggl-fleetd",
			fmt.Sprintf("%.1fx", memory), fmt.Sprintf(">= %dx", memoryRatio),
			sample.Met(memory >= memoryRatio))
	}
	return nil
}

// report prints the wall time and peak RSS of s, with target as the median
// time target (0 for none); ggl-fleetd's runs (target > 0) also get
// rssTarget.
func report(name string, s samples, target time.Duration) {
	fmt.Printf("%s: %d runs, median %s, p90 %s, max %s; peak RSS %s\n",
		name, len(s.wall), sample.Millis(s.wall.Median()),
		sample.Millis(s.wall.Percentile(90)), sample.Millis(s.wall.Max()),
		rssText(s.rss))

	if target > 0 {
		sample.Result(os.Stdout, name, withP90(s.wall), "<= "+sample.Millis(target),
			sample.Met(s.wall.Median() <= target))
	} else {
		sample.Result(os.Stdout, name, withP90(s.wall), "-", nil)
	}

	if len(s.rss) == 0 {
		fmt.Printf("peak RSS of %s skipped: %s is missing (apt-get install time)\n",
			name, gnuTime)
		return
	}
	var met *bool
	goal := "-"
	if target > 0 {
		met = sample.Met(s.rss.Median() <= rssTarget)
		goal = "<= " + sample.MiB(rssTarget)
	}
	sample.Result(os.Stdout, "peak RSS, "+name, rssText(s.rss), goal, met)
}

// rssText formats the median and maximum of peak RSS samples.
func rssText(rss sample.Ints) string {
	if len(rss) == 0 {
		return "not measured"
	}
	return sample.MiB(rss.Median()) + " (max " + sample.MiB(rss.Max()) + ")"
}

// withP90 formats the median and the 90th percentile of d.
func withP90(d sample.Durations) string {
	return sample.Millis(d.Median()) + " (p90 " + sample.Millis(d.Percentile(90)) + ")"
}
