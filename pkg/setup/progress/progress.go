// Package progress prints what ggl-fleet-setup is doing, one line per step,
// so a person or a CI log can follow a run that waits on CloudFormation.
package progress

import (
	"fmt"
	"io"
	"sync"
)

// Reporter writes step lines to a writer, usually stderr. A nil *Reporter
// discards them.
type Reporter struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Reporter that writes to w.
func New(w io.Writer) *Reporter { return &Reporter{w: w} }

// Stepf writes one line made from format and args.
func (r *Reporter) Stepf(format string, args ...any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", args...)
}

// Wouldf writes one "dry run: would ..." line for a change that a dry run
// skips.
func (r *Reporter) Wouldf(format string, args ...any) {
	r.Stepf("dry run: would "+format, args...)
}
