// Package apierror formats a failed AWS API call for a person at a terminal:
// the operation, the AWS error code and message, and what to do next.
package apierror

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Error is a failed AWS API call.
type Error struct {
	Op      string // API operation, such as "CreateStack"
	Code    string // AWS error code; empty when the call failed before AWS answered
	Message string // AWS error message, or the transport error
	Hint    string // what to do next; may be empty
	Err     error
}

// Wrap returns err as an *Error for the API operation op with the hint
// hint, or nil when err is nil.
func Wrap(op string, err error, hint string) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Message: err.Error(), Hint: hint, Err: err}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code = apiErr.ErrorCode()
		e.Message = apiErr.ErrorMessage()
	}
	return e
}

// Error prints "Op failed: Code: Message; Hint".
func (e *Error) Error() string {
	msg := e.Op + " failed: "
	if e.Code != "" {
		msg += e.Code + ": "
	}
	msg += e.Message
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Unwrap returns the SDK error.
func (e *Error) Unwrap() error { return e.Err }

// Code returns the AWS error code in err, or "" when err carries none.
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// Message returns the AWS error message in err, or err's text.
func Message(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return fmt.Sprint(err)
}
