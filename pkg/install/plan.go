package install

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
)

// Options is the destination and the owner of a set of new credentials.
type Options struct {
	// KeyPath, CertPath and RootCAPath are the configured destinations,
	// absolute. RootCAPath may be empty when no root CA is installed.
	KeyPath, CertPath, RootCAPath string

	// CurrentKeyPath and CurrentCertPath are the pair Greengrass Lite uses
	// now (system.privateKeyPath and system.certificateFilePath). Empty
	// means KeyPath and CertPath, so that files found there are kept.
	CurrentKeyPath, CurrentCertPath string

	// User and Group own the installed files and the directories created
	// here. An empty User means DefaultUser for both; an empty Group with a
	// User means that user's primary group. When one does not exist, root (0) is
	// used in its place.
	User, Group string

	// LookupUser and LookupGroup resolve User and Group. Nil means
	// user.Lookup and user.LookupGroup.
	LookupUser  func(name string) (*user.User, error)
	LookupGroup func(name string) (*user.Group, error)

	// Now returns the current time for the expiry check. Nil means time.Now.
	Now func() time.Time

	// Keep lists files that are never removed as superseded, such as the
	// claim certificate and key.
	Keep []string
}

// Plan is a validated installation of one set of credentials, carried out
// step by step with WriteKey, WriteCertificate and WriteRootCA, in that
// order, so that the caller can report progress between the steps.
type Plan struct {
	keyPath, certPath, rootCAPath string
	keyPEM, certPEM, rootCAPEM    []byte

	// configuredKey and configuredCert are Options.KeyPath and
	// Options.CertPath, from which unique names are derived.
	configuredKey, configuredCert string

	uid, gid int

	// superseded lists the pair in force before this plan, certificate
	// first, when it sits at other paths than the new pair.
	superseded []string

	written int // number of steps done: 1 key, 2 certificate, 3 root CA
}

// generationLen is the number of hex digits of the certificate's SHA-256
// that make the unique names of a new pair: 48 bits, enough that two
// certificates of one device do not collide.
const generationLen = 12

// Prepare validates the new credentials and the destination directories and
// chooses the paths. It changes nothing on disk. The key and certificate must
// parse and belong together, the certificate must not have expired, and the
// root CA, when given, must be one or more PEM certificates.
func Prepare(opts Options, keyPEM, certPEM, rootCAPEM []byte) (*Plan, error) {
	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}

	cert, err := matchPEM(certPEM, keyPEM, "new certificate", "new private key")
	if err != nil {
		return nil, err
	}
	err = checkExpiry(cert, "new certificate", opts.Now())
	if err != nil {
		return nil, err
	}
	if len(rootCAPEM) > 0 && opts.RootCAPath != "" {
		_, err = parseCertificates(rootCAPEM)
		if err != nil {
			return nil, fmt.Errorf("new root CA: %w", err)
		}
	}

	uid, gid, err := owner(opts)
	if err != nil {
		return nil, err
	}

	p := &Plan{keyPEM: keyPEM, certPEM: certPEM, uid: uid, gid: gid}
	if opts.RootCAPath != "" && len(rootCAPEM) > 0 {
		p.rootCAPath, p.rootCAPEM = opts.RootCAPath, rootCAPEM
	}
	generation := Fingerprint(cert.Raw)[:generationLen]
	p.choosePaths(opts, generation)

	err = p.checkDirs()
	if err != nil {
		return nil, err
	}

	return p, nil
}

