package command

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runMain runs the command line in process and returns its exit code and
// output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestIdentityJSONPerBoard(t *testing.T) {
	tests := []struct {
		board, id, source string
	}{
		{"raspberry-pi-4", "dca6324b7e10", "mac"},
		{"rockchip", "c3d9b8674f4b94f6", "device-tree"},
		{"imx8", "00049f07a13c", "mac"},
		{"x86-pc", "1c697a0abcde", "mac"},
		{"vm-virtio", "6f1e3c52-8a4b-4f2e-9b1d-2c5e7a9f0b13", "dmi"},
		{"server-bond", "1418775a0bc1", "mac"},
		{"random-mac-board", "", "generated"},
		{"no-ethernet", "GW2402A0193", "dmi"},
		{"wlan-only", "b827eb5c117a", "mac"},
		{"rk3568-dual-gmac", "c0742bfe0100", "mac"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.board] = true
		t.Run(tt.board, func(t *testing.T) {
			stateDir := t.TempDir()
			code, stdout, stderr := runMain(t, "identity", "--json",
				"--sysfs-root", filepath.Join("../../testdata/sysfs", tt.board),
				"--state-dir", stateDir, "--config", filepath.Join(stateDir, "none.yaml"))
			if code != 0 {
				t.Fatalf("identity exited %d: %s", code, stderr)
			}

			var got identityReport
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("identity --json output is not JSON: %v\n%s", err, stdout)
			}
			if string(got.Source) != tt.source {
				t.Errorf("source = %q; want %q", got.Source, tt.source)
			}
			if tt.id != "" && got.ID != tt.id {
				t.Errorf("id = %q; want %q", got.ID, tt.id)
			}
			if tt.source == "generated" && !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got.ID) {
				t.Errorf("generated id = %q; want 32 hex digits", got.ID)
			}
			if tt.source != "mac" && len(got.Skipped) == 0 {
				t.Error("no skipped sources reported before a later source won")
			}
			if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
				t.Errorf("identity wrote %d files to the state directory; want none", len(entries))
			}
		})
	}

	boards, _ := os.ReadDir("../../testdata/sysfs")
	for _, b := range boards {
		if b.IsDir() && !covered[b.Name()] {
			t.Errorf("board %q has no row in this table", b.Name())
		}
	}
}

