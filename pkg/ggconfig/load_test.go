package ggconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testdata is the folder of configuration fixtures.
const testdata = "../../testdata/config"

// writeFiles writes name -> content below a new temporary folder and returns
// the path of its config.yaml.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()

	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err != nil {
			t.Fatal(err)
		}
		err = os.WriteFile(p, []byte(content), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	}

	return filepath.Join(dir, "config.yaml")
}

// mustLoad loads path and fails the test on an error.
func mustLoad(t *testing.T, path string) *Config {
	t.Helper()

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%q) failed:\n%v", path, err)
	}

	return c
}

// configErrors returns every *Error joined in err; it fails the test on an
// error of another type.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()

	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}

	var out []*Error
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is %T, want *ggconfig.Error", e, e)
		}
		out = append(out, ce)
	}

	return out
}

func TestLoadMetaAWS(t *testing.T) {
	path := filepath.Join(testdata, "meta-aws", "config.yaml")
	c := mustLoad(t, path)

	wantFiles := []string{path,
		filepath.Join(testdata, "meta-aws", "config.d", "fleetprovisioning.yaml")}
	if diff := cmp.Diff(wantFiles, c.Files); diff != "" {
		t.Errorf("Files differ (-want +got):\n%s", diff)
	}

	wantSystem := System{RootPath: "/var/lib/greengrass"}
	if diff := cmp.Diff(wantSystem, c.System); diff != "" {
		t.Errorf("System differs (-want +got):\n%s", diff)
	}

	wantNucleus := Nucleus{
		AWSRegion: "eu-west-1",
		IoTRoleAlias: "GreengrassV2TokenExchangeRoleAlias-" +
			"GreengrassFleetProvisioning-eu-west-1",
		PosixUser: "ggcore:ggcore",
	}
	if diff := cmp.Diff(wantNucleus, c.Nucleus); diff != "" {
		t.Errorf("Nucleus differs (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(metaAWSFleet(), c.Fleet); diff != "" {
		t.Errorf("Fleet differs (-want +got):\n%s", diff)
	}

	if len(c.Unknown) != 0 {
		t.Errorf("Unknown = %v; want none", c.Unknown)
	}
}

// metaAWSFleet is the fleet block of the meta-aws drop-in with defaults.
func metaAWSFleet() Fleet {
	return Fleet{
		IoTDataEndpoint:       "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com",
		IoTCredEndpoint:       "c1d2e3f4g5h6i7.credentials.iot.eu-west-1.amazonaws.com",
		ClaimCertPath:         "/etc/greengrass/certs/claim.cert.pem",
		ClaimKeyPath:          "/etc/greengrass/certs/claim.key.pem",
		RootCAPath:            "/etc/greengrass/certs/AmazonRootCA1.pem",
		TemplateName:          "GGFleetTemplate-eu-west-1",
		TemplateParams:        map[string]string{"SerialNumber": "<unique>"},
		CertPath:              "/var/lib/greengrass/credentials/certificate.pem",
		KeyPath:               "/var/lib/greengrass/credentials/priv_key",
		DeviceRootCAPath:      "/var/lib/greengrass/credentials/AmazonRootCA.pem",
		MQTTPort:              8883,
		DeviceIDSources:       []string{"mac", "cpu-serial", "device-tree", "dmi", "generated"},
		RestartUnits:          []string{"greengrass-lite.target"},
		KeyType:               "ec-p256",
		ResponseTimeout:       30 * time.Second,
		RetryMaxDelay:         5 * time.Minute,
		RejectedRetryMaxDelay: time.Hour,
		User:                  "ggcore",
		Group:                 "ggcore",
	}
}

func TestLoadDropInOnly(t *testing.T) {
	path := filepath.Join(testdata, "dropin-only", "config.yaml")
	c := mustLoad(t, path)

	if len(c.Files) != 1 || filepath.Base(c.Files[0]) != "fleetprovisioning.yaml" {
		t.Errorf("Files = %q; want only config.d/fleetprovisioning.yaml", c.Files)
	}

	want := metaAWSFleet()
	want.Group = DefaultGroup
	if diff := cmp.Diff(want, c.Fleet); diff != "" {
		t.Errorf("Fleet differs (-want +got):\n%s", diff)
	}
}

func TestLoadFull(t *testing.T) {
	c := mustLoad(t, filepath.Join(testdata, "full", "config.yaml"))

	wantSystem := System{
		ThingName:           "old-thing",
		CertificateFilePath: "/var/lib/greengrass/credentials/certificate.pem",
		PrivateKeyPath:      "/var/lib/greengrass/credentials/priv_key",
		RootCAPath:          "/var/lib/greengrass/credentials/AmazonRootCA.pem",
		RootPath:            "/var/lib/greengrass",
	}
	if diff := cmp.Diff(wantSystem, c.System); diff != "" {
		t.Errorf("System differs (-want +got):\n%s", diff)
	}

	wantNucleus := Nucleus{
		AWSRegion:       "eu-central-1",
		IoTDataEndpoint: "nucleus-ats.iot.eu-central-1.amazonaws.com",
		IoTCredEndpoint: "nucleus.credentials.iot.eu-central-1.amazonaws.com",
		IoTRoleAlias:    "GreengrassV2TokenExchangeRoleAlias",
		ProxyURL:        "http://user:secret@proxy.example.com:3128",
		NoProxy:         "localhost,127.0.0.1,.internal.example.com",
		PosixUser:       "ggcore:ggadmin",
	}
	if diff := cmp.Diff(wantNucleus, c.Nucleus); diff != "" {
		t.Errorf("Nucleus differs (-want +got):\n%s", diff)
	}

	wantFleet := Fleet{
		IoTDataEndpoint: "fleet-ats.iot.eu-central-1.amazonaws.com",
		IoTCredEndpoint: "fleet.credentials.iot.eu-central-1.amazonaws.com",
		ClaimCertPath:   "/etc/greengrass/certs/claim.cert.pem",
		ClaimKeyPath:    "/etc/greengrass/certs/claim.key.pem",
		RootCAPath:      "/etc/greengrass/certs/AmazonRootCA1.pem",
		TemplateName:    "GGFleetTemplate_eu-central-1",
		// Maps merge key by key: SerialNumber from config.yaml stays.
		TemplateParams: map[string]string{"SerialNumber": "<unique>",
			"Site": "plant-<unique>", "Rack": "13", "Spare": "true"},
		CSRCommonName:          "Fleet device",
		CertPath:               "/data/credentials/device.pem",
		KeyPath:                "/data/credentials/device.key",
		DeviceRootCAPath:       "/data/credentials/AmazonRootCA.pem",
		MQTTPort:               443,
		ALPN:                   true,
		DeviceIDSources:        []string{"file", "mac"},
		DeviceIDFile:           "/etc/device-id",
		RestartUnits:           []string{"ggl.core.iotcored.service", "greengrass-lite.target"},
		KeyType:                "ec-p384",
		ResponseTimeout:        45 * time.Second,
		RetryMaxDelay:          150 * time.Second,
		RejectedRetryMaxDelay:  2 * time.Hour,
		MaxAttempts:            7,
		RemoveClaimCredentials: true,
		User:                   "gguser",
	}
	if diff := cmp.Diff(wantFleet, c.Fleet); diff != "" {
		t.Errorf("Fleet differs (-want +got):\n%s", diff)
	}

	if got := c.DataEndpoint(); got != wantFleet.IoTDataEndpoint {
		t.Errorf("DataEndpoint() = %q; want %q", got, wantFleet.IoTDataEndpoint)
	}
	if got := c.CredEndpoint(); got != wantFleet.IoTCredEndpoint {
		t.Errorf("CredEndpoint() = %q; want %q", got, wantFleet.IoTCredEndpoint)
	}
}

func TestLoadNeitherFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")

	_, err := Load(path)
	if err == nil {
		t.Fatalf("Load(%q) = nil error; want one", path)
	}
	for _, want := range []string{path, filepath.Join(dir, "config.d")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%q) error %q does not name %q", path, err, want)
		}
	}
}

