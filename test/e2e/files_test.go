package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

func TestFileModes(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	credentials := filepath.Dir(d.fix.CertPath)
	if err := os.RemoveAll(credentials); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	d.mustProvision()
	cfg := d.config()
	want := map[string]fs.FileMode{
		credentials:                    0o750 | fs.ModeDir,
		cfg.System.PrivateKeyPath:      0o600,
		cfg.System.CertificateFilePath: 0o644,
		cfg.System.RootCAPath:          0o644,
	}
	for path, mode := range want {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("mode of %q = %v; want %v", path, info.Mode(), mode)
		}
	}
}

func TestFileOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ownership needs root; run the tests as root to cover it")
	}
	owner, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	group, err := user.LookupGroupId(owner.Gid)
	if err != nil {
		t.Skipf("no group of nobody: %v", err)
	}
	d := newDevice(t, fakeiot.Config{}, "user: "+owner.Username, "group: "+group.Name)
	d.mustProvision()

	cfg := d.config()
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	for _, path := range []string{cfg.System.PrivateKeyPath, cfg.System.CertificateFilePath, cfg.System.RootCAPath} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("owner of %q = %d:%d; want %d:%d", path, st.Uid, st.Gid, uid, gid)
		}
	}
}

// TestZeroByteLeftoverIgnored puts the zero-byte certificate of a crashed
// older client where the new one goes: it must not count as provisioned.
func TestZeroByteLeftoverIgnored(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	if err := os.WriteFile(d.fix.CertPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustProvision()
	d.identityInForce()
	d.checkFilesWhole()
}

// TestConfigEditKeepsFile provisions a device whose configuration has
// comments, odd key order and mixed quoting, and checks that only the lines
// of the values set changed.
func TestConfigEditKeepsFile(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	original := "# Site configuration, edited by hand.\n" +
		"services:\n" +
		"  aws.greengrass.NucleusLite:\n" +
		"    componentType: \"NUCLEUS\"   # keep\n" +
		"    configuration:\n" +
		"      runWithDefault: {posixUser: 'root:root'}\n" +
		"system:\n" +
		"  rootpath: '/var/lib/greengrass'\n" +
		"  thingName: \"\"   # set by provisioning\n" +
		"  certificateFilePath: ''\n"
	if err := os.WriteFile(d.fix.ConfigPath, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	dropIn, err := os.ReadFile(d.fix.FleetConfigPath)
	if err != nil {
		t.Fatal(err)
	}

	d.mustProvision()

	edited, err := os.ReadFile(d.fix.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	checkOnlyValuesChanged(t, original, string(edited), "thingName", "certificateFilePath")
	newDropIn, err := os.ReadFile(d.fix.FleetConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	checkOnlyValuesChanged(t, string(dropIn), string(newDropIn),
		"thingName", "certificateFilePath", "privateKeyPath", "iotDataEndpoint", "iotCredEndpoint")
	if !strings.Contains(string(edited), "# set by provisioning") {
		t.Error("comment after system.thingName lost")
	}
}

// checkOnlyValuesChanged fails unless before and after have the same lines
// except lines of the given keys, whose text before the value is unchanged.
func checkOnlyValuesChanged(t *testing.T, before, after string, keys ...string) {
	t.Helper()
	a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
	if len(a) != len(b) {
		t.Fatalf("line count changed from %d to %d:\n%s", len(a), len(b), after)
	}
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		key := strings.TrimSpace(strings.SplitN(a[i], ":", 2)[0])
		allowed := false
		for _, k := range keys {
			allowed = allowed || key == k
		}
		prefix := a[i][:strings.Index(a[i], ":")+1]
		if !allowed || !strings.HasPrefix(b[i], prefix) {
			t.Errorf("line %d changed from %q to %q", i+1, a[i], b[i])
		}
	}
}

// TestNoConfigDirectory keeps every setting in config.yaml, with no
// config.d folder: the keys that no file sets need a new drop-in, and the
// run must create the folder for it instead of failing after registration.
func TestNoConfigDirectory(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	f := d.fix
	text := fmt.Sprintf(`system:
  thingName: ""
services:
  aws.greengrass.fleet_provisioning:
    configuration:
      iotDataEndpoint: %q
      claimCertPath: %q
      claimKeyPath: %q
      rootCaPath: %q
      templateName: %q
      certPath: %q
      keyPath: %q
      mqttPort: %d
      restartUnits: []
`, f.Endpoint, f.ClaimCertPath, f.ClaimKeyPath, f.RootCAPath, d.fake.TemplateName(),
		f.CertPath, f.KeyPath, f.Port)
	if err := os.RemoveAll(filepath.Join(f.Dir, "config.d")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.ConfigPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	d.mustProvision()
	d.identityInForce()
	if !fileExists(filepath.Join(f.Dir, "config.d", "zz-ggl-fleetd.yaml")) {
		t.Error("no drop-in for the keys that config.yaml does not set")
	}
}
