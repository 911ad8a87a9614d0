package ggconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// reader reads typed settings from the merged tree and collects every
// problem as an *Error. Scalars are read by their text whatever their
// quoting, because the meta-aws recipes quote every value: mqttPort: "8883"
// and mqttPort: 8883 are the same setting.
type reader struct {
	cfg      *Config
	root     *entry
	errs     []error
	reported map[string]bool
}

// at returns path with key appended, in a new slice.
func at(path []string, key ...string) []string {
	return append(slices.Clone(path), key...)
}

// fail records err about the value of e at path.
func (r *reader) fail(e *entry, path []string, err error) {
	r.reported[dotted(path)] = true
	r.errs = append(r.errs, &Error{File: e.src.name, Line: e.value.Line,
		Key: dotted(path), Err: err})
}

// wrongType records, once per key, that e is not of the kind want.
func (r *reader) wrongType(e *entry, path []string, want string) {
	key := dotted(path)
	if r.reported[key] {
		return
	}
	r.reported[key] = true

	// The key's line, because a map or list value starts on the next line.
	r.errs = append(r.errs, &Error{File: e.src.name, Line: e.key.Line, Key: key,
		Err: fmt.Errorf("must be %s, found %s", want, kindName(e.value))})
}

// reportedAbove reports whether a key on path, or path itself, already has
// a type error, so that no second error about the same mistake follows.
func (r *reader) reportedAbove(path []string) bool {
	for i := 1; i <= len(path); i++ {
		if r.reported[dotted(path[:i])] {
			return true
		}
	}

	return false
}

// block returns the merged map at path, or nil when it is unset or empty.
// A value that is not a map is reported.
func (r *reader) block(path []string) *entry {
	e := r.root
	for i, k := range path {
		child := e.children[k]
		if child == nil || isNull(child.value) {
			return nil
		}
		if !isMap(child.value) {
			r.wrongType(child, path[:i+1], "a map")
			return nil
		}
		e = child
	}

	return e
}

// field returns the entry of key in block, or nil when it is unset or empty.
func (r *reader) field(block []string, key string) *entry {
	b := r.block(block)
	if b == nil {
		return nil
	}

	e := b.children[key]
	if e == nil || isNull(e.value) {
		return nil
	}

	return e
}

// scalar returns the entry and text of a single-value key. ok is false when
// the key is unset, empty or of another kind (which is reported).
func (r *reader) scalar(block []string, key string) (e *entry, v string, ok bool) {
	e = r.field(block, key)
	if e == nil {
		return nil, "", false
	}
	if e.value.Kind != yaml.ScalarNode {
		r.wrongType(e, at(block, key), "a single value")
		return nil, "", false
	}

	return e, e.value.Value, true
}

// text returns the value of key, "" when unset. A non-empty value must pass
// check, and an invalid one is reported and read as "".
func (r *reader) text(block []string, key string, check func(string) error) string {
	e, v, ok := r.scalar(block, key)
	if !ok || v == "" {
		return ""
	}

	err := check(v)
	if err != nil {
		r.fail(e, at(block, key), fmt.Errorf("%q is invalid: %w", v, err))
		return ""
	}

	return v
}

// integer returns the whole number at key in [lo, hi], or def when unset.
func (r *reader) integer(block []string, key string, def, lo, hi int) int {
	e, v, ok := r.scalar(block, key)
	if !ok {
		return def
	}

	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(e, at(block, key), fmt.Errorf(
			"%q is invalid: must be a whole number from %d to %d", v, lo, hi))
		return def
	}

	return n
}

