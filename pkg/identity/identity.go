// Package identity works out a stable, unique device ID from the hardware:
// a permanent MAC address, the CPU serial, the device-tree serial number, a
// DMI serial, a factory-written file, or a generated random value. Every
// source is read below one root directory, Prober.Root, which the
// --sysfs-root option sets. That covers the files under sys/ and proc/ and
// also the device ID file, so a root that copies only /sys and /proc must
// contain that file too, at its absolute path below the root. Tests point
// the root at a whole system tree. The state directory, where the chosen
// ID is stored, is used as given and not joined to the root.
//
// Firmware often ships placeholders ("To be filled by O.E.M.", zero serials)
// that every unit of a model shares, and some MACs change on every boot.
// Such values are treated as absent, because a shared or changing ID would
// register the wrong thing in the cloud. Once chosen, the ID is stored in the
// state directory and reused, so a changed NIC or a regenerated fallback
// never yields a second ID.
package identity

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Source is the name of a place a device ID is read from, as written in the
// deviceIdSources setting.
type Source string

// The device ID sources, in the order DefaultSources tries them where listed.
const (
	// SourceMAC is the permanent, globally administered MAC address of the
	// first physical network interface, wired before wireless.
	SourceMAC Source = "mac"
	// SourceCPUSerial is the Serial line of /proc/cpuinfo (Raspberry Pi and
	// other ARM boards).
	SourceCPUSerial Source = "cpu-serial"
	// SourceDeviceTree is the serial-number property of the device tree.
	SourceDeviceTree Source = "device-tree"
	// SourceDMI is the SMBIOS product serial, board serial or product UUID.
	SourceDMI Source = "dmi"
	// SourceFile is the first line of a factory-written file
	// (Prober.DeviceIDFile).
	SourceFile Source = "file"
	// SourceGenerated is a random 128-bit value in hex. It yields a value
	// whenever the random source works, so it belongs last. Only Resolve,
	// which stores it, makes it stable.
	SourceGenerated Source = "generated"
)

// allSources lists every known source, in the order error messages name them.
var allSources = []Source{
	SourceMAC, SourceCPUSerial, SourceDeviceTree, SourceDMI, SourceFile,
	SourceGenerated,
}

// DefaultSources returns the sources tried when none are configured: mac,
// cpu-serial, device-tree, dmi, generated.
func DefaultSources() []Source {
	return []Source{
		SourceMAC, SourceCPUSerial, SourceDeviceTree, SourceDMI,
		SourceGenerated,
	}
}

// ParseSources converts source names, as written in the configuration, to
// sources. An empty list yields DefaultSources. An unknown or repeated name
// is an error that names it and lists the valid names.
func ParseSources(names []string) ([]Source, error) {
	if len(names) == 0 {
		return DefaultSources(), nil
	}

	sources := make([]Source, 0, len(names))
	seen := make(map[Source]bool, len(names))
	for _, name := range names {
		s := Source(strings.TrimSpace(name))
		if !s.known() {
			return nil, fmt.Errorf("unknown device ID source %q: use %s",
				name, sourceList())
		}
		if seen[s] {
			return nil, fmt.Errorf("device ID source %q is listed twice", name)
		}
		seen[s] = true
		sources = append(sources, s)
	}
	return sources, nil
}

func (s Source) known() bool {
	for _, k := range allSources {
		if s == k {
			return true
		}
	}
	return false
}

