package ggconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// copyTree copies the folder src to a new temporary folder and returns the
// path of its config.yaml.
func copyTree(t *testing.T, src string) string {
	t.Helper()

	dst := t.TempDir()
	err := os.CopyFS(dst, os.DirFS(src))
	if err != nil {
		t.Fatal(err)
	}

	return filepath.Join(dst, "config.yaml")
}

// writeFile writes like atomicfile.WriteFile without the fsyncs: the tests
// check contents and modes, not crash safety.
func writeFile(name string, data []byte, perm fs.FileMode) error {
	err := os.WriteFile(name, data, perm)
	if err != nil {
		return err
	}

	return os.Chmod(name, perm)
}

// provisioned are the values written after a successful provisioning.
var provisioned = map[string]string{
	"system.thingName":           "gg-0123456789ab",
	"system.certificateFilePath": "/var/lib/greengrass/credentials/certificate.pem",
	"system.privateKeyPath":      "/var/lib/greengrass/credentials/priv_key",
	"system.rootCaPath":          "/var/lib/greengrass/credentials/AmazonRootCA.pem",
	"services.aws.greengrass.NucleusLite.configuration.iotDataEndpoint": "" +
		"a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com",
	"services.aws.greengrass.NucleusLite.configuration.iotCredEndpoint": "" +
		"c1d2e3f4g5h6i7.credentials.iot.eu-west-1.amazonaws.com",
	"services.aws.greengrass.fleet_provisioning.configuration.csrCommonName": "" +
		"Fleet: device #1",
}

// goldenValues are provisioned plus values inside { } maps of the golden
// config.yaml: one that stays single-quoted, one that needs quotes there.
var goldenValues = func() map[string]string {
	m := map[string]string{
		"services.aws.greengrass.NucleusLite.configuration.runWithDefault." +
			"posixUser": "gg:gg",
		"system.extra.a": "x, y",
	}
	for k, v := range provisioned {
		m[k] = v
	}

	return m
}()

func TestSetGolden(t *testing.T) {
	golden := filepath.Join(testdata, "golden")
	path := copyTree(t, filepath.Join(golden, "input"))
	dir := filepath.Dir(path)
	c := mustLoad(t, path)

	changes, err := c.Set(goldenValues, "", writeFile)
	if err != nil {
		t.Fatalf("Set failed: %v", err)
	}

	for _, name := range []string{"config.yaml", "config.d/fleetprovisioning.yaml",
		"config.d/zz-ggl-fleetd.yaml"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(golden, "want", name))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s after Set differs (-want +got):\n%s", name, diff)
		}
	}

	nucleus := "services.aws.greengrass.NucleusLite.configuration."
	main, meta := "config.yaml", "config.d/fleetprovisioning.yaml"
	creds := "/var/lib/greengrass/credentials/"
	wantChanges := []Change{
		{main, nucleus + "iotCredEndpoint", "old.credentials.iot.eu-west-1.amazonaws.com",
			goldenValues[nucleus+"iotCredEndpoint"]},
		{meta, nucleus + "iotCredEndpoint", "", goldenValues[nucleus+"iotCredEndpoint"]},
		{meta, nucleus + "iotDataEndpoint", "", goldenValues[nucleus+"iotDataEndpoint"]},
		{main, nucleus + "runWithDefault.posixUser", "ggcore:ggcore", "gg:gg"},
		{"config.d/zz-ggl-fleetd.yaml",
			"services.aws.greengrass.fleet_provisioning.configuration.csrCommonName",
			"", "Fleet: device #1"},
		{main, "system.certificateFilePath", "", creds + "certificate.pem"},
		{meta, "system.certificateFilePath", "", creds + "certificate.pem"},
		{main, "system.extra.a", "1", "x, y"},
		{meta, "system.privateKeyPath", "", creds + "priv_key"},
		{main, "system.rootCaPath", "", creds + "AmazonRootCA.pem"},
		{main, "system.thingName", "placeholder", "gg-0123456789ab"},
		{meta, "system.thingName", "", "gg-0123456789ab"},
	}
	for i := range changes {
		changes[i].File, _ = filepath.Rel(dir, changes[i].File)
	}
	if diff := cmp.Diff(wantChanges, changes); diff != "" {
		t.Errorf("Set changes differ (-want +got):\n%s", diff)
	}

	reloaded := mustLoad(t, path)
	for key, want := range goldenValues {
		if got := valueAt(t, reloaded, key); got != want {
			t.Errorf("after Set, %s = %q; want %q", key, got, want)
		}
	}
}

