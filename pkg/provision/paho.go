package provision

import (
	"context"
	"errors"
	"fmt"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// receiveMaximum is the Receive Maximum of the CONNECT: how many QoS 1
// messages the server may send before the client acknowledges them.
// Provisioning expects one response at a time. paho.golang 0.23 allocates
// a channel of this many pointers per connection, and without the property
// uses 65535, which is 512 KiB on 64-bit platforms.
const receiveMaximum uint16 = 16

// messageBuffer is the number of received messages held for the reader.
// Provisioning expects one response per request, so a full buffer means the
// server sends messages that were not requested, and the surplus is dropped.
const messageBuffer = 16

// pahoSession is a session on github.com/eclipse/paho.golang/paho.
type pahoSession struct {
	client   *paho.Client
	messages chan message
	lost     *lostState
}

// connectPaho is the connector used outside tests.
func connectPaho(ctx context.Context, cfg sessionConfig) (session, error) {
	conn, err := dialTLS(ctx, cfg)
	if err != nil {
		return nil, err
	}

	s := &pahoSession{messages: make(chan message, messageBuffer), lost: newLostState()}
	s.client = paho.NewClient(paho.ClientConfig{
		// tls.Conn is not safe for concurrent writes, and paho writes from
		// the pinger and the caller.
		Conn:              packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.receive},
		OnClientError: func(err error) {
			s.lost.set(fmt.Errorf("connection lost: %w", err))
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			s.lost.set(disconnectError(d))
		},
		PacketTimeout: cfg.dialTimeout,
	})

	connect := &paho.Connect{
		ClientID:   cfg.clientID,
		KeepAlive:  uint16(cfg.keepalive.Seconds()),
		CleanStart: true,
		Properties: &paho.ConnectProperties{ReceiveMaximum: ptr(receiveMaximum)},
	}
	connack, err := s.client.Connect(ctx, connect)
	if err != nil {
		conn.Close()
		return nil, connectError(connack, err)
	}
	return s, nil
}

func connectError(connack *paho.Connack, err error) error {
	if connack == nil || connack.ReasonCode < 0x80 {
		return &noConnackError{err: err}
	}
	ack := &ackError{packet: "CONNACK", code: connack.ReasonCode}
	if connack.Properties != nil {
		ack.reason = connack.Properties.ReasonString
	}
	return ack
}

func disconnectError(d *paho.Disconnect) error {
	msg := fmt.Sprintf("server sent DISCONNECT with reason code 0x%02x", d.ReasonCode)
	if d.Properties != nil && d.Properties.ReasonString != "" {
		msg += ": " + d.Properties.ReasonString
	}
	return errors.New(msg)
}

func (s *pahoSession) receive(p paho.PublishReceived) (bool, error) {
	m := message{topic: p.Packet.Topic, payload: p.Packet.Payload}
	select {
	case s.messages <- m:
	default:
	}
	return true, nil
}

func (s *pahoSession) Subscribe(ctx context.Context, topics []string) error {
	sub := &paho.Subscribe{}
	for _, t := range topics {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: t, QoS: 1})
	}

	suback, err := s.client.Subscribe(ctx, sub)
	if suback == nil {
		return fmt.Errorf("SUBSCRIBE failed: %w", err)
	}
	if len(suback.Reasons) != len(topics) {
		return fmt.Errorf("SUBACK has %d reason codes for %d topics",
			len(suback.Reasons), len(topics))
	}
	for i, code := range suback.Reasons {
		if code >= 0x80 {
			ack := &ackError{packet: "SUBACK", topic: topics[i], code: code}
			if suback.Properties != nil {
				ack.reason = suback.Properties.ReasonString
			}
			return ack
		}
	}
	return nil
}

func (s *pahoSession) Publish(ctx context.Context, topic string, payload []byte) error {
	resp, err := s.client.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	if resp == nil {
		return fmt.Errorf("PUBLISH to %q failed: %w", topic, err)
	}
	if resp.ReasonCode >= 0x80 {
		ack := &ackError{packet: "PUBACK", topic: topic, code: resp.ReasonCode}
		if resp.Properties != nil {
			ack.reason = resp.Properties.ReasonString
		}
		return ack
	}
	return nil
}

func (s *pahoSession) Messages() <-chan message { return s.messages }

func (s *pahoSession) Lost() <-chan struct{} { return s.lost.ch }

func (s *pahoSession) Err() error { return s.lost.get() }

func (s *pahoSession) Close() {
	s.lost.set(errors.New("connection closed by the client"))
	_ = s.client.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

func ptr[T any](v T) *T { return &v }