func sourceList() string {
	names := make([]string, len(allSources))
	for i, s := range allSources {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Skip records a source that was tried and yielded no usable value.
type Skip struct {
	Source Source
	// Reason is why the source yielded no usable value, for example
	// `product_serial: "Default string" is a firmware placeholder`.
	Reason string
}

// Result is a device ID and where it came from.
type Result struct {
	// ID contains only [A-Za-z0-9:_-] and has 1 to 128 characters.
	ID     string
	Source Source
	// Skipped lists the sources tried before Source, in order. It is empty
	// for an ID read back from the state directory.
	Skipped []Skip
	// Stored reports that the ID was read from the state directory, not
	// probed by this call.
	Stored bool
}

// Prober reads device ID sources below a root directory. The zero value
// probes the running system with the default sources.
type Prober struct {
	// Root is the directory used as "/". The files under sys/ and proc/
	// and DeviceIDFile are read below it, and symbolic links are resolved
	// inside it, absolute ones included. Empty means "/".
	Root string
	// Sources are tried in order; the first usable value wins. Empty means
	// DefaultSources.
	Sources []Source
	// DeviceIDFile is the absolute path of a factory-written file whose
	// first line is the device ID, used by SourceFile. It is read below
	// Root like every other source: with Root "/srv/image", the path
	// "/etc/serial" reads /srv/image/etc/serial, and a link in it resolves
	// inside /srv/image. So a Root that is a copy of only /sys and /proc
	// makes this source absent unless the copy contains the file. The file
	// must be a regular file of at most 4096 bytes. A leading byte order
	// mark and white space around the line are removed.
	DeviceIDFile string
	// Rand supplies the bytes of a generated ID. Nil means crypto/rand.
	Rand io.Reader
	// Logger receives a Debug line for each source skipped as absent, a
	// Warn for a source that failed otherwise (EIO, a loop of links), and
	// a Warn when the chosen ID replaced characters of the value read.
	// Nil discards.
	Logger *zap.Logger

	// readHook, when set, is called with the resolved path (relative to
	// Root) before each file is read, and a non-nil result fails the read.
	// Only tests set it, to produce errors such as EACCES that root, which
	// runs the tests, never gets from the real file system.
	readHook func(name string) error
}

// Probe tries the configured sources in order and returns the first usable
// ID, with the reason each earlier source was skipped. It only reads; see
// Resolve for the stored ID. Errors: an invalid configuration (unknown
// source, relative DeviceIDFile), a Root that cannot be opened, a failing
// Rand, or no source with a usable value.
func (p *Prober) Probe() (Result, error) {
	sources, err := p.sources()
	if err != nil {
		return Result{}, err
	}

	t, err := openTree(p.root(), p.readHook)
	if err != nil {
		return Result{}, err
	}
	defer t.close()

	var r Result
	for _, s := range sources {
		if s == SourceGenerated {
			return p.generate(r)
		}

		c, err := p.read(t, s)
		if err == nil {
			p.warnReplaced(s, c)
			r.ID, r.Source = c.id, s
			return r, nil
		}
		p.skip(&r, s, err)
	}
	return r, fmt.Errorf("no device ID source yielded a usable value (%s): "+
		"add %q to the device ID sources or set a device ID file",
		describeSkips(r.Skipped), SourceGenerated)
}

func (p *Prober) sources() ([]Source, error) {
	sources := p.Sources
	if len(sources) == 0 {
		sources = DefaultSources()
	}

	for _, s := range sources {
		if !s.known() {
			return nil, fmt.Errorf("unknown device ID source %q: use %s",
				s, sourceList())
		}
		if s == SourceFile && !path.IsAbs(p.DeviceIDFile) {
			return nil, fmt.Errorf("device ID source %q needs an absolute "+
				"device ID file path, got %q", s, p.DeviceIDFile)
		}
	}
	return sources, nil
}

func (p *Prober) root() string {
	if p.Root == "" {
		return "/"
	}
	return p.Root
}

func (p *Prober) logger() *zap.Logger {
	if p.Logger == nil {
		return zap.NewNop()
	}
	return p.Logger
}

func (p *Prober) read(t *tree, s Source) (candidate, error) {
	switch s {
	case SourceMAC:
		return p.probeMAC(t)
	case SourceCPUSerial:
		return probeCPUSerial(t)
	case SourceDeviceTree:
		return probeDeviceTree(t)
	case SourceDMI:
		return probeDMI(t)
	case SourceFile:
		return probeFile(t, p.DeviceIDFile)
	}
	return candidate{}, fmt.Errorf("unknown device ID source %q", s)
}

// warnReplaced logs a warning when the ID replaced characters of the value
// read, because two serials that differ only there, such as "SN-12/34" and
// "SN-12 34", give the same ID and would register as one thing.
func (p *Prober) warnReplaced(s Source, c candidate) {
	if !c.replaced() {
		return
	}
	p.logger().Warn("device id characters replaced",
		zap.String("device-id-source", string(s)),
		zap.String("source-value", strconv.Quote(c.text)),
		zap.String("device-id", c.id))
}

// skip records why source s yielded nothing. A missing or unreadable file, or
// an unusable value, is logged at Debug because it is normal. Anything else
// (EIO, a loop of links) is logged at Warn because it hints at a broken
// system.
func (p *Prober) skip(r *Result, s Source, err error) {
	reason := err.Error()
	r.Skipped = append(r.Skipped, Skip{Source: s, Reason: reason})

	fields := []zap.Field{
		zap.String("device-id-source", string(s)),
		zap.String("reason", reason),
	}
	if expectedAbsence(err) {
		p.logger().Debug("device id source skipped", fields...)
		return
	}
	p.logger().Warn("device id source failed", fields...)
}

// expectedAbsence reports whether err, and each error it combines, is a
// missing or unreadable file or an unusable value.
func expectedAbsence(err error) bool {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range multi.Unwrap() {
			if !expectedAbsence(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, errAbsent)
}

func (p *Prober) generate(r Result) (Result, error) {
	random := p.Rand
	if random == nil {
		random = rand.Reader
	}

	b := make([]byte, 16)
	if _, err := io.ReadFull(random, b); err != nil {
		return Result{}, fmt.Errorf("generate device ID: read random bytes: %w",
			err)
	}

	r.ID, r.Source = hex.EncodeToString(b), SourceGenerated
	return r, nil
}

func describeSkips(skips []Skip) string {
	if len(skips) == 0 {
		return "no sources tried"
	}
	parts := make([]string, len(skips))
	for i, s := range skips {
		parts[i] = string(s.Source) + ": " + s.Reason
	}
	return strings.Join(parts, "; ")
}
