package provision

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// operation is one request/response pair of the fleet provisioning API.
type operation struct {
	name      string // API name, used as Error.Op
	topic     string // request topic; responses arrive on topic/accepted and topic/rejected
	step      string // Event.Step while waiting for the response
	throttled string // Event.Step while waiting to send a throttled request again
}

func (op operation) accepted() string { return op.topic + "/accepted" }
func (op operation) rejected() string { return op.topic + "/rejected" }

var (
	opCreateFromCSR = operation{"CreateCertificateFromCsr",
		"$aws/certificates/create-from-csr/json", StepCreateCSR, StepThrottledCreateCSR}
	opCreateKeys = operation{"CreateKeysAndCertificate",
		"$aws/certificates/create/json", StepCreateKeys, StepThrottledCreateKeys}
)

func registerOperation(template string) operation {
	return operation{"RegisterThing",
		"$aws/provisioning-templates/" + template + "/provision/json", StepRegistering,
		StepThrottledRegister}
}

// credentials are the key and certificate of one attempt.
type credentials struct {
	key    crypto.Signer // nil until known for KeyAWSGenerated
	keyPEM []byte
	csrPEM []byte // nil for KeyAWSGenerated
}

// attemptOnce runs one attempt: claim, key, CreateCertificateFromCsr or
// CreateKeysAndCertificate, RegisterThing, then the proof CONNECT.
func (r *runner) attemptOnce(ctx context.Context) (*Result, error) {
	if r.registered == nil {
		res, err := r.register(ctx)
		if err != nil {
			return nil, err
		}
		r.registered = res
	}

	if err := r.verify(ctx, r.registered); err != nil {
		return nil, err
	}

	res := r.registered
	r.log.Info("device provisioned",
		zap.Int("attempt", r.attempt),
		zap.String("thing-name", res.ThingName),
		zap.String("certificate-id", res.CertificateID))
	return res, nil
}

// register obtains a certificate and registers the thing over one claim
// connection.
func (r *runner) register(ctx context.Context) (*Result, error) {
	r.step(StepLoadingClaim)
	claim, _, err := LoadClaim(r.o.ClaimCertPath, r.o.ClaimKeyPath, r.o.Retry.Clock.Now())
	if err != nil {
		return nil, err
	}

	creds, err := r.newCredentials(ctx)
	if err != nil {
		return nil, err
	}

	sess, err := r.dial(ctx, r.o.ClientID, claim, "claim")
	if err != nil {
		return nil, err
	}
	defer sess.Close()

	createOp := opCreateFromCSR
	if creds.csrPEM == nil {
		createOp = opCreateKeys
	}
	registerOp := registerOperation(r.o.TemplateName)
	if err := r.subscribe(ctx, sess, createOp, registerOp); err != nil {
		return nil, err
	}

	created, err := r.create(ctx, sess, createOp, creds)
	if err != nil {
		return nil, err
	}

	tokenDeadline := r.o.Retry.Clock.Now().Add(tokenRetryWindow)
	thing, err := r.registerThing(ctx, sess, registerOp, created.token, tokenDeadline)
	if err != nil {
		return nil, err
	}

	return r.result(creds, created, thing)
}

// newCredentials generates the key and CSR of this attempt; every attempt
// uses a new key, so a certificate from a failed attempt is never reused.
func (r *runner) newCredentials(ctx context.Context) (credentials, error) {
	generate, err := newKeyGenerator(r.o.KeyType)
	if err != nil {
		return credentials{}, newError("generate key", LocalConfig, err)
	}
	if generate == nil {
		return credentials{}, nil // KeyAWSGenerated: the key comes with the response
	}

	r.step(StepGeneratingKey)
	key, err := do(ctx, r, func(context.Context) (crypto.Signer, error) {
		return generate()
	}, nil)
	if err != nil {
		return credentials{}, r.stepError(ctx, "generate key", err)
	}

	csrPEM, err := createCSR(key, r.o.CSRCommonName)
	if err != nil {
		return credentials{}, newError("create CSR", LocalConfig, err)
	}
	return credentials{key: key, csrPEM: csrPEM}, nil
}

// stepError returns ctx's error if ctx ended, else err as an *Error of op,
// keeping the class of an *Error already inside it.
func (r *runner) stepError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return contextErr(ctx, op)
	}
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return newError(op, Transient, err)
}

// subscribe subscribes to the responses of both operations and checks every
// SUBACK reason code before anything is published, because a response sent
// before the subscription exists is lost.
func (r *runner) subscribe(ctx context.Context, sess session, ops ...operation) error {
	var topics []string
	for _, op := range ops {
		topics = append(topics, op.accepted(), op.rejected())
	}

	r.step(StepSubscribing)
	_, err := do(ctx, r, func(ctx context.Context) (struct{}, error) {
		ctx, cancel := context.WithTimeout(ctx, r.o.ResponseTimeout)
		defer cancel()
		return struct{}{}, sess.Subscribe(ctx, topics)
	}, nil)
	if err == nil {
		return nil
	}

	var ack *ackError
	if errors.As(err, &ack) {
		return r.rejectedTopic("subscribe", ack)
	}
	return r.stepError(ctx, "subscribe", err)
}

