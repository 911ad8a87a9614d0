package fakeiot

import (
	"context"
	"fmt"
	"time"
)

// pollInterval is how often the wait helpers check the fake's state.
const pollInterval = 5 * time.Millisecond

// WaitFor waits until cond holds for the current Stats. It returns an error
// that wraps ctx's error when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()

	for !cond(s.Stats()) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for fake endpoint state: %w", ctx.Err())
		case <-ticker.C:
		}
	}
	return nil
}

// WaitThings waits until at least n things are registered and returns them.
// It returns an error that wraps ctx's error when ctx ends first.
func (s *Server) WaitThings(ctx context.Context, n int) ([]Thing, error) {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()

	for {
		things := s.Things()
		if len(things) >= n {
			return things, nil
		}

		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %d things, %d registered: %w",
				n, len(things), ctx.Err())
		case <-ticker.C:
		}
	}
}
