package provision

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
)

// keyGenerator returns a new private key; nil for KeyAWSGenerated.
type keyGenerator func() (crypto.Signer, error)

// newKeyGenerator returns the generator for t, or an error naming the valid
// types.
func newKeyGenerator(t KeyType) (keyGenerator, error) {
	switch t {
	case KeyECP256:
		return func() (crypto.Signer, error) {
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}, nil
	case KeyECP384:
		return func() (crypto.Signer, error) {
			return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		}, nil
	case KeyRSA2048:
		return func() (crypto.Signer, error) {
			return rsa.GenerateKey(rand.Reader, 2048)
		}, nil
	case KeyRSA3072:
		return func() (crypto.Signer, error) {
			return rsa.GenerateKey(rand.Reader, 3072)
		}, nil
	case KeyAWSGenerated:
		return nil, nil
	}
	return nil, fmt.Errorf("key type %q is invalid: want %s, %s, %s, %s or %s", t,
		KeyECP256, KeyECP384, KeyRSA2048, KeyRSA3072, KeyAWSGenerated)
}

// createCSR returns a PEM certificate signing request for key with subject
// CN commonName.
func createCSR(key crypto.Signer, commonName string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: commonName}}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("failed to create CSR for %q: %w", commonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}
