package fakeiot

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// authority is a certificate authority generated at start.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// pki contains every certificate the fake needs. The root signs the server
// certificate that devices verify, as Amazon Root CA 1 does on AWS. A separate
// issuer signs client certificates (claim and device), as AWS signs the
// certificates it issues with an intermediate that devices never install.
type pki struct {
	root      *authority
	issuer    *authority
	server    tls.Certificate
	serverPEM []byte
	serverKey []byte
	claimPEM  []byte
	claimKey  []byte
	claimID   string
}

func newPKI(untrustedServer bool) (*pki, error) {
	root, err := newAuthority("Fake Amazon Root CA 1")
	if err != nil {
		return nil, err
	}

	issuer, err := newAuthority("Fake AWS IoT Certificate Issuer")
	if err != nil {
		return nil, err
	}

	p := &pki{root: root, issuer: issuer}
	serverSigner := root
	if untrustedServer {
		serverSigner, err = newAuthority("Fake Untrusted Root CA")
		if err != nil {
			return nil, err
		}
	}

	if err := p.makeServer(serverSigner); err != nil {
		return nil, err
	}

	if err := p.makeClaim(); err != nil {
		return nil, err
	}

	return p, nil
}

func newAuthority(commonName string) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key of %q: %w", commonName, err)
	}

	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName: commonName, Organization: []string{"fakeiot"},
		},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	tmpl.SerialNumber, err = randomSerial()
	if err != nil {
		return nil, err
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", commonName, err)
	}

	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", commonName, err)
	}

	return &authority{cert: cert, key: key, pem: encodePEM("CERTIFICATE", der)}, nil
}

// sign issues a certificate for pub from tmpl, filling in the serial number
// and the validity period.
func (a *authority) sign(
	tmpl *x509.Certificate, pub crypto.PublicKey,
) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}

	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, pub, a.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}

	return der, nil
}

// signClient issues a client certificate, as AWS IoT does for devices.
func (a *authority) signClient(
	commonName string, pub crypto.PublicKey,
) ([]byte, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return a.sign(tmpl, pub)
}

func (p *pki) makeServer(signer *authority) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate server key: %w", err)
	}

	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotAfter:    time.Now().Add(90 * 24 * time.Hour),
	}
	der, err := signer.sign(tmpl, &key.PublicKey)
	if err != nil {
		return err
	}

	p.serverPEM = encodePEM("CERTIFICATE", der)
	p.serverKey, err = encodeKey(key)
	if err != nil {
		return err
	}

	p.server, err = tls.X509KeyPair(p.serverPEM, p.serverKey)
	if err != nil {
		return fmt.Errorf("load server key pair: %w", err)
	}

	return nil
}

func (p *pki) makeClaim() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate claim key: %w", err)
	}

	der, err := p.issuer.signClient("fleet provisioning claim", &key.PublicKey)
	if err != nil {
		return err
	}

	p.claimPEM = encodePEM("CERTIFICATE", der)
	p.claimID = certificateID(der)
	p.claimKey, err = encodeKey(key)
	return err
}

// certificateID returns the ID AWS IoT gives a certificate: the lower-case hex
// SHA-256 of its DER encoding.
func certificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	serial, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial, nil
}

func encodePEM(blockType string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
}

// encodeKey encodes key as PKCS#8 PEM.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return encodePEM("PRIVATE KEY", der), nil
}
