package fakeiot

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// provisioner is a claim connection subscribed to the CSR and template
// topics of "Tmpl".
func provisioner(t *testing.T, s *Server) *testClient {
	t.Helper()
	tc := mustDial(t, s.Addr(), claimTLS(t, s), "provisioner")
	tc.subscribe(t, csrTopic, keysTopic, provisionTopic("Tmpl"))
	return tc
}

func TestRegisterRejections(t *testing.T) {
	tests := []struct {
		name     string
		hook     func(map[string]string) error
		token    func(created csrResult) string
		params   map[string]string
		wantCode string
		wantMsg  string
	}{
		{
			name:     "empty-token",
			token:    func(csrResult) string { return "" },
			params:   map[string]string{"SerialNumber": "s1"},
			wantCode: "InvalidCertificateOwnershipToken",
			wantMsg:  "Certificate ownership token cannot be empty.",
		},
		{
			name:     "unknown-token",
			token:    func(csrResult) string { return "not-a-token" },
			params:   map[string]string{"SerialNumber": "s1"},
			wantCode: "InvalidCertificateOwnershipToken",
		},
		{
			name:     "missing-serial",
			params:   map[string]string{"Other": "x"},
			wantCode: "InvalidParameters",
		},
		{
			name:     "invalid-thing-name",
			params:   map[string]string{"SerialNumber": "a/b"},
			wantCode: "InvalidParameters",
		},
		{
			name:     "hook-denies",
			hook:     func(map[string]string) error { return errors.New("serial s1 is not on the allow list") },
			params:   map[string]string{"SerialNumber": "s1"},
			wantCode: "AccessDenied",
			wantMsg:  "serial s1 is not on the allow list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{TemplateName: "Tmpl", Hook: tt.hook})
			tc := provisioner(t, s)
			created, _ := createFromCSR(t, tc)
			token := created.Token
			if tt.token != nil {
				token = tt.token(created)
			}

			topic, ans := registerThing(t, tc, "Tmpl", token, tt.params)
			if topic != provisionTopic("Tmpl")+"/rejected" {
				t.Fatalf("RegisterThing responded on %q with %+v; want rejected", topic, ans)
			}
			if ans.ErrorCode != tt.wantCode {
				t.Errorf("errorCode = %q; want %q", ans.ErrorCode, tt.wantCode)
			}
			wantStatus := 400
			if tt.wantCode == "AccessDenied" {
				wantStatus = 403
			}
			if ans.StatusCode != wantStatus {
				t.Errorf("statusCode = %d; want %d", ans.StatusCode, wantStatus)
			}
			if tt.wantMsg != "" && ans.ErrorMessage != tt.wantMsg {
				t.Errorf("errorMessage = %q; want %q", ans.ErrorMessage, tt.wantMsg)
			}
			if got := certState(s, created.CertificateID); got != StatePendingActivation {
				t.Errorf("certificate state = %q; want %q", got, StatePendingActivation)
			}
			if len(s.Things()) != 0 {
				t.Errorf("Things() = %v; want none", s.Things())
			}
		})
	}
}

func TestHookGetsParameters(t *testing.T) {
	var got map[string]string
	s := startFake(t, Config{TemplateName: "Tmpl", Hook: func(p map[string]string) error {
		got = p
		return nil
	}})
	tc := provisioner(t, s)
	created, _ := createFromCSR(t, tc)

	params := map[string]string{"SerialNumber": "s1", "Model": "m"}
	registerThing(t, tc, "Tmpl", created.Token, params)
	if diff := cmp.Diff(params, got); diff != "" {
		t.Errorf("hook parameters (-want +got):\n%s", diff)
	}
}

