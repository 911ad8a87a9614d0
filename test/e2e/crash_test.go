package e2e

import (
	"os"
	"testing"

	"github.com/ggl-fleetd/ggl-fleetd/internal/daemon"
	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// TestCrashAtEveryStep kills the daemon with SIGKILL right after each
// installation step, as a power cut would, and checks that the device is
// either untouched or fully provisioned, and that a rerun finishes the job
// with the same device ID and no second thing.
func TestCrashAtEveryStep(t *testing.T) {
	for _, step := range daemon.Steps {
		t.Run(step, func(t *testing.T) {
			d := newDevice(t, fakeiot.Config{}, "removeClaimCredentials: true")
			before := d.configFiles()

			r := d.run([]string{"GGL_FLEETD_STOP_AT=" + step}, "run")
			if !r.killed {
				t.Fatalf("run with GGL_FLEETD_STOP_AT=%s: exit %d, not killed; output:\n%s", step, r.code, r.output)
			}
			id := d.storedID()
			if id == "" {
				t.Fatal("no device ID stored before the first request")
			}

			d.checkFilesWhole()
			if sameFiles(before, d.configFiles()) {
				t.Logf("after a kill at %s: configuration unchanged", step)
			} else {
				t.Logf("after a kill at %s: new identity in force", step)
				d.identityInForce()
			}

			d.mustProvision()
			d.checkFilesWhole()
			cert := d.identityInForce()
			st := d.stamp()
			if st.DeviceID != id {
				t.Errorf("stamp device ID = %q; want the stored %q", st.DeviceID, id)
			}
			if got := d.config().System.ThingName; got != st.ThingName {
				t.Errorf("system.thingName = %q; stamp says %q", got, st.ThingName)
			}
			if cert.SerialNumber.Cmp(certificateOf(t, st.CertificatePath).SerialNumber) != 0 {
				t.Errorf("the configuration and the stamp name different certificates")
			}
			if things := d.fake.Things(); len(things) != 1 {
				t.Errorf("fake has %d things; want 1: %+v", len(things), things)
			}
			if fileExists(d.fix.ClaimKeyPath) || fileExists(d.fix.ClaimCertPath) {
				t.Errorf("claim credentials still present after success with removeClaimCredentials")
			}
		})
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
