package fakeiot

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
)

// BrokerFiles lists the files another broker needs to serve as the fake's
// endpoint.
type BrokerFiles struct {
	CertPath     string // server certificate for localhost and 127.0.0.1
	KeyPath      string // its private key (PKCS#8 PEM), mode 0600
	ClientCAPath string // the CA that issues claim and device certificates
}

// WriteBrokerFiles writes into dir the server certificate and key that
// devices accept (signed by RootCAPEM unless Config.UntrustedServer) and the
// CA to verify client certificates with.
func (s *Server) WriteBrokerFiles(dir string) (BrokerFiles, error) {
	f := BrokerFiles{
		CertPath:     filepath.Join(dir, "server.cert.pem"),
		KeyPath:      filepath.Join(dir, "server.key.pem"),
		ClientCAPath: filepath.Join(dir, "client-ca.pem"),
	}

	files := []struct {
		path string
		data []byte
		perm fs.FileMode
	}{
		{f.CertPath, s.pki.serverPEM, 0o644},
		{f.KeyPath, s.pki.serverKey, 0o600},
		{f.ClientCAPath, s.pki.issuer.pem, 0o644},
	}
	for _, file := range files {
		if err := writeFile(file.path, file.data, file.perm); err != nil {
			return BrokerFiles{}, err
		}
	}
	return f, nil
}

// Responder responds to fleet provisioning requests as an ordinary MQTT
// client of another broker. That broker delivers each response to every
// subscriber of the response topic. The responder cannot see who sent a
// request, so it neither restricts responses to the requester nor drops
// responses that the requester had not subscribed to. The claim policy is
// not enforced either.
type Responder struct {
	srv    *Server
	client *paho.Client
	reqs   chan request
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	done   chan struct{}
	err    error
}

// Respond connects to the MQTT 5 broker at brokerAddr over TLS, subscribes
// to the request topics of Config.TemplateName and returns once the broker
// has acknowledged the subscription. A nil tlsConf trusts RootCAPEM and
// presents a certificate issued by the fake's client CA. The responder uses
// the Server's state, faults and statistics and runs until Close or until
// the connection is lost.
func (s *Server) Respond(
	ctx context.Context, brokerAddr string, tlsConf *tls.Config,
) (*Responder, error) {
	if tlsConf == nil {
		var err error
		tlsConf, err = s.responderTLS()
		if err != nil {
			return nil, err
		}
	}

	conn, err := (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", brokerAddr)
	if err != nil {
		return nil, fmt.Errorf("connect to broker %q: %w", brokerAddr, err)
	}

	r := &Responder{srv: s, reqs: make(chan request, 64), done: make(chan struct{})}
	r.client = paho.NewClient(paho.ClientConfig{
		Conn:              packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){r.receive},
	})

	if err := r.start(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("start responder on broker %q: %w", brokerAddr, err)
	}
	return r, nil
}

func (r *Responder) start(ctx context.Context) error {
	connect := &paho.Connect{
		ClientID: "fakeiot-responder", KeepAlive: 30, CleanStart: true,
	}
	if _, err := r.client.Connect(ctx, connect); err != nil {
		return err
	}

	var subs []paho.SubscribeOptions
	for _, topic := range requestTopics(r.srv.cfg.TemplateName) {
		subs = append(subs, paho.SubscribeOptions{Topic: topic, QoS: 1})
	}
	subscribe := &paho.Subscribe{Subscriptions: subs}
	if _, err := r.client.Subscribe(ctx, subscribe); err != nil {
		_ = r.client.Disconnect(&paho.Disconnect{})
		return err
	}

	workCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.work(workCtx)
	return nil
}

// receive queues a request. Responses are published from the worker because
// a QoS 1 publish from inside a paho callback would wait on the callback.
func (r *Responder) receive(p paho.PublishReceived) (bool, error) {
	req, ok := parseRequestTopic(p.Packet.Topic)
	if !ok {
		return false, nil
	}
	if len(p.Packet.Payload) > maxPayload {
		r.srv.cfg.Logger.Info("request dropped: payload too large",
			zap.String("topic", p.Packet.Topic),
			zap.Int("payload-length", len(p.Packet.Payload)))
		return true, nil
	}

	req.payload = p.Packet.Payload
	select {
	case r.reqs <- req:
	default:
		r.srv.cfg.Logger.Warn("request dropped: responder queue full",
			zap.String("topic", req.topic))
	}
	return true, nil
}

func (r *Responder) work(ctx context.Context) {
	defer r.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.client.Done():
			r.finish(errors.New("connection to the broker lost"))
			return
		case req := <-r.reqs:
			r.handle(ctx, req)
		}
	}
}

func (r *Responder) handle(ctx context.Context, req request) {
	resp := r.srv.svc.handle(req)
	if !r.srv.sleep(resp.delay) {
		return
	}
	if resp.disconnect {
		// The requester's connection is not the responder's to close.
		r.srv.cfg.Logger.Info(
			"disconnect fault skipped: the requester is unknown on another broker")
		return
	}
	if resp.topic == "" {
		return
	}

	msg := &paho.Publish{Topic: resp.topic, QoS: 1, Payload: resp.payload}
	if _, err := r.client.Publish(ctx, msg); err != nil {
		r.srv.cfg.Logger.Warn("response not published",
			zap.String("topic", resp.topic), zap.Error(err))
	}
}

func (r *Responder) finish(err error) {
	r.once.Do(func() {
		r.err = err
		close(r.done)
	})
}

// Done is closed when the responder stops: after Close or a lost
// connection.
func (r *Responder) Done() <-chan struct{} { return r.done }

// Err returns why the responder stopped, or nil while it runs or after
// Close.
func (r *Responder) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Close disconnects from the broker and waits for the worker to end.
func (r *Responder) Close() error {
	r.cancel()
	err := r.client.Disconnect(&paho.Disconnect{})
	r.wg.Wait()
	r.finish(nil)
	return err
}

// responderTLS returns a client configuration that trusts RootCAPEM and
// presents a new certificate from the fake's client CA.
func (s *Server) responderTLS() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate responder key: %w", err)
	}

	der, err := s.pki.issuer.signClient("fakeiot responder", &key.PublicKey)
	if err != nil {
		return nil, err
	}

	roots := x509.NewCertPool()
	roots.AddCert(s.pki.root.cert)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
		ServerName: "localhost",
		Certificates: []tls.Certificate{
			{Certificate: [][]byte{der}, PrivateKey: key},
		},
	}, nil
}
