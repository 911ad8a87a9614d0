package ggconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileSize bounds one configuration file. Real files are a few KiB, and
// the bound keeps a corrupt or hostile file from exhausting memory.
const maxFileSize = 1 << 20

// maxNodes bounds the nodes visited while merging one file, so that aliases
// nested to expand exponentially, or an alias cycle, end in an error.
const maxNodes = 100000

// maxDepth bounds how deep maps nest. Real files nest fewer than ten
// levels, but an alias cycle nests forever.
const maxDepth = 64

// source is one configuration file as read.
type source struct {
	path string     // as read, for Position and for writing
	name string     // for messages: relative to the config folder when inside
	data []byte     // bytes as read
	root *yaml.Node // top-level mapping, nil for an empty file
}

// entry is one merged key: the value that won, with the file that set it.
// Maps that merge keep their keys in children, in first-definition order.
type entry struct {
	src      *source
	key      *yaml.Node // nil for the root
	value    *yaml.Node // alias resolved, nil for the root
	keys     []string
	children map[string]*entry
}

// syntaxLine matches the line number in a yaml.v3 error message.
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse decodes data as one YAML document whose top level is a map. An empty
// document, or one of only comments, gives a nil root and no error.
func parse(name string, data []byte) (root *yaml.Node, err error) {
	if len(data) > maxFileSize {
		return nil, &Error{File: name, Err: fmt.Errorf(
			"file is %d bytes, more than the limit of %d", len(data), maxFileSize)}
	}

	// yaml.v3 has panicked on malformed input in past releases. A panic
	// here would stop the daemon at boot, so it becomes a syntax error.
	defer func() {
		if p := recover(); p != nil {
			root, err = nil, &Error{File: name, Err: fmt.Errorf(
				"YAML parser failed: %v: check the file's syntax", p)}
		}
	}()

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err = dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, syntaxError(name, data, err)
	}

	var extra yaml.Node
	err = dec.Decode(&extra)
	if err == nil {
		return nil, &Error{File: name, Line: extra.Line, Err: errors.New(
			"a second YAML document starts here: move its keys into the first")}
	}
	if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}

	return topMap(name, &doc)
}

// topMap returns the mapping at the top of doc, or nil for an empty document.
func topMap(name string, doc *yaml.Node) (*yaml.Node, error) {
	if len(doc.Content) == 0 {
		return nil, nil
	}

	top := resolve(doc.Content[0])
	if isNull(top) {
		return nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: top.Line, Err: fmt.Errorf(
			"must be a map of settings, found %s", kindName(top))}
	}

	return top, nil
}

// syntaxError turns a yaml.v3 decode error into an *Error with a line.
// yaml.v3 often gives the line where the enclosing block starts, or none,
// so the line is the end of the shortest prefix of the file that fails
// with the same message, else yaml.v3's own line.
func syntaxError(name string, data []byte, err error) error {
	msg, line := problem(err.Error())
	if l := failingLine(data, msg); l > 0 {
		line = l
	}

	return &Error{File: name, Line: line, Err: fmt.Errorf("invalid YAML: %s", msg)}
}

// problem splits a yaml.v3 error message into its text and line.
func problem(msg string) (text string, line int) {
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		return m[2], line
	}

	return strings.TrimPrefix(msg, "yaml: "), 0
}

// failingLine returns the first line L such that lines 1..L alone fail to
// decode with the message text msg, or 0 when there is none or the file is
// too long for this quadratic search.
func failingLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 1000 {
		return 0
	}

	end := 0
	for i, l := range lines {
		end += len(l)
		if text, _ := problem(decodeError(data[:end])); text == msg {
			return i + 1
		}
	}

	return 0
}

// decodeError returns the message of the first error decoding all documents
// of data, or "".
func decodeError(data []byte) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = ""
		}
	}()

	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return err.Error()
		}
	}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}

	return n
}

// isNull reports whether n is an empty value ("key:", "~" or "null").
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// isMap reports whether n is a mapping.
func isMap(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode
}

// kindName names the kind of n for messages, with its article.
func kindName(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "an empty value"
	case n.Kind == yaml.MappingNode:
		return "a map"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

// merger merges the top-level maps of several files into one tree.
type merger struct {
	root  *entry
	defs  map[string][]Position
	nodes int
}

// newMerger returns a merger with an empty tree.
func newMerger() *merger {
	return &merger{
		root: &entry{children: map[string]*entry{}},
		defs: map[string][]Position{},
	}
}

// add merges the file src over what was merged before.
func (m *merger) add(src *source) error {
	m.nodes = 0
	if src.root == nil {
		return nil
	}

	return m.mergeMap(m.root, src, src.root, nil)
}

// mergeMap merges the mapping node n of src into dst. A map merges with a
// map key by key, and an empty value leaves a map in place. Anything else
// replaces the earlier value whole.
func (m *merger) mergeMap(dst *entry, src *source, n *yaml.Node, path []string) error {
	if len(path) > maxDepth {
		return &Error{File: src.name, Line: n.Line, Err: fmt.Errorf(
			"maps nest more than %d levels deep, through an alias cycle or "+
				"aliases nested too deep", maxDepth)}
	}

	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])

		m.nodes++
		if m.nodes > maxNodes {
			return &Error{File: src.name, Line: k.Line, Err: fmt.Errorf(
				"more than %d values, aliases nested too deep or in a cycle",
				maxNodes)}
		}

		err := checkKey(src, k, path, first)
		if err != nil {
			return err
		}

		err = m.mergeKey(dst, src, k, v, append(path[:len(path):len(path)], k.Value))
		if err != nil {
			return err
		}
	}

	return nil
}

// checkKey rejects a key that is not a single value, and one that appears
// twice in the same map (ggconfigd would keep only one of them).
func checkKey(src *source, k *yaml.Node, path []string, first map[string]int) error {
	if k.Kind != yaml.ScalarNode || isNull(k) {
		return &Error{File: src.name, Line: k.Line, Key: dotted(path), Err: fmt.Errorf(
			"has a key that is %s, want a name", kindName(k))}
	}

	if line, ok := first[k.Value]; ok {
		return &Error{File: src.name, Line: k.Line, Key: dotted(append(path, k.Value)),
			Err: fmt.Errorf("is set twice in this file, first on line %d: keep one",
				line)}
	}
	first[k.Value] = k.Line

	return nil
}

// mergeKey merges one key k with value v of src into dst.
func (m *merger) mergeKey(dst *entry, src *source, k, v *yaml.Node, path []string) error {
	full := dotted(path)
	m.defs[full] = append(m.defs[full], Position{
		File: src.path, Line: k.Line, Column: k.Column, Key: full})

	old := dst.children[k.Value]
	if old == nil {
		dst.keys = append(dst.keys, k.Value)
	}

	if old != nil && isMap(old.value) && (isMap(v) || isNull(v)) {
		old.src, old.key = src, k
		if isNull(v) {
			return nil
		}

		return m.mergeMap(old, src, v, path)
	}

	e := &entry{src: src, key: k, value: v}
	dst.children[k.Value] = e
	if !isMap(v) {
		return nil
	}

	e.children = map[string]*entry{}

	return m.mergeMap(e, src, v, path)
}

// dotted joins a key path with dots, the form used in messages and in
// Definitions.
func dotted(path []string) string {
	return strings.Join(path, ".")
}
