package provision

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxPEMFileSize bounds the claim and root CA files read; real ones are a few KiB.
const maxPEMFileSize = 1 << 20

// LoadClaim reads the claim certificate and key and checks that they parse,
// that the key matches the certificate, and that the certificate is valid at
// now. Every error is an *Error of class LocalConfig for unreadable,
// unparsable, mismatched or expired files. A certificate that is not valid
// yet is Transient instead: the device clock is behind (common at boot
// without a real-time clock), and that heals once the time is synchronized.
func LoadClaim(certPath, keyPath string, now time.Time) (
	tls.Certificate, *x509.Certificate, error) {
	const op = "load claim"
	certPEM, err := readPEMFile(certPath)
	if err != nil {
		return tls.Certificate{}, nil, newError(op, LocalConfig, err)
	}

	keyPEM, err := readPEMFile(keyPath)
	if err != nil {
		return tls.Certificate{}, nil, newError(op, LocalConfig, err)
	}

	leaf, err := parseCertificatePEM(certPEM)
	if err != nil {
		err = fmt.Errorf("claim certificate %q: %w", certPath, err)
		return tls.Certificate{}, nil, newError(op, LocalConfig, err)
	}

	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		err = fmt.Errorf("claim key %q: %w", keyPath, err)
		return tls.Certificate{}, nil, newError(op, LocalConfig, err)
	}

	if !PublicKeysMatch(leaf, key) {
		err = fmt.Errorf("claim key %q does not match claim certificate %q: "+
			"install the key the certificate was issued for", keyPath, certPath)
		return tls.Certificate{}, nil, newError(op, LocalConfig, err)
	}

	if err := checkValidity(leaf, certPath, now); err != nil {
		return tls.Certificate{}, nil, err
	}

	cert := tls.Certificate{
		Certificate: [][]byte{leaf.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
	return cert, leaf, nil
}

func checkValidity(leaf *x509.Certificate, path string, now time.Time) error {
	const op = "load claim"
	if now.Before(leaf.NotBefore) {
		err := fmt.Errorf("claim certificate %q is not valid before %s but the "+
			"clock says %s: the clock looks wrong, waiting for time synchronization",
			path, leaf.NotBefore.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339))
		return newError(op, Transient, err)
	}
	if now.After(leaf.NotAfter) {
		err := fmt.Errorf("claim certificate %q expired at %s (now %s): "+
			"install a new claim certificate",
			path, leaf.NotAfter.UTC().Format(time.RFC3339),
			now.UTC().Format(time.RFC3339))
		return newError(op, LocalConfig, err)
	}
	return nil
}

func readPEMFile(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("path is missing")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, maxPEMFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", path, err)
	}
	if len(data) > maxPEMFileSize {
		return nil, fmt.Errorf("file %q is larger than %d bytes: want a PEM file",
			path, maxPEMFileSize)
	}
	return data, nil
}

// parseCertificatePEM returns the first CERTIFICATE block of data.
func parseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM CERTIFICATE block found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid certificate: %w", err)
		}
		return cert, nil
	}
}

// ParseKeyPEM parses the first private key block of data: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
// Encrypted keys are rejected. The error never contains key material.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block found")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("encrypted PEM private keys are not supported")
		}

		switch block.Type {
		case "PRIVATE KEY":
			return parsePKCS8(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("invalid PKCS#1 RSA private key")
			}
			return key, nil
		case "EC PRIVATE KEY":
			key, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("invalid SEC 1 EC private key")
			}
			return key, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM private keys are not supported")
		}
	}
}

func parsePKCS8(der []byte) (crypto.Signer, error) {
	// The parser's error text is dropped: it could echo bytes of the key.
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("invalid PKCS#8 private key")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("PKCS#8 key of type %T cannot sign", key)
	}
	return signer, nil
}

// marshalKeyPEM returns key as PKCS#8 PEM.
func marshalKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("failed to encode private key as PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeysMatch reports whether cert was issued for the public half of key.
func PublicKeysMatch(cert *x509.Certificate, key crypto.Signer) bool {
	if cert == nil || key == nil {
		return false
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }

	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		eq, ok := pub.(equaler)
		return ok && eq.Equal(key.Public())
	}
	return false
}
