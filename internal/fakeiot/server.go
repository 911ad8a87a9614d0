// Package fakeiot is a local stand-in for the AWS IoT Core fleet provisioning
// API over MQTT 5 with mutual TLS, for tests, demos and benchmarks.
//
// Start runs an MQTT broker (mochi-mqtt) on 127.0.0.1 with a test PKI made at
// start: a root CA that devices trust, a server certificate for localhost,
// and a claim certificate. A broker hook plays AWS: it enforces the claim
// policy, signs CSRs, issues ownership tokens, runs a provisioning template
// and responds only to the connection that sent the request, and only if
// that connection had subscribed to the response topic. Faults are
// injected per request.
//
// Respond runs the same AWS logic as an ordinary MQTT client of another
// broker, for interoperability tests.
package fakeiot

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// ALPNProtocol is the TLS application protocol that AWS IoT requires for
// MQTT on port 443.
const ALPNProtocol = "x-amzn-mqtt-ca"

// Config configures the fake endpoint. The zero value is usable.
type Config struct {
	// TemplateName is the provisioning template; default "FleetTemplate".
	TemplateName string
	// ThingPrefix starts every thing name; the template appends the
	// SerialNumber parameter.
	ThingPrefix string
	// Hook, when set, is the pre-provisioning hook. It gets a copy of the
	// RegisterThing parameters; an error rejects the request with 403
	// AccessDenied and the error's text as errorMessage.
	Hook func(params map[string]string) error
	// TokenTTL is how long an ownership token is valid; default 1 hour.
	TokenTTL time.Duration
	// RegisterRate limits RegisterThing requests per second (token bucket
	// with a burst of one second's worth); above it the response is 429
	// ThrottlingException. 0 means no limit.
	RegisterRate float64
	// ConnectInterval is the least time between CONNECTs of one client ID;
	// closer ones get CONNACK 0x9F. 0 means no limit.
	ConnectInterval time.Duration
	// ALPN adds a second listener that requires the ALPN protocol
	// x-amzn-mqtt-ca, as AWS IoT does on port 443.
	ALPN bool
	// UntrustedServer signs the server certificate with a CA that is not
	// RootCAPEM, so devices must reject the server.
	UntrustedServer bool
	// DenyTemplateTopic makes the claim policy deny the template's provision
	// topics, as a claim policy written for another template does.
	DenyTemplateTopic bool
	// RequireThingClientID makes an issued certificate connect only with a
	// client ID that starts with its thing name, as a typical device policy
	// requires.
	RequireThingClientID bool
	// Address is the listen address of the main listener; default
	// 127.0.0.1:0. It must be a loopback address.
	Address string
	// ALPNAddress is the listen address of the ALPN listener; default
	// 127.0.0.1:0. It must be a loopback address.
	ALPNAddress string
	// Clock returns the time used for tokens, rates and intervals; default
	// time.Now. The certificates use the real time.
	Clock func() time.Time
	// Logger receives the fake's log; default a no-op logger.
	Logger *zap.Logger
}

// Server is a running fake endpoint. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	pki      *pki
	svc      *service
	broker   *mqtt.Server
	addr     string
	alpnAddr string
	done     chan struct{}
	once     sync.Once

	mu      sync.Mutex // guards closing and the calls of wg.Add
	closing bool
	wg      sync.WaitGroup // responses in progress
}

// Start generates the PKI and starts the broker. Close stops it.
func Start(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	p, err := newPKI(cfg.UntrustedServer)
	if err != nil {
		return nil, err
	}

	s := &Server{
		cfg: cfg, pki: p, svc: newService(cfg, p), done: make(chan struct{}),
	}
	if err := s.startBroker(); err != nil {
		return nil, err
	}

	cfg.Logger.Info("fake endpoint started", zap.String("address", s.addr),
		zap.String("alpn-address", s.alpnAddr),
		zap.String("template", cfg.TemplateName))
	return s, nil
}

func (c Config) withDefaults() (Config, error) {
	if c.TemplateName == "" {
		c.TemplateName = "FleetTemplate"
	}
	if !validTemplateName(c.TemplateName) {
		return c, fmt.Errorf(
			"template name %q is invalid: use 1 to 36 characters from [0-9A-Za-z_-]", c.TemplateName)
	}
	if c.ThingPrefix != "" && !validThingName(c.ThingPrefix) {
		return c, fmt.Errorf(
			"thing prefix %q is invalid: use characters from [a-zA-Z0-9:_-]", c.ThingPrefix)
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if c.Address == "" {
		c.Address = "127.0.0.1:0"
	}
	if c.ALPNAddress == "" {
		c.ALPNAddress = "127.0.0.1:0"
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}

	for _, addr := range []string{c.Address, c.ALPNAddress} {
		if err := CheckLoopback(addr); err != nil {
			return c, err
		}
	}
	return c, nil
}

// CheckLoopback returns an error unless addr is host:port with a loopback IP
// address or "localhost" as host.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q is invalid: %w", addr, err)
	}

	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf(
			"listen address %q is not a loopback address: use 127.0.0.1", addr)
	}
	return nil
}

