package fakeiot

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sync"
	"time"

	"go.uber.org/zap"
)

// maxPayload is the largest message payload AWS IoT Core accepts: 128 KB.
const maxPayload = 128 * 1024

// oversizedLen is the payload size of an Oversized fault's response: 1 MiB.
const oversizedLen = 1 << 20

// CertificateState is the status of a certificate in the registry, named as
// AWS IoT names it.
type CertificateState string

// Certificate states.
const (
	StateActive            CertificateState = "ACTIVE"
	StatePendingActivation CertificateState = "PENDING_ACTIVATION"
)

// Certificate is a client certificate known to the fake.
type Certificate struct {
	ID        string // lower-case hex SHA-256 of the DER encoding
	State     CertificateState
	Claim     bool   // the claim certificate from Start
	ThingName string // the thing it is attached to, "" before RegisterThing
}

// Thing is a thing created by RegisterThing.
type Thing struct {
	Name          string
	CertificateID string            // the certificate of the latest registration
	Params        map[string]string // parameters of the latest registration
	Registrations int               // accepted RegisterThing requests for this name
}

// Stats counts what the fake has seen since Start.
type Stats struct {
	Connects          int        // accepted CONNECTs
	ConnectRejections int        // CONNECTs rejected with a CONNACK error code
	Requests          map[Op]int // fleet provisioning requests by operation
	Rejections        int        // responses on a rejected topic, Throttled too
	Throttled         int        // RegisterThing requests rejected with 429
	Dropped           int        // responses lost: requester had not subscribed
	Reregistrations   int        // accepted RegisterThing of an existing thing
}

// rejection is the payload of every rejected response.
type rejection struct {
	StatusCode   int    `json:"statusCode"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

func reject(status int, code, format string, args ...any) *rejection {
	msg := fmt.Sprintf(format, args...)
	return &rejection{StatusCode: status, ErrorCode: code, ErrorMessage: msg}
}

// response is the message the fake sends for one request, if any.
type response struct {
	topic      string // "" sends nothing
	payload    []byte
	delay      time.Duration
	disconnect bool
	rejected   bool
}

type certRecord struct {
	Certificate
}

type tokenRecord struct {
	certID  string
	expires time.Time
	used    bool
}

// service plays the AWS IoT side of fleet provisioning. It does not know
// about MQTT connections: the broker hook and the responder feed it requests.
type service struct {
	cfg    Config
	pki    *pki
	log    *zap.Logger
	faults faultQueue

	mu          sync.Mutex
	certs       map[string]*certRecord
	tokens      map[string]*tokenRecord
	things      map[string]*Thing
	thingOrder  []string
	stats       Stats
	bucket      tokenBucket
	lastConnect map[string]time.Time
}

func newService(cfg Config, p *pki) *service {
	s := &service{
		cfg:         cfg,
		pki:         p,
		log:         cfg.Logger,
		certs:       make(map[string]*certRecord),
		tokens:      make(map[string]*tokenRecord),
		things:      make(map[string]*Thing),
		lastConnect: make(map[string]time.Time),
		bucket:      tokenBucket{rate: cfg.RegisterRate},
	}
	s.stats.Requests = make(map[Op]int)
	s.certs[p.claimID] = &certRecord{Certificate{
		ID: p.claimID, State: StateActive, Claim: true,
	}}
	return s
}

// handle builds the response to req, applying the next fault queued for
// its operation.
func (s *service) handle(req request) response {
	fault := s.faults.pop(req.op)

	s.mu.Lock()
	s.stats.Requests[req.op]++
	s.mu.Unlock()

	resp := s.buildResponse(req, fault)
	if fault.kind == faultDelay {
		resp.delay = fault.delay
	}
	if resp.rejected {
		s.mu.Lock()
		s.stats.Rejections++
		s.mu.Unlock()
	}

	s.log.Info("request handled",
		zap.String("op", string(req.op)), zap.String("fault", fault.String()),
		zap.String("topic", resp.topic),
		zap.Int("payload-length", len(resp.payload)))
	return resp
}

func (s *service) buildResponse(req request, fault Fault) response {
	if resp, ok := faultResponse(req, fault); ok {
		return resp
	}

	if req.format != "json" {
		// NOTE: AWS IoT accepts CBOR requests. The fake decodes only JSON and
		// rejects CBOR requests, encoding the rejection in CBOR.
		return rejectedResponse(req, reject(400, "InvalidPayload",
			"the fake endpoint supports only the json payload format"))
	}

	var result any
	var rej *rejection
	switch req.op {
	case OpCreateFromCSR:
		result, rej = s.createFromCSR(req.payload, fault)
	case OpCreateKeys:
		result, rej = s.createKeys(req.payload, fault)
	case OpRegister:
		result, rej = s.register(req, fault)
	}
	if rej != nil {
		return rejectedResponse(req, rej)
	}

	payload, err := json.Marshal(result)
	if err != nil {
		return rejectedResponse(req, reject(500, "InternalFailure",
			"encode response: %v", err))
	}
	return response{topic: req.acceptedTopic(), payload: payload}
}

// faultResponse returns the response of a fault that replaces the
// operation, and false for the other faults.
func faultResponse(req request, fault Fault) (response, bool) {
	switch fault.kind {
	case faultNoAnswer:
		return response{}, true
	case faultDisconnect:
		return response{disconnect: true}, true
	case faultReject:
		return rejectedResponse(req, &rejection{
			StatusCode:   fault.status,
			ErrorCode:    fault.errorCode,
			ErrorMessage: fault.message,
		}), true
	case faultMalformed:
		malformed := []byte(`{"certificateId": "`)
		return response{topic: req.acceptedTopic(), payload: malformed}, true
	case faultOversized:
		return response{topic: req.acceptedTopic(), payload: oversizedPayload()}, true
	}
	return response{}, false
}

