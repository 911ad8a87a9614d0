package template

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestCfnLintReportsNothing(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not found in PATH; install it (pip install cfn-lint) to check the template")
	}
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(Body()), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(lint, path).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("cfn-lint %s: %v\n%s", path, err, out)
	}
}

// TestHookPattern runs the serial check of the inline Lambda function with
// the local python3, so a wrong pattern fails here and not on a device.
func TestHookPattern(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found in PATH")
	}
	code := hookCode(t)
	tests := []struct {
		name   string
		serial string
		prefix string
		want   bool
	}{
		{"mac-with-colons", "00:11:22:aa:bb:cc", "", true},
		{"dash", "abc-123", "", true},
		{"underscore", "abc_123", "", true},
		{"dot", "abc.123", "", false},
		{"space", "abc 123", "", false},
		{"trailing-newline", "abc\n", "", false},
		{"empty", "", "", false},
		{"max-length", strings.Repeat("a", 128), "", true},
		{"too-long", strings.Repeat("a", 129), "", false},
		{"too-long-with-prefix", strings.Repeat("a", 120), "gateway-0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := code + "\nimport json, sys\n" +
				"print(json.dumps(handler({'parameters': {'SerialNumber': sys.argv[1]}}, None)))\n"
			cmd := exec.Command(python, "-c", script, tt.serial)
			cmd.Env = append(os.Environ(), "THING_PREFIX="+tt.prefix)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("python3: %v\n%s", err, out)
			}
			want := `{"allowProvisioning": false}`
			if tt.want {
				want = `{"allowProvisioning": true}`
			}
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("handler(%q) = %s; want %s", tt.serial, got, want)
			}
		})
	}
}

func hookCode(t *testing.T) string {
	t.Helper()
	var doc struct {
		Resources map[string]struct {
			Properties struct {
				Code struct {
					ZipFile string `yaml:"ZipFile"`
				} `yaml:"Code"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(Body()), &doc); err != nil {
		t.Fatalf("template is not YAML: %v", err)
	}
	code := doc.Resources["PreProvisioningHook"].Properties.Code.ZipFile
	if !strings.Contains(code, "def handler") {
		t.Fatalf("PreProvisioningHook has no handler:\n%s", code)
	}
	return code
}
