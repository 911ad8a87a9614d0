package systemdtest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unitSettings reads the [Service] and [Unit] settings of a unit file into
// a map from key to every value it is given, in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	settings := map[string][]string{}
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		line := strings.TrimSpace(scan.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if ok {
			settings[key] = append(settings[key], value)
		}
	}
	return settings
}

// TestUnitExitStatusContract reads the unit file without systemd: a failure
// must restart the daemon unless it exits 78, and no exit status may be
// counted as success besides 0, because SuccessExitStatus=1 once turned
// every failure into success and stopped Restart=on-failure for good.
func TestUnitExitStatusContract(t *testing.T) {
	s := unitSettings(t, filepath.Join(repoRoot(t), "systemd", unitName))

	want := map[string]string{
		"Type":                     "notify",
		"Restart":                  "on-failure",
		"RestartPreventExitStatus": "78",
		"NotifyAccess":             "main",
	}
	for key, value := range want {
		if got := s[key]; len(got) != 1 || got[0] != value {
			t.Errorf("%s = %q; want exactly %q", key, got, value)
		}
	}
	if got, ok := s["SuccessExitStatus"]; ok {
		t.Errorf("SuccessExitStatus = %q; want it unset, so a failure is never counted as success", got)
	}
	if got := s["WatchdogSec"]; len(got) != 1 || got[0] == "0" {
		t.Errorf("WatchdogSec = %q; want one non-zero value", got)
	}
	if got := s["ExecStart"]; len(got) != 1 || !strings.HasPrefix(got[0], "/usr/bin/ggl-fleetd") {
		t.Errorf("ExecStart = %q; want /usr/bin/ggl-fleetd", got)
	}
}
