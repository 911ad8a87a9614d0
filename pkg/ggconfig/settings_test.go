package ggconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnknownKeys(t *testing.T) {
	path := writeFiles(t, map[string]string{
		"config.d/fleet.yaml": minimalFleet + "      templatename: Typo\n" +
			"      mqttport: 443\n",
	})
	c := mustLoad(t, path)

	fleet := "services.aws.greengrass.fleet_provisioning.configuration."
	file := c.Files[0]
	want := []Position{
		{File: file, Line: 9, Column: 7, Key: fleet + "templatename"},
		{File: file, Line: 10, Column: 7, Key: fleet + "mqttport"},
	}
	if diff := cmp.Diff(want, c.Unknown); diff != "" {
		t.Errorf("Unknown differs (-want +got):\n%s", diff)
	}
	if c.Fleet.MQTTPort != DefaultMQTTPort {
		t.Errorf("MQTTPort = %d; want %d", c.Fleet.MQTTPort, DefaultMQTTPort)
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		want   map[string]string
	}{
		{"unset", nil, map[string]string{"SerialNumber": "dev-1"}},
		{"empty", map[string]string{}, map[string]string{}},
		{"placeholder", map[string]string{"SerialNumber": "<unique>", "Site": "a-<unique>-b",
			"Fixed": "x"}, map[string]string{"SerialNumber": "dev-1",
			"Site": "a-dev-1-b", "Fixed": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Fleet: Fleet{TemplateParams: tt.params}}
			got := c.Params("dev-1")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Params(%q) differs (-want +got):\n%s", "dev-1", diff)
			}
		})
	}
}

func TestParamsKeepsConfig(t *testing.T) {
	c := &Config{Fleet: Fleet{TemplateParams: map[string]string{"S": "<unique>"}}}
	c.Params("dev-1")

	if got := c.Fleet.TemplateParams["S"]; got != "<unique>" {
		t.Errorf("TemplateParams[S] after Params = %q; want %q", got, "<unique>")
	}
}

func TestOwner(t *testing.T) {
	tests := []struct {
		name      string
		extra     string
		posixUser string
		user      string
		group     string
	}{
		{"defaults", "", "", "ggcore", "ggcore"},
		{"posix-user-and-group", "", "gg:staff", "gg", "staff"},
		{"posix-user-only", "", "gg", "gg", ""},
		{"fleet-user", "      user: own\n", "gg:staff", "own", ""},
		{"fleet-group", "      group: grp\n", "gg:staff", "gg", "grp"},
		{"fleet-user-no-posix", "      user: own\n", "", "own", ""},
		{"fleet-group-no-posix", "      group: grp\n", "", "ggcore", "grp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := minimalFleet + tt.extra
			if tt.posixUser != "" {
				text += "  aws.greengrass.NucleusLite:\n    configuration:\n" +
					"      runWithDefault: {posixUser: \"" + tt.posixUser + "\"}\n"
			}
			path := writeFiles(t, map[string]string{"config.yaml": text})
			c := mustLoad(t, path)

			if c.Fleet.User != tt.user || c.Fleet.Group != tt.group {
				t.Errorf("User, Group = %q, %q; want %q, %q", c.Fleet.User,
					c.Fleet.Group, tt.user, tt.group)
			}
		})
	}
}

