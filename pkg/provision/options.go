package provision

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision/backoff"
)

// KeyType selects the key the device certificate is issued for.
type KeyType string

// Key types. The CSR types generate the key on the device; KeyAWSGenerated
// takes the key pair from CreateKeysAndCertificate instead, so the private key
// crosses the network.
const (
	KeyECP256       KeyType = "ec-p256"
	KeyECP384       KeyType = "ec-p384"
	KeyRSA2048      KeyType = "rsa-2048"
	KeyRSA3072      KeyType = "rsa-3072"
	KeyAWSGenerated KeyType = "aws-generated"
)

// Defaults applied by Run to zero fields of Options and RetryPolicy.
const (
	DefaultPort            = 8883
	DefaultResponseTimeout = 30 * time.Second
	DefaultKeepalive       = 60 * time.Second
	DefaultAliveInterval   = 10 * time.Second
	DefaultDialTimeout     = 30 * time.Second
	DefaultBase            = time.Second
	DefaultRejectedBase    = 30 * time.Second
	DefaultTransientMax    = 5 * time.Minute
	DefaultRejectedMax     = time.Hour
	DefaultMinReconnect    = 10 * time.Second
	DefaultThrottleBase    = 500 * time.Millisecond
	DefaultThrottleMax     = 2 * time.Second
	DefaultThrottleRetries = 2000
)

// Keepalive bounds of AWS IoT Core, in seconds of the MQTT keep alive.
const (
	MinKeepalive = 30 * time.Second
	MaxKeepalive = 1200 * time.Second
)

// maxClientIDLen is the AWS IoT limit on MQTT client IDs, in bytes.
const maxClientIDLen = 128

var templateNamePattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,36}$`)

// Clock is the time source of Run: Now for certificate validity and reconnect
// spacing, After for backoff waits. Network timeouts use real time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RetryPolicy sets how Run retries. Delays grow as Base*2^n (RejectedBase for
// the Rejected class) with full jitter, capped per class.
//
// A throttled request is not a failed attempt: Run sends the same request
// again on the same connection after a full-jitter delay that grows from
// ThrottleBase to ThrottleMax. Only after ThrottleRetries such retries of one
// request, or when a RegisterThing retry would come too close to the
// one-hour expiry of the ownership token, does the attempt fail.
type RetryPolicy struct {
	Base         time.Duration // first transient ceiling; default 1 s
	RejectedBase time.Duration // first ceiling after a rejection; default 30 s
	TransientMax time.Duration // delay cap for Transient and StartOver; default 5 min
	RejectedMax  time.Duration // delay cap for Rejected; default 1 h
	MaxAttempts  int           // attempts before Run gives up; 0 means no limit
	// MinReconnect is the minimum time between two connects with one client
	// ID; default 10 s. AWS IoT allows one CONNECT per second per client ID.
	MinReconnect time.Duration
	// ThrottleBase is the first delay ceiling before a throttled request is
	// sent again on the same connection; default 500 ms.
	ThrottleBase time.Duration
	// ThrottleMax caps the delay before a throttled request is sent again;
	// default 2 s. A throttled device sends about 2/ThrottleMax requests per
	// second. A larger cap sends fewer, but leaves the rate limit unused
	// for longer once few devices are left.
	ThrottleMax time.Duration
	// ThrottleRetries is the maximum number of times one request is sent
	// again on one connection after throttling. The default of 2000 lasts
	// about half an hour at the default ThrottleMax.
	ThrottleRetries int
	Rand            backoff.Rand // jitter source; nil uses math/rand/v2
	Clock           Clock        // nil uses the system clock
}

// Event reports a step or a retry to Options.Progress.
type Event struct {
	Step    string // e.g. StepConnecting
	Attempt int    // 1 for the first attempt
	// NextDelay is the wait before the next attempt (StepWaiting) or before
	// a throttled request is sent again (the StepThrottled steps).
	NextDelay time.Duration
	Err       error // the error of the last failed attempt, if any
}

// Steps reported in Event.Step and logged in the "step" field.
const (
	StepLoadingClaim  = "loading claim credentials"
	StepGeneratingKey = "generating key"
	StepConnecting    = "connecting"
	StepSubscribing   = "waiting for SUBACK"
	StepCreateCSR     = "waiting for CreateCertificateFromCsr response"
	StepCreateKeys    = "waiting for CreateKeysAndCertificate response"
	StepRegistering   = "registering thing"
	StepVerifying     = "verifying new certificate"
	StepWaiting       = "waiting to retry"

	StepThrottledCreateCSR  = "waiting to retry CreateCertificateFromCsr (throttled)"
	StepThrottledCreateKeys = "waiting to retry CreateKeysAndCertificate (throttled)"
	StepThrottledRegister   = "waiting to retry RegisterThing (throttled)"
)

// Options configures Run. Endpoint, RootCAPath, ClaimCertPath, ClaimKeyPath,
// ClientID and TemplateName are required.
type Options struct {
	Endpoint       string // AWS IoT data endpoint host name, also the TLS SNI
	Port           int    // default 8883
	ALPN           bool   // send ALPN x-amzn-mqtt-ca, needed on port 443
	RootCAPath     string // PEM bundle of trusted server roots
	UseSystemRoots bool   // trust the system roots as well
	ClaimCertPath  string
	ClaimKeyPath   string
	ClientID       string            // MQTT client ID of the claim connection
	TemplateName   string            // fleet provisioning template
	Params         map[string]string // RegisterThing parameters
	CSRCommonName  string            // subject CN of the CSR; default ClientID
	KeyType        KeyType           // default KeyECP256
	// ProxyURL is an HTTP proxy for CONNECT tunnels; "" reads
	// https_proxy/HTTPS_PROXY. NoProxy lists hosts that bypass it (the
	// no_proxy syntax); "" reads no_proxy/NO_PROXY.
	ProxyURL, NoProxy string
	ResponseTimeout   time.Duration // per response; default 30 s
	Keepalive         time.Duration // MQTT keep alive, 30 s to 1200 s; default 60 s
	DialTimeout       time.Duration // TCP, proxy and TLS setup; default 30 s
	Retry             RetryPolicy
	Logger            *zap.Logger // nil discards logs
	Progress          func(Event) // called on every step and retry; may be nil
	// Alive is called at least every AliveInterval (default 10 s) from the
	// goroutine that runs Run, also while it waits, so it can feed a watchdog.
	Alive         func()
	AliveInterval time.Duration
}

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	o.Port = orDefault(o.Port, DefaultPort)
	o.ResponseTimeout = orDefault(o.ResponseTimeout, DefaultResponseTimeout)
	o.Keepalive = orDefault(o.Keepalive, DefaultKeepalive)
	o.DialTimeout = orDefault(o.DialTimeout, DefaultDialTimeout)
	o.AliveInterval = orDefault(o.AliveInterval, DefaultAliveInterval)
	o.KeyType = orDefault(o.KeyType, KeyECP256)
	o.CSRCommonName = orDefault(o.CSRCommonName, o.ClientID)

	r := &o.Retry
	r.Base = orDefault(r.Base, DefaultBase)
	r.RejectedBase = orDefault(r.RejectedBase, DefaultRejectedBase)
	r.TransientMax = orDefault(r.TransientMax, DefaultTransientMax)
	r.RejectedMax = orDefault(r.RejectedMax, DefaultRejectedMax)
	r.MinReconnect = orDefault(r.MinReconnect, DefaultMinReconnect)
	r.ThrottleBase = orDefault(r.ThrottleBase, DefaultThrottleBase)
	r.ThrottleMax = orDefault(r.ThrottleMax, DefaultThrottleMax)
	r.ThrottleRetries = orDefault(r.ThrottleRetries, DefaultThrottleRetries)
	if r.Clock == nil {
		r.Clock = systemClock{}
	}

	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Progress == nil {
		o.Progress = func(Event) {}
	}
	if o.Alive == nil {
		o.Alive = func() {}
	}
	return o
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// validate checks o after withDefaults. Every error is of class LocalConfig.
func (o *Options) validate() error {
	var errs []error
	if err := validateEndpoint(o.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is invalid: want 1 to 65535", o.Port))
	}
	if err := ValidateClientID(o.ClientID); err != nil {
		errs = append(errs, err)
	}
	if !templateNamePattern.MatchString(o.TemplateName) {
		errs = append(errs, fmt.Errorf(
			"template name %q is invalid: want 1 to 36 of [0-9A-Za-z_-]", o.TemplateName))
	}
	errs = append(errs, o.validatePaths()...)
	if err := o.validateKeepalive(); err != nil {
		errs = append(errs, err)
	}
	if _, err := newKeyGenerator(o.KeyType); err != nil {
		errs = append(errs, err)
	}
	if o.CSRCommonName != "" && len(o.CSRCommonName) > 64 {
		errs = append(errs, fmt.Errorf(
			"CSR common name %q is invalid: longer than 64 bytes", o.CSRCommonName))
	}
	errs = append(errs, o.validateDurations()...)

	if len(errs) == 0 {
		return nil
	}
	return newError("check options", LocalConfig, errors.Join(errs...))
}

func (o *Options) validatePaths() []error {
	var errs []error
	for _, p := range []struct{ name, value string }{
		{"root CA path", o.RootCAPath},
		{"claim certificate path", o.ClaimCertPath},
		{"claim key path", o.ClaimKeyPath},
	} {
		if p.value == "" {
			errs = append(errs, fmt.Errorf("%s is missing", p.name))
		}
	}
	return errs
}

func (o *Options) validateKeepalive() error {
	if o.Keepalive < MinKeepalive || o.Keepalive > MaxKeepalive {
		return fmt.Errorf("keepalive %v is invalid: AWS IoT accepts %v to %v",
			o.Keepalive, MinKeepalive, MaxKeepalive)
	}
	if o.Keepalive%time.Second != 0 {
		return fmt.Errorf("keepalive %v is invalid: want whole seconds", o.Keepalive)
	}
	return nil
}

func (o *Options) validateDurations() []error {
	var errs []error
	r := o.Retry
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"response timeout", o.ResponseTimeout},
		{"dial timeout", o.DialTimeout},
		{"alive interval", o.AliveInterval},
		{"retry base", r.Base},
		{"rejected retry base", r.RejectedBase},
		{"transient retry max delay", r.TransientMax},
		{"rejected retry max delay", r.RejectedMax},
		{"min reconnect interval", r.MinReconnect},
		{"throttle retry base", r.ThrottleBase},
		{"throttle retry max delay", r.ThrottleMax},
	} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("%s %v is invalid: negative", d.name, d.value))
		}
	}
	if r.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max attempts %d is invalid: negative", r.MaxAttempts))
	}
	if r.ThrottleRetries < 0 {
		errs = append(errs, fmt.Errorf("throttle retries %d is invalid: negative",
			r.ThrottleRetries))
	}
	return errs
}

// ValidateClientID checks an MQTT client ID against the AWS IoT rules: 1 to
// 128 bytes of printable UTF-8, not starting with "$" (reserved).
func ValidateClientID(id string) error {
	switch {
	case id == "":
		return errors.New("client ID is missing")
	case len(id) > maxClientIDLen:
		return fmt.Errorf("client ID %q is invalid: %d bytes, the limit is %d",
			id, len(id), maxClientIDLen)
	case strings.HasPrefix(id, "$"):
		return fmt.Errorf("client ID %q is invalid: a leading $ is reserved", id)
	}
	for _, r := range id {
		if r == '\uFFFD' || r < 0x21 || r == 0x7f {
			return fmt.Errorf(
				"client ID %q is invalid: want printable UTF-8 without spaces", id)
		}
	}
	return nil
}

func validateEndpoint(host string) error {
	if host == "" {
		return errors.New("endpoint is missing")
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 || strings.ContainsAny(host, ":/ \t") {
		return fmt.Errorf(
			"endpoint %q is invalid: want a host name without port or scheme", host)
	}
	return nil
}

// Result is a registered thing with a proven certificate and its key.
type Result struct {
	// ThingName is the name of the thing RegisterThing created or reused,
	// 1 to 128 characters of [a-zA-Z0-9:_-].
	ThingName string
	// DeviceConfiguration is the deviceConfiguration map of the template,
	// empty (never nil) when the template has none.
	DeviceConfiguration map[string]string
	// CertificateID is the ID of the new certificate in AWS IoT, 64 hex
	// digits.
	CertificateID string
	// CertificatePEM is the new device certificate, PEM-encoded as the
	// cloud returned it.
	CertificatePEM []byte
	// Key is the private key of CertificatePEM: generated on the device,
	// or parsed from the response for KeyAWSGenerated.
	Key crypto.Signer
	// KeyPEM is Key encoded as PKCS#8 PEM, a secret that must not be
	// logged.
	KeyPEM []byte
}

// contextErr wraps ctx's error so that callers see both what was interrupted
// and context.Canceled or DeadlineExceeded.
func contextErr(ctx context.Context, step string) error {
	return fmt.Errorf("provisioning stopped while %s: %w", step, context.Cause(ctx))
}
