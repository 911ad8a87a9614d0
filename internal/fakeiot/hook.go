package fakeiot

import (
	"bytes"
	"crypto/tls"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// errFaultDisconnect is the stop cause of a connection closed by a
// Disconnect fault.
var errFaultDisconnect = errors.New("connection closed by an injected fault")

// session is the hook's record of an accepted connection.
type session struct {
	role   role
	certID string
}

// hook connects the broker to the service: it admits CONNECTs, applies the
// policies and responds to requests on the requester's connection only.
type hook struct {
	mqtt.HookBase
	srv      *Server
	sessions sync.Map // *mqtt.Client -> session
}

// ID returns the hook's name for the broker.
func (h *hook) ID() string { return "fakeiot" }

// Provides reports which broker events the hook handles.
func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnPublish, mqtt.OnDisconnect,
	}, []byte{b})
}

// OnConnect applies the OpConnect fault and the AWS connect rules. It sends
// the rejecting CONNACK itself because the broker would otherwise reject
// every connection with 0x86 Bad user name or password.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if err := h.connectFault(cl); err != nil {
		return err
	}

	certID, ok := peerCertificateID(cl)
	if !ok {
		return h.rejectConnect(cl, packets.ErrNotAuthorized)
	}

	r, code := h.srv.svc.admitConnect(cl.ID, certID)
	if code != packets.CodeSuccess {
		return h.rejectConnect(cl, code)
	}

	h.sessions.Store(cl, session{role: r, certID: certID})
	return nil
}

func (h *hook) rejectConnect(cl *mqtt.Client, code packets.Code) error {
	// The connection closes next, so a failed write changes nothing.
	_ = h.srv.broker.SendConnack(cl, code, false, nil)
	return code
}

// connectFault applies the next OpConnect fault, and returns an error when
// the connection must end without a CONNACK of success.
func (h *hook) connectFault(cl *mqtt.Client) error {
	fault := h.srv.svc.faults.pop(OpConnect)
	switch fault.kind {
	case faultDelay:
		if !h.srv.sleep(fault.delay) {
			return errFaultDisconnect
		}
	case faultNoAnswer:
		h.waitClosed(cl)
		return errFaultDisconnect
	case faultDisconnect:
		return errFaultDisconnect
	case faultReject:
		code := packets.Code{Code: byte(fault.status), Reason: fault.message}
		return h.rejectConnect(cl, code)
	}
	return nil
}

// waitClosed blocks until the client closes its connection or the server
// stops. A client waiting for its CONNACK sends nothing, so a read returns
// only when the connection ends. Any bytes read are discarded because the
// connection is dropped afterwards.
func (h *hook) waitClosed(cl *mqtt.Client) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		buf := make([]byte, 1)
		for {
			if _, err := cl.Net.Conn.Read(buf); err != nil {
				return
			}
		}
	}()

	select {
	case <-closed:
	case <-h.srv.done:
		_ = cl.Net.Conn.Close()
	}
}

// peerCertificateID returns the certificate ID of the client certificate of
// cl's TLS connection.
func peerCertificateID(cl *mqtt.Client) (string, bool) {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", false
	}

	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", false
	}
	return certificateID(certs[0].Raw), true
}

// OnConnectAuthenticate accepts the connections that OnConnect admitted.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, ok := h.sessions.Load(cl)
	return ok
}

// OnACLCheck applies the claim policy to claim connections. The device
// policy of the fake allows every topic.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	v, ok := h.sessions.Load(cl)
	if !ok {
		return false
	}

	if v.(session).role == roleDevice {
		return true
	}
	return h.srv.svc.claimAllows(topic, write)
}

// OnDisconnect removes the session of the connection.
func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.sessions.Delete(cl)
}

