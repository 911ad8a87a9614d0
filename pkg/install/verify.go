package install

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// Verify reads the certificate at certPath and the private key at keyPath
// and checks that both parse, that the certificate's public key is the key's
// public key, and that the certificate has not expired. Its not-before time
// is not checked, because devices without a battery-backed clock boot with a
// date in the past until NTP sets it. The error names the file at fault.
func Verify(certPath, keyPath string) (*x509.Certificate, error) {
	cert, err := Match(certPath, keyPath)
	if err != nil {
		return nil, err
	}

	err = checkExpiry(cert, certPath, time.Now())
	if err != nil {
		return nil, err
	}

	return cert, nil
}

// Match reads the certificate at certPath and the private key at keyPath and
// checks that both parse and that the certificate's public key is the key's
// public key. Unlike Verify it ignores the validity period. The error names
// the file at fault.
func Match(certPath, keyPath string) (*x509.Certificate, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}

	return matchPEM(certPEM, keyPEM, certPath, keyPath)
}

// matchPEM parses a certificate and a private key and checks that they
// belong together. certName and keyName name them in errors.
func matchPEM(certPEM, keyPEM []byte, certName, keyName string) (
	*x509.Certificate, error) {
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", certName, err)
	}

	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("private key %q: %w", keyName, err)
	}

	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		const msg = "certificate %q does not match private key %q: public keys differ"
		return nil, fmt.Errorf(msg, certName, keyName)
	}

	return cert, nil
}

func checkExpiry(cert *x509.Certificate, name string, now time.Time) error {
	if now.After(cert.NotAfter) {
		const msg = "certificate %q expired at %s; provision the device again"
		return fmt.Errorf(msg, name, cert.NotAfter.UTC().Format(time.RFC3339))
	}

	return nil
}

// parseCertificate parses the first PEM block, which must be a certificate.
func parseCertificate(data []byte) (*x509.Certificate, error) {
	if len(data) == 0 {
		return nil, errors.New("file is empty")
	}

	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM block of type CERTIFICATE at the start")
	}

	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("invalid certificate: %w", err)
	}

	return cert, nil
}

// parseCertificates parses a bundle of one or more certificates, such as a
// root CA file, and rejects any other PEM block.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block of type %q", block.Type)
		}

		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}

	if len(certs) == 0 {
		return nil, errors.New("no PEM block of type CERTIFICATE found")
	}

	return certs, nil
}

// parsePrivateKey parses a PKCS #8, SEC 1 (EC) or PKCS #1 (RSA) private key
// in PEM form.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	if len(data) == 0 {
		return nil, errors.New("file is empty")
	}

	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}

	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid %s: %w", block.Type, err)
	}

	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}

	return signer, nil
}
