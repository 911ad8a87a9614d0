package install

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	good := validCredentials(t)
	other := validCredentials(t)
	expired := newCredentials(t, time.Now().Add(-time.Second))
	tests := []struct {
		name      string
		cert, key []byte
		missing   string // "cert" or "key" to leave that file out
		phrase    string // "" when valid
	}{
		{"valid", good.certPEM, good.keyPEM, "", ""},
		{"missing-certificate", nil, good.keyPEM, "cert", "read certificate"},
		{"missing-key", good.certPEM, nil, "key", "read private key"},
		{"zero-byte-certificate", []byte{}, good.keyPEM, "", "certificate.pem\": file is empty"},
		{"zero-byte-key", good.certPEM, []byte{}, "", "priv_key\": file is empty"},
		{"truncated-certificate", good.certPEM[:len(good.certPEM)/2], good.keyPEM, "",
			"no PEM block"},
		{"certificate-for-another-key", good.certPEM, other.keyPEM, "", "does not match"},
		{"expired", expired.certPEM, expired.keyPEM, "", "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certPath := filepath.Join(dir, "certificate.pem")
			keyPath := filepath.Join(dir, "priv_key")
			if tt.missing != "cert" {
				mustWriteFile(t, certPath, tt.cert)
			}
			if tt.missing != "key" {
				mustWriteFile(t, keyPath, tt.key)
			}

			cert, err := Verify(certPath, keyPath)
			if tt.phrase == "" {
				if err != nil {
					t.Fatalf("Verify() = %v; want nil", err)
				}
				if cert.Subject.CommonName != "test-device" {
					t.Errorf("Verify() certificate CN = %q; want %q",
						cert.Subject.CommonName, "test-device")
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify() = nil; want an error containing %q", tt.phrase)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("Verify() = %q; want it to contain %q", err, tt.phrase)
			}
		})
	}
}

func TestMatchIgnoresExpiry(t *testing.T) {
	dir := t.TempDir()
	expired := newCredentials(t, time.Now().Add(-time.Second))
	certPath := filepath.Join(dir, "certificate.pem")
	keyPath := filepath.Join(dir, "priv_key")
	mustWriteFile(t, certPath, expired.certPEM)
	mustWriteFile(t, keyPath, expired.keyPEM)

	_, err := Match(certPath, keyPath)
	if err != nil {
		t.Errorf("Match() of an expired pair = %v; want nil", err)
	}
}

func TestParsePrivateKeyFormats(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		block *pem.Block
		ok    bool
	}{
		{"sec1-ec", &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}, true},
		{"pkcs1-rsa", &pem.Block{Type: "RSA PRIVATE KEY",
			Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}, true},
		{"public-key", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}, false},
		{"corrupt-pkcs8", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePrivateKey(pem.EncodeToMemory(tt.block))
			if (err == nil) != tt.ok {
				t.Errorf("parsePrivateKey(%s) = %v; want ok %v", tt.block.Type, err, tt.ok)
			}
		})
	}
}
