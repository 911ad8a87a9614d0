package fakeiot

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"

	"go.uber.org/zap"
)

// issuedCommonName is the subject AWS IoT puts in the certificates it issues.
const issuedCommonName = "AWS IoT Certificate"

type createResponse struct {
	CertificateID  string `json:"certificateId"`
	CertificatePEM string `json:"certificatePem"`
	PrivateKey     string `json:"privateKey,omitempty"`
	Token          string `json:"certificateOwnershipToken"`
}

type registerResponse struct {
	DeviceConfiguration map[string]string `json:"deviceConfiguration"`
	ThingName           string            `json:"thingName"`
}

// createFromCSR implements CreateCertificateFromCsr.
func (s *service) createFromCSR(payload []byte, fault Fault) (any, *rejection) {
	var body struct {
		CSR string `json:"certificateSigningRequest"`
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		return nil, reject(400, "InvalidPayload",
			"the request is not a JSON object: %v", err)
	}

	csr, rej := parseCSR(body.CSR)
	if rej != nil {
		return nil, rej
	}

	pub := csr.PublicKey
	if fault.kind == faultWrongKey {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, reject(500, "InternalFailure", "generate key: %v", err)
		}
		pub = &other.PublicKey
	}

	return s.issue(pub, nil, fault)
}

// parseCSR decodes and checks a PEM certificate signing request.
//
// NOTE: AWS does not document the error code for an invalid CSR; the fake
// responds 400 "InvalidCsr" to every CSR problem.
func parseCSR(text string) (*x509.CertificateRequest, *rejection) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, reject(400, "InvalidCsr",
			"certificateSigningRequest is not a PEM CERTIFICATE REQUEST")
	}

	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, reject(400, "InvalidCsr",
			"parse certificate signing request: %v", err)
	}

	if err := csr.CheckSignature(); err != nil {
		return nil, reject(400, "InvalidCsr",
			"invalid certificate signing request signature: %v", err)
	}

	if !acceptedKey(csr.PublicKey) {
		return nil, reject(400, "InvalidCsr",
			"unsupported key: use RSA of at least 2048 bits or ECDSA on P-256, P-384 or P-521")
	}
	return csr, nil
}

// acceptedKey reports whether AWS IoT accepts pub in a CSR.
func acceptedKey(pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return true
		}
	}
	return false
}

// createKeys implements CreateKeysAndCertificate. As AWS does, it generates
// an RSA 2048 key and returns it as PKCS#1 PEM ("RSA PRIVATE KEY").
func (s *service) createKeys(payload []byte, fault Fault) (any, *rejection) {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) > 0 {
		var body map[string]any
		if err := json.Unmarshal(trimmed, &body); err != nil {
			return nil, reject(400, "InvalidPayload",
				"the request is not empty and not a JSON object: %v", err)
		}
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, reject(500, "InternalFailure", "generate key: %v", err)
	}
	keyPEM := encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))

	var pub crypto.PublicKey = &key.PublicKey
	if fault.kind == faultWrongKey {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, reject(500, "InternalFailure", "generate key: %v", err)
		}
		pub = &other.PublicKey
	}

	return s.issue(pub, keyPEM, fault)
}

// issue signs a certificate for pub, records it as PENDING_ACTIVATION and
// builds the accepted response of a create request.
func (s *service) issue(
	pub crypto.PublicKey, keyPEM []byte, fault Fault,
) (any, *rejection) {
	der, err := s.pki.issuer.signClient(issuedCommonName, pub)
	if err != nil {
		return nil, reject(500, "InternalFailure", "%v", err)
	}

	id := certificateID(der)
	token, err := s.addPending(id, fault)
	if err != nil {
		return nil, reject(500, "InternalFailure", "%v", err)
	}

	s.log.Info("certificate created", zap.String("certificate-id", id))
	return createResponse{
		CertificateID:  id,
		CertificatePEM: string(encodePEM("CERTIFICATE", der)),
		PrivateKey:     string(keyPEM),
		Token:          token,
	}, nil
}

type registerRequest struct {
	Token  string            `json:"certificateOwnershipToken"`
	Params map[string]string `json:"parameters"`
}