// boolean returns the true or false at key, or def when unset.
func (r *reader) boolean(block []string, key string, def bool) (value, set bool) {
	e, v, ok := r.scalar(block, key)
	if !ok {
		return def, false
	}

	switch strings.ToLower(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	r.fail(e, at(block, key), fmt.Errorf("%q is invalid: must be true or false", v))

	return def, false
}

// duration returns the positive duration at key, written as a Go duration
// ("30s", "5m") or as whole seconds, or def when unset.
func (r *reader) duration(block []string, key string, def time.Duration) time.Duration {
	e, v, ok := r.scalar(block, key)
	if !ok {
		return def
	}

	d, err := parseDuration(v)
	if err != nil {
		r.fail(e, at(block, key), fmt.Errorf("%q is invalid: %w", v, err))
		return def
	}

	return d
}

// parseDuration parses a positive Go duration or number of seconds.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseInt(v, 10, 32); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("must be a positive duration such as \"30s\" or " +
			"\"5m\", or a whole number of seconds")
	}

	return d, nil
}

// item is one element of a list setting.
type item struct {
	value string
	node  *yaml.Node
}

// list returns the single values of the list at key. set is false when the
// key is unset or the list is malformed (which is reported).
func (r *reader) list(block []string, key string) (e *entry, items []item, set bool) {
	e = r.field(block, key)
	if e == nil {
		return nil, nil, false
	}

	path := at(block, key)
	if e.value.Kind != yaml.SequenceNode {
		r.wrongType(e, path, "a list")
		return nil, nil, false
	}

	for _, n := range e.value.Content {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode || isNull(n) {
			r.errs = append(r.errs, &Error{File: e.src.name, Line: n.Line,
				Key: dotted(path), Err: fmt.Errorf(
					"has an element that is %s, want a name", kindName(n))})
			return nil, nil, false
		}
		items = append(items, item{value: n.Value, node: n})
	}

	return e, items, true
}

// failItem records err about one element of the list at path.
func (r *reader) failItem(e *entry, path []string, it item, err error) {
	r.reported[dotted(path)] = true
	r.errs = append(r.errs, &Error{File: e.src.name, Line: it.node.Line,
		Key: dotted(path), Err: fmt.Errorf("%q is invalid: %w", it.value, err)})
}

// stringMap returns the string-to-string map at key, nil when unset.
// Values written as numbers or booleans are read as their text.
func (r *reader) stringMap(block []string, key string) map[string]string {
	e := r.field(block, key)
	if e == nil {
		return nil
	}

	path := at(block, key)
	if !isMap(e.value) {
		r.wrongType(e, path, "a map of names to strings")
		return nil
	}

	m := map[string]string{}
	for _, k := range e.keys {
		c := e.children[k]
		if k == "" || c.value.Kind != yaml.ScalarNode || isNull(c.value) {
			r.errs = append(r.errs, &Error{File: c.src.name, Line: c.key.Line,
				Key: dotted(at(path, k)), Err: fmt.Errorf(
					"must be a non-empty name with a string value, found %s "+
						"(write \"\" for an empty value)", kindName(c.value))})
			continue
		}
		m[k] = c.value.Value
	}

	return m
}

// required reports a setting that is unset or empty. The error points at
// the key when some file sets it empty, else at the nearest enclosing block
// that a file defines. hint says what to set it to.
func (r *reader) required(block []string, key, hint string) {
	path := at(block, key)
	b := r.block(block)
	if r.reportedAbove(path) {
		return
	}
	if b != nil && b.children[key] != nil {
		e := b.children[key]
		r.errs = append(r.errs, &Error{File: e.src.name, Line: e.key.Line,
			Key: dotted(path), Err: fmt.Errorf("%w: the value is empty, %s",
				ErrMissing, hint)})
		return
	}

	file, line := r.nearest(path)
	r.errs = append(r.errs, &Error{File: file, Line: line, Key: dotted(path),
		Err: fmt.Errorf("%w: %s", ErrMissing, hint)})
}

// nearest returns the file and line of the deepest key on path that a file
// defines, or the last file read and line 0 when none does.
func (r *reader) nearest(path []string) (file string, line int) {
	last := r.cfg.sources[len(r.cfg.sources)-1]
	file = last.name

	e := r.root
	for _, k := range path {
		child := e.children[k]
		if child == nil || child.key == nil {
			break
		}
		file, line = child.src.name, child.key.Line
		if !isMap(child.value) {
			break
		}
		e = child
	}

	return file, line
}
