package provision

import (
	"errors"
	"fmt"
	"strings"
)

// Class is the kind of a failed attempt, which decides how Run retries.
type Class int

const (
	// Transient is a fault that goes away by itself: network, DNS, timeout,
	// no response, disconnect, throttling, a 5xx service error. Retried with the
	// transient backoff cap.
	Transient Class = iota
	// StartOver means the certificate or token of this attempt is unusable:
	// the token was rejected or expired, the certificate is for another key, or
	// the response was malformed. The next attempt uses a new key and CSR.
	StartOver
	// Rejected is a rejection that only a change in the cloud can fix (policy,
	// template, pre-provisioning hook, a revoked claim certificate). Retried
	// with the long rejected backoff cap.
	Rejected
	// LocalConfig is an error in the local configuration or claim files that
	// no retry can fix. Run returns it at once.
	LocalConfig
)

// String returns the lower-case name of the class, as logged.
func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case StartOver:
		return "start-over"
	case Rejected:
		return "rejected"
	case LocalConfig:
		return "local-config"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a failed provisioning step. StatusCode, ErrorCode and ErrorMessage
// are copied from a rejected response of AWS IoT (zero when the step failed
// before a response); Err carries the cause or a plain explanation.
type Error struct {
	// Op is the step or operation that failed, such as "RegisterThing" or
	// "connect".
	Op string
	// StatusCode is the statusCode of a rejected response, an HTTP status
	// such as 400 or 429.
	StatusCode int
	// ErrorCode is the errorCode of a rejected response, such as
	// "ThrottlingException".
	ErrorCode string
	// ErrorMessage is the errorMessage of a rejected response, cut to at
	// most 1024 bytes.
	ErrorMessage string
	// Class decides whether and how soon Run retries.
	Class Class
	// Err is the cause, or nil for a rejection described by the fields
	// above.
	Err error
}

// Error returns Op, the cloud's codes and message when present, and Err.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.ErrorCode != "" || e.StatusCode != 0 {
		fmt.Fprintf(&b, ": rejected with %d %s", e.StatusCode, e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		fmt.Fprintf(&b, " (%q)", e.ErrorMessage)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// IsLocalConfig reports whether err contains an *Error of class LocalConfig,
// which a restart of the daemon cannot fix.
func IsLocalConfig(err error) bool {
	return classOf(err) == LocalConfig
}

// classOf returns the class of the first *Error in err's chain, else Transient.
func classOf(err error) Class {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Class
	}
	return Transient
}

// newError returns an *Error for op with class c and cause err.
func newError(op string, c Class, err error) *Error {
	return &Error{Op: op, Class: c, Err: err}
}

// classifyRejection returns the class of a rejected response. AWS sends
// throttling either as 429 or as 400 with a throttling code, so the error code
// is looked at first and the status code only when the code is unknown.
func classifyRejection(statusCode int, errorCode string) Class {
	if c, ok := classifyErrorCode(errorCode); ok {
		return c
	}

	switch {
	case statusCode == 429:
		return Transient
	case statusCode >= 500 && statusCode <= 599:
		return Transient
	default:
		// 400, 401, 403, 404, other codes and a missing code: the request
		// was rejected, and repeating it unchanged is not expected to help.
		return Rejected
	}
}

// classifyErrorCode maps the error codes of the AWS IoT provisioning API that
// have a known meaning. The list is not documented in full, so an unknown
// code returns false and the status code decides.
func classifyErrorCode(code string) (Class, bool) {
	lower := strings.ToLower(code)
	switch {
	case code == "":
		return 0, false
	case strings.Contains(lower, "throttl"),
		strings.Contains(lower, "toomanyrequests"),
		strings.Contains(lower, "limitexceeded"),
		strings.Contains(lower, "serviceunavailable"),
		strings.Contains(lower, "internalfailure"),
		strings.Contains(lower, "internalerror"),
		strings.Contains(lower, "internalserver"):
		return Transient, true
	case strings.Contains(lower, "ownershiptoken"),
		strings.Contains(lower, "tokenexpired"):
		return StartOver, true
	case strings.Contains(lower, "accessdenied"),
		strings.Contains(lower, "unauthorized"),
		strings.Contains(lower, "forbidden"),
		strings.Contains(lower, "notauthorized"),
		strings.Contains(lower, "invalidparameter"),
		strings.Contains(lower, "invalidrequest"),
		strings.Contains(lower, "resourcenotfound"),
		strings.Contains(lower, "conflict"):
		return Rejected, true
	}
	return 0, false
}
