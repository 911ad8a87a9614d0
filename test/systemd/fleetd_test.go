package systemdtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeDelay is how long the fake endpoint holds its response to the first
// certificate request: more than three watchdog intervals of the override.
const (
	fakeDelay        = 8 * time.Second
	watchdogOverride = "[Service]\nWatchdogSec=2\n"
	maxExposure      = 2.5
)

var serviceProps = []string{
	"ActiveState", "SubState", "Result", "ExecMainStatus", "NRestarts",
	"StatusText", "InvocationID", "WatchdogUSec",
}

// TestProvisioningUnit runs the real ggl-fleetd under the real unit file
// against the fake AWS IoT endpoint: first provisioning with progress in
// STATUS= and a short watchdog, the journal, the Greengrass Lite stand-ins,
// a second start, a configuration error, reprovisioning, and the unit's
// security exposure and verification.
func TestProvisioningUnit(t *testing.T) {
	requireRoot(t)
	bin := buildBinaries(t)
	// The throttled first RegisterThing puts an ERROR_CODE in the journal.
	fake := startFake(t, bin, fakeDelay, "--throttle-first", "1")

	st := newStage(t)
	st.addGreengrassUnits()
	st.addFleetd(bin, fake.fixture)
	sb := startSandbox(t, st.dir)

	first := provisionFirst(t, sb)
	checkOrdering(t, sb)
	checkIdentitySource(t, sb)
	secondStartExitsAtOnce(t, sb, first)
	configErrorStops(t, sb)
	reprovision(t, sb, first)
	checkSecurity(t, sb)
	checkVerify(t, sb)

	things := fake.stop(t)
	if !strings.Contains(things, first.ThingName) {
		t.Errorf("fake endpoint's things = %q; want %q among them", things, first.ThingName)
	}
}

// TestFirstBoot enables the unit in the image, as the Yocto recipe does, and
// boots: the Greengrass Lite stand-ins are skipped at boot, the daemon
// provisions the device and restarts them, and nothing fails.
func TestFirstBoot(t *testing.T) {
	requireRoot(t)
	bin := buildBinaries(t)
	fake := startFake(t, bin, 0)

	st := newStage(t)
	st.addGreengrassUnits()
	st.addFleetd(bin, fake.fixture)
	st.link("../"+unitName, unitDir+"/multi-user.target.wants/"+unitName)
	sb := startSandbox(t, st.dir)

	final, _ := waitForExit(t, sb)
	assertProps(t, unitName, final, map[string]string{
		"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0",
		"NRestarts": "0",
	})
	if final["InvocationID"] == "" {
		t.Errorf("%s did not run at boot: %v", unitName, final)
	}
	for _, unit := range standIns {
		sb.waitUntil(unit, unitStateProps, func(p map[string]string) bool {
			return p["SubState"] == "running"
		})
		// Skipped at boot, before the stamp existed, then started.
		journal := sb.journal(unit)
		if !strings.Contains(journal, "unmet condition check (ConditionPathExists="+stampPath+")") {
			t.Errorf("%s was not skipped at boot; journal:\n%s", unit, journal)
		}
	}
	failed := sb.mustRun("systemctl", "list-units", "--failed", "--plain", "--no-legend")
	if strings.TrimSpace(failed) != "" {
		t.Errorf("failed units after first boot:\n%s", failed)
	}
	s, _ := readStamp(t, sb)
	if things := fake.stop(t); !strings.Contains(things, s.ThingName) {
		t.Errorf("fake endpoint's things = %q; want %q among them", things, s.ThingName)
	}
}

// buildBinaries builds ggl-fleetd and fakeiot into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/ggl-fleetd", "./cmd/fakeiot")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// fakeEndpoint is a running cmd/fakeiot process.
type fakeEndpoint struct {
	cmd     *exec.Cmd
	fixture string
	addr    string
	stdout  *bufio.Reader
}