// valueAt returns the merged text of key in c.
func valueAt(t *testing.T, c *Config, key string) string {
	t.Helper()

	m, err := mergeAll(c.sources)
	if err != nil {
		t.Fatal(err)
	}
	e := lookupEntry(m.root, strings.Split(key, "."))
	if e == nil {
		t.Fatalf("key %q is not set", key)
	}

	return oldText(e.value)
}

func TestSetOnlyValueLinesChange(t *testing.T) {
	golden := filepath.Join(testdata, "golden")
	for _, name := range []string{"config.yaml", "config.d/fleetprovisioning.yaml"} {
		before := readLines(t, filepath.Join(golden, "input", name))
		after := readLines(t, filepath.Join(golden, "want", name))
		if len(before) != len(after) {
			t.Fatalf("%s: %d lines before, %d after; want equal", name,
				len(before), len(after))
		}

		for i := range before {
			if before[i] == after[i] {
				continue
			}
			key, _, _ := strings.Cut(strings.TrimSpace(before[i]), ":")
			if !setsKey(key) {
				t.Errorf("%s:%d changed but sets no key given to Set:\n-%s\n+%s",
					name, i+1, before[i], after[i])
			}
		}
	}
}

// readLines returns the lines of the file name.
func readLines(t *testing.T, name string) []string {
	t.Helper()

	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}

	return strings.Split(string(data), "\n")
}

// setsKey reports whether the last segment of a key in goldenValues is key,
// or key is a { } map that contains one.
func setsKey(key string) bool {
	for k := range goldenValues {
		if strings.HasSuffix(k, "."+key) || strings.Contains(k, "."+key+".") {
			return true
		}
	}

	return false
}

