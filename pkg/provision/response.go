package provision

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"unicode/utf8"
)

// maxResponseSize is the largest response payload accepted, in bytes. Real
// responses are a few KiB (a certificate, a token, an RSA key); AWS IoT's
// own payload limit is 128 KB.
const maxResponseSize = 64 << 10

var (
	thingNamePattern     = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
	certificateIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// createResponse is the accepted response of CreateCertificateFromCsr and
// CreateKeysAndCertificate after validation.
type createResponse struct {
	certificateID  string
	certificate    *x509.Certificate
	certificatePEM []byte
	token          string
	key            crypto.Signer // CreateKeysAndCertificate only
}

// registerResponse is the accepted response of RegisterThing after validation.
type registerResponse struct {
	thingName           string
	deviceConfiguration map[string]string
}

// decodeResponse decodes one JSON object from payload into v. Types must match
// and nothing may follow the object. Unknown fields are ignored, because AWS
// may add fields to a response and that must not stop provisioning.
func decodeResponse(payload []byte, v any) error {
	if len(payload) > maxResponseSize {
		return fmt.Errorf("response of %d bytes is larger than the %d byte limit",
			len(payload), maxResponseSize)
	}
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("response is not a JSON object")
	}

	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("response is invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("response has data after the JSON object")
	}
	return nil
}

// malformed returns a StartOver error for an unusable accepted response of op.
func malformed(op string, err error) *Error {
	return newError(op, StartOver, fmt.Errorf("malformed response: %w", err))
}

// rawCreateResponse is the JSON of an accepted create response. Pointers
// tell a missing field from an empty one in messages.
type rawCreateResponse struct {
	CertificateID  *string `json:"certificateId"`
	CertificatePEM *string `json:"certificatePem"`
	PrivateKey     *string `json:"privateKey"`
	Token          *string `json:"certificateOwnershipToken"`
}

// parseCreateResponse validates an accepted response of op. key is the key the
// CSR was signed with; nil for CreateKeysAndCertificate, whose response brings
// its own key.
func parseCreateResponse(op string, payload []byte,
	key crypto.Signer) (*createResponse, error) {
	var raw rawCreateResponse
	if err := decodeResponse(payload, &raw); err != nil {
		return nil, malformed(op, err)
	}
	if err := raw.checkFields(); err != nil {
		return nil, malformed(op, err)
	}

	a := &createResponse{certificateID: *raw.CertificateID, token: *raw.Token,
		certificatePEM: []byte(*raw.CertificatePEM)}
	cert, err := parseCertificatePEM(a.certificatePEM)
	if err != nil {
		return nil, malformed(op, fmt.Errorf("certificatePem: %w", err))
	}
	a.certificate = cert

	if key == nil {
		if key, err = raw.privateKey(); err != nil {
			return nil, malformed(op, err)
		}
		a.key = key
	}

	if !PublicKeysMatch(cert, key) {
		err := fmt.Errorf("certificate %q (SHA-256 %s) was issued for another key",
			a.certificateID, fingerprint(cert.Raw))
		return nil, newError(op, StartOver, err)
	}
	return a, nil
}

// checkFields checks the fields that every create response carries.
func (raw *rawCreateResponse) checkFields() error {
	switch {
	case raw.CertificateID == nil || *raw.CertificateID == "":
		return errors.New("certificateId is missing")
	case !certificateIDPattern.MatchString(*raw.CertificateID):
		return fmt.Errorf("certificateId %q is invalid: want 64 hexadecimal digits",
			*raw.CertificateID)
	case raw.Token == nil || *raw.Token == "":
		return errors.New("certificateOwnershipToken is missing")
	case raw.CertificatePEM == nil || *raw.CertificatePEM == "":
		return errors.New("certificatePem is missing")
	}
	return nil
}

// privateKey parses the privateKey of a CreateKeysAndCertificate response.
func (raw *rawCreateResponse) privateKey() (crypto.Signer, error) {
	if raw.PrivateKey == nil || *raw.PrivateKey == "" {
		return nil, errors.New("privateKey is missing")
	}
	key, err := ParseKeyPEM([]byte(*raw.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("privateKey: %w", err)
	}
	return key, nil
}

// parseRegisterResponse validates an accepted response of RegisterThing for
// template.
func parseRegisterResponse(payload []byte, template string) (*registerResponse, error) {
	const op = "RegisterThing"
	var raw struct {
		ThingName           *string           `json:"thingName"`
		DeviceConfiguration map[string]string `json:"deviceConfiguration"`
	}
	if err := decodeResponse(payload, &raw); err != nil {
		return nil, malformed(op, err)
	}

	if raw.ThingName == nil || *raw.ThingName == "" {
		err := fmt.Errorf("accepted without a thing name: provisioning template %q "+
			"has no thing resource; add an AWS::IoT::Thing resource to it", template)
		return nil, newError(op, Rejected, err)
	}
	if !thingNamePattern.MatchString(*raw.ThingName) {
		return nil, malformed(op, fmt.Errorf(
			"thing name %q is invalid: want 1 to 128 of [a-zA-Z0-9:_-]", *raw.ThingName))
	}

	a := &registerResponse{
		thingName:           *raw.ThingName,
		deviceConfiguration: raw.DeviceConfiguration,
	}
	if a.deviceConfiguration == nil {
		a.deviceConfiguration = map[string]string{}
	}
	return a, nil
}

// parseRejection returns the classified *Error for a rejected response of op.
// A rejection that cannot be decoded is a malformed response (StartOver).
func parseRejection(op string, payload []byte) *Error {
	var raw struct {
		StatusCode   int    `json:"statusCode"`
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := decodeResponse(payload, &raw); err != nil {
		return malformed(op, fmt.Errorf("rejected: %w", err))
	}

	return &Error{
		Op:           op,
		StatusCode:   raw.StatusCode,
		ErrorCode:    raw.ErrorCode,
		ErrorMessage: truncate(raw.ErrorMessage, maxErrorMessage),
		Class:        classifyRejection(raw.StatusCode, raw.ErrorCode),
	}
}

// maxErrorMessage bounds the errorMessage kept from a rejection, in bytes.
const maxErrorMessage = 1024

// truncate returns s cut to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// fingerprint returns the first 16 hexadecimal digits of the SHA-256 of
// data, enough to tell secrets and certificates apart in logs.
func fingerprint(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
