package ggconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// insertKeys adds each key of missing, with its value, to data, the content
// of the drop-in path (name in messages), and records the changes in p.
func insertKeys(p *Plan, name, path string, data []byte, missing []string,
	values map[string]string) ([]byte, error) {
	for _, key := range missing {
		var err error
		data, err = insertKey(name, data, splitKey(key), values[key])
		if err != nil {
			return nil, &Error{File: name, Key: key, Err: fmt.Errorf(
				"cannot add the key: %w", err)}
		}
		p.Changes = append(p.Changes, Change{File: path, Key: key,
			New: values[key]})
	}

	return data, nil
}

// splitKey splits a dotted key path into keys. Below "services" the
// component name keeps its dots: it runs up to ".configuration" when that
// follows, else up to the last segment.
func splitKey(key string) []string {
	rest, ok := strings.CutPrefix(key, "services.")
	if !ok {
		return strings.Split(key, ".")
	}

	if comp, sub, ok := strings.Cut(rest, ".configuration."); ok {
		return append([]string{"services", comp, "configuration"},
			strings.Split(sub, ".")...)
	}

	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return []string{"services", rest}
	}

	return []string{"services", rest[:dot], rest[dot+1:]}
}

// insertKey adds the key path segs with value to the YAML text data, as new
// block lines at the end of the deepest map on segs that data already has.
func insertKey(name string, data []byte, segs []string, value string) ([]byte, error) {
	root, err := parse(name, data)
	if err != nil {
		return nil, err
	}

	at, indent, depth := len(data), 0, 0
	m := root
	for m != nil && depth < len(segs) {
		if m.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("line %d has a { } map: write the key by hand",
				m.Line)
		}

		_, v, _ := find(m, segs[depth:depth+1])
		if v == nil {
			at, err = subtreeEnd(data, m)
			if err != nil {
				return nil, err
			}
			indent = m.Content[0].Column - 1
			break
		}
		if !isMap(v) || v.Anchor != "" {
			return nil, fmt.Errorf("line %d sets %q to %s, not a map: "+
				"remove it or write the key by hand", v.Line, segs[depth],
				kindName(v))
		}
		m, depth = v, depth+1
	}
	if depth == len(segs) {
		return nil, errors.New("the drop-in sets the key to a map: remove it")
	}

	return insertLines(data, at, indent, segs[depth:], value), nil
}

// insertLines inserts segs and value as nested block lines at offset at,
// the first key indented by indent spaces.
func insertLines(data []byte, at, indent int, segs []string, value string) []byte {
	var b strings.Builder
	if at > 0 && data[at-1] != '\n' {
		b.WriteByte('\n')
	}

	for i, s := range segs {
		b.WriteString(strings.Repeat(" ", indent+2*i))
		b.WriteString(render(s, 0, false))
		b.WriteByte(':')
		if i == len(segs)-1 {
			b.WriteString(" " + render(value, 0, false))
		}
		b.WriteByte('\n')
	}

	out := append([]byte(nil), data[:at]...)
	out = append(out, b.String()...)

	return append(out, data[at:]...)
}

// subtreeEnd returns the offset just past the line on which the block
// mapping m ends.
func subtreeEnd(data []byte, m *yaml.Node) (int, error) {
	end, err := nodeEnd(data, m)
	if err != nil {
		return 0, err
	}

	i := bytes.IndexByte(data[end:], '\n')
	if i < 0 {
		return len(data), nil
	}

	return end + i + 1, nil
}

// nodeEnd returns the offset just past the text of node n.
func nodeEnd(data []byte, n *yaml.Node) (int, error) {
	switch {
	case n.Kind == yaml.AliasNode:
		_, end, _, err := valueSpan(data, n)
		return end, err
	case n.Kind == yaml.ScalarNode && n.Anchor == "":
		_, end, _, err := valueSpan(data, n)
		return end, err
	case n.Kind == yaml.ScalarNode:
		return 0, fmt.Errorf("line %d has an anchor: write the key by hand", n.Line)
	case n.Style&yaml.FlowStyle != 0:
		start, err := offset(data, n.Line, n.Column)
		if err != nil {
			return 0, err
		}
		return flowEnd(data, start)
	case len(n.Content) == 0:
		return 0, fmt.Errorf("line %d has an empty collection", n.Line)
	}

	return nodeEnd(data, n.Content[len(n.Content)-1])
}

// flowEnd returns the offset just past the [ ] or { } collection that
// starts at start, skipping quoted scalars and comments.
func flowEnd(data []byte, start int) (int, error) {
	depth := 0
	for i := start; i < len(data); i++ {
		switch c := data[i]; {
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case c == '"' || c == '\'':
			end, err := quotedEnd(data, i, c)
			if err != nil {
				return 0, err
			}
			i = end - 1
		case c == '#' && i > 0 && (data[i-1] == ' ' || data[i-1] == '\t'):
			for i < len(data) && data[i] != '\n' {
				i++
			}
		}
	}

	return 0, errors.New("a [ ] or { } collection has no end: " +
		strconv.Quote(string(data[start:min(len(data), start+20)])))
}
