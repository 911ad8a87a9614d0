package provision

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// issued is a certificate signed for a test key, as the cloud returns it.
type issued struct {
	key     crypto.Signer
	certPEM string
	id      string
}

func issueCert(t testing.TB, key crypto.Signer) issued {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "device"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return issued{
		key:     key,
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		id:      hex.EncodeToString(sum[:]),
	}
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseCreateResponse(t *testing.T) {
	key := newECKey(t)
	good := issueCert(t, key)
	other := issueCert(t, newECKey(t))
	response := func(fields map[string]any) []byte {
		base := map[string]any{"certificateId": good.id, "certificatePem": good.certPEM,
			"certificateOwnershipToken": "tok"}
		for k, v := range fields {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		return []byte(jsonString(t, base))
	}

	tests := []struct {
		name      string
		payload   []byte
		wantClass Class
		wantText  string
	}{
		{"id-missing", response(map[string]any{"certificateId": nil}), StartOver,
			"certificateId is missing"},
		{"id-not-hex", response(map[string]any{"certificateId": "../../etc/passwd"}),
			StartOver, "certificateId"},
		{"id-wrong-type", response(map[string]any{"certificateId": 12}), StartOver,
			"invalid JSON"},
		{"token-missing", response(map[string]any{"certificateOwnershipToken": nil}),
			StartOver, "certificateOwnershipToken is missing"},
		{"token-empty", response(map[string]any{"certificateOwnershipToken": ""}),
			StartOver, "certificateOwnershipToken is missing"},
		{"pem-missing", response(map[string]any{"certificatePem": nil}), StartOver,
			"certificatePem is missing"},
		{"pem-garbage", response(map[string]any{"certificatePem": "hello"}), StartOver,
			"certificatePem"},
		{"other-key", response(map[string]any{"certificatePem": other.certPEM}),
			StartOver, "issued for another key"},
		{"array", []byte(`[1,2]`), StartOver, "not a JSON object"},
		{"null", []byte(`null`), StartOver, "not a JSON object"},
		{"trailing-data", append(response(nil), []byte(`{}`)...), StartOver,
			"data after the JSON object"},
		{"truncated", response(nil)[:40], StartOver, "invalid JSON"},
		{"oversized", []byte(`{"certificateId":"` + strings.Repeat("a", maxResponseSize) +
			`"}`), StartOver, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCreateResponse("CreateCertificateFromCsr", tt.payload, key)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("parseCreateResponse() error = %v; want an *Error", err)
			}
			if pe.Class != tt.wantClass {
				t.Errorf("class = %s; want %s", pe.Class, tt.wantClass)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q; want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestParseCreateResponseAccepts(t *testing.T) {
	key := newECKey(t)
	good := issueCert(t, key)
	payload := jsonString(t, map[string]any{"certificateId": good.id,
		"certificatePem": good.certPEM, "certificateOwnershipToken": "tok",
		"someFutureField": []int{1}})

	a, err := parseCreateResponse("CreateCertificateFromCsr", []byte(payload), key)
	if err != nil {
		t.Fatalf("parseCreateResponse() error = %v", err)
	}
	if a.certificateID != good.id || a.token != "tok" || string(a.certificatePEM) != good.certPEM {
		t.Errorf("parseCreateResponse() = %+v; want the fields of the payload", a)
	}
}

func TestParseCreateResponseWithKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := issueCert(t, rsaKey)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
	otherPEM, err := marshalKeyPEM(newECKey(t))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		privateKey any
		wantErr    string
	}{
		{"pkcs1-matching", pkcs1, ""},
		{"missing", nil, "privateKey is missing"},
		{"garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
			"privateKey"},
		{"other-key", string(otherPEM), "issued for another key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]any{"certificateId": good.id,
				"certificatePem": good.certPEM, "certificateOwnershipToken": "tok"}
			if tt.privateKey != nil {
				fields["privateKey"] = tt.privateKey
			}
			a, err := parseCreateResponse("CreateKeysAndCertificate",
				[]byte(jsonString(t, fields)), nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseCreateResponse() error = %v", err)
				}
				if !rsaKey.Equal(a.key) {
					t.Error("parseCreateResponse() key differs from privateKey")
				}
				return
			}
			if classOf(err) != StartOver {
				t.Errorf("class = %s; want %s (error %v)", classOf(err), StartOver, err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v; want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "AAAA") {
				t.Errorf("error %q echoes key material", err)
			}
		})
	}
}

func TestParseRegisterResponse(t *testing.T) {
	tests := []struct {
		name       string
		payload    string
		wantName   string
		wantConfig map[string]string
		wantClass  Class
		wantErr    string
	}{
		{"valid", `{"thingName":"gg-0001","deviceConfiguration":{"a":"b"}}`,
			"gg-0001", map[string]string{"a": "b"}, 0, ""},
		{"no-configuration", `{"thingName":"a:b_c-D9"}`, "a:b_c-D9",
			map[string]string{}, 0, ""},
		{"max-length-name", `{"thingName":"` + strings.Repeat("x", 128) + `"}`,
			strings.Repeat("x", 128), map[string]string{}, 0, ""},
		{"empty-name", `{"thingName":""}`, "", nil, Rejected, "has no thing resource"},
		{"missing-name", `{"deviceConfiguration":{}}`, "", nil, Rejected,
			"has no thing resource"},
		{"slash-in-name", `{"thingName":"../etc"}`, "", nil, StartOver, "is invalid"},
		{"too-long-name", `{"thingName":"` + strings.Repeat("x", 129) + `"}`, "", nil,
			StartOver, "is invalid"},
		{"space-in-name", `{"thingName":"a b"}`, "", nil, StartOver, "is invalid"},
		{"configuration-not-strings", `{"thingName":"a","deviceConfiguration":{"a":1}}`,
			"", nil, StartOver, "invalid JSON"},
		{"name-wrong-type", `{"thingName":7}`, "", nil, StartOver, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseRegisterResponse([]byte(tt.payload), "Tmpl")
			if tt.wantErr != "" {
				if classOf(err) != tt.wantClass || err == nil {
					t.Errorf("class = %s; want %s (error %v)", classOf(err), tt.wantClass, err)
				}
				if err != nil && !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %q; want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRegisterResponse(%q) error = %v", tt.payload, err)
			}
			if a.thingName != tt.wantName {
				t.Errorf("thingName = %q; want %q", a.thingName, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantConfig, a.deviceConfiguration); diff != "" {
				t.Errorf("deviceConfiguration (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRejection(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Error
	}{
		{"token", `{"statusCode":400,"errorCode":"InvalidCertificateOwnershipToken",` +
			`"errorMessage":"Certificate ownership token cannot be empty."}`,
			Error{Op: "RegisterThing", StatusCode: 400,
				ErrorCode:    "InvalidCertificateOwnershipToken",
				ErrorMessage: "Certificate ownership token cannot be empty.",
				Class:        StartOver}},
		{"throttled", `{"statusCode":429,"errorCode":"Throttling"}`,
			Error{Op: "RegisterThing", StatusCode: 429, ErrorCode: "Throttling",
				Class: Transient}},
		{"long-message-cut",
			`{"statusCode":403,"errorMessage":"` + strings.Repeat("m", 5000) + `"}`,
			Error{Op: "RegisterThing", StatusCode: 403,
				ErrorMessage: strings.Repeat("m", maxErrorMessage) + "...",
				Class:        Rejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseRejection("RegisterThing", []byte(tt.payload))
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("parseRejection(%q) (-want +got):\n%s", tt.name, diff)
			}
		})
	}

	got := parseRejection("RegisterThing", []byte(`{"statusCode":"400"}`))
	if got.Class != StartOver || got.Err == nil {
		t.Errorf("parseRejection(status as string) = %+v; want a StartOver malformed error", got)
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	got := truncate("aé", 2) // "é" is two bytes; cutting at 2 would split it
	if got != "a..." {
		t.Errorf("truncate(%q, 2) = %q; want %q", "aé", got, "a...")
	}
}

// FuzzParseAnswer feeds arbitrary payloads to every response parser. They must
// not panic, must return a classified *Error on failure, and must never
// accept an invalid thing name or a certificate for another key.
func FuzzParseAnswer(f *testing.F) {
	key := newECKey(f)
	good := issueCert(f, key)
	f.Add([]byte(jsonString(f, map[string]any{"certificateId": good.id,
		"certificatePem": good.certPEM, "certificateOwnershipToken": "t"})))
	f.Add([]byte(`{"thingName":"gg-1","deviceConfiguration":{"k":"v"}}`))
	f.Add([]byte(`{"thingName":""}`))
	f.Add([]byte(`{"statusCode":400,"errorCode":"InvalidCertificateOwnershipToken"}`))
	f.Add([]byte(`{"statusCode":"x"}`))
	f.Add([]byte(` {"a":1} {}`))
	f.Add([]byte(`null`))
	f.Add([]byte("{\"thingName\":\"a\xff\"}"))

	f.Fuzz(func(t *testing.T, payload []byte) {
		if a, err := parseCreateResponse("CreateCertificateFromCsr", payload, key); err == nil {
			if !PublicKeysMatch(a.certificate, key) || a.token == "" ||
				!certificateIDPattern.MatchString(a.certificateID) {
				t.Fatalf("parseCreateResponse accepted an invalid response: %+v", a)
			}
		} else {
			assertClassified(t, err)
		}

		if a, err := parseRegisterResponse(payload, "T"); err == nil {
			if !thingNamePattern.MatchString(a.thingName) || a.deviceConfiguration == nil {
				t.Fatalf("parseRegisterResponse accepted %q", a.thingName)
			}
		} else {
			assertClassified(t, err)
		}

		rej := parseRejection("RegisterThing", payload)
		if rej.Class != Transient && rej.Class != StartOver && rej.Class != Rejected {
			t.Fatalf("parseRejection class = %s", rej.Class)
		}
		if len(rej.ErrorMessage) > maxErrorMessage+3 {
			t.Fatalf("parseRejection kept %d bytes of errorMessage", len(rej.ErrorMessage))
		}
	})
}

func assertClassified(t *testing.T, err error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not an *Error", err)
	}
	if pe.Class == LocalConfig {
		t.Fatalf("response error %v classified as local configuration", err)
	}
}
