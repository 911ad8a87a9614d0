package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/testbed"
)

// process is the wall time and peak resident set size of one exec.
type process struct {
	wall   time.Duration
	maxRSS int64 // KiB, from wait4's rusage; 0 unless measured
}

// gnuTime is GNU time, which reports the peak RSS of a child that it forked
// itself. The wait4 rusage of a child that this program starts directly is
// useless: Go starts children with clone(CLONE_VM|CLONE_VFORK), and at exec
// Linux carries the high-water RSS of the shared address space, which is this
// program's own (the fake endpoint included), into the child's ru_maxrss.
const gnuTime = "/usr/bin/time"

// haveGNUTime reports whether gnuTime can be run.
func haveGNUTime() bool {
	_, err := exec.LookPath(gnuTime)
	return err == nil
}

// execRSS runs cmd under GNU time and returns its peak RSS in KiB.
func execRSS(cmd *exec.Cmd, dir string) (int64, error) {
	out := filepath.Join(dir, "maxrss")
	wrapped := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", out, "--",
		cmd.Path}, cmd.Args[1:]...)...)
	wrapped.Env = cmd.Env
	wrapped.Stdout = cmd.Stdout
	if _, err := execLogged(wrapped, dir); err != nil {
		return 0, err
	}

	data, err := os.ReadFile(out)
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, fmt.Errorf("%s wrote no peak RSS into %q", gnuTime, out)
	}
	return strconv.ParseInt(fields[len(fields)-1], 10, 64)
}

// execLogged runs cmd with its standard error in a file of dir, and returns
// its wall time. A non-zero exit returns the log in the error.
func execLogged(cmd *exec.Cmd, dir string) (process, error) {
	logPath := filepath.Join(dir, filepath.Base(cmd.Path)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return process{}, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile // a file, so no copying goroutine delays Wait

	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return process{}, fmt.Errorf("%s: %w; its log:\n%s", cmd.Path, err, log)
	}
	return process{wall: wall}, nil
}

// daemonCommand returns `ggl-fleetd run` on the configuration and state of r.
func daemonCommand(bin, sysfs string, r testbed.Run) *exec.Cmd {
	cmd := exec.Command(bin, "run", "--config", r.ConfigPath,
		"--state-dir", r.StateDir, "--sysfs-root", sysfs)
	cmd.Env = testbed.Env()
	return cmd
}
