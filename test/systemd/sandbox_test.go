package systemdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Generous limits that only catch hangs, not performance claims.
const (
	bootTimeout  = 60 * time.Second
	stateTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	pollInterval = 50 * time.Millisecond
)

// sandbox is a systemd booted as PID 1 of new namespaces.
type sandbox struct {
	t      *testing.T
	outer  *exec.Cmd // the script, then unshare; parent of PID 1
	pid1   int       // host PID of the sandbox's PID 1
	cgroup string
	root   string // the sandbox's root as seen from the host
	log    *lockedBuffer
}

// lockedBuffer collects the sandbox's console output from two goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requireRoot skips the test unless it can boot systemd in namespaces.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: boots systemd as PID 1 in new namespaces")
	}
	for _, tool := range []string{"/lib/systemd/systemd", "/usr/bin/unshare", "/usr/bin/nsenter"} {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	if cgroup2Root() == "" {
		t.Skip("needs a cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
	}
}

// cgroup2Root returns where the cgroup2 hierarchy is mounted: the root on a
// unified host, /sys/fs/cgroup/unified on a hybrid one, or "" if neither.
func cgroup2Root() string {
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
			return dir
		}
	}
	return ""
}

// repoRoot returns the repository's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from the test directory: %v", err)
	}
	return dir
}

// startSandbox boots systemd on a copy of the host root with stage's files
// copied over it, waits until the boot has finished, and stops it when the
// test ends.
func startSandbox(t *testing.T, stage string) *sandbox {
	t.Helper()
	name := fmt.Sprintf("ggl-fleetd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	cgroup := filepath.Join(cgroup2Root(), name)
	if err := os.Mkdir(cgroup, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	s := &sandbox{t: t, cgroup: cgroup, log: &lockedBuffer{}}

	base := t.TempDir()
	script := filepath.Join(repoRoot(t), "scripts", "systemd-sandbox.sh")
	s.outer = exec.Command(script, cgroup, base, stage)
	s.outer.Stdout = s.log
	s.outer.Stderr = s.log
	if err := s.outer.Start(); err != nil {
		removeCgroup(t, cgroup)
		t.Fatalf("start %s: %v", script, err)
	}
	t.Cleanup(s.stop)

	s.pid1 = s.waitForPID1()
	s.root = fmt.Sprintf("/proc/%d/root", s.pid1)
	s.waitForBoot()
	return s
}

// waitForPID1 returns the host PID of the child that unshare forked, which
// execs systemd.
func (s *sandbox) waitForPID1() int {
	s.t.Helper()
	pid := s.outer.Process.Pid
	children := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	deadline := time.Now().Add(bootTimeout)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(children)
		if err == nil && len(bytes.TrimSpace(data)) > 0 {
			child, err := strconv.Atoi(strings.Fields(string(data))[0])
			if err == nil && s.isSystemd(child) {
				return child
			}
		}
		time.Sleep(pollInterval)
	}
	s.t.Fatalf("sandbox PID 1 did not exec systemd within %v; output:\n%s",
		bootTimeout, s.log.String())
	return 0
}

func (s *sandbox) isSystemd(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.HasSuffix(exe, "/systemd")
}

// waitForBoot waits until systemd has finished starting up, then fails the
// test if any unit failed.
func (s *sandbox) waitForBoot() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	for {
		out, _ := s.runContext(ctx, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(out)
		if state == "running" {
			return
		}
		if state == "degraded" {
			failed, _ := s.run("systemctl", "--failed", "--no-pager")
			s.t.Fatalf("sandbox booted degraded:\n%s", failed)
		}
		if ctx.Err() != nil {
			s.t.Fatalf("sandbox did not finish booting within %v: state %q", bootTimeout, state)
		}
		time.Sleep(pollInterval)
	}
}

// run runs a command inside all of the sandbox's namespaces and returns its
// combined output.
func (s *sandbox) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	return s.runContext(ctx, args...)
}

func (s *sandbox) runContext(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-t", strconv.Itoa(s.pid1), "-a"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER=", "LANG=C.UTF-8"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on an error.
func (s *sandbox) mustRun(args ...string) string {
	s.t.Helper()
	out, err := s.run(args...)
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// show returns the named properties of a unit.
func (s *sandbox) show(unit string, props ...string) map[string]string {
	s.t.Helper()
	out := s.mustRun("systemctl", "show", "-p", strings.Join(props, ","), unit)
	values := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		key, value, ok := strings.Cut(line, "=")
		if ok {
			values[key] = value
		}
	}
	return values
}

// waitUntil polls a unit's properties until done returns true, and returns
// the properties that satisfied it.
func (s *sandbox) waitUntil(unit string, props []string, done func(map[string]string) bool) map[string]string {
	s.t.Helper()
	deadline := time.Now().Add(stateTimeout)
	for {
		values := s.show(unit, props...)
		if done(values) {
			return values
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not reach the expected state within %v; last: %v\n%s",
				unit, stateTimeout, values, s.journal(unit))
		}
		time.Sleep(pollInterval)
	}
}

// journal returns a unit's journal in the short format, for failure messages.
func (s *sandbox) journal(unit string) string {
	out, _ := s.run("journalctl", "--no-pager", "-o", "short-precise", "-u", unit)
	return out
}

// path returns the host path of path inside the sandbox.
func (s *sandbox) path(path string) string {
	return filepath.Join(s.root, path)
}

// stop powers the sandbox off, kills its PID 1 if it does not stop in time,
// and removes its cgroup. Only the processes this test started are signalled.
func (s *sandbox) stop() {
	done := make(chan error, 1)
	go func() { done <- s.outer.Wait() }()

	if s.pid1 != 0 {
		if out, err := s.run("systemctl", "poweroff", "--no-block"); err != nil {
			s.t.Logf("sandbox poweroff: %v: %s", err, out)
		}
	}
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.t.Errorf("sandbox did not power off within %v; killing its PID 1", stopTimeout)
		if s.pid1 != 0 {
			_ = killPID(s.pid1)
		}
		_ = s.outer.Process.Kill()
		<-done
	}
	removeCgroup(s.t, s.cgroup)
}

func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// removeCgroup removes a cgroup and the cgroups systemd made below it,
// deepest first.
func removeCgroup(t *testing.T, cgroup string) {
	var dirs []string
	_ = filepath.WalkDir(cgroup, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove cgroup %q: %v", dirs[i], err)
		}
	}
}
