package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// testCA is a certificate authority made at test time.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test root"},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert,
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate for dnsName valid from notBefore to
// notAfter.
func (ca *testCA) issue(t *testing.T, dnsName string, notBefore, notAfter time.Time,
	usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsServer accepts TLS connections on 127.0.0.1 and records each
// ClientHello; it completes handshakes and then closes.
type tlsServer struct {
	addr   string
	hellos chan *tls.ClientHelloInfo
}

func startTLSServer(t *testing.T, cfg *tls.Config) *tlsServer {
	t.Helper()
	s := &tlsServer{hellos: make(chan *tls.ClientHelloInfo, 8)}
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		s.hellos <- h
		return nil, nil
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s.addr = ln.Addr().String()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.(*tls.Conn).Handshake()
				_, _ = io.Copy(io.Discard, conn)
			}()
		}
	}()
	return s
}

// tlsClient is a runner and a session configuration that dial a tlsServer.
type tlsClient struct {
	r   *runner
	cfg sessionConfig
}

func newTLSClient(t *testing.T, server *tlsServer, root []byte, alpn bool,
	now time.Time) *tlsClient {
	t.Helper()
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPath, root, 0o644); err != nil {
		t.Fatal(err)
	}
	clientCA := newTestCA(t)
	client := clientCA.issue(t, "device", now.Add(-time.Hour), now.Add(time.Hour),
		x509.ExtKeyUsageClientAuth)

	_, port, _ := net.SplitHostPort(server.addr)
	o := Options{Endpoint: "localhost", Port: mustAtoi(t, port), ALPN: alpn,
		RootCAPath: rootPath, Retry: RetryPolicy{Clock: newFakeClock(now)}}.withDefaults()
	r := &runner{o: o, log: o.Logger, alive: time.NewTicker(time.Hour),
		lastConnect: map[string]connectRecord{}}
	t.Cleanup(r.alive.Stop)

	cfg, err := r.sessionConfig("device", client)
	if err != nil {
		t.Fatalf("sessionConfig() error = %v", err)
	}
	return &tlsClient{r: r, cfg: cfg}
}

// dial runs the TLS handshake and returns the classified error, or nil.
func (c *tlsClient) dial(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := dialTLS(ctx, c.cfg)
	if err != nil {
		return c.r.classifyConnect(err, "device-1", "claim")
	}
	conn.Close()
	return nil
}

func TestTLSClientHello(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	serverCert := ca.issue(t, "localhost", now.Add(-time.Hour), now.Add(time.Hour),
		x509.ExtKeyUsageServerAuth)

	for _, alpn := range []bool{false, true} {
		name := map[bool]string{false: "without-alpn", true: "with-alpn"}[alpn]
		t.Run(name, func(t *testing.T) {
			server := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{serverCert},
				NextProtos: []string{alpnProtocol}})
			client := newTLSClient(t, server, ca.pem, alpn, now)

			if err := client.dial(t); err != nil {
				t.Fatalf("dial() error = %v", err)
			}
			hello := <-server.hellos
			if hello.ServerName != "localhost" {
				t.Errorf("SNI = %q; want %q", hello.ServerName, "localhost")
			}
			var want []string
			if alpn {
				want = []string{alpnProtocol}
			}
			if strings.Join(hello.SupportedProtos, ",") != strings.Join(want, ",") {
				t.Errorf("ALPN protocols = %q; want %q", hello.SupportedProtos, want)
			}
			for _, v := range hello.SupportedVersions {
				if v < tls.VersionTLS12 {
					t.Errorf("client offers TLS version %#x; want 1.2 or later", v)
				}
			}
		})
	}
}

func TestTLSServerCertificateErrors(t *testing.T) {
	ca := newTestCA(t)
	otherCA := newTestCA(t)
	now := time.Now()
	day := 24 * time.Hour

	tests := []struct {
		name      string
		cert      tls.Certificate
		root      []byte
		wantClass Class
		wantText  string
	}{
		{"unknown-authority",
			otherCA.issue(t, "localhost", now.Add(-day), now.Add(day), x509.ExtKeyUsageServerAuth),
			ca.pem, Rejected, "server certificate not trusted by"},
		{"clock-behind-not-before",
			ca.issue(t, "localhost", now.Add(time.Hour), now.Add(day), x509.ExtKeyUsageServerAuth),
			ca.pem, Transient, "the clock looks wrong"},
		{"expired",
			ca.issue(t, "localhost", now.Add(-day), now.Add(-time.Hour), x509.ExtKeyUsageServerAuth),
			ca.pem, Rejected, "server certificate expired"},
		{"wrong-host",
			ca.issue(t, "other.example", now.Add(-day), now.Add(day), x509.ExtKeyUsageServerAuth),
			ca.pem, Rejected, "not valid for endpoint \"localhost\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{tt.cert}})
			client := newTLSClient(t, server, tt.root, false, now)

			err := client.dial(t)
			if err == nil {
				t.Fatal("dial() error = nil; want a verification error")
			}
			if got := classOf(err); got != tt.wantClass {
				t.Errorf("class = %s; want %s (error %v)", got, tt.wantClass, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q; want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestTLSServerRejectsClient(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	serverCert := ca.issue(t, "localhost", now.Add(-time.Hour), now.Add(time.Hour),
		x509.ExtKeyUsageServerAuth)
	trusted := x509.NewCertPool()
	trusted.AddCert(ca.cert) // not the client's CA

	tests := []struct {
		name     string
		cfg      *tls.Config
		alpn     bool
		wantText string
	}{
		{"client-certificate-unknown", &tls.Config{
			Certificates: []tls.Certificate{serverCert}, MaxVersion: tls.VersionTLS12,
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: trusted},
			false, "the server rejected the claim certificate"},
		{"alpn-not-offered-by-server", &tls.Config{
			Certificates: []tls.Certificate{serverCert}, NextProtos: []string{"mqtt"}},
			true, "does not accept ALPN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := startTLSServer(t, tt.cfg)
			client := newTLSClient(t, server, ca.pem, tt.alpn, now)

			err := client.dial(t)
			if got := classOf(err); err == nil || got != Rejected {
				t.Errorf("class = %s; want %s (error %v)", got, Rejected, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q; want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestLoadRootsOnlyGivenCA(t *testing.T) {
	ca := newTestCA(t)
	path := filepath.Join(t.TempDir(), "root.pem")
	writeTestFile(t, path, string(ca.pem))

	pool, err := loadRoots(path, false)
	if err != nil {
		t.Fatalf("loadRoots() error = %v", err)
	}
	if !pool.Equal(func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(ca.cert); return p }()) {
		t.Error("loadRoots(useSystem=false) pool holds more than the root CA file")
	}
}

func TestRunClaimUnknownToServer(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	now := time.Now()
	certPEM, keyPEM := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	writeTestFile(t, env.fix.ClaimCertPath, string(certPEM))
	writeTestFile(t, env.fix.ClaimKeyPath, string(keyPEM))
	o := env.options()
	o.Retry.MaxAttempts = 1

	// With TLS 1.3 the server's alert is often lost with the connection
	// reset, so the failure looks like a network fault. The error may stay
	// Transient but must name the likely cause.
	_, err := env.run(t, o)
	if got := classOf(err); err == nil || (got != Rejected && got != Transient) {
		t.Errorf("class = %s; want %s or %s (error %v)", got, Rejected, Transient, err)
	}
	if err != nil && !strings.Contains(err.Error(), "claim certificate may be") {
		t.Errorf("error = %q; want it to name the claim certificate", err)
	}
}
