package logger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// journalField is one field parsed from a native protocol datagram.
type journalField struct {
	Name   string
	Value  string
	Binary bool // sent in the length-prefixed form
}

// parseNative parses a journal native protocol datagram the way journald
// does, failing the test on malformed input.
func parseNative(t *testing.T, data []byte) []journalField {
	t.Helper()
	var out []journalField
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			t.Fatalf("field without trailing newline: %q", data)
		}
		line := data[:nl]
		if name, value, ok := bytes.Cut(line, []byte("=")); ok {
			out = append(out, journalField{Name: string(name), Value: string(value)})
			data = data[nl+1:]
			continue
		}

		rest := data[nl+1:]
		if len(rest) < 8 {
			t.Fatalf("field %q: short length prefix", line)
		}
		n := binary.LittleEndian.Uint64(rest[:8])
		rest = rest[8:]
		if uint64(len(rest)) < n+1 || rest[n] != '\n' {
			t.Fatalf("field %q: value of length %d not followed by a newline", line, n)
		}
		out = append(out, journalField{Name: string(line), Value: string(rest[:n]), Binary: true})
		data = rest[n+1:]
	}
	return out
}

// fieldMap returns the fields by name and fails on a duplicate name.
func fieldMap(t *testing.T, fields []journalField) map[string]string {
	t.Helper()
	m := make(map[string]string)
	for _, f := range fields {
		if _, dup := m[f.Name]; dup {
			t.Errorf("field %s sent twice", f.Name)
		}
		m[f.Name] = f.Value
	}
	return m
}

// fakeJournal is a unixgram socket standing in for
// /run/systemd/journal/socket.
type fakeJournal struct {
	path string
	conn *net.UnixConn
}

func newFakeJournal(t *testing.T) *fakeJournal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("ListenUnixgram(%q): %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeJournal{path: path, conn: conn}
}

// receive returns the next entry's payload and whether it came as a file
// descriptor. The deadline only catches a hang.
func (j *fakeJournal) receive(t *testing.T) ([]byte, bool) {
	t.Helper()
	if err := j.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := j.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("no datagram on the journal socket: %v", err)
	}
	if oobn == 0 {
		return buf[:n], false
	}
	return readPassedFile(t, oob[:oobn]), true
}

func readPassedFile(t *testing.T, oob []byte) []byte {
	t.Helper()
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages = %d, %v; want one", len(msgs), err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("passed descriptors = %v, %v; want one", fds, err)
	}

	f := os.NewFile(uintptr(fds[0]), "passed")
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<30))
	if err != nil {
		t.Fatalf("read passed file: %v", err)
	}
	return data
}

// stderrFile creates a real file standing in for stderr and returns it with
// the JOURNAL_STREAM value that matches it.
func stderrFile(t *testing.T, name string) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })

	var st syscall.Stat_t
	if err := syscall.Stat(f.Name(), &st); err != nil {
		t.Fatal(err)
	}
	return f, fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func journalLogger(t *testing.T, j *fakeJournal) *zap.Logger {
	t.Helper()
	stderr, stream := stderrFile(t, "stderr")
	log, err := build(options{
		level: zapcore.DebugLevel, stderr: stderr,
		journalStream: stream, journalSocket: j.path,
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return log
}

func TestJournalFields(t *testing.T) {
	j := newFakeJournal(t)
	log := journalLogger(t, j).With(zap.String("device-id", "0242ac110002"))

	log.Warn("registration rejected",
		zap.String("device-id-source", "mac"),
		zap.String("thing-name", "gg-0242ac110002"),
		zap.Int("attempt", 3),
		zap.String("error-code", "InvalidCertificateOwnershipToken"),
		zap.Duration("delay", 1500*time.Millisecond),
		zap.Error(errors.New("rejected by the cloud")))

	data, _ := j.receive(t)
	got := fieldMap(t, parseNative(t, data))
	want := map[string]string{
		"PRIORITY":          "4",
		"MESSAGE":           "registration rejected",
		"SYSLOG_IDENTIFIER": "ggl-fleetd",
		"DEVICE_ID":         "0242ac110002",
		"DEVICE_ID_SOURCE":  "mac",
		"THING_NAME":        "gg-0242ac110002",
		"ATTEMPT":           "3",
		"ERROR_CODE":        "InvalidCertificateOwnershipToken",
		"DELAY":             "1.5s",
		"ERROR":             "rejected by the cloud",
	}
	for name, value := range want {
		if got[name] != value {
			t.Errorf("field %s = %q; want %q", name, got[name], value)
		}
	}
	if !strings.HasSuffix(got["CODE_FILE"], "journal_test.go") {
		t.Errorf("CODE_FILE = %q; want a path ending in journal_test.go", got["CODE_FILE"])
	}
	if got["CODE_LINE"] == "" || got["CODE_LINE"] == "0" {
		t.Errorf("CODE_LINE = %q; want the line of the log call", got["CODE_LINE"])
	}
	if !strings.HasSuffix(got["CODE_FUNC"], ".TestJournalFields") {
		t.Errorf("CODE_FUNC = %q; want the test function", got["CODE_FUNC"])
	}
}

func TestJournalPriority(t *testing.T) {
	tests := []struct {
		level zapcore.Level
		want  string
	}{
		{zapcore.DebugLevel, "7"},
		{zapcore.InfoLevel, "6"},
		{zapcore.WarnLevel, "4"},
		{zapcore.ErrorLevel, "3"},
		{zapcore.DPanicLevel, "2"},
		{zapcore.PanicLevel, "2"},
		{zapcore.FatalLevel, "2"},
	}
	j := newFakeJournal(t)
	sender, err := newJournalSender(j.path)
	if err != nil {
		t.Fatal(err)
	}
	core := newJournalCore(zapcore.DebugLevel, sender, zapcore.NewNopCore())

	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			// Write, not a logger call, because panic and fatal would end the test.
			if err := core.Write(zapcore.Entry{Level: tt.level, Message: "m"}, nil); err != nil {
				t.Fatalf("Write: %v", err)
			}

			data, _ := j.receive(t)
			got := fieldMap(t, parseNative(t, data))["PRIORITY"]
			if got != tt.want {
				t.Errorf("PRIORITY for %s = %q; want %q", tt.level, got, tt.want)
			}
		})
	}
}

