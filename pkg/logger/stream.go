package logger

import (
	"fmt"
	"os"
	"syscall"
)

// isJournalStream reports whether f is the stream that systemd connected to
// journald, as described by JOURNAL_STREAM ("DEVICE:INODE", both decimal).
// systemd sets JOURNAL_STREAM for a service whose stdout or stderr goes to
// the journal. A child whose stderr was redirected inherits the variable, so
// only a matching device and inode count. An empty stream returns false.
func isJournalStream(stream string, f *os.File) (bool, error) {
	if stream == "" {
		return false, nil
	}

	var dev, ino uint64
	_, err := fmt.Sscanf(stream, "%d:%d", &dev, &ino)
	if err != nil {
		return false, fmt.Errorf("invalid JOURNAL_STREAM %q: want DEVICE:INODE: %w",
			stream, err)
	}

	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("failed to stat %q: %w", f.Name(), err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("failed to stat %q: no device and inode", f.Name())
	}

	return uint64(st.Dev) == dev && uint64(st.Ino) == ino, nil
}
