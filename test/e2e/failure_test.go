package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// TestFailedRunWritesNothing fails provisioning in several ways and checks
// that no credential, configuration edit or stamp is left behind.
func TestFailedRunWritesNothing(t *testing.T) {
	faults := []struct {
		name  string
		op    fakeiot.Op
		fault fakeiot.Fault
	}{
		{"register-denied", fakeiot.OpRegister, fakeiot.Reject(403, "AccessDenied", "denied")},
		{"wrong-key", fakeiot.OpCreateFromCSR, fakeiot.WrongKey()},
		{"invalid-thing-name", fakeiot.OpRegister, fakeiot.ThingName("bad/name")},
		{"empty-thing-name", fakeiot.OpRegister, fakeiot.ThingName("")},
	}
	for _, tt := range faults {
		t.Run(tt.name, func(t *testing.T) {
			d := newDevice(t, fakeiot.Config{}, "maxAttempts: 1")
			before := d.configFiles()
			d.fake.Inject(tt.op, tt.fault)

			r := d.run(nil, "run")
			if r.code != 1 {
				t.Fatalf("run exited %d; want 1:\n%s", r.code, r.output)
			}

			if !sameFiles(before, d.configFiles()) {
				t.Error("configuration changed by a failed run")
			}
			entries, _ := os.ReadDir(filepath.Dir(d.fix.CertPath))
			if len(entries) != 0 {
				t.Errorf("credentials folder holds %d files after a failed run; want 0", len(entries))
			}
			if fileExists(filepath.Join(d.stateDir, "stamp.json")) {
				t.Error("stamp written by a failed run")
			}
			if strings.Contains(r.output, "PRIVATE KEY") {
				t.Error("private key in the output")
			}
		})
	}
}

// TestMismatchedClaimExitsConfig gives the daemon a claim key that does not
// belong to the claim certificate: a restart cannot help, so it exits 78.
func TestMismatchedClaimExitsConfig(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(d.fix.ClaimKeyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	r := d.run(nil, "run")
	if r.code != 78 {
		t.Fatalf("run exited %d; want 78:\n%s", r.code, r.output)
	}
	if d.fake.Stats().Connects != 0 {
		t.Errorf("daemon connected %d times with a broken claim; want 0", d.fake.Stats().Connects)
	}
}

func TestInvalidConfigExitsConfig(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	d.writeDropIn("zz-typo.yaml", "keyType: ec-p999")

	r := d.run(nil, "run")
	if r.code != 78 {
		t.Fatalf("run exited %d; want 78:\n%s", r.code, r.output)
	}
	if !strings.Contains(r.output, "config.d/zz-typo.yaml:4:") {
		t.Errorf("error does not name config.d/zz-typo.yaml:4:\n%s", r.output)
	}
}

// TestPreflightStopsBeforeRequest puts a directory where the certificate
// goes: the run must stop with 78 before the cloud issues a certificate.
func TestPreflightStopsBeforeRequest(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	if err := os.MkdirAll(d.fix.CertPath, 0o755); err != nil {
		t.Fatal(err)
	}

	r := d.run(nil, "run")
	if r.code != 78 {
		t.Fatalf("run exited %d; want 78:\n%s", r.code, r.output)
	}
	if n := d.fake.Stats().Connects; n != 0 {
		t.Errorf("fake saw %d connections; want 0 before a local fault is fixed", n)
	}
	if !strings.Contains(r.output, "not a regular file") {
		t.Errorf("output does not say what is wrong with %q:\n%s", d.fix.CertPath, r.output)
	}
}