// withDefaults validates the paths of o, cleans them and fills in the
// defaults of empty fields.
func withDefaults(o Options) (Options, error) {
	o, err := cleanPaths(o)
	if err != nil {
		return o, err
	}

	if o.CurrentKeyPath == "" {
		o.CurrentKeyPath = o.KeyPath
	}
	if o.CurrentCertPath == "" {
		o.CurrentCertPath = o.CertPath
	}
	o.CurrentKeyPath = filepath.Clean(o.CurrentKeyPath)
	o.CurrentCertPath = filepath.Clean(o.CurrentCertPath)

	// A user named without a group means that user's primary group, as
	// Greengrass Lite reads a posixUser of "user" alone.
	if o.User == "" {
		o.User = DefaultUser
		if o.Group == "" {
			o.Group = DefaultUser
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}

	return o, nil
}

func cleanPaths(o Options) (Options, error) {
	for _, path := range []struct{ name, value string }{
		{"key path", o.KeyPath},
		{"certificate path", o.CertPath},
	} {
		if !filepath.IsAbs(path.value) {
			const msg = "%s %q is not an absolute path"
			return o, fmt.Errorf(msg, path.name, path.value)
		}
	}
	if o.RootCAPath != "" && !filepath.IsAbs(o.RootCAPath) {
		return o, fmt.Errorf("root CA path %q is not an absolute path", o.RootCAPath)
	}

	o.KeyPath = filepath.Clean(o.KeyPath)
	o.CertPath = filepath.Clean(o.CertPath)
	if o.RootCAPath != "" {
		o.RootCAPath = filepath.Clean(o.RootCAPath)
	}
	sameKey := o.KeyPath == o.CertPath || o.KeyPath == o.RootCAPath
	if sameKey || o.CertPath == o.RootCAPath {
		const msg = "key path %q, certificate path %q and root CA path %q must differ"
		return o, fmt.Errorf(msg, o.KeyPath, o.CertPath, o.RootCAPath)
	}

	return o, nil
}

// choosePaths puts the new pair at the configured paths unless the pair in
// force occupies one of them. In that case it uses names unique to the new
// certificate, so the pair in force stays whole until the configuration
// names the new one.
func (p *Plan) choosePaths(o Options, generation string) {
	p.keyPath, p.certPath = o.KeyPath, o.CertPath
	p.configuredKey, p.configuredCert = o.KeyPath, o.CertPath

	// A whole pair at the configured paths may still be named by the
	// configuration, or by an older stamp after a run cut short past its
	// commit point, so the new pair never overwrites it. A partial pair,
	// such as a lone key from a first run cut short, is named by nothing.
	occupied := o.CurrentKeyPath == o.KeyPath || o.CurrentCertPath == o.CertPath
	inForceNow := inForce(o.CurrentCertPath, o.CurrentKeyPath)
	if inForce(o.CertPath, o.KeyPath) || (inForceNow && occupied) {
		p.keyPath = generationName(o.KeyPath, generation)
		p.certPath = generationName(o.CertPath, generation)
	}
	if !inForceNow {
		return
	}

	// Only files in the folders that this package installs into count as
	// superseded: a configuration that names another file, such as the
	// claim key, must not have it removed.
	folders := map[string]bool{filepath.Dir(o.KeyPath): true, filepath.Dir(o.CertPath): true}
	for _, old := range []string{o.CurrentCertPath, o.CurrentKeyPath} {
		keep := old == p.keyPath || old == p.certPath || slices.Contains(o.Keep, old)
		if !keep && folders[filepath.Dir(old)] {
			p.superseded = append(p.superseded, old)
		}
	}
}

// inForce reports whether both files of a pair exist with content. Missing or
// zero-byte files, as a crash of another client can leave, are not in force
// and may be overwritten.
func inForce(paths ...string) bool {
	for _, path := range paths {
		info, err := os.Lstat(path)
		if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
			return false
		}
	}

	return true
}

// generationName inserts generation before the extension of path, or appends
// it when there is none: certificate.pem becomes certificate.<gen>.pem and
// priv_key becomes priv_key.<gen>.
func generationName(path, generation string) string {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	if ext == "" || ext == base {
		return filepath.Join(dir, base+"."+generation)
	}

	return filepath.Join(dir, strings.TrimSuffix(base, ext)+"."+generation+ext)
}

// generationPattern matches the unique names that generationName makes from
// path, whatever the generation.
func generationPattern(path string) *regexp.Regexp {
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	if ext == "" || ext == base {
		return regexp.MustCompile(`^` + regexp.QuoteMeta(base) +
			`\.[0-9a-f]{12}$`)
	}

	stem := strings.TrimSuffix(base, ext)
	return regexp.MustCompile(`^` + regexp.QuoteMeta(stem) + `\.[0-9a-f]{12}` +
		regexp.QuoteMeta(ext) + `$`)
}

func (p *Plan) checkDirs() error {
	err := checkDir(filepath.Dir(p.keyPath), keyDir, p.uid)
	if err != nil {
		return err
	}

	err = checkDir(filepath.Dir(p.certPath), publicDir, p.uid)
	if err != nil {
		return err
	}

	if p.rootCAPath == "" {
		return nil
	}

	return checkDir(filepath.Dir(p.rootCAPath), publicDir, p.uid)
}

// Paths returns where the plan puts the key, the certificate and the root CA
// ("" when none is installed). The caller writes the key and certificate
// paths to system.privateKeyPath and system.certificateFilePath.
func (p *Plan) Paths() (key, cert, rootCA string) {
	return p.keyPath, p.certPath, p.rootCAPath
}

// Owner returns the numeric user and group that own the installed files.
func (p *Plan) Owner() (uid, gid int) {
	return p.uid, p.gid
}