func TestJournalNewlineValues(t *testing.T) {
	j := newFakeJournal(t)
	log := journalLogger(t, j)

	log.Info("two\nlines", zap.String("path", "/etc/greengrass/config.yaml"),
		zap.String("error-message", "first\nsecond\n"))

	data, _ := j.receive(t)
	var got []journalField
	for _, f := range parseNative(t, data) {
		if f.Name == "MESSAGE" || f.Name == "PATH" || f.Name == "ERROR_MESSAGE" {
			got = append(got, f)
		}
	}
	want := []journalField{
		{Name: "MESSAGE", Value: "two\nlines", Binary: true},
		{Name: "PATH", Value: "/etc/greengrass/config.yaml"},
		{Name: "ERROR_MESSAGE", Value: "first\nsecond\n", Binary: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestJournalLargeEntry(t *testing.T) {
	j := newFakeJournal(t)
	log := journalLogger(t, j)
	// Larger than the default socket send buffer (net.core.wmem_default,
	// 208 KiB on common kernels), so the datagram fails with EMSGSIZE.
	big := strings.Repeat("x", 1<<20)

	log.Info("large entry", zap.String("blob", big))

	data, passed := j.receive(t)
	if !passed {
		t.Errorf("entry of %d bytes sent as a datagram; want a passed file", len(data))
	}
	got := fieldMap(t, parseNative(t, data))
	if got["BLOB"] != big {
		t.Errorf("BLOB has %d bytes; want %d", len(got["BLOB"]), len(big))
	}
	if got["MESSAGE"] != "large entry" {
		t.Errorf("MESSAGE = %q; want %q", got["MESSAGE"], "large entry")
	}
}

func TestJournalWithKeepsFields(t *testing.T) {
	j := newFakeJournal(t)
	base := journalLogger(t, j)
	child := base.With(zap.String("unit", "greengrass-lite.target"))

	child.Info("restarting unit")
	base.Info("done")

	first, _ := j.receive(t)
	second, _ := j.receive(t)
	if got := fieldMap(t, parseNative(t, first))["UNIT"]; got != "greengrass-lite.target" {
		t.Errorf("UNIT on child entry = %q; want %q", got, "greengrass-lite.target")
	}
	if got, ok := fieldMap(t, parseNative(t, second))["UNIT"]; ok {
		t.Errorf("UNIT on parent entry = %q; want no field", got)
	}
}

func TestJournalFallbackToConsole(t *testing.T) {
	stderr, stream := stderrFile(t, "stderr")
	// No socket at this path, so every send fails.
	missing := filepath.Join(t.TempDir(), "no-journal.sock")
	log, err := build(options{
		level: zapcore.InfoLevel, stderr: stderr,
		journalStream: stream, journalSocket: missing,
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}

	log.With(zap.String("step", "install")).Error("write failed", zap.Int("attempt", 2))

	out, err := os.ReadFile(stderr.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(out), " ERROR write failed step=install attempt=2\n") {
		t.Errorf("stderr = %q; want the entry as a console line", out)
	}
	if _, ok := log.Core().(*journalCore); !ok {
		t.Errorf("core = %T; want *journalCore", log.Core())
	}
}

func TestFieldName(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"kebab", "device-id-source", "DEVICE_ID_SOURCE"},
		{"camel", "errorVerbose", "ERRORVERBOSE"},
		{"dots", "tls.version", "TLS_VERSION"},
		{"leading-underscore", "_PID", "PID"},
		{"leading-digit", "9lives", "LIVES"},
		{"space-removed", "status code", "STATUSCODE"},
		{"non-ascii-removed", "größe", "GRE"},
		{"nothing-left", "__--", ""},
		{"long", strings.Repeat("a", 70), strings.Repeat("A", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fieldName(tt.key); got != tt.want {
				t.Errorf("fieldName(%q) = %q; want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestJournalReservedField(t *testing.T) {
	j := newFakeJournal(t)
	log := journalLogger(t, j)

	log.Info("real message", zap.String("message", "from a field"),
		zap.String("_SYSTEMD_UNIT", "spoofed.service"))

	data, _ := j.receive(t)
	got := fieldMap(t, parseNative(t, data))
	if got["MESSAGE"] != "real message" {
		t.Errorf("MESSAGE = %q; want %q", got["MESSAGE"], "real message")
	}
	if got["FIELD_MESSAGE"] != "from a field" {
		t.Errorf("FIELD_MESSAGE = %q; want %q", got["FIELD_MESSAGE"], "from a field")
	}
	if _, ok := got["_SYSTEMD_UNIT"]; ok {
		t.Errorf("trusted field _SYSTEMD_UNIT sent by the client")
	}
	if got["SYSTEMD_UNIT"] != "spoofed.service" {
		t.Errorf("SYSTEMD_UNIT = %q; want %q", got["SYSTEMD_UNIT"], "spoofed.service")
	}
}