func TestSetKeyInTwoFiles(t *testing.T) {
	path := copyTree(t, filepath.Join(testdata, "meta-aws"))
	dir := filepath.Dir(path)
	err := writeFile(path, []byte("system:\n  thingName: \"\"\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, path)

	p, err := c.Plan(map[string]string{"system.thingName": "dev-1"}, "")
	if err != nil {
		t.Fatalf("Plan failed: %v", err)
	}

	dropIn := filepath.Join(dir, "config.d", "fleetprovisioning.yaml")
	want := []Change{
		{File: path, Key: "system.thingName", Old: "", New: "dev-1"},
		{File: dropIn, Key: "system.thingName", Old: "", New: "dev-1"},
	}
	if diff := cmp.Diff(want, p.Changes); diff != "" {
		t.Errorf("Changes differ (-want +got):\n%s", diff)
	}

	if len(p.Files) != 2 {
		t.Fatalf("Plan edits %d files; want 2", len(p.Files))
	}
	main := p.Files[0]
	if main.Path != path || main.Mode != 0o600 || main.Create {
		t.Errorf("Files[0] = %s mode %v create %v; want %s mode 0600, existing",
			main.Path, main.Mode, main.Create, path)
	}
	if main.UID != os.Getuid() || main.GID != os.Getgid() {
		t.Errorf("Files[0] owner = %d:%d; want %d:%d", main.UID, main.GID,
			os.Getuid(), os.Getgid())
	}
	if got := string(main.Data); got != "system:\n  thingName: \"dev-1\"\n" {
		t.Errorf("config.yaml after Plan = %q", got)
	}
}

func TestSetNewKeyIntoDropIn(t *testing.T) {
	path := copyTree(t, filepath.Join(testdata, "meta-aws"))
	dir := filepath.Dir(path)
	c := mustLoad(t, path)
	values := map[string]string{
		"services.aws.greengrass.NucleusLite.configuration.networkProxy.noproxy": "localhost",
		"services.aws.greengrass.NucleusLite.componentType":                      "NUCLEUS",
		"system.ipcSocketPath": "/run/greengrass/ipc.socket",
	}

	p, err := c.Plan(values, "config.d/zz-ggl-fleetd.yaml")
	if err != nil {
		t.Fatalf("Plan failed: %v", err)
	}

	// componentType is set in config.yaml to the same text: no change.
	want := "# Settings written by ggl-fleetd after provisioning.\n" +
		"services:\n" +
		"  aws.greengrass.NucleusLite:\n" +
		"    configuration:\n" +
		"      networkProxy:\n" +
		"        noproxy: localhost\n" +
		"system:\n" +
		"  ipcSocketPath: /run/greengrass/ipc.socket\n"
	if len(p.Files) != 1 {
		t.Fatalf("Plan edits %d files; want 1: %+v", len(p.Files), p.Files)
	}
	f := p.Files[0]
	if f.Path != filepath.Join(dir, "config.d", "zz-ggl-fleetd.yaml") || !f.Create ||
		f.Mode != 0o644 {
		t.Errorf("Files[0] = %s create %v mode %v; want the new drop-in, 0644",
			f.Path, f.Create, f.Mode)
	}
	if diff := cmp.Diff(want, string(f.Data)); diff != "" {
		t.Errorf("drop-in differs (-want +got):\n%s", diff)
	}

	// A second Plan on the written drop-in adds below the existing maps.
	err = p.Apply(writeFile)
	if err != nil {
		t.Fatal(err)
	}
	c = mustLoad(t, path)
	p, err = c.Plan(map[string]string{
		"services.aws.greengrass.NucleusLite.configuration.networkProxy.proxy.url": "" +
			"http://proxy.example.com:3128",
	}, "")
	if err != nil {
		t.Fatalf("second Plan failed: %v", err)
	}
	want = strings.Replace(want, "        noproxy: localhost\n",
		"        noproxy: localhost\n        proxy:\n"+
			"          url: http://proxy.example.com:3128\n", 1)
	if diff := cmp.Diff(want, string(p.Files[0].Data)); diff != "" {
		t.Errorf("drop-in after second Plan differs (-want +got):\n%s", diff)
	}
}

func TestRenderQuoting(t *testing.T) {
	tests := []struct {
		name  string
		value string
		style string // "plain", "single", "double"
		flow  bool
		want  string
	}{
		{"plain-safe", "gg-01", "plain", false, "gg-01"},
		{"plain-colon-space", "a: b", "plain", false, `"a: b"`},
		{"plain-hash", "a #b", "plain", false, `"a #b"`},
		{"plain-bool", "true", "plain", false, `"true"`},
		{"plain-number", "0123", "plain", false, `"0123"`},
		{"plain-null", "null", "plain", false, `"null"`},
		{"plain-empty", "", "plain", false, `""`},
		{"plain-leading-dash", "-x", "plain", false, `"-x"`},
		{"plain-flow-comma", "a,b", "plain", true, `"a,b"`},
		{"plain-block-comma", "a,b", "plain", false, "a,b"},
		{"plain-url", "http://x:1", "plain", false, "http://x:1"},
		{"single", "it's", "single", false, "'it''s'"},
		{"single-newline", "a\nb", "single", false, `"a\nb"`},
		{"double", "a\"b", "double", false, `"a\"b"`},
		{"double-unicode", "é", "double", false, `"é"`},
	}
	styles := map[string]yaml.Style{"plain": 0, "single": yaml.SingleQuotedStyle,
		"double": yaml.DoubleQuotedStyle}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(tt.value, styles[tt.style], tt.flow)
			if got != tt.want {
				t.Errorf("render(%q, %s, %v) = %s; want %s", tt.value, tt.style,
					tt.flow, got, tt.want)
			}
		})
	}
}

func TestSetUnparsableFile(t *testing.T) {
	path := copyTree(t, filepath.Join(testdata, "meta-aws"))
	c := mustLoad(t, path)

	// The drop-in breaks after Load: Set must report it and write nothing.
	broken := filepath.Join(filepath.Dir(path), "config.d", "fleetprovisioning.yaml")
	data, err := os.ReadFile(broken)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "  bad: [\n"...)
	err = os.WriteFile(broken, data, 0o644)
	if err != nil {
		t.Fatal(err)
	}

	writes := 0
	count := func(string, []byte, fs.FileMode) error { writes++; return nil }
	_, err = c.Set(map[string]string{"system.thingName": "dev-1"}, "", count)

	var ce *Error
	if !errors.As(err, &ce) || ce.File != "config.d/fleetprovisioning.yaml" ||
		ce.Line != 26 {
		t.Errorf("Set error = %v; want one at config.d/fleetprovisioning.yaml:26", err)
	}
	if writes != 0 {
		t.Errorf("Set wrote %d files; want none", writes)
	}
}