// Superseded returns the files of the pair in force before this plan that
// Cleanup removes, certificate first. It is empty when the new pair replaces
// the old one in place or when no pair was in force.
func (p *Plan) Superseded() []string {
	return append([]string(nil), p.superseded...)
}

// WriteKey writes the private key with mode 0600, creating its directory
// with mode 0700 when it is missing. It must be the first step.
func (p *Plan) WriteKey() error {
	if p.written != 0 {
		return errors.New("write private key: it is written only once, first")
	}

	err := ensureDir(filepath.Dir(p.keyPath), keyDir, p.uid, p.gid)
	if err != nil {
		return err
	}

	err = atomicfile.WriteFileOwned(p.keyPath, p.keyPEM, 0o600, p.uid, p.gid)
	if err != nil {
		return fmt.Errorf("install private key: %w", err)
	}

	p.written = 1
	return nil
}

// WriteCertificate writes the certificate with mode 0644 after WriteKey, and
// then checks that the files on disk belong together.
func (p *Plan) WriteCertificate() error {
	if p.written != 1 {
		return errors.New("write certificate: the private key must be written first")
	}

	err := ensureDir(filepath.Dir(p.certPath), publicDir, p.uid, p.gid)
	if err != nil {
		return err
	}

	err = atomicfile.WriteFileOwned(p.certPath, p.certPEM, 0o644, p.uid, p.gid)
	if err != nil {
		return fmt.Errorf("install certificate: %w", err)
	}

	_, err = Match(p.certPath, p.keyPath)
	if err != nil {
		return fmt.Errorf("check installed credentials: %w", err)
	}

	p.written = 2
	return nil
}

// WriteRootCA writes the root CA with mode 0644 after WriteCertificate. It
// writes nothing when the plan has no root CA.
func (p *Plan) WriteRootCA() error {
	if p.written != 2 {
		return errors.New("write root CA: the certificate must be written first")
	}

	if p.rootCAPath != "" {
		err := ensureDir(filepath.Dir(p.rootCAPath), publicDir, p.uid, p.gid)
		if err != nil {
			return err
		}

		err = atomicfile.WriteFileOwned(p.rootCAPath, p.rootCAPEM, 0o644,
			p.uid, p.gid)
		if err != nil {
			return fmt.Errorf("install root CA: %w", err)
		}
	}

	p.written = 3
	return nil
}

// Cleanup removes the superseded pair, certificate before key, and any pair
// that an interrupted earlier run left under unique names beside the new one.
// Call it only after the configuration names the new pair and the stamp is
// written, because until then the superseded pair may still be in force.
func (p *Plan) Cleanup() error {
	if p.written != 3 {
		return errors.New("clean up: the credentials are not fully installed")
	}

	stale, err := p.leftovers()
	if err != nil {
		return err
	}

	for _, name := range append(p.Superseded(), stale...) {
		err = atomicfile.Remove(name)
		if err != nil {
			return fmt.Errorf("remove superseded credentials: %w", err)
		}
	}

	return nil
}

// leftovers lists files named like a generation of the configured key or
// certificate, other than the new pair, certificates before keys.
func (p *Plan) leftovers() ([]string, error) {
	var certs, keys []string
	for _, kind := range []struct {
		configured, path string
		found            *[]string
	}{{p.configuredCert, p.certPath, &certs}, {p.configuredKey, p.keyPath, &keys}} {
		configured := kind.configured
		pattern := generationPattern(configured)
		dir := filepath.Dir(configured)

		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("list %q for leftover credentials: %w", dir, err)
		}
		for _, e := range entries {
			name := filepath.Join(dir, e.Name())
			if pattern.MatchString(e.Name()) && name != kind.path &&
				!contains(p.superseded, name) && e.Type().IsRegular() {
				*kind.found = append(*kind.found, name)
			}
		}
	}

	return append(certs, keys...), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}

	return false
}

// Fingerprint returns the SHA-256 of a certificate's DER bytes in lower-case
// hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// RemoveClaim removes the claim certificate and key, certificate first, each
// followed by an fsync of its directory. Missing files are not an error. The
// caller removes the claim only once the new certificate has connected and
// the stamp is written, because the claim is the only way to provision again.
func RemoveClaim(certPath, keyPath string) error {
	for _, name := range []string{certPath, keyPath} {
		if name == "" {
			continue
		}

		err := atomicfile.Remove(name)
		if err != nil {
			return fmt.Errorf("remove claim credentials: %w", err)
		}
	}

	return nil
}
