package systemdtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

var unitStateProps = []string{"ActiveState", "SubState", "Result", "ConditionResult", "NRestarts"}

// TestDropInSkipsUntilStamp boots with Greengrass Lite stand-ins that fail
// without credentials and checks that the drop-in keeps them skipped, not
// failed, until the stamp exists, and that a restart of the target then
// starts them.
func TestDropInSkipsUntilStamp(t *testing.T) {
	requireRoot(t)
	st := newStage(t)
	st.addGreengrassUnits()
	sb := startSandbox(t, st.dir)

	for _, unit := range standIns {
		got := sb.show(unit, unitStateProps...)
		assertProps(t, unit, got, map[string]string{
			"ActiveState": "inactive", "Result": "success",
			"ConditionResult": "no", "NRestarts": "0",
		})
	}
	assertCredentialsDir(t, sb, st)

	// Credentials alone do not start the services: only the stamp does.
	writeOwned(t, sb.path(certPath), "certificate", 0o644, st.uid, st.gid)
	writeOwned(t, sb.path(keyPath), "key", 0o600, st.uid, st.gid)
	sb.mustRun("systemctl", "restart", greengrassTarget)
	for _, unit := range standIns {
		got := sb.show(unit, unitStateProps...)
		assertProps(t, unit, got, map[string]string{
			"ActiveState": "inactive", "ConditionResult": "no",
		})
	}

	writeOwned(t, sb.path(stampPath), "{}", 0o644, 0, 0)
	sb.mustRun("systemctl", "restart", greengrassTarget)
	for _, unit := range standIns {
		got := sb.waitUntil(unit, unitStateProps, func(p map[string]string) bool {
			return p["SubState"] == "running"
		})
		assertProps(t, unit, got, map[string]string{
			"ActiveState": "active", "ConditionResult": "yes", "NRestarts": "0",
		})
	}
}

// assertProps reports every property of want that got does not match.
func assertProps(t *testing.T, unit string, got, want map[string]string) {
	t.Helper()
	for key, value := range want {
		if got[key] != value {
			t.Errorf("%s: %s = %q; want %q (all: %v)", unit, key, got[key], value, got)
		}
	}
}

// assertCredentialsDir checks the directory that the tmpfiles.d entry
// creates: root may write, ggcore's group may read, others nothing.
func assertCredentialsDir(t *testing.T, sb *sandbox, st *stage) {
	t.Helper()
	info, err := os.Stat(sb.path(credDir))
	if err != nil {
		t.Fatalf("credentials directory: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o750 {
		t.Errorf("mode of %s = %v; want 0750", credDir, got)
	}
	sys := info.Sys().(*syscall.Stat_t)
	if sys.Uid != 0 || int(sys.Gid) != st.gid {
		t.Errorf("owner of %s = %d:%d; want 0:%d", credDir, sys.Uid, sys.Gid, st.gid)
	}
}

func writeOwned(t *testing.T, path, data string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}
