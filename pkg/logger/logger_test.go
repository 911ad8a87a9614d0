package logger

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestIsJournalStream(t *testing.T) {
	f, stream := stderrFile(t, "stderr")
	other, otherStream := stderrFile(t, "other")

	tests := []struct {
		name    string
		stream  string
		file    *os.File
		want    bool
		wantErr bool
	}{
		{"match", stream, f, true, false},
		{"other-file", otherStream, f, false, false},
		{"other-file-reverse", stream, other, false, false},
		{"unset", "", f, false, false},
		{"malformed", "journal", f, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := isJournalStream(tt.stream, tt.file)
			if (err != nil) != tt.wantErr {
				t.Fatalf("isJournalStream(%q) error = %v; want error %v", tt.stream, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("isJournalStream(%q) = %v; want %v", tt.stream, got, tt.want)
			}
		})
	}
}

func TestBuildChoosesCore(t *testing.T) {
	j := newFakeJournal(t)
	f, stream := stderrFile(t, "stderr")
	_, otherStream := stderrFile(t, "other")

	tests := []struct {
		name        string
		stream      string
		wantJournal bool
		wantWarn    bool
	}{
		{"journal-stream", stream, true, false},
		{"inherited-stream", otherStream, false, false},
		{"no-stream", "", false, false},
		{"malformed-stream", "8:x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fileSize(t, f)
			log, err := build(options{
				level: zapcore.InfoLevel, stderr: f,
				journalStream: tt.stream, journalSocket: j.path,
			})
			if err != nil {
				t.Fatalf("build: %v", err)
			}

			_, isJournal := log.Core().(*journalCore)
			if isJournal != tt.wantJournal {
				t.Errorf("core = %T; want journal core %v", log.Core(), tt.wantJournal)
			}
			warned := fileSize(t, f) > before
			if warned != tt.wantWarn {
				t.Errorf("warning on stderr = %v; want %v", warned, tt.wantWarn)
			}
		})
	}
}

func fileSize(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestBuildInvalidLevel(t *testing.T) {
	f, _ := stderrFile(t, "stderr")
	for _, level := range []zapcore.Level{zapcore.DebugLevel - 1, zapcore.FatalLevel + 1} {
		_, err := build(options{level: level, stderr: f})
		if err == nil {
			t.Errorf("build(level %d) error = nil; want an error", level)
		}
	}
}

// memSink collects console output in memory.
type memSink struct{ strings.Builder }

func (*memSink) Sync() error { return nil }

func TestConsoleFormat(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.FixedZone("", 2*3600))
	tests := []struct {
		name   string
		level  zapcore.Level
		msg    string
		with   []zap.Field
		fields []zap.Field
		want   string
	}{
		{"plain", zapcore.InfoLevel, "device provisioned", nil,
			[]zap.Field{zap.String("thing-name", "gg-01"), zap.Int("attempt", 3)},
			"2024-05-01T12:00:00.123+02:00 INFO device provisioned thing-name=gg-01 attempt=3\n"},
		{"with-first", zapcore.WarnLevel, "retrying",
			[]zap.Field{zap.String("device-id", "abc")},
			[]zap.Field{zap.Duration("delay", 90*time.Second)},
			"2024-05-01T12:00:00.123+02:00 WARN retrying device-id=abc delay=1m30s\n"},
		{"quoted-values", zapcore.ErrorLevel, "rejected", nil,
			[]zap.Field{
				zap.String("error-message", "token cannot be empty."),
				zap.String("empty", ""),
				zap.String("eq", "a=b"),
				zap.Error(errors.New("bad \"thing\"")),
			},
			`2024-05-01T12:00:00.123+02:00 ERROR rejected error-message="token cannot be empty." empty="" eq="a=b" error="bad \"thing\""` + "\n"},
		{"newline-message", zapcore.DebugLevel, "two\nlines", nil,
			[]zap.Field{zap.String("path", "/etc/x\ny")},
			`2024-05-01T12:00:00.123+02:00 DEBUG "two\nlines" path="/etc/x\ny"` + "\n"},
		{"namespace", zapcore.InfoLevel, "response", nil,
			[]zap.Field{zap.Namespace("tls"), zap.String("version", "1.3"), zap.Bool("alpn", true)},
			"2024-05-01T12:00:00.123+02:00 INFO response tls.version=1.3 tls.alpn=true\n"},
		{"array", zapcore.InfoLevel, "sources", nil,
			[]zap.Field{zap.Strings("skipped", []string{"mac", "dmi"})},
			`2024-05-01T12:00:00.123+02:00 INFO sources skipped="[mac, dmi]"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{}
			core := newConsoleCore(zapcore.DebugLevel, sink).With(tt.with)

			err := core.Write(zapcore.Entry{Level: tt.level, Time: at, Message: tt.msg}, tt.fields)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := sink.String(); got != tt.want {
				t.Errorf("console line = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestConsoleLevelFilter(t *testing.T) {
	f, _ := stderrFile(t, "stderr")
	log, err := build(options{level: zapcore.WarnLevel, stderr: f})
	if err != nil {
		t.Fatalf("build: %v", err)
	}

	log.Info("hidden")
	log.Warn("shown", zap.String("unit", "ggl.core.iotcored.service"))

	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr lines = %q; want one line", lines)
	}
	if !strings.HasSuffix(lines[0], " WARN shown unit=ggl.core.iotcored.service") {
		t.Errorf("stderr line = %q; want the WARN entry", lines[0])
	}
	if _, err := time.Parse(timeLayout, strings.Fields(lines[0])[0]); err != nil {
		t.Errorf("stderr line %q does not start with a time: %v", lines[0], err)
	}
}