func TestIdentityReportsStored(t *testing.T) {
	stateDir := t.TempDir()
	stored := `{"id":"factory-0042","source":"file"}`
	if err := os.WriteFile(filepath.Join(stateDir, "device-id"), []byte(stored), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runMain(t, "identity", "--json", "--sysfs-root", "../../testdata/sysfs/imx8",
		"--state-dir", stateDir, "--config", filepath.Join(stateDir, "none.yaml"))
	if code != 0 {
		t.Fatalf("identity exited %d: %s", code, stderr)
	}
	var got identityReport
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Stored == nil || got.Stored.ID != "factory-0042" {
		t.Errorf("stored = %+v; want id factory-0042", got.Stored)
	}
}

func TestIdentityThisMachine(t *testing.T) {
	code, stdout, stderr := runMain(t, "identity", "--json", "--state-dir", t.TempDir(),
		"--config", filepath.Join(t.TempDir(), "none.yaml"))
	if code != 0 {
		t.Fatalf("identity exited %d: %s", code, stderr)
	}
	var got identityReport
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9:_-]{1,128}$`).MatchString(got.ID) {
		t.Errorf("id of this machine = %q; want 1 to 128 of [A-Za-z0-9:_-]", got.ID)
	}
	t.Logf("this machine: %s from %s", got.ID, got.Source)
}

func TestCheckBrokenConfigs(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/config/broken/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no broken configurations found: %v", err)
	}
	// file:line: then the dotted key of the setting, or "invalid YAML" for a
	// file that does not parse.
	place := regexp.MustCompile(`ggl-fleetd: config\.d/\S+\.yaml:\d+: ((services|system)\.[A-Za-z0-9_.]+: |invalid YAML)`)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			code, _, stderr := runMain(t, "check", "--config", filepath.Join(dir, "config.yaml"))
			if code != exitConfig {
				t.Errorf("check exited %d; want %d", code, exitConfig)
			}
			if !place.MatchString(stderr) {
				t.Errorf("error lacks file:line: key:\n%s", stderr)
			}
		})
	}
}

// TestCheckMetaAWS loads the meta-aws drop-in unchanged. Its claim files
// live under /etc/greengrass/certs, which the test does not create, so the
// check passes the configuration and then reports the missing claim file.
func TestCheckMetaAWS(t *testing.T) {
	code, stdout, stderr := runMain(t, "check", "--config", "../../testdata/config/meta-aws/config.yaml")
	if strings.Contains(stderr, "is invalid") || strings.Contains(stderr, "invalid YAML") {
		t.Fatalf("meta-aws configuration rejected:\n%s", stderr)
	}
	if _, err := os.Stat("/etc/greengrass/certs/claim.cert.pem"); err == nil {
		if code != 0 {
			t.Errorf("check exited %d with the claim files present:\n%s%s", code, stdout, stderr)
		}
		return
	}
	wantPlace := "config.d/fleetprovisioning.yaml:20: services.aws.greengrass.fleet_provisioning.configuration.claimCertPath"
	if !strings.Contains(stderr, wantPlace) {
		t.Errorf("error does not point at the setting %q:\n%s", wantPlace, stderr)
	}
	if code != exitConfig || !strings.Contains(stderr, "/etc/greengrass/certs/claim.cert.pem") {
		t.Errorf("check exited %d; want %d naming the missing claim certificate:\n%s", code, exitConfig, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"unknown-command", []string{"frobnicate"}, exitUsage},
		{"unknown-flag", []string{"run", "--no-such-flag"}, exitUsage},
		{"extra-argument", []string{"check", "extra"}, exitUsage},
		{"help", []string{"check", "--help"}, exitOK},
		{"bad-log-level", []string{"run", "--log-level", "loud"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runMain(t, tt.args...)
			if code != tt.code {
				t.Errorf("Main(%q) = %d; want %d\n%s", tt.args, code, tt.code, stderr)
			}
		})
	}
}

func TestHelpListsDefaults(t *testing.T) {
	for _, sc := range subcommands() {
		t.Run(sc.name, func(t *testing.T) {
			_, _, stderr := runMain(t, sc.name, "--help")
			if !strings.Contains(stderr, "usage: ggl-fleetd "+sc.name) {
				t.Errorf("%s --help lacks a usage line:\n%s", sc.name, stderr)
			}
			for _, flagName := range []string{"config", "state-dir", "sysfs-root"} {
				if strings.Contains(stderr, "-"+flagName+" ") && !strings.Contains(stderr, "(default ") {
					t.Errorf("%s --help shows no default for -%s:\n%s", sc.name, flagName, stderr)
				}
			}
		})
	}
}

func TestBareHelpListsCommands(t *testing.T) {
	code, stdout, _ := runMain(t, "--help")
	if code != exitOK {
		t.Fatalf("--help exited %d; want 0", code)
	}
	for _, sc := range subcommands() {
		if !strings.Contains(stdout, "  "+sc.name+" ") {
			t.Errorf("--help does not list command %q:\n%s", sc.name, stdout)
		}
	}
}

func TestUnexpectedArgumentNamed(t *testing.T) {
	_, _, stderr := runMain(t, "run", "extra-arg")
	if !strings.Contains(stderr, `unexpected argument "extra-arg"`) {
		t.Errorf("stderr does not name the unexpected argument:\n%s", stderr)
	}
}

// TestCheckMetaAWSAccepted runs check on the meta-aws configuration with
// its claim files in place, as on a device: in a private mount namespace,
// a temporary /etc holds them under /etc/greengrass/certs, and the host's
// /etc is untouched. It needs root and unshare.
func TestCheckMetaAWSAccepted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a private /etc needs root; run the tests as root to cover it")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare not found: %v", err)
	}
	etc := t.TempDir()
	writeClaimFiles(t, filepath.Join(etc, "greengrass", "certs"))
	for _, name := range []string{"passwd", "group"} {
		data, err := os.ReadFile(filepath.Join("/etc", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	binary := filepath.Join(t.TempDir(), "ggl-fleetd")
	if out, err := exec.Command("go", "build", "-o", binary, "github.com/ggl-fleetd/ggl-fleetd/cmd/ggl-fleetd").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	config, err := filepath.Abs("../../testdata/config/meta-aws/config.yaml")
	if err != nil {
		t.Fatal(err)
	}

	script := `mount --bind "$1" /etc && exec "$2" check --config "$3"`
	cmd := exec.Command(unshare, "--mount", "--propagation", "private",
		"sh", "-c", script, "sh", etc, binary, config)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check on the meta-aws configuration: %v\n%s", err, out)
	}
	for _, want := range []string{"configuration: valid", "claim certificate: valid", "root CA: valid"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// writeClaimFiles writes a self-signed claim certificate, its key and a
// root CA into dir under the names the meta-aws configuration uses.
func writeClaimFiles(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "claim"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	files := map[string][]byte{
		"claim.cert.pem":    certPEM,
		"claim.key.pem":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"AmazonRootCA1.pem": certPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