// rejectedTopic explains a SUBACK or PUBACK failure code.
func (r *runner) rejectedTopic(op string, ack *ackError) error {
	if ack.code == reasonNotAuthorized {
		err := fmt.Errorf("the claim policy does not allow topic %q; check that the "+
			"claim policy names template %q (%w)", ack.topic, r.o.TemplateName, ack)
		return newError(op, Rejected, err)
	}
	switch ack.code {
	case reasonServerUnavailable, reasonServerBusy, reasonQuotaExceeded, reasonRateExceeded:
		return newError(op, Transient, ack)
	}
	return newError(op, Rejected, ack)
}

// create requests a certificate and validates the response.
func (r *runner) create(ctx context.Context, sess session, op operation,
	creds credentials) (*createResponse, error) {
	payload := []byte("{}")
	if creds.csrPEM != nil {
		csr := map[string]string{"certificateSigningRequest": string(creds.csrPEM)}
		payload = mustJSON(csr)
	}

	response, err := r.requestThrottled(ctx, sess, op, payload, time.Time{})
	if err != nil {
		return nil, err
	}

	created, err := parseCreateResponse(op.name, response, creds.key)
	if err != nil {
		return nil, err
	}
	r.log.Info("certificate issued",
		zap.Int("attempt", r.attempt),
		zap.String("certificate-id", created.certificateID),
		zap.String("certificate-sha256", fingerprint(created.certificate.Raw)),
		zap.Int("token-length", len(created.token)))
	return created, nil
}

// registerThing sends RegisterThing with the ownership token and Params. A
// throttled request is sent again until tokenDeadline.
func (r *runner) registerThing(ctx context.Context, sess session, op operation,
	token string, tokenDeadline time.Time) (*registerResponse, error) {
	request := struct {
		Token      string            `json:"certificateOwnershipToken"`
		Parameters map[string]string `json:"parameters,omitempty"`
	}{token, r.o.Params}

	response, err := r.requestThrottled(ctx, sess, op, mustJSON(request), tokenDeadline)
	if err != nil {
		return nil, err
	}

	thing, err := parseRegisterResponse(response, r.o.TemplateName)
	if err != nil {
		return nil, err
	}
	r.log.Info("thing registered",
		zap.Int("attempt", r.attempt),
		zap.String("thing-name", thing.thingName),
		zap.Int("device-configuration-entries", len(thing.deviceConfiguration)))
	return thing, nil
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode request: %v", err)) // only maps of strings are passed
	}
	return data
}

// result assembles the Result of a registered thing.
func (r *runner) result(creds credentials, created *createResponse,
	thing *registerResponse) (*Result, error) {
	key := creds.key
	if created.key != nil {
		key = created.key
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return nil, newError("encode key", StartOver, err)
	}

	return &Result{
		ThingName:           thing.thingName,
		DeviceConfiguration: thing.deviceConfiguration,
		CertificateID:       created.certificateID,
		CertificatePEM:      created.certificatePEM,
		Key:                 key,
		KeyPEM:              keyPEM,
	}, nil
}

// verify connects once with the new certificate, with the thing name as
// client ID, and disconnects. Success proves the certificate is active and
// that the device policy allows the connection.
func (r *runner) verify(ctx context.Context, res *Result) error {
	cert, err := tls.X509KeyPair(res.CertificatePEM, res.KeyPEM)
	if err != nil {
		r.registered = nil
		return newError("verify certificate", StartOver,
			fmt.Errorf("new certificate and key do not form a key pair: %w", err))
	}

	sess, err := r.dial(ctx, res.ThingName, cert, "device")
	if err != nil {
		return err
	}
	sess.Close()
	return nil
}

// request publishes payload to op's topic, checks the PUBACK and waits for
// the response. It returns the accepted payload, or the classified rejection.
func (r *runner) request(ctx context.Context, sess session, op operation,
	payload []byte) ([]byte, error) {
	r.step(op.step)
	_, err := do(ctx, r, func(ctx context.Context) (struct{}, error) {
		ctx, cancel := context.WithTimeout(ctx, r.o.ResponseTimeout)
		defer cancel()
		return struct{}{}, sess.Publish(ctx, op.topic, payload)
	}, nil)
	if err != nil {
		var ack *ackError
		if errors.As(err, &ack) {
			return nil, r.rejectedTopic(op.name, ack)
		}
		return nil, r.stepError(ctx, op.name, err)
	}

	return r.awaitResponse(ctx, sess, op)
}

