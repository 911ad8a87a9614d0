// Package sample summarises repeated measurements of the benchmark programs
// and prints them as result lines that scripts/bench.sh gathers into one
// table.
package sample

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Durations are the times of repeated runs, in the order measured.
type Durations []time.Duration

// Percentile returns the p-th percentile (0 to 100) by the nearest-rank
// method, or 0 when d is empty.
func (d Durations) Percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	return sorted[rank(len(sorted), p)]
}

// Median returns the 50th percentile.
func (d Durations) Median() time.Duration { return d.Percentile(50) }

// Max returns the largest value, or 0 when d is empty.
func (d Durations) Max() time.Duration {
	if len(d) == 0 {
		return 0
	}
	return slices.Max(d)
}

// Ints are repeated integer measurements, such as peak RSS in KiB.
type Ints []int64

// Percentile returns the p-th percentile (0 to 100) by the nearest-rank
// method, or 0 when v is empty.
func (v Ints) Percentile(p float64) int64 {
	if len(v) == 0 {
		return 0
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	return sorted[rank(len(sorted), p)]
}

// Median returns the 50th percentile.
func (v Ints) Median() int64 { return v.Percentile(50) }

// Max returns the largest value, or 0 when v is empty.
func (v Ints) Max() int64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}

// rank returns the index of the p-th percentile in a sorted slice of n > 0
// values: the smallest index whose share of values at or below it is at
// least p percent.
func rank(n int, p float64) int {
	i := int(p/100*float64(n)+0.999999) - 1
	return min(max(i, 0), n-1)
}

// Millis formats d in milliseconds with one decimal.
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// MiB formats a size in KiB as MiB with one decimal.
func MiB(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// Result writes one result line: the tab-separated fields RESULT, name,
// measured value, target and whether the target is met ("yes", "no", or
// "-" when there is no target). scripts/bench.sh collects these lines.
func Result(w io.Writer, name, value, target string, met *bool) {
	verdict := "-"
	if met != nil {
		verdict = "no"
		if *met {
			verdict = "yes"
		}
	}
	fmt.Fprintf(w, "RESULT\t%s\t%s\t%s\t%s\n", name, value, target, verdict)
}

// Met returns a pointer to ok, for Result.
func Met(ok bool) *bool { return &ok }
