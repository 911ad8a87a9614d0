package claim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// newKey generates the claim key (ECDSA P-256) and a CSR for it, both PEM.
func newKey(rand io.Reader, commonName string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generate claim key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode claim key: %w", err)
	}

	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: commonName}}
	csr, err := x509.CreateCertificateRequest(rand, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}

	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	csrPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})
	return keyPEM, csrPEM, nil
}

// readKey returns the public key of the PKCS#8 PEM key at path.
func readKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return publicKeyOf(data)
}

func publicKeyOf(keyPEM []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", key)
	}
	return signer.Public(), nil
}

// checkCertificate verifies that certPEM is one certificate for pub.
func checkCertificate(certPEM []byte, pub crypto.PublicKey) error {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}

	type equaler interface{ Equal(crypto.PublicKey) bool }
	got, ok := cert.PublicKey.(equaler)
	if !ok || !got.Equal(pub) {
		return errors.New("the certificate is not for the claim key")
	}
	return nil
}