// register implements RegisterThing for the template Config.TemplateName.
func (s *service) register(req request, fault Fault) (any, *rejection) {
	if req.template != s.cfg.TemplateName {
		return nil, reject(404, "ResourceNotFoundException",
			"provisioning template %q does not exist", req.template)
	}

	if rej := s.throttle(); rej != nil {
		return nil, rej
	}

	var body registerRequest
	if err := json.Unmarshal(req.payload, &body); err != nil {
		return nil, reject(400, "InvalidPayload",
			"the request is not a valid RegisterThing payload: %v", err)
	}

	if rej := s.checkToken(body.Token); rej != nil {
		return nil, rej
	}

	name, rej := s.thingName(body.Params)
	if rej != nil {
		return nil, rej
	}

	if s.cfg.Hook != nil {
		if err := s.cfg.Hook(maps.Clone(body.Params)); err != nil {
			return nil, reject(403, "AccessDenied", "%v", err)
		}
	}

	if rej := s.activate(body.Token, name, body.Params); rej != nil {
		return nil, rej
	}

	if fault.kind == faultThingName {
		name = fault.value
	}
	return registerResponse{
		DeviceConfiguration: map[string]string{}, ThingName: name,
	}, nil
}

func (s *service) throttle() *rejection {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.bucket.take(s.cfg.Clock()) {
		return nil
	}
	s.stats.Throttled++
	return reject(429, "ThrottlingException", "Rate exceeded")
}

// checkToken rejects a token that is empty, unknown, used or expired. The
// certificate of an expired token is deleted, as AWS deletes it.
func (s *service) checkToken(token string) *rejection {
	if token == "" {
		return reject(400, "InvalidCertificateOwnershipToken",
			"Certificate ownership token cannot be empty.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	rec, ok := s.tokens[token]
	switch {
	case !ok || rec.used:
		return reject(400, "InvalidCertificateOwnershipToken",
			"Certificate ownership token is invalid or was already used.")
	case !s.cfg.Clock().Before(rec.expires):
		delete(s.tokens, token)
		if c, ok := s.certs[rec.certID]; ok && c.State == StatePendingActivation {
			delete(s.certs, rec.certID)
		}
		return reject(400, "InvalidCertificateOwnershipToken",
			"Certificate ownership token has expired.")
	}
	return nil
}

// thingName builds the thing name as the template does: ThingPrefix followed
// by the SerialNumber parameter.
//
// NOTE: AWS does not document these error codes; "InvalidParameters" is the
// fake's choice.
func (s *service) thingName(params map[string]string) (string, *rejection) {
	serial := params["SerialNumber"]
	if serial == "" {
		return "", reject(400, "InvalidParameters",
			"parameter SerialNumber is missing or empty")
	}

	name := s.cfg.ThingPrefix + serial
	if !validThingName(name) {
		return "", reject(400, "InvalidParameters",
			"thing name %q is invalid: use 1 to 128 characters from [a-zA-Z0-9:_-]", name)
	}
	return name, nil
}

// activate marks the token used, sets the certificate ACTIVE and records the
// thing. A thing that exists keeps its name and gets the new certificate, as
// AWS attaches another certificate to an existing thing.
func (s *service) activate(token, name string, params map[string]string) *rejection {
	s.mu.Lock()
	defer s.mu.Unlock()

	rec, ok := s.tokens[token]
	if !ok || rec.used {
		return reject(400, "InvalidCertificateOwnershipToken",
			"Certificate ownership token is invalid or was already used.")
	}
	rec.used = true

	if c, ok := s.certs[rec.certID]; ok {
		c.State = StateActive
		c.ThingName = name
	}

	thing, exists := s.things[name]
	if !exists {
		thing = &Thing{Name: name}
		s.things[name] = thing
		s.thingOrder = append(s.thingOrder, name)
	} else {
		s.stats.Reregistrations++
	}
	thing.CertificateID = rec.certID
	thing.Params = maps.Clone(params)
	thing.Registrations++

	s.log.Info("thing registered", zap.String("thing-name", name),
		zap.String("certificate-id", rec.certID), zap.Bool("existed", exists))
	return nil
}
