package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/stamp"
)

// provisioned returns a device that has been provisioned once, with the
// serial number of its certificate.
func provisioned(t *testing.T, extra ...string) (*device, string) {
	t.Helper()
	d := newDevice(t, fakeiot.Config{}, extra...)
	d.mustProvision()
	return d, d.identityInForce().SerialNumber.String()
}

func TestSecondRunSkipsNetwork(t *testing.T) {
	d, _ := provisioned(t)
	connects := d.fake.Stats().Connects

	r := d.mustProvision()
	if got := d.fake.Stats().Connects; got != connects {
		t.Errorf("second run made %d connections; want none", got-connects)
	}
	if !strings.Contains(r.output, "already provisioned") {
		t.Errorf("second run output lacks %q:\n%s", "already provisioned", r.output)
	}
}

func TestReprovisionReplacesIdentity(t *testing.T) {
	d, oldSerial := provisioned(t)
	old := d.stamp()

	if r := d.run(nil, "reprovision"); r.code != 0 {
		t.Fatalf("reprovision exited %d:\n%s", r.code, r.output)
	}
	d.mustProvision()

	cert := d.identityInForce()
	if cert.SerialNumber.String() == oldSerial {
		t.Fatal("certificate unchanged after reprovisioning")
	}
	st := d.stamp()
	if st.CertificateID == old.CertificateID {
		t.Errorf("stamp certificate ID unchanged: %q", st.CertificateID)
	}
	if st.DeviceID != old.DeviceID {
		t.Errorf("device ID = %q; want the stored %q", st.DeviceID, old.DeviceID)
	}
	if fileExists(old.CertificatePath) && old.CertificatePath != st.CertificatePath {
		t.Errorf("superseded certificate %q not removed", old.CertificatePath)
	}
	if things := d.fake.Things(); len(things) != 1 || things[0].Registrations != 2 {
		t.Errorf("fake things = %+v; want one thing registered twice", things)
	}
	d.checkFilesWhole()
}

// TestReprovisionFailureKeepsIdentity rejects the reprovisioning in the
// cloud and kills it at each installation step. Each time the device must
// go on with its old identity, byte for byte.
func TestReprovisionFailureKeepsIdentity(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		prep func(d *device)
	}{
		{name: "rejected", prep: func(d *device) {
			d.fake.Inject(fakeiot.OpRegister, fakeiot.Reject(403, "AccessDenied", "denied by the pre-provisioning hook"))
		}},
		{name: "killed-after-key", env: []string{"GGL_FLEETD_STOP_AT=key"}},
		{name: "killed-after-certificate", env: []string{"GGL_FLEETD_STOP_AT=certificate"}},
		{name: "killed-after-root-ca", env: []string{"GGL_FLEETD_STOP_AT=root-ca"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, oldSerial := provisioned(t, "maxAttempts: 1")
			cfg := d.config()
			oldKey, err := os.ReadFile(cfg.System.PrivateKeyPath)
			if err != nil {
				t.Fatal(err)
			}
			before := d.configFiles()

			d.run(nil, "reprovision")
			if tc.prep != nil {
				tc.prep(d)
			}
			r := d.run(tc.env, "run")
			if r.code == 0 && !r.killed {
				t.Fatalf("reprovisioning succeeded; want a failure:\n%s", r.output)
			}

			if !sameFiles(before, d.configFiles()) {
				t.Error("configuration changed by a failed reprovisioning")
			}
			if got := d.identityInForce().SerialNumber.String(); got != oldSerial {
				t.Errorf("certificate in force = %s; want the old %s", got, oldSerial)
			}
			key, _ := os.ReadFile(cfg.System.PrivateKeyPath)
			if string(key) != string(oldKey) {
				t.Error("old private key changed")
			}
			d.stamp()
			d.checkFilesWhole()

			d.mustProvision()
			if got := d.identityInForce().SerialNumber.String(); got == oldSerial {
				t.Error("rerun after the failure kept the old certificate; want a new one")
			}
		})
	}
}

func TestReprovisionNewIdentity(t *testing.T) {
	d := newDevice(t, fakeiot.Config{}, "deviceIdSources: [generated]")
	d.mustProvision()
	oldID := d.stamp().DeviceID

	if r := d.run(nil, "reprovision", "--new-identity"); r.code != 0 {
		t.Fatalf("reprovision --new-identity exited %d:\n%s", r.code, r.output)
	}
	d.mustProvision()

	st := d.stamp()
	if st.DeviceID == oldID {
		t.Errorf("device ID %q kept after --new-identity", oldID)
	}
	if len(d.fake.Things()) != 2 {
		t.Errorf("fake has %d things; want 2 (old and new identity)", len(d.fake.Things()))
	}
}

