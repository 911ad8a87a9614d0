package provision

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// TestConnectReceiveMaximum reads the CONNECT that connectPaho sends to a
// TLS listener that acknowledges it.
func TestConnectReceiveMaximum(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	serverCert := ca.issue(t, "localhost", now.Add(-time.Hour), now.Add(time.Hour),
		x509.ExtKeyUsageServerAuth)
	ln, err := tls.Listen("tcp", "127.0.0.1:0",
		&tls.Config{Certificates: []tls.Certificate{serverCert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	connects := make(chan *packets.Connect, 1)
	go acceptConnect(ln, connects)

	client := newTLSClient(t, &tlsServer{addr: ln.Addr().String()}, ca.pem, false, now)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := connectPaho(ctx, client.cfg)
	if err != nil {
		t.Fatalf("connectPaho() error = %v", err)
	}
	defer sess.Close()

	var c *packets.Connect
	select {
	case c = <-connects:
	case <-ctx.Done():
		t.Fatal("the listener received no CONNECT")
	}
	if c.Properties == nil || c.Properties.ReceiveMaximum == nil {
		t.Fatal("CONNECT has no Receive Maximum; want one")
	}
	if got := *c.Properties.ReceiveMaximum; got != receiveMaximum {
		t.Errorf("CONNECT Receive Maximum = %d; want %d", got, receiveMaximum)
	}
}

// acceptConnect accepts one connection, sends its CONNECT packet to
// connects, replies with a successful CONNACK and reads until the client
// closes the connection.
func acceptConnect(ln net.Listener, connects chan<- *packets.Connect) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()

	packet, err := packets.ReadPacket(conn)
	if err != nil {
		return
	}
	if c, ok := packet.Content.(*packets.Connect); ok {
		connects <- c
	}
	if _, err := packets.NewControlPacket(packets.CONNACK).WriteTo(conn); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, conn)
}
