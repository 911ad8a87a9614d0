package provision

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassifyRejection(t *testing.T) {
	tests := []struct {
		name       string
		statusCode int
		errorCode  string
		want       Class
	}{
		{"token-invalid", 400, "InvalidCertificateOwnershipToken", StartOver},
		{"throttling-code-on-400", 400, "ThrottlingException", Transient},
		{"throttled-code-any-status", 0, "Throttled", Transient},
		{"too-many-requests-code", 400, "TooManyRequestsException", Transient},
		{"limit-exceeded", 400, "LimitExceededException", Transient},
		{"status-429-unknown-code", 429, "Whatever", Transient},
		{"status-429-no-code", 429, "", Transient},
		{"status-500", 500, "", Transient},
		{"status-503-code", 503, "ServiceUnavailableException", Transient},
		{"internal-failure-code-on-400", 400, "InternalFailure", Transient},
		{"access-denied-403", 403, "AccessDenied", Rejected},
		{"access-denied-code-on-500", 500, "AccessDeniedException", Rejected},
		{"forbidden-status", 403, "", Rejected},
		{"unauthorized-401", 401, "", Rejected},
		{"invalid-parameters", 400, "InvalidParameters", Rejected},
		{"other-400", 400, "SomethingNew", Rejected},
		{"not-found-404", 404, "ResourceNotFoundException", Rejected},
		{"nothing-given", 0, "", Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyRejection(tt.statusCode, tt.errorCode)
			if got != tt.want {
				t.Errorf("classifyRejection(%d, %q) = %s; want %s",
					tt.statusCode, tt.errorCode, got, tt.want)
			}
		})
	}
}

func TestIsLocalConfig(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"local", newError("load claim", LocalConfig, errors.New("x")), true},
		{"wrapped-local", fmt.Errorf("outer: %w",
			newError("load claim", LocalConfig, errors.New("x"))), true},
		{"rejected", newError("subscribe", Rejected, errors.New("x")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsLocalConfig(tt.err); got != tt.want {
				t.Errorf("IsLocalConfig(%v) = %v; want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"cloud-rejection", &Error{Op: "RegisterThing", StatusCode: 403,
			ErrorCode: "AccessDenied", ErrorMessage: "denied"},
			`RegisterThing: rejected with 403 AccessDenied ("denied")`},
		{"cause-only", &Error{Op: "connect", Err: cause}, "connect: cause"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(&Error{Err: cause}, cause) {
		t.Error("errors.Is(*Error, cause) = false; want true through Unwrap")
	}
}

func TestClassString(t *testing.T) {
	for c, want := range map[Class]string{Transient: "transient", StartOver: "start-over",
		Rejected: "rejected", LocalConfig: "local-config", Class(9): "class(9)"} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q; want %q", int(c), got, want)
		}
	}
}
