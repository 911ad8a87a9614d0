package provision

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// alpnProtocol is the ALPN protocol ID that AWS IoT Core requires for MQTT
// with client certificates on port 443.
const alpnProtocol = "x-amzn-mqtt-ca"

// loadRoots returns the pool of trusted server roots: the certificates in
// rootCAPath, plus the system roots when useSystem is set.
func loadRoots(rootCAPath string, useSystem bool) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if useSystem {
		system, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("failed to load system roots: %w", err)
		}
		pool = system
	}

	data, err := readPEMFile(rootCAPath)
	if err != nil {
		return nil, fmt.Errorf("root CA: %w", err)
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("root CA %q contains no PEM certificate", rootCAPath)
	}
	return pool, nil
}

// tlsSettings are the inputs of newTLSConfig.
type tlsSettings struct {
	serverName string
	alpn       bool
	roots      *x509.CertPool
	clientCert tls.Certificate
	now        func() time.Time
}

// newTLSConfig returns a client configuration that sends SNI serverName,
// verifies the server against roots only, and presents clientCert.
func newTLSConfig(s tlsSettings) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ServerName:   s.serverName,
		RootCAs:      s.roots,
		Certificates: []tls.Certificate{s.clientCert},
		Time:         s.now,
	}
	if s.alpn {
		cfg.NextProtos = []string{alpnProtocol}
	}
	return cfg
}

// dialTCP opens a TCP connection to host:port, through an HTTP CONNECT
// tunnel when proxy is not nil.
func dialTCP(ctx context.Context, proxy *url.URL, host string,
	port int) (net.Conn, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var d net.Dialer
	if proxy == nil {
		return d.DialContext(ctx, "tcp", addr)
	}

	proxyAddr := proxy.Host
	if proxy.Port() == "" {
		proxyAddr = net.JoinHostPort(proxy.Hostname(), "80")
	}
	conn, err := d.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("failed to connect to proxy %q: %w", proxy.Redacted(), err)
	}

	if err := connectTunnel(ctx, conn, proxy, addr); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// connectTunnel sends CONNECT addr to the proxy on conn and checks the reply.
func connectTunnel(ctx context.Context, conn net.Conn, proxy *url.URL,
	addr string) error {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
		defer conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: make(http.Header),
	}
	if u := proxy.User; u != nil {
		password, _ := u.Password()
		auth := base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + password))
		req.Header.Set("Proxy-Authorization", "Basic "+auth)
	}
	if err := req.Write(conn); err != nil {
		return fmt.Errorf("failed to send CONNECT to proxy %q: %w", proxy.Redacted(), err)
	}

	// The reader must not consume bytes past the response, because the TLS
	// handshake follows on the same connection.
	resp, err := http.ReadResponse(bufio.NewReader(byteReader{conn}), req)
	if err != nil {
		return fmt.Errorf("failed to read CONNECT response of proxy %q: %w",
			proxy.Redacted(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &proxyError{proxy: proxy.Redacted(), target: addr, status: resp.Status,
			code: resp.StatusCode}
	}
	return nil
}

// byteReader reads at most one byte per call, so a bufio.Reader on top of it
// stops at the byte it needs.
type byteReader struct{ r io.Reader }

func (b byteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return b.r.Read(p)
}

// proxyError is a CONNECT rejected by the proxy.
type proxyError struct {
	proxy, target, status string
	code                  int
}

func (e *proxyError) Error() string {
	msg := fmt.Sprintf("proxy %q rejected CONNECT to %q: %s", e.proxy, e.target, e.status)
	if e.code == http.StatusProxyAuthRequired {
		msg += ": check the user and password in the proxy URL"
	}
	return msg
}
