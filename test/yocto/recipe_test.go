package yoctotest

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
)

const (
	layerDir   = "../../yocto/meta-ggl-fleetd"
	recipePath = layerDir + "/recipes-iot/ggl-fleetd/ggl-fleetd_git.bb"
	systemdDir = "../../systemd"
)

// settings are the local.conf variables of the meta-aws Greengrass Lite
// fleet provisioning that the recipe must read.
var settings = []string{
	"AWS_REGION", "IOT_DATA_ENDPOINT", "IOT_CRED_ENDPOINT", "IOT_ROLE_ALIAS",
	"FLEET_PROVISIONING_TEMPLATE", "CLAIM_CERT_PATH", "CLAIM_KEY_PATH", "ROOT_CA_PATH",
}

// greengrassUnits are the services of Greengrass Lite.
var greengrassUnits = []string{
	"ggl.aws.greengrass.TokenExchangeService.service",
	"ggl.core.gg-fleet-statusd.service",
	"ggl.core.ggconfigd.service",
	"ggl.core.ggdeploymentd.service",
	"ggl.core.gghealthd.service",
	"ggl.core.ggipcd.service",
	"ggl.core.ggpubsubd.service",
	"ggl.core.iotcored.service",
	"ggl.core.tesd.service",
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// layerFiles returns every BitBake file of the layer.
func layerFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(layerDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".bb", ".bbappend", ".conf", ".inc", ".bbclass":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("layer files = %q; want at least layer.conf, the recipe and the append", files)
	}
	return files
}

// oldOverride matches the override syntax that BitBake rejects since
// honister: VAR_append, VAR_prepend, VAR_remove, VAR_${PN} and VAR_pn-NAME.
var oldOverride = regexp.MustCompile(`\w_(append|prepend|remove)\b|_\$\{PN\}|\w_pn-`)

func TestNoOldOverrideSyntax(t *testing.T) {
	for _, path := range layerFiles(t) {
		for i, line := range strings.Split(readFile(t, path), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if m := oldOverride.FindString(line); m != "" {
				t.Errorf("%s:%d: old override syntax %q in %q", path, i+1, m, line)
			}
		}
	}
}

func TestOldOverridePatternMatches(t *testing.T) {
	tests := []struct {
		name string
		line string
		want bool
	}{
		{"append", `DEPENDS_append = " x"`, true},
		{"prepend", `do_install_prepend() {`, true},
		{"remove", `PACKAGECONFIG_remove = "x"`, true},
		{"package", `RDEPENDS_${PN} += "x"`, true},
		{"recipe", `AWS_REGION_pn-ggl-fleetd = "x"`, true},
		{"colonAppend", `DEPENDS:append = " x"`, false},
		{"colonPackage", `RDEPENDS:${PN} += "x"`, false},
		{"colonRecipe", `AWS_REGION:pn-ggl-fleetd = "x"`, false},
		{"functionName", `ggl_fleetd_install_claim() {`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oldOverride.MatchString(tt.line); got != tt.want {
				t.Errorf("oldOverride.MatchString(%q) = %v; want %v", tt.line, got, tt.want)
			}
		})
	}
}

func TestRecipeReadsSettings(t *testing.T) {
	recipe := readFile(t, recipePath)
	for _, name := range settings {
		if !strings.Contains(recipe, "${"+name+"}") {
			t.Errorf("recipe never expands ${%s}", name)
		}
		if !regexp.MustCompile(`(?m)^` + name + ` \?\?= ""$`).MatchString(recipe) {
			t.Errorf("recipe has no weak empty default %s ??= \"\"", name)
		}
	}
	for _, name := range []string{"CLAIM_CERT_PATH", "CLAIM_KEY_PATH", "ROOT_CA_PATH"} {
		if !strings.Contains(recipe, "d.getVar('"+name+"')") {
			t.Errorf("do_install[file-checksums] does not read %s", name)
		}
	}
}

// variable returns the value of a simple NAME = "..." or NAME ?= "..."
// assignment, with line continuations joined.
func variable(t *testing.T, text, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?ms)^` + regexp.QuoteMeta(name) + ` \??=\s*"(.*?)"\s*$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no assignment to %s", name)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(m[1], "\\\n", " ")), " ")
}

func TestLayerCompatibility(t *testing.T) {
	conf := readFile(t, layerDir+"/conf/layer.conf")
	got := strings.Fields(variable(t, conf, "LAYERSERIES_COMPAT_ggl-fleetd"))
	want := []string{"scarthgap", "styhead", "walnascar", "whinlatter"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LAYERSERIES_COMPAT_ggl-fleetd (-want +got):\n%s", diff)
	}
	if deps := variable(t, conf, "LAYERDEPENDS_ggl-fleetd"); deps != "core" {
		t.Errorf("LAYERDEPENDS_ggl-fleetd = %q; want %q", deps, "core")
	}
}