// startFake starts cmd/fakeiot on 127.0.0.1, with its first response delayed
// by delay unless that is 0 and the extra flags, and waits until it is ready.
func startFake(t *testing.T, bin string, delay time.Duration, extra ...string) *fakeEndpoint {
	t.Helper()
	f := &fakeEndpoint{fixture: t.TempDir()}
	args := append([]string{"--dir", f.fixture, "--listen", "127.0.0.1:0"}, extra...)
	if delay > 0 {
		args = append(args, "--delay-first", delay.String())
	}
	f.cmd = exec.Command(filepath.Join(bin, "fakeiot"), args...)
	f.cmd.Stderr = &testLogWriter{t: t, prefix: "fakeiot: "}
	pipe, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f.stdout = bufio.NewReader(pipe)
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("start fakeiot: %v", err)
	}
	t.Cleanup(func() { f.stop(t) })

	for {
		line, err := f.stdout.ReadString('\n')
		if err != nil {
			t.Fatalf("fakeiot exited before it was ready: %v", err)
		}
		if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on "); ok {
			f.addr = strings.Fields(addr)[0]
		}
		if strings.TrimSpace(line) == "ready" {
			return f
		}
	}
}

// stop ends the fake with SIGTERM and returns the summary of registered
// things that it prints; a second call returns "".
func (f *fakeEndpoint) stop(t *testing.T) string {
	if f.cmd.ProcessState != nil || f.cmd.Process == nil {
		return ""
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(f.stdout)
	if err := f.cmd.Wait(); err != nil {
		t.Errorf("fakeiot: %v", err)
	}
	t.Logf("fakeiot summary:\n%s", rest)
	return string(rest)
}

// testLogWriter copies a child's standard error to the test log.
type testLogWriter struct {
	t      *testing.T
	prefix string
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s%s", w.prefix, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// addFleetd stages the binary, the unit with a short watchdog override, and
// the fixture's configuration and claim files at their device paths.
func (st *stage) addFleetd(bin, fixture string) {
	st.t.Helper()
	data, err := os.ReadFile(filepath.Join(bin, "ggl-fleetd"))
	if err != nil {
		st.t.Fatal(err)
	}
	st.write("/usr/bin/ggl-fleetd", data, 0o755)
	st.copyRepoFile("systemd/"+unitName, unitDir+"/"+unitName, 0o644)
	st.write(unitDir+"/"+unitName+".d/watchdog.conf", []byte(watchdogOverride), 0o644)

	// The fixture's paths point into its directory; on the device they are
	// the usual Greengrass Lite paths, with the default credentials paths.
	replacer := strings.NewReplacer(
		fixture+"/certs/", "/etc/greengrass/certs/",
		fixture+"/credentials/", credDir+"/",
		fixture+"/greengrass", "/var/lib/greengrass",
		"posixUser: root:root", "posixUser: ggcore:ggcore",
	)
	for _, name := range []string{"config.yaml", "config.d/fleetprovisioning.yaml"} {
		text, err := os.ReadFile(filepath.Join(fixture, name))
		if err != nil {
			st.t.Fatal(err)
		}
		st.write("/etc/greengrass/"+name, []byte(replacer.Replace(string(text))), 0o644)
	}
	for name, mode := range map[string]os.FileMode{
		"AmazonRootCA1.pem": 0o644, "claim.cert.pem": 0o644, "claim.key.pem": 0o600,
	} {
		data, err := os.ReadFile(filepath.Join(fixture, "certs", name))
		if err != nil {
			st.t.Fatal(err)
		}
		st.write("/etc/greengrass/certs/"+name, data, mode)
	}
}

// stamp is the part of ggl-fleetd's stamp.json that the test compares.
type stamp struct {
	ThingName     string `json:"thingName"`
	CertificateID string `json:"certificateId"`
	DeviceID      string `json:"deviceId"`
}

func readStamp(t *testing.T, sb *sandbox) (stamp, []byte) {
	t.Helper()
	data, err := os.ReadFile(sb.path(stampPath))
	if err != nil {
		t.Fatalf("read stamp: %v", err)
	}
	var s stamp
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("parse stamp %s: %v", data, err)
	}
	return s, data
}

// progress is what the test saw of a unit while it ran.
type progress struct {
	states   []string // ActiveState values, in order, without repeats
	statuses []string // StatusText values, in order, without repeats
}

func appendNew(list []string, value string) []string {
	if value == "" || (len(list) > 0 && list[len(list)-1] == value) {
		return list
	}
	return append(list, value)
}

// waitForExit waits until the provisioning unit has left the active and
// activating states, or waits for a restart after a failure, and returns its
// final properties and its progress.
func waitForExit(t *testing.T, sb *sandbox) (map[string]string, progress) {
	t.Helper()
	var seen progress
	final := sb.waitUntil(unitName, serviceProps, func(p map[string]string) bool {
		seen.states = appendNew(seen.states, p["ActiveState"])
		seen.statuses = appendNew(seen.statuses, p["StatusText"])
		return p["ActiveState"] == "inactive" || p["ActiveState"] == "failed" ||
			p["SubState"] == "auto-restart"
	})
	return final, seen
}

// provisionFirst enables and starts the unit while the fake delays its first
// response, and checks progress, the watchdog, the journal, the installed files
// and the Greengrass Lite stand-ins.
func provisionFirst(t *testing.T, sb *sandbox) stamp {
	t.Helper()
	for _, unit := range standIns {
		got := sb.show(unit, unitStateProps...)
		assertProps(t, unit, got, map[string]string{"ActiveState": "inactive", "ConditionResult": "no"})
	}

	sb.mustRun("systemctl", "enable", "--now", unitName)
	final, seen := waitForExit(t, sb)
	t.Logf("states during provisioning: %q", seen.states)
	t.Logf("status texts during provisioning: %q", seen.statuses)
	assertProps(t, unitName, final, map[string]string{
		"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0",
		"NRestarts": "0", "WatchdogUSec": "2s",
	})
	if !slices.Contains(seen.states, "active") {
		t.Errorf("states = %q; want %q while the fake delays its response", seen.states, "active")
	}
	if !anyContains(seen.statuses, "attempt") {
		t.Errorf("status texts = %q; want one that reports an attempt", seen.statuses)
	}

	s, _ := readStamp(t, sb)
	if s.ThingName == "" || s.CertificateID == "" {
		t.Errorf("stamp = %+v; want a thing name and a certificate ID", s)
	}
	checkJournal(t, sb, s.ThingName)
	checkInstalledKey(t, sb)
	for _, unit := range standIns {
		sb.waitUntil(unit, unitStateProps, func(p map[string]string) bool {
			return p["SubState"] == "running"
		})
	}
	return s
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// tokenPattern matches a 64-character base64url word, the form of the fake's
// ownership tokens.
var tokenPattern = regexp.MustCompile(`[A-Za-z0-9_-]{64,}`)
var hexPattern = regexp.MustCompile(`^[0-9a-f]+$`)

// checkJournal prints the unit's journal with all fields and checks the
// structured fields and the absence of secrets.
func checkJournal(t *testing.T, sb *sandbox, thingName string) {
	t.Helper()
	journal := sb.mustRun("journalctl", "--no-pager", "-o", "verbose", "-u", unitName)
	t.Logf("journalctl -o verbose -u %s:\n%s", unitName, journal)

	fields := []string{"DEVICE_ID=", "DEVICE_ID_SOURCE=", "THING_NAME=", "ATTEMPT=",
		"ERROR_CODE=ThrottlingException", "STATUS_CODE=429"}
	for _, field := range fields {
		if !strings.Contains(journal, "\n    "+field) {
			t.Errorf("journal of %s has no field %s", unitName, field)
		}
	}

	// Operators find a device's entries by its thing name.
	byThing := sb.mustRun("journalctl", "--no-pager", "-o", "cat", "-u", unitName, "THING_NAME="+thingName)
	if !strings.Contains(byThing, "stamp written") {
		t.Errorf("journalctl THING_NAME=%s lacks the stamp line:\n%s", thingName, byThing)
	}
	if strings.Contains(journal, "PRIVATE KEY") {
		t.Errorf("journal of %s contains a PEM private key", unitName)
	}
	for _, word := range tokenPattern.FindAllString(journal, -1) {
		if !hexPattern.MatchString(word) {
			t.Errorf("journal of %s contains a token-like value of %d characters",
				unitName, len(word))
		}
	}
	for _, path := range []string{keyPath, "/etc/greengrass/certs/claim.key.pem"} {
		assertNoKeyLine(t, sb, path, journal)
	}
}

// assertNoKeyLine fails if any base64 line of the PEM key at path appears in
// text.
func assertNoKeyLine(t *testing.T, sb *sandbox, path, text string) {
	t.Helper()
	data, err := os.ReadFile(sb.path(path))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
			t.Errorf("journal contains a line of the key %s", path)
			return
		}
	}
}

