package main

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
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// bareClient is the fleet provisioning flow of one device.
type bareClient struct {
	endpoint string
	port     int
	template string
	claim    tls.Certificate
	roots    *x509.CertPool
}

func newBareClient(o options) (*bareClient, error) {
	claim, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return nil, fmt.Errorf("load claim credentials: %w", err)
	}
	rootPEM, err := os.ReadFile(o.ca)
	if err != nil {
		return nil, fmt.Errorf("read root CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return nil, fmt.Errorf("root CA %q has no certificate", o.ca)
	}
	return &bareClient{endpoint: o.endpoint, port: o.port, template: o.template,
		claim: claim, roots: roots}, nil
}

// provision runs key generation, CreateCertificateFromCsr, RegisterThing and
// the connection check with the new certificate, and returns the thing name.
func (b *bareClient) provision(ctx context.Context, clientID string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: clientID}}, key)
	if err != nil {
		return "", err
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})

	certPEM, thing, err := b.register(ctx, clientID, csrPEM)
	if err != nil {
		return "", err
	}

	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	device, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "", fmt.Errorf("new certificate: %w", err)
	}
	client, _, err := b.connect(ctx, thing, device)
	if err != nil {
		return "", fmt.Errorf("connect with the new certificate: %w", err)
	}
	disconnect(client)
	return thing, nil
}

// closingFlags marks the clients that are disconnecting, because the server
// may then close the connection before the client does.
var closingFlags sync.Map // *paho.Client -> *atomic.Bool

// disconnect sends DISCONNECT and closes the connection.
func disconnect(client *paho.Client) {
	if flag, ok := closingFlags.Load(client); ok {
		flag.(*atomic.Bool).Store(true)
	}
	_ = client.Disconnect(&paho.Disconnect{})
}

// register requests a certificate for csrPEM and registers the thing over one
// claim connection.
func (b *bareClient) register(ctx context.Context, clientID string,
	csrPEM []byte) ([]byte, string, error) {
	client, messages, err := b.connect(ctx, clientID, b.claim)
	if err != nil {
		return nil, "", fmt.Errorf("connect with the claim: %w", err)
	}
	defer disconnect(client)

	createTopic := "$aws/certificates/create-from-csr/json"
	registerTopic := "$aws/provisioning-templates/" + b.template + "/provision/json"
	var subs []paho.SubscribeOptions
	for _, t := range []string{createTopic, registerTopic} {
		subs = append(subs, paho.SubscribeOptions{Topic: t + "/accepted", QoS: 1},
			paho.SubscribeOptions{Topic: t + "/rejected", QoS: 1})
	}
	if _, err := client.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
		return nil, "", fmt.Errorf("subscribe: %w", err)
	}

	var created struct {
		CertificatePEM string `json:"certificatePem"`
		Token          string `json:"certificateOwnershipToken"`
	}
	request := map[string]string{"certificateSigningRequest": string(csrPEM)}
	if err := call(ctx, client, messages, createTopic, request, &created); err != nil {
		return nil, "", err
	}

	var registered struct {
		ThingName string `json:"thingName"`
	}
	register := map[string]any{
		"certificateOwnershipToken": created.Token,
		"parameters":                map[string]string{"SerialNumber": clientID},
	}
	if err := call(ctx, client, messages, registerTopic, register, &registered); err != nil {
		return nil, "", err
	}
	return []byte(created.CertificatePEM), registered.ThingName, nil
}

// call publishes request on topic and decodes the accepted response into
// response.
func call(ctx context.Context, client *paho.Client, messages <-chan *paho.Publish,
	topic string, request, response any) error {
	payload, err := json.Marshal(request)
	if err != nil {
		return err
	}
	if _, err := client.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
		return fmt.Errorf("publish to %q: %w", topic, err)
	}

	select {
	case <-ctx.Done():
		return fmt.Errorf("no response on %q: %w", topic, ctx.Err())
	case m := <-messages:
		if strings.HasSuffix(m.Topic, "/rejected") || m.Topic != topic+"/accepted" {
			return fmt.Errorf("response on %q: %s", m.Topic, m.Payload)
		}
		return json.Unmarshal(m.Payload, response)
	}
}

// connect opens a TLS connection with cert and sends CONNECT as clientID.
func (b *bareClient) connect(ctx context.Context, clientID string,
	cert tls.Certificate) (*paho.Client, <-chan *paho.Publish, error) {
	addr := net.JoinHostPort(b.endpoint, strconv.Itoa(b.port))
	dialer := tls.Dialer{Config: &tls.Config{
		ServerName:   b.endpoint,
		RootCAs:      b.roots,
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}

	messages := make(chan *paho.Publish, 4)
	closing := new(atomic.Bool)
	client := paho.NewClient(paho.ClientConfig{
		// tls.Conn is not safe for concurrent writes, and paho writes
		// from more than one goroutine.
		Conn: packets.NewThreadSafeConn(conn),
		// paho's Subscribe and Publish wait for their context even when
		// the server closed the connection, so that ends the run here,
		// unless this client is disconnecting itself.
		OnClientError: func(err error) {
			if closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			fmt.Fprintf(os.Stderr, "bareclient: connection as %q failed: %v\n", clientID, err)
			os.Exit(1)
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			fmt.Fprintf(os.Stderr, "bareclient: server sent DISCONNECT to %q with reason %d\n",
				clientID, d.ReasonCode)
		},
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(p paho.PublishReceived) (bool, error) {
				messages <- p.Packet
				return true, nil
			},
		},
	})
	closingFlags.Store(client, closing)
	ack, err := client.Connect(ctx, &paho.Connect{ClientID: clientID, KeepAlive: 60, CleanStart: true})
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	if ack.ReasonCode != 0 {
		_ = conn.Close()
		return nil, nil, errors.New("CONNACK " + strconv.Itoa(int(ack.ReasonCode)))
	}
	return client, messages, nil
}
