// Package backoff computes retry delays with exponential growth and full jitter:
// the delay before retry n is drawn uniformly from [0, min(maxDelay, base*2^n)].
//
// Full jitter spreads devices that fail at the same moment (a fleet that boots
// together after a power cut) over the whole interval, which a fixed or
// partly randomized delay does not. cenkalti/backoff/v5 randomizes only around
// the current interval and caps the interval, not the delay, so it cannot
// express this.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Rand is a source of uniform random integers, satisfied by *rand.Rand from
// math/rand/v2. Tests pass a fixed source.
type Rand interface {
	// Int64N returns a value in [0, n); n is greater than zero.
	Int64N(n int64) int64
}

// Ceiling returns min(maxDelay, base*2^n), the upper bound of the delay before
// retry n (n counts from 0). It returns 0 when base or maxDelay is not positive.
func Ceiling(base, maxDelay time.Duration, n int) time.Duration {
	if base <= 0 || maxDelay <= 0 {
		return 0
	}
	if n < 0 {
		n = 0
	}

	ceiling := base
	for i := 0; i < n && ceiling < maxDelay; i++ {
		if ceiling > maxDelay/2 {
			return maxDelay // doubling would pass maxDelay, or overflow
		}
		ceiling *= 2
	}
	return min(ceiling, maxDelay)
}

// FullJitter returns a delay drawn uniformly from [0, Ceiling(base, maxDelay, n)],
// both ends included. A nil r uses the process-wide generator of math/rand/v2.
func FullJitter(r Rand, base, maxDelay time.Duration, n int) time.Duration {
	ceiling := Ceiling(base, maxDelay, n)
	if ceiling <= 0 {
		return 0
	}

	if r == nil {
		return time.Duration(rand.Int64N(int64(ceiling) + 1))
	}
	return time.Duration(r.Int64N(int64(ceiling) + 1))
}