func TestTokenReuse(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)
	created, _ := createFromCSR(t, tc)
	params := map[string]string{"SerialNumber": "s1"}

	if topic, ans := registerThing(t, tc, "Tmpl", created.Token, params); !strings.HasSuffix(topic, "/accepted") {
		t.Fatalf("first RegisterThing responded on %q with %+v", topic, ans)
	}
	topic, ans := registerThing(t, tc, "Tmpl", created.Token, params)
	if !strings.HasSuffix(topic, "/rejected") || ans.ErrorCode != "InvalidCertificateOwnershipToken" {
		t.Errorf("reused token: response on %q with %+v; want rejected InvalidCertificateOwnershipToken", topic, ans)
	}
}

func TestTokenExpiry(t *testing.T) {
	clock := newFakeClock()
	s := startFake(t, Config{TemplateName: "Tmpl", TokenTTL: time.Hour, Clock: clock.Now})
	tc := provisioner(t, s)
	params := map[string]string{"SerialNumber": "s1"}

	fresh, _ := createFromCSR(t, tc)
	clock.Advance(time.Hour - time.Second)
	if topic, ans := registerThing(t, tc, "Tmpl", fresh.Token, params); !strings.HasSuffix(topic, "/accepted") {
		t.Errorf("token just before expiry: response on %q with %+v; want accepted", topic, ans)
	}

	stale, _ := createFromCSR(t, tc)
	clock.Advance(time.Hour)
	topic, ans := registerThing(t, tc, "Tmpl", stale.Token, params)
	if !strings.HasSuffix(topic, "/rejected") || ans.ErrorCode != "InvalidCertificateOwnershipToken" {
		t.Errorf("expired token: response on %q with %+v; want rejected InvalidCertificateOwnershipToken", topic, ans)
	}
	if got := certState(s, stale.CertificateID); got != "" {
		t.Errorf("certificate of the expired token has state %q; want it deleted", got)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	clock := newFakeClock()
	s := startFake(t, Config{TemplateName: "Tmpl", RegisterRate: 1, Clock: clock.Now})
	tc := provisioner(t, s)

	register := func(serial string) registerResult {
		created, _ := createFromCSR(t, tc)
		_, ans := registerThing(t, tc, "Tmpl", created.Token, map[string]string{"SerialNumber": serial})
		return ans
	}

	if ans := register("s1"); ans.ThingName != "s1" {
		t.Fatalf("first RegisterThing = %+v; want accepted", ans)
	}
	ans := register("s2")
	if ans.StatusCode != 429 || ans.ErrorCode != "ThrottlingException" {
		t.Errorf("second RegisterThing in the same second = %+v; want 429 ThrottlingException", ans)
	}

	clock.Advance(time.Second)
	if ans := register("s3"); ans.ThingName != "s3" {
		t.Errorf("RegisterThing a second later = %+v; want accepted", ans)
	}
	if got := s.Stats().Throttled; got != 1 {
		t.Errorf("Stats().Throttled = %d; want 1", got)
	}
}

func TestReregisterThing(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)
	params := map[string]string{"SerialNumber": "s1"}

	first, _ := createFromCSR(t, tc)
	registerThing(t, tc, "Tmpl", first.Token, params)
	second, _ := createFromCSR(t, tc)
	topic, ans := registerThing(t, tc, "Tmpl", second.Token, params)
	if !strings.HasSuffix(topic, "/accepted") || ans.ThingName != "s1" {
		t.Fatalf("second RegisterThing responded on %q with %+v; want accepted s1", topic, ans)
	}

	want := []Thing{{Name: "s1", CertificateID: second.CertificateID, Params: params, Registrations: 2}}
	if diff := cmp.Diff(want, s.Things()); diff != "" {
		t.Errorf("Things() (-want +got):\n%s", diff)
	}
	if got := s.Stats().Reregistrations; got != 1 {
		t.Errorf("Stats().Reregistrations = %d; want 1", got)
	}
}

func TestCreateFromCSRRejectsKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tampered := csrPEM(t, p256)
	block, _ := pem.Decode([]byte(tampered))
	block.Bytes[len(block.Bytes)-1] ^= 0xff
	tampered = string(pem.EncodeToMemory(block))

	tests := []struct {
		name string
		csr  string
	}{
		{"not-pem", "hello"},
		{"certificate-block", string(encodePEM("CERTIFICATE", []byte{1, 2, 3}))},
		{"rsa-1024", csrPEM(t, rsa1024)},
		{"ecdsa-p224", csrPEM(t, p224)},
		{"ed25519", csrPEM(t, edKey)},
		{"bad-signature", tampered},
	}
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ans csrResult
			topic := tc.call(t, csrTopic, map[string]string{"certificateSigningRequest": tt.csr}, &ans)
			if topic != csrTopic+"/rejected" || ans.StatusCode != 400 || ans.ErrorCode != "InvalidCsr" {
				t.Errorf("CSR %s: response on %q with %+v; want rejected 400 InvalidCsr", tt.name, topic, ans)
			}
		})
	}
}

func csrPEM(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest(%T) error = %v", key, err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestCreateKeysAndCertificate(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)

	var ans csrResult
	if topic := tc.call(t, keysTopic, []byte{}, &ans); topic != keysTopic+"/accepted" {
		t.Fatalf("CreateKeysAndCertificate responded on %q with %+v", topic, ans)
	}

	block, _ := pem.Decode([]byte(ans.PrivateKey))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("privateKey is not an RSA PRIVATE KEY PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS1PrivateKey() error = %v", err)
	}
	cert := parseCertPEM(t, ans.CertificatePEM)
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("certificate is not for the returned private key")
	}
	if got := certState(s, ans.CertificateID); got != StatePendingActivation {
		t.Errorf("state = %q; want %q", got, StatePendingActivation)
	}
}

func parseCertPEM(t *testing.T, text string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		t.Fatalf("certificatePem is not PEM: %q", text)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("ParseCertificate() error = %v", err)
	}
	return cert
}

func TestOversizedRequest(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)

	payload := []byte(`{"certificateSigningRequest": "` + strings.Repeat("A", maxPayload) + `"}`)
	if got := tc.publish(t, csrTopic, payload); got != 0x95 {
		t.Errorf("PUBACK of a %d-byte request = %#x; want 0x95", len(payload), got)
	}
	if got := s.Stats().Requests[OpCreateFromCSR]; got != 0 {
		t.Errorf("Stats().Requests[OpCreateFromCSR] = %d; want 0", got)
	}
}

func TestCBORRequestRejected(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := mustDial(t, s.Addr(), claimTLS(t, s), "cbor")
	cborTopic := "$aws/certificates/create-from-csr/cbor"
	tc.subscribe(t, cborTopic)

	tc.publish(t, cborTopic, []byte{0xa0})
	m := tc.await(t)
	if m.Topic != cborTopic+"/rejected" {
		t.Fatalf("response on %q; want %q", m.Topic, cborTopic+"/rejected")
	}
	want := encodeCBORRejection(&rejection{
		StatusCode: 400, ErrorCode: "InvalidPayload",
		ErrorMessage: "the fake endpoint supports only the json payload format",
	})
	if diff := cmp.Diff(want, m.Payload); diff != "" {
		t.Errorf("CBOR payload (-want +got):\n%s", diff)
	}
}

func TestCreateKeysWrongKey(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)
	s.Inject(OpCreateKeys, WrongKey())

	var ans csrResult
	if topic := tc.call(t, keysTopic, []byte("{}"), &ans); topic != keysTopic+"/accepted" {
		t.Fatalf("CreateKeysAndCertificate responded on %q with %+v", topic, ans)
	}

	block, _ := pem.Decode([]byte(ans.PrivateKey))
	if block == nil {
		t.Fatalf("privateKey is not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS1PrivateKey() error = %v", err)
	}
	if key.PublicKey.Equal(parseCertPEM(t, ans.CertificatePEM).PublicKey) {
		t.Errorf("certificate matches the returned private key; want another key")
	}
}
