package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision/backoff"
)

// tokenRetryWindow is how long after the create response a throttled
// RegisterThing is still sent again with the same ownership token. AWS IoT
// accepts the token for one hour; the last 5 minutes are left for the
// request and its response.
const tokenRetryWindow = time.Hour - 5*time.Minute

// isThrottled reports whether err is a rejected response that AWS IoT sends
// when a request exceeds a rate limit: status code 429, or an error code
// with "Throttling" in it, which AWS also sends with status code 400.
func isThrottled(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.StatusCode == 429 ||
		strings.Contains(strings.ToLower(pe.ErrorCode), "throttl")
}

// requestThrottled is request that sends a throttled request again on the
// same connection, after a full-jitter delay, instead of failing the
// attempt. A new attempt would open a new connection after MinReconnect and,
// for RegisterThing, leave an unused certificate behind. It gives up and
// returns the throttled error after RetryPolicy.ThrottleRetries retries, or
// when the next send would come after deadline (zero: no deadline).
func (r *runner) requestThrottled(ctx context.Context, sess session, op operation,
	payload []byte, deadline time.Time) ([]byte, error) {
	for retry := 0; ; retry++ {
		response, err := r.request(ctx, sess, op, payload)
		if err == nil || !isThrottled(err) {
			return response, err
		}

		delay, ok := r.throttleDelay(retry, deadline)
		if !ok {
			r.log.Warn("request still throttled, starting a new attempt",
				throttleFields(err, r.attempt, retry, 0)...)
			return nil, err
		}

		r.log.Warn("request throttled, sending it again on the same connection",
			throttleFields(err, r.attempt, retry+1, delay)...)
		r.progress(Event{Step: op.throttled, NextDelay: delay, Err: err})
		if err := r.sleepConnected(ctx, delay, sess.Lost()); err != nil {
			return nil, r.throttleWaitError(ctx, op, sess, err)
		}
	}
}

// throttleDelay returns the wait before throttled retry number retry+1, and
// false when no retry is left.
func (r *runner) throttleDelay(retry int, deadline time.Time) (time.Duration, bool) {
	p := r.o.Retry
	if retry >= p.ThrottleRetries {
		return 0, false
	}

	delay := backoff.FullJitter(p.Rand, p.ThrottleBase, p.ThrottleMax, retry)
	if !deadline.IsZero() && p.Clock.Now().Add(delay).After(deadline) {
		return 0, false
	}
	return delay, true
}

// throttleWaitError returns the error of a wait that ended early: ctx ended
// or the connection was lost.
func (r *runner) throttleWaitError(ctx context.Context, op operation, sess session,
	err error) error {
	if ctx.Err() != nil {
		return contextErr(ctx, op.throttled)
	}
	if errors.Is(err, errLost) {
		return newError(op.name, Transient,
			fmt.Errorf("connection lost while waiting to retry: %w", sess.Err()))
	}
	return newError(op.name, Transient, err)
}

// throttleFields returns the log fields of a throttled response. retry counts
// the retries on this connection; delay is 0 when no retry follows.
func throttleFields(err error, attempt, retry int, delay time.Duration) []zap.Field {
	var pe *Error
	errors.As(err, &pe) // isThrottled found it
	return []zap.Field{
		zap.String("op", pe.Op),
		zap.String("error-code", pe.ErrorCode),
		zap.Int("status-code", pe.StatusCode),
		zap.String("error-message", pe.ErrorMessage),
		zap.Int("attempt", attempt),
		zap.Int("throttled-retry", retry),
		zap.Duration("delay", delay),
	}
}