// TestConfigResetRestored ships the original drop-in again, as an image
// update would: the valid stamp must put its identity back into the
// configuration, without a new registration.
func TestConfigResetRestored(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	original, err := os.ReadFile(d.fix.FleetConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	d.mustProvision()
	st := d.stamp()
	connects := d.fake.Stats().Connects

	if err := os.WriteFile(d.fix.FleetConfigPath, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := d.config().System.ThingName; got != "" {
		t.Fatalf("reset did not clear system.thingName: %q", got)
	}
	d.mustProvision()

	cfg := d.config()
	if cfg.System.ThingName != st.ThingName {
		t.Errorf("system.thingName = %q; want the stamp's %q", cfg.System.ThingName, st.ThingName)
	}
	if cfg.System.CertificateFilePath != st.CertificatePath {
		t.Errorf("system.certificateFilePath = %q; want %q", cfg.System.CertificateFilePath, st.CertificatePath)
	}
	d.identityInForce()
	if got := d.fake.Stats().Connects; got != connects {
		t.Errorf("restoring the configuration made %d connections; want none", got-connects)
	}
}

// TestLostDeviceIDRecovered deletes the stored device ID of a provisioned
// device. The next run takes it back from the stamp, so a later
// reprovisioning registers the same thing, not a second one.
func TestLostDeviceIDRecovered(t *testing.T) {
	d := newDevice(t, fakeiot.Config{}, "deviceIdSources: [generated]")
	d.mustProvision()
	st := d.stamp()
	if err := os.Remove(filepath.Join(d.stateDir, "device-id")); err != nil {
		t.Fatal(err)
	}

	d.mustProvision()
	if got := d.storedID(); got != st.DeviceID {
		t.Fatalf("stored device ID = %q; want the stamp's %q", got, st.DeviceID)
	}
	d.run(nil, "reprovision")
	d.mustProvision()
	if things := d.fake.Things(); len(things) != 1 {
		t.Errorf("fake has %d things after reprovisioning; want 1: %+v", len(things), things)
	}
}

func TestReprovisionRefusedWithoutClaim(t *testing.T) {
	d := newDevice(t, fakeiot.Config{}, "removeClaimCredentials: true")
	d.mustProvision()

	r := d.run(nil, "reprovision")
	if r.code != 78 || !strings.Contains(r.output, "claim file") {
		t.Fatalf("reprovision exited %d; want 78 naming the missing claim file:\n%s", r.code, r.output)
	}
	if fileExists(filepath.Join(d.stateDir, stamp.MarkerName)) {
		t.Error("reprovision marker written although the claim is gone")
	}
}

func TestReprovisionMissingStateDir(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	d.stateDir = filepath.Join(t.TempDir(), "typo")

	r := d.run(nil, "reprovision")
	if r.code != 1 || !strings.Contains(r.output, "not found") {
		t.Errorf("reprovision exited %d; want 1 saying the folder is not found:\n%s", r.code, r.output)
	}
	if fileExists(d.stateDir) {
		t.Errorf("reprovision created %q", d.stateDir)
	}
}

func TestReprovisionCancel(t *testing.T) {
	d, serial := provisioned(t)
	d.run(nil, "reprovision")
	if r := d.run(nil, "reprovision", "--cancel"); r.code != 0 {
		t.Fatalf("reprovision --cancel exited %d:\n%s", r.code, r.output)
	}
	connects := d.fake.Stats().Connects

	d.mustProvision()
	if got := d.fake.Stats().Connects; got != connects {
		t.Errorf("run after --cancel made %d connections; want none", got-connects)
	}
	if got := d.identityInForce().SerialNumber.String(); got != serial {
		t.Errorf("certificate changed after --cancel")
	}
}

func TestReprovisionDuringRunRejected(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	startRun(t, d)

	r := d.run(nil, "reprovision", "--new-identity")
	if r.code != 1 || !strings.Contains(r.output, "run.lock") {
		t.Errorf("reprovision during a run exited %d; want 1 naming the lock:\n%s", r.code, r.output)
	}
	if fileExists(filepath.Join(d.stateDir, stamp.MarkerName)) {
		t.Error("reprovision marker written during a run")
	}
}

// TestLeftoverPairSwept kills a reprovisioning right after its stamp, before
// the superseded pair is removed: the next run removes it, and keeps the
// pair in force.
func TestLeftoverPairSwept(t *testing.T) {
	d, _ := provisioned(t)
	old := d.stamp()
	d.run(nil, "reprovision")
	if r := d.run([]string{"GGL_FLEETD_STOP_AT=stamp"}, "run"); !r.killed {
		t.Fatalf("run was not killed at the stamp step:\n%s", r.output)
	}
	if !fileExists(old.KeyPath) {
		t.Fatal("superseded key already gone; the kill came too late to test the sweep")
	}

	d.mustProvision()
	if fileExists(old.KeyPath) || fileExists(old.CertificatePath) {
		t.Errorf("superseded pair %q, %q left after the next run", old.KeyPath, old.CertificatePath)
	}
	d.identityInForce()
	d.checkFilesWhole()
}
