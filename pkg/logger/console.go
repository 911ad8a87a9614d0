package logger

import (
	"strconv"
	"strings"
	"unicode"

	"go.uber.org/zap/zapcore"
)

// timeLayout is RFC 3339 with milliseconds, in the local time zone.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// consoleCore writes one human-readable line per entry:
//
//	2024-05-01T12:00:00.000+02:00 INFO provisioned thing-name=dev-01 attempt=3
//
// Values with spaces, quotes, '=' or control characters, and messages with
// control characters, are quoted as Go strings, so an entry stays on one line
// unless it carries a stack trace.
type consoleCore struct {
	zapcore.LevelEnabler
	out    zapcore.WriteSyncer
	fields []pair
	ns     []string
}

func newConsoleCore(level zapcore.LevelEnabler,
	out zapcore.WriteSyncer) *consoleCore {
	return &consoleCore{LevelEnabler: level, out: out}
}

func (c *consoleCore) With(fields []zapcore.Field) zapcore.Core {
	pairs, ns := flatten(c.ns, fields)
	clone := *c
	clone.fields = append(c.fields[:len(c.fields):len(c.fields)], pairs...)
	clone.ns = ns
	return &clone
}

func (c *consoleCore) Check(ent zapcore.Entry,
	ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *consoleCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	pairs, _ := flatten(c.ns, fields)
	line := c.format(ent, pairs)

	if _, err := c.out.Write([]byte(line)); err != nil {
		return err
	}

	// Flush before a panic or exit, as zap's own cores do.
	if ent.Level > zapcore.ErrorLevel {
		return c.out.Sync()
	}
	return nil
}

func (c *consoleCore) Sync() error {
	return c.out.Sync()
}

func (c *consoleCore) format(ent zapcore.Entry, pairs []pair) string {
	var b strings.Builder
	b.WriteString(ent.Time.Format(timeLayout))
	b.WriteByte(' ')
	b.WriteString(ent.Level.CapitalString())
	b.WriteByte(' ')
	b.WriteString(quoteMessage(ent.Message))

	for _, p := range c.fields {
		writePair(&b, p)
	}
	for _, p := range pairs {
		writePair(&b, p)
	}

	if ent.Stack != "" {
		b.WriteByte('\n')
		b.WriteString(ent.Stack)
	}
	b.WriteByte('\n')
	return b.String()
}

func writePair(b *strings.Builder, p pair) {
	b.WriteByte(' ')
	b.WriteString(strings.Join(p.path, "."))
	b.WriteByte('=')
	b.WriteString(quoteValue(p.value))
}

// quoteValue quotes an empty value too, so "key=" never hides a missing value.
func quoteValue(s string) string {
	if s == "" {
		return `""`
	}
	return quoteIfNeeded(s)
}

// quoteMessage quotes a message that contains a newline or another
// character that is not printable. Spaces are left alone because messages
// are phrases.
func quoteMessage(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// quoteIfNeeded quotes s when it would make the line ambiguous or span lines.
func quoteIfNeeded(s string) string {
	for _, r := range s {
		if r == '"' || r == '=' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