// awaitResponse waits up to ResponseTimeout for op's response. Messages on other
// topics are ignored: responses carry no correlation ID, and only one request
// is in flight per connection.
func (r *runner) awaitResponse(ctx context.Context, sess session,
	op operation) ([]byte, error) {
	timeout := time.NewTimer(r.o.ResponseTimeout)
	defer timeout.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil, contextErr(ctx, op.step)
		case <-r.alive.C:
			r.o.Alive()
		case <-timeout.C:
			return nil, newError(op.name, Transient,
				fmt.Errorf("no response within %v", r.o.ResponseTimeout))
		case m := <-sess.Messages():
			if payload, err, ok := r.matchResponse(op, m); ok {
				return payload, err
			}
		case <-sess.Lost():
			return r.drainAfterLoss(op, sess)
		}
	}
}

// drainAfterLoss returns a response that arrived before the connection ended,
// or the connection error.
func (r *runner) drainAfterLoss(op operation, sess session) ([]byte, error) {
	for {
		select {
		case m := <-sess.Messages():
			if payload, err, ok := r.matchResponse(op, m); ok {
				return payload, err
			}
		default:
			return nil, newError(op.name, Transient,
				fmt.Errorf("connection lost while waiting for the response: %w", sess.Err()))
		}
	}
}

// matchResponse reports whether m is the response to op, and if so returns its
// payload or error.
func (r *runner) matchResponse(op operation, m message) ([]byte, error, bool) {
	switch m.topic {
	case op.accepted():
		return m.payload, nil, true
	case op.rejected():
		return nil, parseRejection(op.name, m.payload), true
	}
	r.log.Warn("ignoring message on unexpected topic",
		zap.Int("attempt", r.attempt), zap.String("topic", m.topic),
		zap.Int("size", len(m.payload)))
	return nil, nil, false
}

// dial waits for the reconnect spacing of clientID, then connects with cert.
// role is "claim" or "device" and selects the explanation of a rejection.
func (r *runner) dial(ctx context.Context, clientID string, cert tls.Certificate,
	role string) (session, error) {
	if err := r.waitReconnect(ctx, clientID); err != nil {
		return nil, err
	}

	cfg, err := r.sessionConfig(clientID, cert)
	if err != nil {
		return nil, err
	}

	if role == "claim" {
		r.step(StepConnecting)
	} else {
		r.step(StepVerifying)
	}
	sess, err := do(ctx, r, func(ctx context.Context) (session, error) {
		return r.connect(ctx, cfg)
	}, func(s session) { s.Close() })
	r.lastConnect[clientID] = connectRecord{at: r.o.Retry.Clock.Now(), attempt: r.attempt}
	if err != nil {
		if ctx.Err() != nil {
			return nil, contextErr(ctx, "connecting")
		}
		return nil, r.classifyConnect(err, clientID, role)
	}
	return sess, nil
}

// connectRecord is the end of a connect on o.Retry.Clock (the CONNACK, or
// the failure), and the attempt that made it. The end, not the start, is
// recorded because the broker counts from the CONNECT it received, which a
// slow TCP or TLS setup delays.
type connectRecord struct {
	at      time.Time
	attempt int
}

// connectSpacing is AWS IoT's limit of one CONNECT per second per client ID.
// It separates the claim connection from the check with the new certificate
// when the thing name equals the device ID.
const connectSpacing = time.Second

// waitReconnect sleeps until enough time has passed since the last connect
// with clientID: MinReconnect when an attempt failed in between, so that a
// device that keeps failing does not hammer the broker, and connectSpacing
// within one attempt.
func (r *runner) waitReconnect(ctx context.Context, clientID string) error {
	last, ok := r.lastConnect[clientID]
	if !ok {
		return nil
	}
	spacing := r.o.Retry.MinReconnect
	if last.attempt == r.attempt {
		spacing = min(connectSpacing, spacing)
	}
	wait := last.at.Add(spacing).Sub(r.o.Retry.Clock.Now())
	if wait <= 0 {
		return nil
	}

	r.log.Info("waiting before reconnecting", zap.Int("attempt", r.attempt),
		zap.String("client-id", clientID), zap.Duration("delay", wait))
	if err := r.sleep(ctx, wait); err != nil {
		return contextErr(ctx, "waiting to reconnect")
	}
	return nil
}

func (r *runner) sessionConfig(clientID string,
	cert tls.Certificate) (sessionConfig, error) {
	roots, err := loadRoots(r.o.RootCAPath, r.o.UseSystemRoots)
	if err != nil {
		return sessionConfig{}, newError("load root CA", LocalConfig, err)
	}

	proxy, err := proxyFor(r.o.ProxyURL, r.o.NoProxy, r.o.Endpoint, r.o.Port)
	if err != nil {
		return sessionConfig{}, newError("select proxy", LocalConfig, err)
	}

	tlsConfig := newTLSConfig(tlsSettings{
		serverName: r.o.Endpoint,
		alpn:       r.o.ALPN,
		roots:      roots,
		clientCert: cert,
		now:        r.o.Retry.Clock.Now,
	})
	return sessionConfig{
		host:        r.o.Endpoint,
		port:        r.o.Port,
		proxy:       proxy,
		tls:         tlsConfig,
		clientID:    clientID,
		keepalive:   r.o.Keepalive,
		dialTimeout: r.o.DialTimeout,
	}, nil
}
