// Package logger builds the daemon's zap logger. Under systemd, when stderr
// is the journal stream, entries go to journald in its native protocol with
// every zap field as a journal field (DEVICE_ID, THING_NAME, ...). Otherwise
// they go to stderr as one human-readable line each.
package logger

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// options are the process inputs New reads, replaceable in tests.
type options struct {
	level         zapcore.Level
	stderr        *os.File
	journalStream string // value of JOURNAL_STREAM
	journalSocket string
}

// New returns a logger that writes entries at level and above. It logs to the
// journal when JOURNAL_STREAM matches stderr's device and inode, and to
// stderr otherwise. A journal entry that cannot be sent is written to stderr
// instead. New returns an error only for a level outside debug..fatal.
func New(level zapcore.Level) (*zap.Logger, error) {
	return build(options{
		level:         level,
		stderr:        os.Stderr,
		journalStream: os.Getenv("JOURNAL_STREAM"),
		journalSocket: defaultJournalSocket,
	})
}

func build(o options) (*zap.Logger, error) {
	if o.level < zapcore.DebugLevel || o.level > zapcore.FatalLevel {
		return nil, fmt.Errorf("invalid log level %q: want debug to fatal", o.level)
	}

	out := zapcore.Lock(o.stderr)
	console := newConsoleCore(o.level, out)
	core, problem := chooseCore(o, console)
	log := zap.New(core, zap.AddCaller(), zap.ErrorOutput(out))

	if problem != nil {
		log.Warn("failed to set up journal logging, logging to stderr",
			zap.Error(problem))
	}
	return log, nil
}

// chooseCore returns the journal core when stderr is the journal stream, and
// console otherwise. The error explains why the journal was not used although
// JOURNAL_STREAM was set, and is nil when the choice is normal.
func chooseCore(o options, console zapcore.Core) (zapcore.Core, error) {
	match, err := isJournalStream(o.journalStream, o.stderr)
	if err != nil || !match {
		return console, err
	}

	sender, err := newJournalSender(o.journalSocket)
	if err != nil {
		return console, err
	}
	return newJournalCore(o.level, sender, console), nil
}
