package backoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// fixedRand returns n-1 or 0 for every draw, the two ends of the range.
type fixedRand struct{ top bool }

func (f fixedRand) Int64N(n int64) int64 {
	if f.top {
		return n - 1
	}
	return 0
}

func TestCeiling(t *testing.T) {
	tests := []struct {
		name           string
		base, maxDelay time.Duration
		n              int
		want           time.Duration
	}{
		{"first", time.Second, time.Minute, 0, time.Second},
		{"doubles", time.Second, time.Minute, 3, 8 * time.Second},
		{"capped", time.Second, time.Minute, 6, time.Minute},
		{"huge-n-no-overflow", time.Second, time.Hour, 10000, time.Hour},
		{"negative-n", time.Second, time.Minute, -4, time.Second},
		{"base-above-maxDelay", time.Hour, time.Minute, 0, time.Minute},
		{"zero-base", 0, time.Minute, 2, 0},
		{"zero-maxDelay", time.Second, 0, 2, 0},
		{"maxDelay-duration", time.Second, math.MaxInt64, 200, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Ceiling(tt.base, tt.maxDelay, tt.n)
			if got != tt.want {
				t.Errorf("Ceiling(%v, %v, %d) = %v; want %v",
					tt.base, tt.maxDelay, tt.n, got, tt.want)
			}
		})
	}
}

func TestFullJitterEnds(t *testing.T) {
	base, maxDelay := time.Second, 5*time.Minute
	for n := 0; n < 20; n++ {
		top := FullJitter(fixedRand{top: true}, base, maxDelay, n)
		if want := Ceiling(base, maxDelay, n); top != want {
			t.Errorf("FullJitter(top, n=%d) = %v; want %v", n, top, want)
		}
		bottom := FullJitter(fixedRand{}, base, maxDelay, n)
		if bottom != 0 {
			t.Errorf("FullJitter(bottom, n=%d) = %v; want 0", n, bottom)
		}
	}
}

func TestFullJitterSpread(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base, maxDelay := time.Second, time.Minute
	const n = 10 // ceiling is the cap, one minute
	var low, high bool
	for i := 0; i < 2000; i++ {
		d := FullJitter(r, base, maxDelay, n)
		if d < 0 || d > maxDelay {
			t.Fatalf("FullJitter(n=%d) = %v; want within [0, %v]", n, d, maxDelay)
		}
		low = low || d < maxDelay/10
		high = high || d > maxDelay-maxDelay/10
	}
	if !low {
		t.Errorf("FullJitter never drew below %v; want draws over the whole range", maxDelay/10)
	}
	if !high {
		t.Errorf("FullJitter never drew above %v; want draws over the whole range", maxDelay-maxDelay/10)
	}
}

func TestFullJitterNilRand(t *testing.T) {
	for i := 0; i < 100; i++ {
		d := FullJitter(nil, time.Millisecond, time.Second, 3)
		if d < 0 || d > 8*time.Millisecond {
			t.Fatalf("FullJitter(nil) = %v; want within [0, 8ms]", d)
		}
	}
}

func TestFullJitterZeroCeiling(t *testing.T) {
	if d := FullJitter(fixedRand{top: true}, 0, time.Minute, 3); d != 0 {
		t.Errorf("FullJitter(base 0) = %v; want 0", d)
	}
}
