package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision/backoff"
)

// runner holds the state of one Run across attempts.
type runner struct {
	o       Options
	log     *zap.Logger
	connect connector
	alive   *time.Ticker
	attempt int

	// lastConnect is the last connect per client ID, to keep reconnects
	// after a failure o.Retry.MinReconnect apart.
	lastConnect map[string]connectRecord

	// registered is a thing registered by an earlier attempt whose
	// certificate is not proven yet. Later attempts only repeat the proof,
	// because a new RegisterThing would issue another certificate.
	registered *Result
}

// Run provisions the device: it retries attempts with full-jitter backoff
// until one succeeds, ctx is done, Retry.MaxAttempts attempts have failed, or
// an error of class LocalConfig occurs. Every error other than ctx's contains
// an *Error. Run calls o.Alive from its own goroutine throughout.
func Run(ctx context.Context, o Options) (*Result, error) {
	return run(ctx, o, connectPaho)
}

func run(ctx context.Context, o Options, connect connector) (*Result, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		o.Logger.Error("provisioning options are invalid", zap.Error(err))
		return nil, err
	}

	r := &runner{
		o:           o,
		log:         o.Logger,
		connect:     connect,
		alive:       time.NewTicker(o.AliveInterval),
		lastConnect: map[string]connectRecord{},
	}
	defer r.alive.Stop()
	return r.loop(ctx)
}

func (r *runner) loop(ctx context.Context) (*Result, error) {
	for r.attempt = 1; ; r.attempt++ {
		r.o.Alive()
		res, err := r.attemptOnce(ctx)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, contextErr(ctx, "provisioning")
		}

		if stop := r.giveUp(err); stop != nil {
			return nil, stop
		}

		delay := r.delay(classOf(err))
		r.logRetry(err, delay)
		r.progress(Event{Step: StepWaiting, NextDelay: delay, Err: err})
		if err := r.sleep(ctx, delay); err != nil {
			return nil, contextErr(ctx, StepWaiting)
		}
	}
}

// giveUp returns the error Run returns after err, or nil to retry.
func (r *runner) giveUp(err error) error {
	if classOf(err) == LocalConfig {
		r.log.Error("provisioning stopped: the local configuration must be fixed",
			append(errorFields(err), zap.Int("attempt", r.attempt))...)
		return err
	}

	limit := r.o.Retry.MaxAttempts
	if limit > 0 && r.attempt >= limit {
		r.log.Error("provisioning failed: no attempts left",
			append(errorFields(err), zap.Int("attempt", r.attempt))...)
		return fmt.Errorf("provisioning failed at attempt %d of %d: %w", r.attempt, limit, err)
	}
	return nil
}

// delay returns the wait before the next attempt after a failure of class c.
func (r *runner) delay(c Class) time.Duration {
	p := r.o.Retry
	if c == Rejected {
		return backoff.FullJitter(p.Rand, p.RejectedBase, p.RejectedMax, r.attempt-1)
	}
	return backoff.FullJitter(p.Rand, p.Base, p.TransientMax, r.attempt-1)
}

func (r *runner) logRetry(err error, delay time.Duration) {
	fields := append(errorFields(err),
		zap.Int("attempt", r.attempt),
		zap.Duration("delay", delay))
	r.log.Warn("provisioning attempt failed, retrying", fields...)
}

// errorFields returns the log fields of err: class and, from an *Error, the
// codes and message of the cloud's response.
func errorFields(err error) []zap.Field {
	fields := []zap.Field{zap.Error(err), zap.Stringer("class", classOf(err))}
	var pe *Error
	if errors.As(err, &pe) {
		fields = append(fields,
			zap.String("op", pe.Op),
			zap.String("error-code", pe.ErrorCode),
			zap.Int("status-code", pe.StatusCode),
			zap.String("error-message", pe.ErrorMessage))
	}
	return fields
}

// step reports the start of a step to the log and to Progress.
func (r *runner) step(name string) {
	r.log.Info("provisioning step", zap.Int("attempt", r.attempt), zap.String("step", name))
	r.progress(Event{Step: name})
}

func (r *runner) progress(e Event) {
	e.Attempt = r.attempt
	r.o.Progress(e)
	r.o.Alive()
}

// sleep waits d on the retry clock, calling Alive meanwhile. It returns
// ctx's error when ctx ends first.
func (r *runner) sleep(ctx context.Context, d time.Duration) error {
	return r.sleepConnected(ctx, d, nil)
}

// errLost is returned by sleepConnected when the connection ends.
var errLost = errors.New("connection lost")

// sleepConnected is sleep that also returns errLost when lost is closed
// first. A nil lost is never closed.
func (r *runner) sleepConnected(ctx context.Context, d time.Duration,
	lost <-chan struct{}) error {
	if d <= 0 {
		return nil
	}
	timer := r.o.Retry.Clock.After(d)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lost:
			return errLost
		case <-r.alive.C:
			r.o.Alive()
		case <-timer:
			return nil
		}
	}
}

// do runs f on another goroutine and waits for it, calling Alive meanwhile,
// so that a blocking call (a dial, a key generation) cannot starve the
// watchdog. When ctx ends first, do returns at once and cleanup receives
// f's value when f returns.
func do[T any](ctx context.Context, r *runner, f func(context.Context) (T, error),
	cleanup func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		done <- result{v, err}
	}()

	for {
		select {
		case <-ctx.Done():
			go func() {
				if res := <-done; res.err == nil && cleanup != nil {
					cleanup(res.v)
				}
			}()
			var zero T
			return zero, ctx.Err()
		case <-r.alive.C:
			r.o.Alive()
		case res := <-done:
			return res.v, res.err
		}
	}
}
