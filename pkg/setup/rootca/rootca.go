// Package rootca embeds the public Amazon Trust Services root certificates
// that AWS IoT data endpoints chain to: Amazon Root CA 1 (RSA 2048) and
// Amazon Root CA 3 (ECC P-256). The PEM text is the one in Debian's
// ca-certificates (Mozilla root store), identical to
// https://www.amazontrust.com/repository/.
package rootca

import _ "embed"

// File names of the certificates, as AWS publishes them.
const (
	RSAFile = "AmazonRootCA1.pem"
	ECCFile = "AmazonRootCA3.pem"
)

//go:embed AmazonRootCA1.pem
var rsaPEM []byte

//go:embed AmazonRootCA3.pem
var eccPEM []byte

// Files returns a fresh map from file name to PEM bytes for both roots.
func Files() map[string][]byte {
	return map[string][]byte{
		RSAFile: append([]byte(nil), rsaPEM...),
		ECCFile: append([]byte(nil), eccPEM...),
	}
}