func (s *Server) startBroker() error {
	s.broker = mqtt.New(&mqtt.Options{
		// The broker's own log is discarded: the hook logs what matters.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.broker.Options.Capabilities.MaximumQos = 1 // AWS IoT supports QoS 0 and 1

	if err := s.broker.AddHook(&hook{srv: s}, nil); err != nil {
		return fmt.Errorf("add broker hook: %w", err)
	}

	main := listeners.NewTCP(listeners.Config{
		ID: "tls", Address: s.cfg.Address, TLSConfig: s.serverTLS(false),
	})
	if err := s.broker.AddListener(main); err != nil {
		return fmt.Errorf("listen on %q: %w", s.cfg.Address, err)
	}
	s.addr = main.Address()

	if s.cfg.ALPN {
		alpn := listeners.NewTCP(listeners.Config{
			ID: "alpn", Address: s.cfg.ALPNAddress, TLSConfig: s.serverTLS(true),
		})
		if err := s.broker.AddListener(alpn); err != nil {
			_ = s.broker.Close()
			return fmt.Errorf("listen on %q: %w", s.cfg.ALPNAddress, err)
		}
		s.alpnAddr = alpn.Address()
	}

	if err := s.broker.Serve(); err != nil {
		_ = s.broker.Close()
		return fmt.Errorf("start broker: %w", err)
	}
	return nil
}

// serverTLS returns the listener's TLS configuration: TLS 1.2 or later and a
// client certificate issued by the fake.
func (s *Server) serverTLS(requireALPN bool) *tls.Config {
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(s.pki.issuer.cert)

	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	}
	if !requireALPN {
		return conf
	}

	conf.NextProtos = []string{ALPNProtocol}
	// Go's server accepts a ClientHello without ALPN; AWS IoT on port 443
	// does not, so the handshake fails here.
	conf.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		for _, proto := range hello.SupportedProtos {
			if proto == ALPNProtocol {
				return nil, nil
			}
		}
		return nil, errors.New("client did not offer ALPN protocol x-amzn-mqtt-ca")
	}
	return conf
}

// Close stops the broker, closes every connection and ends pending responses.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()

		close(s.done)
		// mochi v2.7.9 closes clients with Clients.GetByListener, which
		// takes the clients' read lock twice and deadlocks when a client
		// disconnects at that moment. Closing the listeners first with
		// disconnectClients leaves the broker's Close nothing to close.
		s.broker.Listeners.CloseAll(s.disconnectClients)
		err = s.broker.Close()
		s.wg.Wait()
	})
	return err
}

// disconnectClients sends DISCONNECT 0x8B Server shutting down to every
// client of listener and closes its connection.
func (s *Server) disconnectClients(listener string) {
	for _, cl := range s.broker.Clients.GetAll() {
		if cl.Net.Listener == listener && !cl.Closed() {
			_ = s.broker.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// track counts a new response in progress, and returns false once Close has
// begun.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// Addr returns the address (127.0.0.1:port) of the main listener.
func (s *Server) Addr() string { return s.addr }

// ALPNAddr returns the address of the ALPN listener, or "" without
// Config.ALPN.
func (s *Server) ALPNAddr() string { return s.alpnAddr }

// Port returns the port of the main listener.
func (s *Server) Port() int {
	_, port, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(port) // the listener's own address always parses
	return n
}

// TemplateName returns the provisioning template name in use.
func (s *Server) TemplateName() string { return s.cfg.TemplateName }

// RootCAPEM returns the root CA certificate that devices must trust, as the
// Amazon root CA is trusted on AWS.
func (s *Server) RootCAPEM() []byte { return clone(s.pki.root.pem) }

// IssuerCAPEM returns the CA certificate that signs the claim and device
// certificates, as AWS IoT's issuing CA does; a device certificate verifies
// against it.
func (s *Server) IssuerCAPEM() []byte { return clone(s.pki.issuer.pem) }

// ClaimCertPEM returns the claim certificate.
func (s *Server) ClaimCertPEM() []byte { return clone(s.pki.claimPEM) }

// ClaimKeyPEM returns the claim private key as PKCS#8 PEM.
func (s *Server) ClaimKeyPEM() []byte { return clone(s.pki.claimKey) }

// ClaimCertificateID returns the certificate ID of the claim certificate.
func (s *Server) ClaimCertificateID() string { return s.pki.claimID }

// Inject queues f for the next request of op. Faults of one op apply in the
// order they were queued, one per request.
func (s *Server) Inject(op Op, f Fault) { s.svc.faults.push(op, f) }

// Things returns the things created by RegisterThing, in creation order.
func (s *Server) Things() []Thing { return s.svc.thingList() }

// Certificates returns every certificate known to the fake, the claim
// certificate included, in no particular order.
func (s *Server) Certificates() []Certificate { return s.svc.certificates() }

// Stats returns counters of what the fake has seen since Start.
func (s *Server) Stats() Stats { return s.svc.statsCopy() }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
