package provision

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"
)

// message is a PUBLISH received on a subscribed topic.
type message struct {
	topic   string
	payload []byte
}

// session is one MQTT connection, narrowed to what provisioning needs so the
// MQTT library can be replaced and faults injected in tests.
type session interface {
	// Subscribe subscribes to topics at QoS 1 in one SUBSCRIBE and waits for
	// the SUBACK. A rejected topic returns an *ackError.
	Subscribe(ctx context.Context, topics []string) error
	// Publish publishes payload at QoS 1 and waits for the PUBACK. A rejected
	// publish returns an *ackError.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Messages delivers PUBLISH packets of the subscribed topics.
	Messages() <-chan message
	// Lost is closed when the connection ends; Err then returns why.
	Lost() <-chan struct{}
	Err() error
	// Close disconnects and releases the connection. It is safe to call
	// more than once.
	Close()
}

// sessionConfig are the inputs of a connector.
type sessionConfig struct {
	host        string
	port        int
	proxy       *url.URL // nil for a direct connection
	tls         *tls.Config
	clientID    string
	keepalive   time.Duration
	dialTimeout time.Duration
}

// connector opens a TLS connection and an MQTT session with a clean start,
// and returns once the CONNACK reports success.
type connector func(ctx context.Context, cfg sessionConfig) (session, error)

// ackError is a SUBACK, PUBACK or CONNACK with a failure reason code.
type ackError struct {
	packet string // "SUBACK", "PUBACK" or "CONNACK"
	topic  string // the rejected topic; empty for CONNACK
	code   byte
	reason string // the server's reason string, may be empty
}

func (e *ackError) Error() string {
	msg := fmt.Sprintf("%s reason code 0x%02x (%s)", e.packet, e.code, reasonName(e.code))
	if e.topic != "" {
		msg = fmt.Sprintf("%s for topic %q", msg, e.topic)
	}
	if e.reason != "" {
		msg = fmt.Sprintf("%s: %s", msg, e.reason)
	}
	return msg
}

// MQTT 5 reason codes that provisioning reacts to (MQTT 5.0, section 2.4).
const (
	reasonUnspecified       = 0x80
	reasonBadCredentials    = 0x86
	reasonNotAuthorized     = 0x87
	reasonServerUnavailable = 0x88
	reasonServerBusy        = 0x89
	reasonBanned            = 0x8A
	reasonQuotaExceeded     = 0x97
	reasonPacketTooLarge    = 0x95
	reasonRateExceeded      = 0x9F
)

func reasonName(code byte) string {
	switch code {
	case reasonUnspecified:
		return "unspecified error"
	case reasonBadCredentials:
		return "bad user name or password"
	case reasonNotAuthorized:
		return "not authorized"
	case reasonServerUnavailable:
		return "server unavailable"
	case reasonServerBusy:
		return "server busy"
	case reasonBanned:
		return "banned"
	case reasonQuotaExceeded:
		return "quota exceeded"
	case reasonPacketTooLarge:
		return "packet too large"
	case reasonRateExceeded:
		return "connection rate exceeded"
	}
	return "see MQTT 5 reason codes"
}

// lostState records the end of a connection once.
type lostState struct {
	once sync.Once
	ch   chan struct{}
	mu   sync.Mutex
	err  error
}

func newLostState() *lostState { return &lostState{ch: make(chan struct{})} }

func (l *lostState) set(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.ch)
	})
}

func (l *lostState) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return errors.New("connection closed")
	}
	return l.err
}

// dialTLS opens the TCP connection (through the proxy, if any) and completes
// the TLS handshake within cfg.dialTimeout.
func dialTLS(ctx context.Context, cfg sessionConfig) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout)
	defer cancel()

	raw, err := dialTCP(ctx, cfg.proxy, cfg.host, cfg.port)
	if err != nil {
		return nil, err
	}

	conn := tls.Client(raw, cfg.tls)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, &handshakeError{addr: net.JoinHostPort(cfg.host, fmt.Sprint(cfg.port)),
			err: err}
	}
	return conn, nil
}

// handshakeError marks an error of the TLS handshake, as opposed to one of
// the TCP connection or the proxy.
type handshakeError struct {
	addr string
	err  error
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("TLS handshake with %q failed: %v", e.addr, e.err)
}

func (e *handshakeError) Unwrap() error { return e.err }

// noConnackError is a connection that ended after the TLS handshake but
// before a CONNACK. With TLS 1.3 a server rejects the client certificate
// after the client's handshake has finished. Its alert is often lost with the
// connection reset, so this error may mean a rejected certificate.
type noConnackError struct{ err error }

func (e *noConnackError) Error() string {
	return fmt.Sprintf("connection ended before CONNACK: %v", e.err)
}

func (e *noConnackError) Unwrap() error { return e.err }
