package rootca

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"testing"
)

// The SHA-256 fingerprints below agree between Debian's ca-certificates
// (Amazon_Root_CA_1.crt, Amazon_Root_CA_3.crt) and the values AWS lists on
// https://www.amazontrust.com/repository/.
func TestRootCertificates(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		commonName  string
		fingerprint string
		keyAlgo     x509.PublicKeyAlgorithm
	}{
		{"rsa", RSAFile, "Amazon Root CA 1",
			"8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
			x509.RSA},
		{"ecc", ECCFile, "Amazon Root CA 3",
			"18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
			x509.ECDSA},
	}
	files := Files()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block, rest := pem.Decode(files[tt.file])
			if block == nil || block.Type != "CERTIFICATE" {
				t.Fatalf("%s: no CERTIFICATE block", tt.file)
			}
			if len(rest) != 0 {
				t.Errorf("%s: %d bytes after the certificate", tt.file, len(rest))
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatalf("ParseCertificate(%s): %v", tt.file, err)
			}

			sum := sha256.Sum256(block.Bytes)
			if got := hex.EncodeToString(sum[:]); got != tt.fingerprint {
				t.Errorf("SHA-256(%s) = %s; want %s", tt.file, got, tt.fingerprint)
			}
			if cert.Subject.CommonName != tt.commonName {
				t.Errorf("CommonName = %q; want %q", cert.Subject.CommonName, tt.commonName)
			}
			if !cert.IsCA || !cert.BasicConstraintsValid {
				t.Errorf("%s: IsCA = %v; want true", tt.file, cert.IsCA)
			}
			if cert.PublicKeyAlgorithm != tt.keyAlgo {
				t.Errorf("PublicKeyAlgorithm = %v; want %v", cert.PublicKeyAlgorithm, tt.keyAlgo)
			}
			if err := cert.CheckSignatureFrom(cert); err != nil {
				t.Errorf("%s is not self-signed: %v", tt.file, err)
			}
		})
	}
}

func TestFilesReturnsCopies(t *testing.T) {
	first := Files()
	first[RSAFile][0] = 'X'
	if Files()[RSAFile][0] != '-' {
		t.Error("Files() shares its byte slices; a caller changed the embedded PEM")
	}
}
