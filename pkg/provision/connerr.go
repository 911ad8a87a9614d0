package provision

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"time"
)

// TLS alerts a server sends when it rejects the client certificate
// (RFC 8446, section 6).
var clientCertAlerts = map[tls.AlertError]string{
	42: "bad certificate",
	43: "unsupported certificate",
	44: "certificate revoked",
	45: "certificate expired",
	46: "certificate unknown",
	48: "unknown CA",
	49: "access denied",
}

// alertNoApplicationProtocol is the TLS alert for an ALPN mismatch.
const alertNoApplicationProtocol tls.AlertError = 120

// classifyConnect turns a failed connect into an *Error. role is "claim" or
// "device" (the new certificate).
func (r *runner) classifyConnect(err error, clientID, role string) error {
	const op = "connect"
	var (
		ack       *ackError
		verify    *tls.CertificateVerificationError
		proxyErr  *proxyError
		noConnack *noConnackError
	)
	alert, _ := remoteAlert(err)
	switch {
	case errors.As(err, &ack):
		return r.classifyConnack(ack, clientID, role)
	case errors.As(err, &verify):
		return r.classifyServerCert(verify)
	case clientCertAlerts[alert] != "":
		return newError(op, Rejected, fmt.Errorf("the server rejected the %s "+
			"certificate (TLS alert %q): %s: %w", role, clientCertAlerts[alert],
			certificateHint(role), err))
	case alert == alertNoApplicationProtocol:
		return newError(op, Rejected, fmt.Errorf("the server does not accept ALPN "+
			"%q on port %d: use port 443 with ALPN or 8883 without: %w",
			alpnProtocol, r.o.Port, err))
	case errors.As(err, &proxyErr) && proxyErr.code == http.StatusProxyAuthRequired:
		return newError(op, Rejected, err)
	case errors.As(err, &noConnack):
		return newError(op, Transient, fmt.Errorf("%w; if this repeats, %s",
			err, certificateHint(role)))
	}
	return newError(op, Transient, err)
}

// remoteAlert returns the TLS alert that the peer sent, if err is one.
// crypto/tls reports it as a *net.OpError with Op "remote error" around an
// unexported uint8 type, so the value is read by reflection.
func remoteAlert(err error) (tls.AlertError, bool) {
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "remote error" || opErr.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(opErr.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return tls.AlertError(v.Uint()), true
}

func certificateHint(role string) string {
	if role == "claim" {
		return "the claim certificate may be inactive, revoked or not registered " +
			"in this AWS account and region"
	}
	return "the new certificate may not be active yet"
}

// classifyConnack explains a CONNACK failure. Rejections of the certificate or
// client ID need a change in AWS IoT, so they are Rejected: retried with the
// long backoff, not reported as a local error.
func (r *runner) classifyConnack(ack *ackError, clientID, role string) error {
	const op = "connect"
	switch ack.code {
	case reasonServerUnavailable, reasonServerBusy, reasonQuotaExceeded, reasonRateExceeded:
		return newError(op, Transient, ack)
	}

	var hint string
	if role == "claim" {
		hint = fmt.Sprintf("the claim certificate may be inactive or revoked, or the "+
			"claim policy does not allow iot:Connect for client ID %q", clientID)
	} else {
		hint = fmt.Sprintf("the device policy must allow iot:Connect for client ID %q, "+
			"the thing name", clientID)
	}
	return newError(op, Rejected, fmt.Errorf("the server rejected CONNECT: %s: %w",
		hint, ack))
}

// classifyServerCert explains a server certificate that failed verification.
// A clock behind the certificate's NotBefore is Transient, because devices
// without a real-time clock boot with an old time and correct it soon.
func (r *runner) classifyServerCert(verify *tls.CertificateVerificationError) error {
	const op = "connect"
	now := r.o.Retry.Clock.Now().UTC().Format(time.RFC3339)

	var invalid x509.CertificateInvalidError
	if errors.As(verify.Err, &invalid) && invalid.Reason == x509.Expired {
		cert := invalid.Cert
		if r.o.Retry.Clock.Now().Before(cert.NotBefore) {
			return newError(op, Transient, fmt.Errorf("server certificate is not "+
				"valid before %s but the clock says %s: the clock looks wrong, "+
				"waiting for time synchronization: %w",
				cert.NotBefore.UTC().Format(time.RFC3339), now, verify))
		}
		return newError(op, Rejected, fmt.Errorf("server certificate expired at %s: "+
			"wrong clock (now %s) or a captive portal? %w",
			cert.NotAfter.UTC().Format(time.RFC3339), now, verify))
	}

	var hostname x509.HostnameError
	if errors.As(verify.Err, &hostname) {
		return newError(op, Rejected, fmt.Errorf("server certificate is not valid "+
			"for endpoint %q: check the endpoint, or a captive portal? %w",
			r.o.Endpoint, verify))
	}

	return newError(op, Rejected, fmt.Errorf("server certificate not trusted by %q: "+
		"wrong clock (now %s) or a captive portal? %w", r.o.RootCAPath, now, verify))
}