func rejectedResponse(req request, rej *rejection) response {
	resp := response{topic: req.rejectedTopic(), rejected: true}
	if req.format == "cbor" {
		resp.payload = encodeCBORRejection(rej)
		return resp
	}

	// A struct of strings and an int always encodes.
	resp.payload, _ = json.Marshal(rej)
	return resp
}

// oversizedPayload returns a valid JSON object of oversizedLen bytes.
func oversizedPayload() []byte {
	var b bytes.Buffer
	b.WriteString(`{"certificateId": "`)
	b.Write(bytes.Repeat([]byte("a"), oversizedLen-len(`{"certificateId": ""}`)))
	b.WriteString(`"}`)
	return b.Bytes()
}

// newToken returns a random ownership token, opaque to the device as the AWS
// tokens are.
func newToken() (string, error) {
	buf := make([]byte, 48)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate ownership token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// addPending records a new certificate as PENDING_ACTIVATION with a new
// ownership token, and returns the token to send to the device.
func (s *service) addPending(id string, fault Fault) (string, error) {
	token, err := newToken()
	if err != nil {
		return "", err
	}

	expires := s.cfg.Clock().Add(s.cfg.TokenTTL)
	if fault.kind == faultExpiredToken {
		expires = s.cfg.Clock().Add(-time.Second)
	}

	s.mu.Lock()
	s.certs[id] = &certRecord{Certificate{ID: id, State: StatePendingActivation}}
	s.tokens[token] = &tokenRecord{certID: id, expires: expires}
	s.mu.Unlock()

	if fault.kind == faultToken {
		return fault.value, nil
	}
	return token, nil
}

// tokenBucket limits a rate of events per second, with a burst of one
// second's worth (at least one event).
type tokenBucket struct {
	rate   float64 // events per second; 0 means no limit
	tokens float64
	last   time.Time
}

// take reports whether an event at now is within the rate, and counts it.
func (b *tokenBucket) take(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}

	burst := math.Max(1, b.rate)
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		elapsed := now.Sub(b.last).Seconds()
		b.tokens = math.Min(burst, b.tokens+elapsed*b.rate)
	}
	b.last = now

	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Certificates returns every certificate known to the fake, the claim
// certificate included, in no particular order.
func (s *service) certificates() []Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()

	certs := make([]Certificate, 0, len(s.certs))
	for _, c := range s.certs {
		certs = append(certs, c.Certificate)
	}
	return certs
}

func (s *service) thingList() []Thing {
	s.mu.Lock()
	defer s.mu.Unlock()

	things := make([]Thing, 0, len(s.thingOrder))
	for _, name := range s.thingOrder {
		t := *s.things[name]
		t.Params = maps.Clone(t.Params)
		things = append(things, t)
	}
	return things
}

func (s *service) statsCopy() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()

	st := s.stats
	st.Requests = maps.Clone(s.stats.Requests)
	return st
}

func (s *service) countDropped() {
	s.mu.Lock()
	s.stats.Dropped++
	s.mu.Unlock()
}
