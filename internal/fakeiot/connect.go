package fakeiot

import (
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// role is what a connection's certificate allows.
type role int

const (
	roleClaim  role = iota + 1 // the claim policy: fleet provisioning topics only
	roleDevice                 // an issued certificate after RegisterThing
)

// admitConnect applies the AWS IoT rules for a CONNECT from clientID with the
// certificate certID. It returns the role of the connection, or the CONNACK
// reason code that rejects it.
func (s *service) admitConnect(clientID, certID string) (role, packets.Code) {
	r, code := s.checkConnect(clientID, certID)

	s.mu.Lock()
	if code == packets.CodeSuccess {
		s.stats.Connects++
	} else {
		s.stats.ConnectRejections++
	}
	s.mu.Unlock()

	if code != packets.CodeSuccess {
		s.log.Info("connect rejected", zap.String("client-id", clientID),
			zap.String("certificate-id", certID),
			zap.Uint8("reason-code", code.Code))
	}
	return r, code
}

func (s *service) checkConnect(clientID, certID string) (role, packets.Code) {
	// NOTE: AWS IoT assigns no client ID, so an empty one is rejected here as
	// well; that AWS rejects it with 0x85 is an assumption.
	if clientID == "" || len(clientID) > 128 || strings.HasPrefix(clientID, "$") {
		return 0, packets.ErrClientIdentifierNotValid
	}

	if !s.connectAllowed(clientID) {
		return 0, packets.ErrConnectionRateExceeded
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	cert, ok := s.certs[certID]
	if !ok || cert.State != StateActive {
		return 0, packets.ErrNotAuthorized
	}
	if cert.Claim {
		return roleClaim, packets.CodeSuccess
	}

	if s.cfg.RequireThingClientID && !strings.HasPrefix(clientID, cert.ThingName) {
		return 0, packets.ErrNotAuthorized
	}
	return roleDevice, packets.CodeSuccess
}

// connectAllowed enforces Config.ConnectInterval between CONNECTs of one
// client ID. Every attempt counts, the rejected ones included, so a client
// that retries too fast stays locked out.
//
// NOTE: AWS IoT documents the limit (one CONNECT per second per client ID)
// but not how it responds above it; it may close the connection instead. The
// fake sends CONNACK 0x9F Connection rate exceeded so that a client can
// tell the cause. Inject(OpConnect, Disconnect()) models a closed connection.
func (s *service) connectAllowed(clientID string) bool {
	if s.cfg.ConnectInterval <= 0 {
		return true
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.cfg.Clock()
	last, seen := s.lastConnect[clientID]
	s.lastConnect[clientID] = now
	return !seen || now.Sub(last) >= s.cfg.ConnectInterval
}

// claimAllows applies the claim policy to a publish (write) or a subscribe
// or delivery (read) on topic. The claim certificate may publish only to the
// request topics and subscribe only to their response topics. A subscription
// may end in "+" in place of accepted or rejected, as a policy resource
// "topicfilter/$aws/certificates/create-from-csr/json/*" allows.
func (s *service) claimAllows(topic string, write bool) bool {
	for _, req := range requestTopics(s.cfg.TemplateName) {
		if s.cfg.DenyTemplateTopic && strings.HasPrefix(req, templatesPrefix) {
			continue
		}

		if write {
			if topic == req {
				return true
			}
			continue
		}

		switch topic {
		case req + "/accepted", req + "/rejected", req + "/+":
			return true
		}
	}
	return false
}
