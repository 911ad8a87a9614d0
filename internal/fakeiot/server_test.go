package fakeiot

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProvisionHappyPath(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl", ThingPrefix: "gg-"})
	tc := mustDial(t, s.Addr(), claimTLS(t, s), "device-1")

	codes := tc.subscribe(t, csrTopic, provisionTopic("Tmpl"))
	if diff := cmp.Diff([]byte{1, 1, 1, 1}, codes); diff != "" {
		t.Fatalf("SUBACK reason codes (-want +got):\n%s", diff)
	}

	created, key := createFromCSR(t, tc)
	block, _ := pem.Decode([]byte(created.CertificatePEM))
	if block == nil {
		t.Fatalf("certificatePem %q is not PEM", created.CertificatePEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse issued certificate: %v", err)
	}
	if got := certificateID(block.Bytes); created.CertificateID != got {
		t.Errorf("certificateId = %q; want SHA-256 of the DER %q", created.CertificateID, got)
	}
	if !publicKeyMatches(t, cert, key) {
		t.Errorf("issued certificate is not for the CSR's key")
	}
	if created.Token == "" {
		t.Errorf("certificateOwnershipToken is empty")
	}
	if got := certState(s, created.CertificateID); got != StatePendingActivation {
		t.Errorf("state after create = %q; want %q", got, StatePendingActivation)
	}

	params := map[string]string{"SerialNumber": "abc123"}
	topic, reg := registerThing(t, tc, "Tmpl", created.Token, params)
	if topic != provisionTopic("Tmpl")+"/accepted" {
		t.Fatalf("RegisterThing responded on %q with %+v; want accepted", topic, reg)
	}
	if reg.ThingName != "gg-abc123" {
		t.Errorf("thingName = %q; want %q", reg.ThingName, "gg-abc123")
	}
	if got := certState(s, created.CertificateID); got != StateActive {
		t.Errorf("state after register = %q; want %q", got, StateActive)
	}

	want := []Thing{{Name: "gg-abc123", CertificateID: created.CertificateID, Params: params, Registrations: 1}}
	if diff := cmp.Diff(want, s.Things()); diff != "" {
		t.Errorf("Things() (-want +got):\n%s", diff)
	}
	st := s.Stats()
	if st.Requests[OpCreateFromCSR] != 1 || st.Requests[OpRegister] != 1 {
		t.Errorf("Stats().Requests = %v; want one of each", st.Requests)
	}
}

func publicKeyMatches(t *testing.T, cert *x509.Certificate, keyPEM []byte) bool {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse key: %v", err)
	}
	pub, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("key %T has no public key", key)
	}
	eq, ok := cert.PublicKey.(interface{ Equal(x crypto.PublicKey) bool })
	return ok && eq.Equal(pub.Public())
}

func certState(s *Server, id string) CertificateState {
	for _, c := range s.Certificates() {
		if c.ID == id {
			return c.State
		}
	}
	return ""
}
