package identity

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxLinks is the number of symbolic links one lookup may follow, the same
// as the Linux kernel's limit (MAXSYMLINKS, 40), after which it fails with
// ELOOP.
const maxLinks = 40

// tree reads files below a root directory as if that directory were "/".
// Paths are slash-separated and relative to the root ("sys/class/net").
type tree struct {
	dir  string
	root *os.Root
	hook func(name string) error
}

func openTree(dir string, hook func(string) error) (*tree, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open system root %q: %w", dir, err)
	}
	return &tree{dir: dir, root: root, hook: hook}, nil
}

func (t *tree) close() {
	t.root.Close()
}

// resolve returns the path that name refers to after following symbolic
// links, each resolved against the tree: an absolute target starts again at
// the tree's root, and ".." never climbs above it, so a link such as
// /proc/device-tree -> /sys/firmware/devicetree/base stays inside the tree.
// With followLast false a final link is returned unresolved. The result has
// no links, "." or ".." left and is "" for the root itself.
func (t *tree) resolve(name string, followLast bool) (string, error) {
	var done []string
	rest := strings.Split(name, "/")
	links := 0
	for len(rest) > 0 {
		part := rest[0]
		rest = rest[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}

		done = append(done, part)
		if len(rest) == 0 && !followLast {
			break
		}
		target, isLink, err := t.readlink(done)
		if err != nil {
			return "", pathError(name, err)
		}
		if !isLink {
			continue
		}

		links++
		if links > maxLinks {
			return "", pathError(name, syscall.ELOOP)
		}
		done = done[:len(done)-1]
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return strings.Join(done, "/"), nil
}

// readlink returns the target of the link at parts, or isLink false for any
// other kind of file. Every earlier part is a resolved directory, so the
// host's lstat never follows a link out of the tree.
func (t *tree) readlink(parts []string) (string, bool, error) {
	host := filepath.Join(t.dir, filepath.Join(parts...))
	info, err := os.Lstat(host)
	if err != nil {
		return "", false, err
	}
	if info.Mode()&fs.ModeSymlink == 0 {
		return "", false, nil
	}

	target, err := os.Readlink(host)
	if err != nil {
		return "", false, err
	}
	return target, true, nil
}

// exists reports whether name exists; with follow false a dangling link
// counts as existing.
func (t *tree) exists(name string, follow bool) bool {
	resolved, err := t.resolve(name, follow)
	if err != nil {
		return false
	}
	_, err = t.root.Lstat(rootName(resolved))
	return err == nil
}

// readFile returns the content of the regular file name, at most max bytes.
func (t *tree) readFile(name string, max int64) ([]byte, error) {
	resolved, err := t.resolve(name, true)
	if err != nil {
		return nil, err
	}
	if t.hook != nil {
		if err := t.hook(resolved); err != nil {
			return nil, pathError(name, err)
		}
	}

	// O_NONBLOCK keeps a FIFO planted in the tree from blocking the open;
	// the mode check below then rejects it.
	f, err := t.root.OpenFile(rootName(resolved),
		os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, pathError(name, err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, pathError(name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, pathError(name, errors.New("not a regular file"))
	}
	return readLimited(f, name, max)
}

func readLimited(r io.Reader, name string, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, pathError(name, err)
	}
	if int64(len(data)) > max {
		return nil, pathError(name,
			fmt.Errorf("larger than %d bytes", max))
	}
	return data, nil
}

// readDirNames returns the sorted names in directory name.
func (t *tree) readDirNames(name string) ([]string, error) {
	resolved, err := t.resolve(name, true)
	if err != nil {
		return nil, err
	}

	f, err := t.root.Open(rootName(resolved))
	if err != nil {
		return nil, pathError(name, err)
	}
	defer f.Close()

	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, pathError(name, err)
	}
	sort.Strings(names)
	return names, nil
}

func rootName(resolved string) string {
	if resolved == "" {
		return "."
	}
	return resolved
}

// pathError reports err on name, shown as the absolute path it has on the
// device, without the host path of the tree or the syscall name.
func pathError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: "read", Path: "/" + name, Err: err}
}
