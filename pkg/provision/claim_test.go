package provision

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadClaim(t *testing.T) {
	now := time.Now()
	certPEM, keyPEM := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	_, otherKeyPEM := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	dir := t.TempDir()
	path := func(name, data string) string {
		p := filepath.Join(dir, name)
		writeTestFile(t, p, data)
		return p
	}
	cert := path("cert.pem", string(certPEM))
	key := path("key.pem", string(keyPEM))

	tests := []struct {
		name      string
		cert, key string
		now       time.Time
		wantClass Class
		wantText  string
	}{
		{"missing-cert", filepath.Join(dir, "none.pem"), key, now, LocalConfig,
			"failed to read"},
		{"empty-path", "", key, now, LocalConfig, "path is missing"},
		{"cert-not-pem", path("bad-cert.pem", "hello"), key, now, LocalConfig,
			"no PEM CERTIFICATE block"},
		{"key-not-pem", cert, path("bad-key.pem", "hello"), now, LocalConfig,
			"no PEM private key block"},
		{"key-mismatch", cert, path("other-key.pem", string(otherKeyPEM)), now,
			LocalConfig, "does not match"},
		{"expired", cert, key, now.Add(2 * time.Hour), LocalConfig, "expired"},
		{"not-yet-valid", cert, key, now.Add(-2 * time.Hour), Transient,
			"the clock looks wrong"},
		{"oversized", path("big.pem", strings.Repeat("x", maxPEMFileSize+1)), key, now,
			LocalConfig, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := LoadClaim(tt.cert, tt.key, tt.now)
			if err == nil {
				t.Fatal("LoadClaim() error = nil; want an error")
			}
			if got := classOf(err); got != tt.wantClass {
				t.Errorf("class = %s; want %s (error %v)", got, tt.wantClass, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q; want it to contain %q", err, tt.wantText)
			}
		})
	}

	tlsCert, leaf, err := LoadClaim(cert, key, now)
	if err != nil {
		t.Fatalf("LoadClaim(valid) error = %v", err)
	}
	if tlsCert.Leaf != leaf || len(tlsCert.Certificate) != 1 || tlsCert.PrivateKey == nil {
		t.Errorf("LoadClaim(valid) = %+v; want the leaf and key set", tlsCert)
	}
}

func TestParseKeyPEM(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := newECKey(t)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := marshalKeyPEM(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: headers})
	}

	valid := []struct {
		name string
		data []byte
		pub  interface{ Equal(crypto.PublicKey) bool }
	}{
		{"pkcs8", pkcs8, &ecKey.PublicKey},
		{"pkcs1", encode("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil),
			&rsaKey.PublicKey},
		{"sec1", encode("EC PRIVATE KEY", sec1, nil), &ecKey.PublicKey},
		{"after-ec-parameters", append(encode("EC PARAMETERS", []byte{6, 8}, nil),
			encode("EC PRIVATE KEY", sec1, nil)...), &ecKey.PublicKey},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseKeyPEM(tt.data)
			if err != nil {
				t.Fatalf("ParseKeyPEM() error = %v", err)
			}
			if !tt.pub.Equal(key.Public()) {
				t.Error("ParseKeyPEM() returned another key")
			}
		})
	}

	invalid := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"certificate-only", encode("CERTIFICATE", []byte{1}, nil)},
		{"encrypted-pkcs8", encode("ENCRYPTED PRIVATE KEY", []byte{1}, nil)},
		{"encrypted-legacy", encode("RSA PRIVATE KEY", []byte{1},
			map[string]string{"Proc-Type": "4,ENCRYPTED"})},
		{"pkcs8-garbage", encode("PRIVATE KEY", []byte("secretbytes"), nil)},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeyPEM(tt.data)
			if err == nil {
				t.Fatal("ParseKeyPEM() error = nil; want an error")
			}
			if strings.Contains(err.Error(), "secretbytes") {
				t.Errorf("error %q echoes key bytes", err)
			}
		})
	}
}

func TestPublicKeysMatch(t *testing.T) {
	key := newECKey(t)
	cert, err := parseCertificatePEM([]byte(issueCert(t, key).certPEM))
	if err != nil {
		t.Fatal(err)
	}
	if !PublicKeysMatch(cert, key) {
		t.Error("PublicKeysMatch(cert, its key) = false; want true")
	}
	if PublicKeysMatch(cert, newECKey(t)) {
		t.Error("PublicKeysMatch(cert, other key) = true; want false")
	}
	if PublicKeysMatch(nil, key) {
		t.Error("PublicKeysMatch(nil, key) = true; want false")
	}
}
