package logger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap/zapcore"
)

// defaultJournalSocket is the path where systemd-journald receives entries in
// its native protocol.
const defaultJournalSocket = "/run/systemd/journal/socket"

// identifier is the SYSLOG_IDENTIFIER of every journal entry.
const identifier = "ggl-fleetd"

// maxFieldName is the longest field name journald accepts.
const maxFieldName = 64

// reserved are the fields the journal core sets itself. A zap field that
// maps to one of them gets the prefix "FIELD_" so it cannot replace them.
var reserved = map[string]bool{
	"MESSAGE": true, "PRIORITY": true, "SYSLOG_IDENTIFIER": true,
	"CODE_FILE": true, "CODE_LINE": true, "CODE_FUNC": true,
	"LOGGER": true, "STACKTRACE": true,
}

// journalCore sends each entry to journald as one datagram in the native
// protocol, so every zap field becomes a journal field that journalctl can
// filter on (journalctl DEVICE_ID=...). When a send fails, the entry goes to
// the fallback core.
type journalCore struct {
	zapcore.LevelEnabler
	sender   *journalSender
	fields   []pair
	ns       []string
	fallback zapcore.Core
}

func newJournalCore(level zapcore.LevelEnabler, s *journalSender,
	fallback zapcore.Core) *journalCore {
	return &journalCore{LevelEnabler: level, sender: s, fallback: fallback}
}

func (c *journalCore) With(fields []zapcore.Field) zapcore.Core {
	pairs, ns := flatten(c.ns, fields)
	clone := *c
	clone.fields = append(c.fields[:len(c.fields):len(c.fields)], pairs...)
	clone.ns = ns
	clone.fallback = c.fallback.With(fields)
	return &clone
}

func (c *journalCore) Check(ent zapcore.Entry,
	ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *journalCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	pairs, _ := flatten(c.ns, fields)
	data := c.encode(ent, pairs)

	if err := c.sender.send(data); err != nil {
		return c.fallback.Write(ent, fields)
	}
	return nil
}

// Sync does nothing for the journal because every entry is sent at once; it
// syncs the fallback core.
func (c *journalCore) Sync() error {
	return c.fallback.Sync()
}

func (c *journalCore) encode(ent zapcore.Entry, pairs []pair) []byte {
	var b bytes.Buffer
	appendField(&b, "PRIORITY", strconv.Itoa(int(priority(ent.Level))))
	appendField(&b, "MESSAGE", ent.Message)
	appendField(&b, "SYSLOG_IDENTIFIER", identifier)

	if ent.Caller.Defined {
		appendField(&b, "CODE_FILE", ent.Caller.File)
		appendField(&b, "CODE_LINE", strconv.Itoa(ent.Caller.Line))
		appendField(&b, "CODE_FUNC", ent.Caller.Function)
	}
	if ent.LoggerName != "" {
		appendField(&b, "LOGGER", ent.LoggerName)
	}
	if ent.Stack != "" {
		appendField(&b, "STACKTRACE", ent.Stack)
	}

	for _, p := range c.fields {
		appendPair(&b, p)
	}
	for _, p := range pairs {
		appendPair(&b, p)
	}
	return b.Bytes()
}

func appendPair(b *bytes.Buffer, p pair) {
	name := fieldName(strings.Join(p.path, "_"))
	if name == "" {
		return
	}
	if reserved[name] {
		name = "FIELD_" + name
	}
	appendField(b, name, p.value)
}

// appendField writes one field in the journal native protocol: NAME=value
// and a newline, or, for a value that contains a newline, NAME, a newline,
// the value length as a little-endian uint64, the value and a newline.
func appendField(b *bytes.Buffer, name, value string) {
	if !strings.Contains(value, "\n") {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(value)
		b.WriteByte('\n')
		return
	}

	b.WriteString(name)
	b.WriteByte('\n')
	_ = binary.Write(b, binary.LittleEndian, uint64(len(value)))
	b.WriteString(value)
	b.WriteByte('\n')
}

// fieldName maps a zap key to a journal field name, so "device-id" becomes
// DEVICE_ID. Letters are upper-cased, '-' and '.' become '_', and other
// characters outside [A-Z0-9_] are removed. Leading underscores and digits
// are dropped because journald rejects them, and a leading underscore marks
// a trusted field. The result is "" when nothing is left.
func fieldName(key string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(key) {
		switch {
		case r == '-' || r == '.' || r == '_':
			b.WriteByte('_')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}

	name := strings.TrimLeft(b.String(), "_0123456789")
	if len(name) > maxFieldName {
		name = name[:maxFieldName]
	}
	return name
}

// priority maps a zap level to a syslog priority.
func priority(l zapcore.Level) journal.Priority {
	switch {
	case l <= zapcore.DebugLevel:
		return journal.PriDebug
	case l == zapcore.InfoLevel:
		return journal.PriInfo
	case l == zapcore.WarnLevel:
		return journal.PriWarning
	case l == zapcore.ErrorLevel:
		return journal.PriErr
	default:
		return journal.PriCrit
	}
}

// journalSender sends datagrams to journald from one unbound unixgram socket.
//
// go-systemd's journal.Send speaks the same protocol, but its socket path
// can only be changed at link time, so tests could not point it at a socket
// of their own. It also sends fields in random map order.
type journalSender struct {
	conn *net.UnixConn
	addr *net.UnixAddr
}

func newJournalSender(path string) (*journalSender, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("failed to create socket for journal %q: %w",
			path, err)
	}

	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	return &journalSender{conn: conn, addr: addr}, nil
}

// send sends data as one datagram. A datagram larger than the socket send
// buffer fails with EMSGSIZE (ENOBUFS on some kernels), and journald then
// accepts the entry as a file descriptor of an unlinked file under
// /dev/shm, passed with SCM_RIGHTS.
func (s *journalSender) send(data []byte) error {
	_, _, err := s.conn.WriteMsgUnix(data, nil, s.addr)
	if err == nil || !isTooLarge(err) {
		return err
	}
	return s.sendFile(data)
}

func (s *journalSender) sendFile(data []byte) error {
	f, err := os.CreateTemp("/dev/shm", "ggl-fleetd-journal-")
	if err != nil {
		return err
	}
	defer f.Close()

	if err := os.Remove(f.Name()); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}

	rights := syscall.UnixRights(int(f.Fd()))
	_, _, err = s.conn.WriteMsgUnix(nil, rights, s.addr)
	return err
}

func isTooLarge(err error) bool {
	return errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.ENOBUFS)
}