func TestRecipeUnits(t *testing.T) {
	recipe := readFile(t, recipePath)
	if got := variable(t, recipe, "SYSTEMD_SERVICE:${PN}"); got != "ggl.gg_fleetprovisioning.service" {
		t.Errorf("SYSTEMD_SERVICE:${PN} = %q; want ggl.gg_fleetprovisioning.service", got)
	}

	gated := strings.Fields(variable(t, recipe, "GGL_FLEETD_GATED_UNITS"))
	sort.Strings(gated)
	if diff := cmp.Diff(greengrassUnits, gated); diff != "" {
		t.Errorf("GGL_FLEETD_GATED_UNITS (-want +got):\n%s", diff)
	}

	installed := regexp.MustCompile(`\$\{GGL_FLEETD_SRC\}/(systemd/[\w.-]+)`).FindAllStringSubmatch(recipe, -1)
	if len(installed) < 3 {
		t.Fatalf("recipe installs %d files from systemd/; want the unit, the drop-in and the tmpfiles entry", len(installed))
	}
	for _, m := range installed {
		if _, err := os.Stat(filepath.Join("../..", m[1])); err != nil {
			t.Errorf("recipe installs %s: %v", m[1], err)
		}
	}
}

// generatedConfig returns the YAML that ggl_fleetd_install_config writes,
// with the recipe's variables replaced by values.
func generatedConfig(t *testing.T, values map[string]string) string {
	t.Helper()
	recipe := readFile(t, recipePath)
	m := regexp.MustCompile(`(?s)fleetprovisioning.yaml <<EOF\n(.*?)\nEOF\n`).FindStringSubmatch(recipe)
	if m == nil {
		t.Fatal("recipe has no here-document for fleetprovisioning.yaml")
	}
	text := m[1]
	for name, value := range values {
		text = strings.ReplaceAll(text, "${"+name+"}", value)
	}
	if rest := regexp.MustCompile(`\$\{[^}]*\}`).FindString(text); rest != "" {
		t.Fatalf("generated configuration still contains %s:\n%s", rest, text)
	}
	return text
}

func TestGeneratedConfigLoads(t *testing.T) {
	values := map[string]string{
		"AWS_REGION":                  "eu-west-1",
		"IOT_ROLE_ALIAS":              "GreengrassTokenExchangeRoleAlias",
		"IOT_DATA_ENDPOINT":           "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com",
		"IOT_CRED_ENDPOINT":           "c1d2e3f4g5h6i7.credentials.iot.eu-west-1.amazonaws.com",
		"FLEET_PROVISIONING_TEMPLATE": "GGFleetTemplate-eu-west-1",
		"GGL_FLEETD_CERTS_DIR":        "/etc/greengrass/certs",
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "config.yaml")
	base := "system:\n  rootpath: \"/var/lib/greengrass\"\n"
	if err := os.WriteFile(main, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "config.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	dropIn := filepath.Join(dir, "config.d", "fleetprovisioning.yaml")
	if err := os.WriteFile(dropIn, []byte(generatedConfig(t, values)), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := ggconfig.Load(main)
	if err != nil {
		t.Fatalf("ggconfig.Load(generated configuration) = %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"awsRegion", cfg.Nucleus.AWSRegion, values["AWS_REGION"]},
		{"iotRoleAlias", cfg.Nucleus.IoTRoleAlias, values["IOT_ROLE_ALIAS"]},
		{"iotDataEndpoint", cfg.DataEndpoint(), values["IOT_DATA_ENDPOINT"]},
		{"iotCredEndpoint", cfg.CredEndpoint(), values["IOT_CRED_ENDPOINT"]},
		{"templateName", cfg.Fleet.TemplateName, values["FLEET_PROVISIONING_TEMPLATE"]},
		{"claimCertPath", cfg.Fleet.ClaimCertPath, "/etc/greengrass/certs/claim.cert.pem"},
		{"claimKeyPath", cfg.Fleet.ClaimKeyPath, "/etc/greengrass/certs/claim.key.pem"},
		{"rootCaPath", cfg.Fleet.RootCAPath, "/etc/greengrass/certs/AmazonRootCA1.pem"},
		{"templateParams", cfg.Params("dev-1")["SerialNumber"], "dev-1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
}