// checkInstalledKey checks that the new key belongs to ggcore and no other
// user may read it.
func checkInstalledKey(t *testing.T, sb *sandbox) {
	t.Helper()
	info, err := os.Stat(sb.path(keyPath))
	if err != nil {
		t.Fatalf("installed key: %v", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("mode of %s = %v; want no group or other access", keyPath, perm)
	}
	owner := sb.mustRun("stat", "-c", "%U:%G", keyPath)
	if strings.TrimSpace(owner) != "ggcore:ggcore" {
		t.Errorf("owner of %s = %q; want ggcore:ggcore", keyPath, strings.TrimSpace(owner))
	}
}

// checkOrdering checks that the unit waits for the network without making
// boot wait for it, and stays out of greengrass-lite.target's transactions.
func checkOrdering(t *testing.T, sb *sandbox) {
	t.Helper()
	ours := sb.show(unitName, "After", "PartOf", "RequiredBy", "Before")
	for _, unit := range []string{"network-online.target", "time-sync.target"} {
		if !slices.Contains(strings.Fields(ours["After"]), unit) {
			t.Errorf("%s: After = %q; want %s in it", unitName, ours["After"], unit)
		}
	}
	for _, key := range []string{"PartOf", "RequiredBy", "Before"} {
		if slices.Contains(strings.Fields(ours[key]), greengrassTarget) {
			t.Errorf("%s: %s = %q; want no %s", unitName, key, ours[key], greengrassTarget)
		}
	}
	for _, target := range []string{"multi-user.target", greengrassTarget} {
		after := sb.show(target, "After")["After"]
		if slices.Contains(strings.Fields(after), unitName) {
			t.Errorf("%s: After contains %s, so it waits for the network", target, unitName)
		}
	}
}

// checkIdentitySource compares the device ID source that the daemon chose
// under the unit's sandboxing with the source that an unrestricted probe
// chooses, so a hardening setting that hides /proc or /sys files shows up.
func checkIdentitySource(t *testing.T, sb *sandbox) {
	t.Helper()
	out := sb.mustRun("ggl-fleetd", "identity", "--json", "--state-dir", "/run/ggl-fleetd-probe")
	var probed struct {
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(out), &probed); err != nil {
		t.Fatalf("parse ggl-fleetd identity --json output %q: %v", out, err)
	}

	data, err := os.ReadFile(sb.path(stampPath))
	if err != nil {
		t.Fatal(err)
	}
	var stamped struct {
		Source string `json:"deviceIdSource"`
	}
	if err := json.Unmarshal(data, &stamped); err != nil {
		t.Fatal(err)
	}
	t.Logf("device ID source: %q in the unit, %q unrestricted", stamped.Source, probed.Source)
	if probed.Source == "" || stamped.Source != probed.Source {
		t.Errorf("device ID source in the unit = %q; want %q as an unrestricted probe finds",
			stamped.Source, probed.Source)
	}
}

// secondStartExitsAtOnce starts the unit again with a valid stamp: it must
// succeed without a provisioning attempt and leave the stamp alone.
func secondStartExitsAtOnce(t *testing.T, sb *sandbox, first stamp) {
	t.Helper()
	_, before := readStamp(t, sb)
	sb.mustRun("systemctl", "start", unitName)
	final, _ := waitForExit(t, sb)
	assertProps(t, unitName, final, map[string]string{
		"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0",
	})

	_, after := readStamp(t, sb)
	if string(after) != string(before) {
		t.Errorf("stamp changed on a second start:\nbefore %s\nafter  %s", before, after)
	}
	journal := sb.mustRun("journalctl", "--no-pager", "-o", "verbose",
		"_SYSTEMD_INVOCATION_ID="+final["InvocationID"])
	if strings.Contains(journal, "\n    ATTEMPT=") {
		t.Errorf("second start of %s made a provisioning attempt:\n%s", unitName, journal)
	}
	if !strings.Contains(journal, first.ThingName) {
		t.Errorf("second start's journal does not name thing %q:\n%s", first.ThingName, journal)
	}
}

// configErrorStops adds an invalid setting: the daemon must exit 78 and
// systemd must not restart it.
func configErrorStops(t *testing.T, sb *sandbox) {
	t.Helper()
	invalid := "/etc/greengrass/config.d/zz-invalid.yaml"
	text := "services:\n  aws.greengrass.fleet_provisioning:\n    configuration:\n" +
		"      templateName: \"not a valid template name!\"\n"
	writeOwned(t, sb.path(invalid), text, 0o644, 0, 0)

	if out, err := sb.run("systemctl", "start", unitName); err == nil {
		t.Errorf("systemctl start with an invalid configuration succeeded: %s", out)
	}
	final, _ := waitForExit(t, sb)
	assertProps(t, unitName, final, map[string]string{
		"ActiveState": "failed", "SubState": "failed", "Result": "exit-code",
		"ExecMainStatus": "78", "NRestarts": "0",
	})
	t.Logf("journal of the configuration error:\n%s", sb.journal(unitName))

	if err := os.Remove(sb.path(invalid)); err != nil {
		t.Fatal(err)
	}
	sb.mustRun("systemctl", "reset-failed", unitName)
}

// reprovision requests a new identity and checks that the next start gets a
// new certificate and restarts the Greengrass Lite stand-ins.
func reprovision(t *testing.T, sb *sandbox, first stamp) {
	t.Helper()
	pids := map[string]string{}
	for _, unit := range standIns {
		pids[unit] = sb.show(unit, "MainPID")["MainPID"]
	}

	sb.mustRun("ggl-fleetd", "reprovision")
	sb.mustRun("systemctl", "start", unitName)
	final, _ := waitForExit(t, sb)
	assertProps(t, unitName, final, map[string]string{
		"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0",
	})

	s, _ := readStamp(t, sb)
	if s.CertificateID == first.CertificateID {
		t.Errorf("certificate ID after reprovisioning = %q; want a new one", s.CertificateID)
	}
	if s.ThingName == "" {
		t.Errorf("stamp after reprovisioning has no thing name: %+v", s)
	}
	for _, unit := range standIns {
		got := sb.waitUntil(unit, []string{"SubState", "MainPID"}, func(p map[string]string) bool {
			return p["SubState"] == "running" && p["MainPID"] != pids[unit]
		})
		t.Logf("%s restarted: MainPID %s -> %s", unit, pids[unit], got["MainPID"])
	}
}

var exposurePattern = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// checkSecurity reads the unit's exposure score from the running manager.
func checkSecurity(t *testing.T, sb *sandbox) {
	t.Helper()
	out, err := sb.run("systemd-analyze", "security", "--no-pager", unitName)
	t.Logf("systemd-analyze security %s:\n%s", unitName, out)
	if err != nil {
		t.Fatalf("systemd-analyze security: %v", err)
	}
	m := exposurePattern.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no overall exposure level")
	}
	exposure, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if exposure > maxExposure {
		t.Errorf("exposure of %s = %.1f; want at most %.1f", unitName, exposure, maxExposure)
	}
}

// checkVerify runs systemd-analyze verify on the installed unit files.
func checkVerify(t *testing.T, sb *sandbox) {
	t.Helper()
	args := []string{"systemd-analyze", "verify", "--man=no",
		unitDir + "/" + unitName, unitDir + "/" + greengrassTarget}
	for _, unit := range standIns {
		args = append(args, unitDir+"/"+unit)
	}
	out, err := sb.run(args...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// String formats a stamp for failure messages.
func (s stamp) String() string {
	return fmt.Sprintf("thing %q certificate %q device %q", s.ThingName, s.CertificateID, s.DeviceID)
}