// OnPublish takes fleet provisioning requests out of the broker's fan-out
// and responds to them on the requester's connection. Other messages pass.
func (h *hook) OnPublish(
	cl *mqtt.Client, pk packets.Packet,
) (packets.Packet, error) {
	req, ok := parseRequestTopic(pk.TopicName)
	if !ok {
		return pk, nil
	}

	if len(pk.Payload) > maxPayload {
		h.srv.cfg.Logger.Info("request rejected: payload too large",
			zap.String("client-id", cl.ID),
			zap.Int("payload-length", len(pk.Payload)))
		// NOTE: AWS IoT rejects messages over 128 KB; whether it sends
		// PUBACK 0x95 or closes the connection is not documented.
		if pk.FixedHeader.Qos > 0 && cl.Properties.ProtocolVersion == 5 {
			return pk, packets.ErrPacketTooLarge
		}
		return pk, packets.ErrRejectPacket
	}

	req.payload = bytes.Clone(pk.Payload)
	subscribed := map[string]bool{}
	for _, topic := range []string{req.acceptedTopic(), req.rejectedTopic()} {
		_, subscribed[topic] = subscriptionQoS(cl, topic)
	}

	if h.srv.track() {
		go h.srv.serve(cl, req, subscribed)
	}

	// The request reaches no subscriber and gets an ordinary PUBACK.
	return pk, packets.CodeSuccessIgnore
}

// serve responds to req on cl's connection. subscribed contains the response
// topics that cl had subscribed to when it sent the request. A response on any
// other topic is lost, as it is on AWS.
func (s *Server) serve(cl *mqtt.Client, req request, subscribed map[string]bool) {
	defer s.wg.Done()

	resp := s.svc.handle(req)
	if !s.sleep(resp.delay) {
		return
	}

	if resp.disconnect {
		cl.Stop(errFaultDisconnect)
		return
	}
	if resp.topic == "" {
		return
	}

	qos, ok := subscriptionQoS(cl, resp.topic)
	if !subscribed[resp.topic] || !ok {
		s.svc.countDropped()
		s.cfg.Logger.Info("response dropped: requester had not subscribed",
			zap.String("client-id", cl.ID), zap.String("topic", resp.topic))
		return
	}

	if err := s.deliver(cl, resp.topic, resp.payload, qos); err != nil {
		s.cfg.Logger.Info("response not delivered", zap.String("client-id", cl.ID),
			zap.String("topic", resp.topic), zap.Error(err))
	}
}

// deliver writes one PUBLISH to cl alone, bypassing the topic fan-out. A
// QoS 1 message is recorded in cl's inflight store so that the broker
// processes the PUBACK as for any other message.
func (s *Server) deliver(
	cl *mqtt.Client, topic string, payload []byte, qos byte,
) error {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: min(qos, 1)},
		TopicName:   topic,
		Payload:     payload,
		Created:     time.Now().Unix(),
	}

	if pk.FixedHeader.Qos > 0 {
		id, err := cl.NextPacketID()
		if err != nil {
			return err
		}
		pk.PacketID = uint16(id)
		if cl.State.Inflight.Set(pk) {
			atomic.AddInt64(&s.broker.Info.Inflight, 1)
			cl.State.Inflight.DecreaseSendQuota()
		}
	}

	err := cl.WritePacket(pk)
	if err != nil && pk.FixedHeader.Qos > 0 {
		// No PUBACK will come for a message that was not written.
		if cl.State.Inflight.Delete(pk.PacketID) {
			atomic.AddInt64(&s.broker.Info.Inflight, -1)
			cl.State.Inflight.IncreaseSendQuota()
		}
	}
	return err
}

// subscriptionQoS returns the highest QoS of cl's subscriptions that match
// topic, and false when none does.
func subscriptionQoS(cl *mqtt.Client, topic string) (byte, bool) {
	var qos byte
	found := false
	for filter, sub := range cl.State.Subscriptions.GetAll() {
		if matchFilter(filter, topic) {
			found = true
			qos = max(qos, sub.Qos)
		}
	}
	return qos, found
}

// sleep waits d, and returns false when the server stops first.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}

	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}
