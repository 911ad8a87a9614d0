package fakeiot

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// hangTimeout only catches hangs; no test asserts a duration.
const hangTimeout = 20 * time.Second

const (
	csrTopic  = "$aws/certificates/create-from-csr/json"
	keysTopic = "$aws/certificates/create/json"
)

func provisionTopic(template string) string {
	return "$aws/provisioning-templates/" + template + "/provision/json"
}

func startFake(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// clientTLS returns a TLS configuration that trusts the fake's root CA and
// presents certPEM and keyPEM.
func clientTLS(t *testing.T, s *Server, certPEM, keyPEM []byte) *tls.Config {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair() error = %v", err)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.RootCAPEM())
	return &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{pair},
		ServerName:   "localhost",
		MinVersion:   tls.VersionTLS12,
	}
}

func claimTLS(t *testing.T, s *Server) *tls.Config {
	return clientTLS(t, s, s.ClaimCertPEM(), s.ClaimKeyPEM())
}

// testClient is a plain paho client that collects every message it gets.
type testClient struct {
	c        *paho.Client
	messages chan *paho.Publish
}

// dial connects to addr over TLS and sends CONNECT with clientID. It returns
// the CONNACK, and an error for a failed handshake or a rejected CONNECT.
func dial(t *testing.T, addr string, conf *tls.Config, clientID string) (*testClient, *paho.Connack, error) {
	t.Helper()
	return dialWith(t, addr, conf, &paho.Connect{ClientID: clientID, KeepAlive: 60, CleanStart: true})
}

// dialWith is dial with a CONNECT packet of the caller's.
func dialWith(t *testing.T, addr string, conf *tls.Config, connect *paho.Connect) (*testClient, *paho.Connack, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()

	conn, err := (&tls.Dialer{Config: conf}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}

	tc := &testClient{messages: make(chan *paho.Publish, 16)}
	tc.c = paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(r paho.PublishReceived) (bool, error) {
				tc.messages <- r.Packet
				return true, nil
			},
		},
	})

	ack, err := tc.c.Connect(ctx, connect)
	if err != nil {
		return nil, ack, err
	}
	t.Cleanup(func() { _ = tc.c.Disconnect(&paho.Disconnect{}) })
	return tc, ack, nil
}

// mustDial is dial that fails the test on error.
func mustDial(t *testing.T, addr string, conf *tls.Config, clientID string) *testClient {
	t.Helper()
	tc, _, err := dial(t, addr, conf, clientID)
	if err != nil {
		t.Fatalf("connect %q: %v", clientID, err)
	}
	return tc
}

// subscribe subscribes to the accepted and rejected topics of each request
// topic and returns the SUBACK reason codes.
func (tc *testClient) subscribe(t *testing.T, requestTopics ...string) []byte {
	t.Helper()
	var subs []paho.SubscribeOptions
	for _, topic := range requestTopics {
		subs = append(subs,
			paho.SubscribeOptions{Topic: topic + "/accepted", QoS: 1},
			paho.SubscribeOptions{Topic: topic + "/rejected", QoS: 1})
	}

	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	ack, err := tc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if ack == nil {
		t.Fatalf("subscribe %v: %v", requestTopics, err)
	}
	return ack.Reasons
}

// publish sends payload to topic at QoS 1 and returns the PUBACK reason
// code.
func (tc *testClient) publish(t *testing.T, topic string, payload any) byte {
	t.Helper()
	data, ok := payload.([]byte)
	if !ok {
		var err error
		data, err = json.Marshal(payload)
		if err != nil {
			t.Fatalf("encode request: %v", err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	resp, err := tc.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: data})
	if resp == nil {
		t.Fatalf("publish to %q: %v", topic, err)
	}
	return resp.ReasonCode
}

// await returns the next message, failing the test after hangTimeout.
func (tc *testClient) await(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-tc.messages:
		return m
	case <-time.After(hangTimeout):
		t.Fatalf("no message within %s", hangTimeout)
		return nil
	}
}

// call publishes a request to topic and decodes the response into out. It
// returns the response's topic.
func (tc *testClient) call(t *testing.T, topic string, payload any, out any) string {
	t.Helper()
	if code := tc.publish(t, topic, payload); code != 0 {
		t.Fatalf("PUBACK of %q = %#x; want 0", topic, code)
	}

	m := tc.await(t)
	if err := json.Unmarshal(m.Payload, out); err != nil {
		t.Fatalf("decode response on %q: %v (%d bytes)", m.Topic, err, len(m.Payload))
	}
	return m.Topic
}

type csrResult struct {
	CertificateID  string `json:"certificateId"`
	CertificatePEM string `json:"certificatePem"`
	PrivateKey     string `json:"privateKey"`
	Token          string `json:"certificateOwnershipToken"`
	StatusCode     int    `json:"statusCode"`
	ErrorCode      string `json:"errorCode"`
	ErrorMessage   string `json:"errorMessage"`
}

// String formats r for test output without the ownership token or the
// private key.
func (r csrResult) String() string {
	return fmt.Sprintf("{certificateId:%s token:%d bytes privateKey:%d bytes "+
		"statusCode:%d errorCode:%s errorMessage:%q}",
		r.CertificateID, len(r.Token), len(r.PrivateKey),
		r.StatusCode, r.ErrorCode, r.ErrorMessage)
}

type registerResult struct {
	ThingName           string            `json:"thingName"`
	DeviceConfiguration map[string]string `json:"deviceConfiguration"`
	StatusCode          int               `json:"statusCode"`
	ErrorCode           string            `json:"errorCode"`
	ErrorMessage        string            `json:"errorMessage"`
}

// newCSR returns a PEM CSR and its PKCS#8 PEM key.
func newCSR(t *testing.T) (csrPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), keyPEM
}

// createFromCSR runs CreateCertificateFromCsr on a connected, subscribed
// client and returns the accepted response with the key of the CSR.
func createFromCSR(t *testing.T, tc *testClient) (csrResult, []byte) {
	t.Helper()
	csr, key := newCSR(t)
	var ans csrResult
	topic := tc.call(t, csrTopic, map[string]string{"certificateSigningRequest": string(csr)}, &ans)
	if topic != csrTopic+"/accepted" {
		t.Fatalf("CreateCertificateFromCsr responded on %q with %+v; want accepted", topic, ans)
	}
	return ans, key
}

func registerThing(t *testing.T, tc *testClient, template, token string, params map[string]string) (string, registerResult) {
	t.Helper()
	var ans registerResult
	req := map[string]any{"certificateOwnershipToken": token, "parameters": params}
	topic := tc.call(t, provisionTopic(template), req, &ans)
	return topic, ans
}

// waitFor polls cond until it holds, failing the test after hangTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectNoMessage fails the test if a message has arrived.
func (tc *testClient) expectNoMessage(t *testing.T) {
	t.Helper()
	select {
	case m := <-tc.messages:
		t.Errorf("unexpected message on %q (%d bytes)", m.Topic, len(m.Payload))
	default:
	}
}

// fakeClock is a settable clock for Config.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// connectCode dials addr and returns the CONNACK reason code, or -1 when
// the connection failed without a CONNACK.
func connectCode(t *testing.T, addr string, conf *tls.Config, clientID string) int {
	t.Helper()
	_, ack, err := dial(t, addr, conf, clientID)
	if ack != nil {
		return int(ack.ReasonCode)
	}
	if err == nil {
		t.Fatalf("connect %q: no CONNACK and no error", clientID)
	}
	return -1
}
