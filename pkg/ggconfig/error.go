package ggconfig

import (
	"errors"
	"fmt"
)

// ErrMissing is wrapped by every Error about a required setting that no file
// sets, so that a caller can tell "add this" from "fix this".
var ErrMissing = errors.New("missing")

// Error is a problem with one place in the configuration: a YAML syntax error,
// a value of the wrong type or an invalid value.
type Error struct {
	// File is the file name, relative to the folder of config.yaml when the
	// file is inside it (for example "config.d/fleet.yaml").
	File string

	// Line is the 1-based line of the value, or 0 when the problem belongs to
	// the whole file (a setting that is missing everywhere).
	Line int

	// Key is the full dotted key path, or "" for a syntax error.
	Key string

	// Err says what is wrong and what to do.
	Err error
}

// Error formats e as "file:line: key: message", leaving out the line when it
// is 0 and the key when it is empty.
func (e *Error) Error() string {
	place := e.File
	if e.Line > 0 {
		place = fmt.Sprintf("%s:%d", e.File, e.Line)
	}

	if e.Key == "" {
		return fmt.Sprintf("%s: %v", place, e.Err)
	}

	return fmt.Sprintf("%s: %s: %v", place, e.Key, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Position is one place in one configuration file.
type Position struct {
	// File is the path of the file as it was read (see Config.Files).
	File string

	// Line and Column are 1-based. Column counts characters, not bytes.
	Line, Column int

	// Key is the full dotted key path defined at this place.
	Key string
}

// String formats p as "file:line:column: key".
func (p Position) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Key)
}