func TestFleetSettings(t *testing.T) {
	fleet := "services.aws.greengrass.fleet_provisioning.configuration."
	tests := []struct {
		name  string
		extra string
		key   string // "" = valid
		msg   string
	}{
		{"alpn-default-443", "      mqttPort: 443\n", "", ""},
		{"alpn-bool", "      mqttAlpn: maybe\n", "mqttAlpn", "must be true or false"},
		{"duration-zero", "      retryMaxDelay: 0\n", "retryMaxDelay", "positive"},
		{"duration-word", "      retryMaxDelay: soon\n", "retryMaxDelay", "positive"},
		{"max-attempts-negative", "      maxAttempts: -1\n", "maxAttempts",
			"from 0 to"},
		{"sources-empty", "      deviceIdSources: []\n", "deviceIdSources",
			"is empty"},
		{"sources-twice", "      deviceIdSources: [mac, dmi, mac]\n",
			"deviceIdSources", `"mac" is invalid: is listed twice`},
		{"sources-map", "      deviceIdSources: {mac: 1}\n", "deviceIdSources",
			"must be a list, found a map"},
		{"sources-nested", "      deviceIdSources: [[mac]]\n", "deviceIdSources",
			"has an element that is a list"},
		{"units-empty", "      restartUnits: []\n", "", ""},
		{"unit-template", "      restartUnits: [getty@.service]\n", "restartUnits",
			"systemd unit name"},
		{"unit-instance", "      restartUnits: [getty@tty1.service]\n", "", ""},
		{"unit-no-suffix", "      restartUnits: [greengrass]\n", "restartUnits",
			"systemd unit name"},
		{"cn-long", "      csrCommonName: " + strings.Repeat("a", 65) + "\n",
			"csrCommonName", "at most 64"},
		{"cn-control", "      csrCommonName: \"a\\tb\"\n", "csrCommonName",
			"printable"},
		{"params-null", "      templateParams: {A: }\n", "templateParams.A",
			"write \"\" for an empty value"},
		{"params-list", "      templateParams: {A: [1]}\n", "templateParams.A",
			"found a list"},
		{"path-unclean", "      certPath: /var/lib/../lib/cert.pem\n", "certPath",
			`must be a clean path: write "/var/lib/cert.pem"`},
		{"endpoint-port", "      iotCredEndpoint: host.example.com:443\n",
			"iotCredEndpoint", "without a port"},
		{"endpoint-path", "      iotCredEndpoint: host.example.com/x\n",
			"iotCredEndpoint", "without a path"},
		{"endpoint-label", "      iotCredEndpoint: -bad.example.com\n",
			"iotCredEndpoint", "must be a host name"},
		{"endpoint-ip", "      iotCredEndpoint: 127.0.0.1\n", "", ""},
		{"no-root-ca-system-roots", "      rootCaPath: \"\"\n" +
			"      useSystemRoots: true\n", "", ""},
		{"no-root-ca", "      rootCaPath: \"\"\n", "rootCaPath",
			"missing: the value is empty"},
		{"user-bad", "      user: \"a b\"\n", "user", "must be a user or group"},
		{"group-numeric", "      group: \"1000\"\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A later key replaces the same key of minimalFleet, so the
			// cases go into a second file.
			path := writeFiles(t, map[string]string{
				"config.yaml": minimalFleet,
				"config.d/x.yaml": "services:\n  aws.greengrass.fleet_provisioning:\n" +
					"    configuration:\n" + tt.extra,
			})
			_, err := Load(path)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Load(%q) failed: %v", tt.extra, err)
				}
				return
			}

			if err == nil {
				t.Fatalf("Load(%q) = nil error; want one on %s", tt.extra, tt.key)
			}
			errs := configErrors(t, err)
			if len(errs) != 1 || errs[0].Key != fleet+tt.key ||
				errs[0].File != "config.d/x.yaml" || errs[0].Line != 4 ||
				!strings.Contains(errs[0].Err.Error(), tt.msg) {
				t.Errorf("Load(%q) = %v; want one error at config.d/x.yaml:4 on "+
					"%s containing %q", tt.extra, err, tt.key, tt.msg)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		msg  string
	}{
		{"tab-indent", "system:\n\tthingName: x\n", 2, "invalid YAML"},
		{"mapping-in-value", "system:\n  thingName: a: b\n", 2, "invalid YAML"},
		{"control-character", "system:\n  thingName: x\n  rootpath: \x01\n", 3,
			"control characters"},
		{"unclosed-flow", "a: 1\nsystem: {thingName: x\n", 2, "invalid YAML"},
		{"second-document", "system: {}\n---\nsystem: {}\n", 2,
			"a second YAML document"},
		{"top-level-list", "# comment\n- a\n- b\n", 2, "must be a map of settings"},
		{"key-is-map", "system:\n  {a: b}: c\n", 2, "has a key that is a map"},
		{"alias-cycle", "a: &x\n  b: *x\n", 1, "alias cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFiles(t, map[string]string{
				"config.yaml":         tt.text,
				"config.d/fleet.yaml": minimalFleet,
			})
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%q) = nil error; want one", tt.text)
			}

			errs := configErrors(t, err)
			if errs[0].File != "config.yaml" {
				t.Errorf("Load(%q) error file = %q; want config.yaml", tt.text,
					errs[0].File)
			}
			if tt.line > 0 && errs[0].Line != tt.line {
				t.Errorf("Load(%q) error line = %d; want %d: %v", tt.text,
					errs[0].Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load(%q) = %v; want it to contain %q", tt.text, err, tt.msg)
			}
		})
	}
}

func TestLoadAliasExpansion(t *testing.T) {
	text := "a: &a {x: 1, y: 1}\n"
	prev := "a"
	for i := 0; i < 30; i++ {
		name := "n" + strings.Repeat("x", i)
		text += name + ": &" + name + " {p: *" + prev + ", q: *" + prev + "}\n"
		prev = name
	}
	path := writeFiles(t, map[string]string{"config.yaml": text})

	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "aliases nested too deep") {
		t.Errorf("Load(alias bomb) = %v; want an error about aliases", err)
	}
}
