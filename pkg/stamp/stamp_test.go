package stamp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pair is a key and certificate made at test time, with the certificate's
// SHA-256 fingerprint.
type pair struct {
	keyPEM, certPEM []byte
	fingerprint     string
}

func newPair(t *testing.T) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "test-device"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return pair{
		keyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		certPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		fingerprint: hex.EncodeToString(sum[:]),
	}
}

// provisioned writes a pair into a credentials directory and returns a stamp
// that names it.
func provisioned(t *testing.T) (stateDir string, s Stamp) {
	t.Helper()
	stateDir = t.TempDir()
	credDir := t.TempDir()
	p := newPair(t)
	s = Stamp{
		ThingName:         "ggl-fleetd_0123:abc-1",
		CertificateID:     p.fingerprint,
		CertificateSHA256: p.fingerprint,
		CertificatePath:   filepath.Join(credDir, "certificate.pem"),
		KeyPath:           filepath.Join(credDir, "priv_key"),
		DeviceID:          "0242ac110002",
		DeviceIDSource:    "mac",
		DeviceConfiguration: map[string]string{
			"region": "eu-west-1",
		},
		ProvisionedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Version:       "1.0.0-test",
	}
	writeFile(t, s.CertificatePath, p.certPEM)
	writeFile(t, s.KeyPath, p.keyPEM)
	return stateDir, s
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	err := os.WriteFile(name, data, 0o600)
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	stateDir, s := provisioned(t)
	s.ProvisionedAt = time.Date(2025, 3, 4, 7, 6, 7, 999, time.FixedZone("CEST", 2*3600))

	err := Write(stateDir, s)
	if err != nil {
		t.Fatalf("Write() = %v", err)
	}
	got, err := Read(stateDir)
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}

	want := s
	want.ProvisionedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read() after Write() differs (-want +got):\n%s", diff)
	}
	raw, err := os.ReadFile(filepath.Join(stateDir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"provisionedAt": "2025-03-04T05:06:07Z"`) {
		t.Errorf("stamp %s does not record the time in RFC 3339 UTC", raw)
	}
	info, err := os.Stat(filepath.Join(stateDir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o644 {
		t.Errorf("stamp mode = %v; want %v", got, fs.FileMode(0o644))
	}
}

func TestWriteCreatesStateDir(t *testing.T) {
	_, s := provisioned(t)
	stateDir := filepath.Join(t.TempDir(), "var", "lib", "ggl-fleetd")

	err := Write(stateDir, s)
	if err != nil {
		t.Fatalf("Write(%q) = %v", stateDir, err)
	}
	_, err = Check(stateDir)
	if err != nil {
		t.Errorf("Check() after Write() = %v", err)
	}
}

func TestWriteRejectsInvalidStamp(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Stamp)
		phrase string
	}{
		{"empty-thing-name", func(s *Stamp) { s.ThingName = "" }, "thing name"},
		{"thing-name-with-space", func(s *Stamp) { s.ThingName = "my thing" }, "thing name"},
		{"thing-name-too-long", func(s *Stamp) { s.ThingName = strings.Repeat("a", 129) },
			"thing name"},
		{"upper-case-fingerprint", func(s *Stamp) {
			s.CertificateSHA256 = strings.ToUpper(s.CertificateSHA256)
		}, "fingerprint"},
		{"relative-key-path", func(s *Stamp) { s.KeyPath = "priv_key" }, "absolute"},
		{"no-device-id", func(s *Stamp) { s.DeviceID = "" }, "device ID"},
		{"no-time", func(s *Stamp) { s.ProvisionedAt = time.Time{} }, "time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stateDir, s := provisioned(t)
			tt.edit(&s)

			err := Write(stateDir, s)
			if err == nil || !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("Write() = %v; want an error containing %q", err, tt.phrase)
			}
			if _, err := os.Stat(filepath.Join(stateDir, FileName)); err == nil {
				t.Errorf("Write() of an invalid stamp left %s behind", FileName)
			}
		})
	}
}

func TestCheckValid(t *testing.T) {
	stateDir, s := provisioned(t)
	err := Write(stateDir, s)
	if err != nil {
		t.Fatal(err)
	}

	got, err := Check(stateDir)
	if err != nil {
		t.Fatalf("Check() = %v; want nil", err)
	}
	if got.ThingName != s.ThingName {
		t.Errorf("Check() thing name = %q; want %q", got.ThingName, s.ThingName)
	}
}

func TestCheckNotProvisioned(t *testing.T) {
	other := newPair(t)
	tests := []struct {
		name   string
		breaks func(t *testing.T, stateDir string, s Stamp)
		phrase string
	}{
		{"no-stamp", func(t *testing.T, stateDir string, s Stamp) {
			os.Remove(filepath.Join(stateDir, FileName))
		}, "no such file"},
		{"zero-byte-stamp", func(t *testing.T, stateDir string, s Stamp) {
			writeFile(t, filepath.Join(stateDir, FileName), nil)
		}, "is empty"},
		{"corrupt-stamp", func(t *testing.T, stateDir string, s Stamp) {
			writeFile(t, filepath.Join(stateDir, FileName), []byte(`{"thingName": "x`))
		}, "is invalid"},
		{"missing-certificate", func(t *testing.T, stateDir string, s Stamp) {
			os.Remove(s.CertificatePath)
		}, "read certificate"},
		{"missing-key", func(t *testing.T, stateDir string, s Stamp) {
			os.Remove(s.KeyPath)
		}, "read private key"},
		{"zero-byte-certificate", func(t *testing.T, stateDir string, s Stamp) {
			writeFile(t, s.CertificatePath, nil)
		}, "file is empty"},
		{"zero-byte-key", func(t *testing.T, stateDir string, s Stamp) {
			writeFile(t, s.KeyPath, nil)
		}, "file is empty"},
		{"certificate-for-another-key", func(t *testing.T, stateDir string, s Stamp) {
			writeFile(t, s.KeyPath, other.keyPEM)
		}, "does not match"},
		{"fingerprint-mismatch", func(t *testing.T, stateDir string, s Stamp) {
			writeFile(t, s.CertificatePath, other.certPEM)
			writeFile(t, s.KeyPath, other.keyPEM)
		}, "but the stamp records"},
		{"invalid-thing-name", func(t *testing.T, stateDir string, s Stamp) {
			rewrite(t, stateDir, func(raw map[string]any) { raw["thingName"] = "" })
		}, "invalid thing name"},
		{"no-certificate-path", func(t *testing.T, stateDir string, s Stamp) {
			rewrite(t, stateDir, func(raw map[string]any) { delete(raw, "certificatePath") })
		}, "names no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stateDir, s := provisioned(t)
			err := Write(stateDir, s)
			if err != nil {
				t.Fatal(err)
			}
			tt.breaks(t, stateDir, s)

			_, err = Check(stateDir)
			if !errors.Is(err, ErrNotProvisioned) {
				t.Fatalf("Check() = %v; want an error wrapping ErrNotProvisioned", err)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("Check() = %q; want it to contain %q", err, tt.phrase)
			}
		})
	}
}

// rewrite edits the stamp's JSON directly, as a hand edit or another tool
// might.
func rewrite(t *testing.T, stateDir string, edit func(map[string]any)) {
	t.Helper()
	name := filepath.Join(stateDir, FileName)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	err = json.Unmarshal(data, &raw)
	if err != nil {
		t.Fatal(err)
	}
	edit(raw)
	data, err = json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, name, data)
}

func TestReadMissingStampIsNotExist(t *testing.T) {
	_, err := Read(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read() of an empty state directory = %v; want fs.ErrNotExist", err)
	}
}