func TestLoadBroken(t *testing.T) {
	fleet := "services.aws.greengrass.fleet_provisioning.configuration."
	nucleus := "services.aws.greengrass.NucleusLite.configuration."
	tests := []struct {
		name string
		line int
		key  string
		msg  string
	}{
		{"template-name", 8, fleet + "templateName",
			`"my template" is invalid: must match [0-9A-Za-z_-]{1,36}`},
		{"mqtt-port", 9, fleet + "mqttPort",
			`"70000" is invalid: must be a whole number from 1 to 65535`},
		{"unknown-source", 11, fleet + "deviceIdSources",
			`"serial" is invalid: must be one of mac, cpu-serial`},
		{"file-source", 9, fleet + "deviceIdSources",
			`"file" is invalid: needs deviceIdFile`},
		{"key-type", 9, fleet + "keyType",
			`"rsa-1024" is invalid: must be one of ec-p256, ec-p384`},
		{"relative-path", 6, fleet + "claimKeyPath",
			`"certs/claim.key.pem" is invalid: must be an absolute path`},
		{"syntax", 9, "", "invalid YAML: "},
		{"wrong-type", 9, fleet + "templateParams",
			"must be a map of names to strings, found a list"},
		{"proxy-url", 13, nucleus + "networkProxy.proxy.url",
			`"socks5://proxy.example.com:1080" is invalid: must be an http://`},
		{"unit-name", 11, fleet + "restartUnits",
			`"ggl core.service" is invalid: must be a systemd unit name`},
		{"missing-endpoint", 3, fleet + "iotDataEndpoint",
			"missing: set it here or in " + nucleus + "iotDataEndpoint"},
		{"duplicate-key", 9, fleet + "templateName",
			"is set twice in this file, first on line 8"},
		{"endpoint-scheme", 4, fleet + "iotDataEndpoint",
			"must be a host name without a scheme"},
		{"duration", 9, fleet + "responseTimeout",
			`"-5s" is invalid: must be a positive duration`},
		{"posix-user", 12, nucleus + "runWithDefault.posixUser",
			`"gg core" is invalid: must be "user" or "user:group"`},
		{"claim-overwrite", 9, fleet + "keyPath",
			`"/etc/greengrass/certs/claim.key.pem" is also claimKeyPath`},
		{"block-type", 3, strings.TrimSuffix(fleet, "."),
			"must be a map, found a single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(testdata, "broken", tt.name, "config.yaml")
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%q) = nil error; want one", path)
			}

			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("Load(%q) returned %d errors; want 1:\n%v", path,
					len(errs), err)
			}

			got := errs[0]
			if got.File != "config.d/fleet.yaml" {
				t.Errorf("Load(%q) error file = %q; want %q", path, got.File,
					"config.d/fleet.yaml")
			}
			if got.Line != tt.line {
				t.Errorf("Load(%q) error line = %d; want %d", path, got.Line, tt.line)
			}
			if got.Key != tt.key {
				t.Errorf("Load(%q) error key = %q; want %q", path, got.Key, tt.key)
			}
			if !strings.Contains(got.Err.Error(), tt.msg) {
				t.Errorf("Load(%q) error = %q; want it to contain %q", path,
					got.Err, tt.msg)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	path := filepath.Join(testdata, "broken", "template-name", "config.yaml")
	_, err := Load(path)

	want := "config.d/fleet.yaml:8: " +
		"services.aws.greengrass.fleet_provisioning.configuration.templateName: " +
		`"my template" is invalid: must match [0-9A-Za-z_-]{1,36}, the form ` +
		"of an AWS IoT provisioning template name"
	if err == nil || err.Error() != want {
		t.Errorf("Load(%q) error = %v; want %q", path, err, want)
	}
}