func TestPlanRejects(t *testing.T) {
	fleet := "services.aws.greengrass.fleet_provisioning.configuration."
	tests := []struct {
		name   string
		files  map[string]string
		values map[string]string
		dropIn string
		msg    string
	}{
		{"map-value", map[string]string{"config.yaml": minimalFleet},
			map[string]string{"services.aws.greengrass.fleet_provisioning": "x"},
			"", "not a single value"},
		{"block-scalar", map[string]string{"config.yaml": minimalFleet +
			"      csrCommonName: |-\n        x\n"},
			map[string]string{fleet + "csrCommonName": "y"}, "", "block scalar"},
		{"anchor", map[string]string{"config.yaml": minimalFleet +
			"      csrCommonName: &cn x\n      user: *cn\n"},
			map[string]string{fleet + "csrCommonName": "y"}, "", "anchor"},
		{"invalid-result", map[string]string{"config.yaml": minimalFleet},
			map[string]string{fleet + "templateName": "a b"}, "",
			"would be invalid"},
		{"overridden", map[string]string{"config.yaml": minimalFleet +
			"custom:\n  k: v\n", "config.d/b.yaml": "custom: none\n"},
			map[string]string{"custom.k": "x"}, "config.d/a.yaml",
			`config.d/b.yaml:1: custom: overrides the new value "x" of custom.k ` +
				`with "none"`},
		{"drop-in-outside", map[string]string{"config.yaml": minimalFleet},
			map[string]string{"system.thingName": "x"}, "/tmp/x.yaml",
			"must be a *.yaml file"},
		{"empty-key-part", map[string]string{"config.yaml": minimalFleet},
			map[string]string{"system..thingName": "x"}, "", "empty parts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, writeFiles(t, tt.files))

			_, err := c.Plan(tt.values, tt.dropIn)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Plan(%v) = %v; want an error containing %q", tt.values,
					err, tt.msg)
			}
		})
	}
}

func TestPlanSplices(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"empty-with-comment", "system:\n  note:   # later\n",
			"system:\n  note: dev-1   # later\n"},
		{"empty-at-end", "system:\n  note:", "system:\n  note: dev-1"},
		{"tagged", "system:\n  note: !!str old\n",
			"system:\n  note: !!str dev-1\n"},
		{"double-two-lines", "system:\n  note: \"a\n    b\" # c\n",
			"system:\n  note: \"dev-1\" # c\n"},
		{"single-escaped", "system:\n  note: 'it''s' # c\n",
			"system:\n  note: 'dev-1' # c\n"},
		{"flow", "system: {note: old, x: 1}\n",
			"system: {note: dev-1, x: 1}\n"},
		{"alias", "a: &n old\nsystem:\n  note: *n\n",
			"a: &n old\nsystem:\n  note: dev-1\n"},
		{"crlf", "system:\r\n  note: old\r\n", "system:\r\n  note: dev-1\r\n"},
		{"wide-characters", "system: {é: ü, note: 'ö'}\n",
			"system: {é: ü, note: 'dev-1'}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFiles(t, map[string]string{"config.yaml": tt.text,
				"config.d/fleet.yaml": minimalFleet})
			c := mustLoad(t, path)

			p, err := c.Plan(map[string]string{"system.note": "dev-1"}, "")
			if err != nil {
				t.Fatalf("Plan on %q failed: %v", tt.text, err)
			}
			if len(p.Files) != 1 {
				t.Fatalf("Plan on %q edits %d files; want 1", tt.text, len(p.Files))
			}
			if got := string(p.Files[0].Data); got != tt.want {
				t.Errorf("Plan on %q = %q; want %q", tt.text, got, tt.want)
			}
		})
	}
}
