package fakeiot

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Fixture lists the files that WriteFixture wrote.
type Fixture struct {
	Dir              string // the directory given to WriteFixture
	ConfigPath       string // DIR/config.yaml
	FleetConfigPath  string // DIR/config.d/fleetprovisioning.yaml
	RootCAPath       string // DIR/certs/AmazonRootCA1.pem
	IssuerCAPath     string // DIR/certs/issuer-ca.pem, signs device certificates
	ClaimCertPath    string // DIR/certs/claim.cert.pem, mode 0644
	ClaimKeyPath     string // DIR/certs/claim.key.pem, mode 0600
	CertPath         string // DIR/credentials/certificate.pem (not written)
	KeyPath          string // DIR/credentials/priv_key (not written)
	DeviceRootCAPath string // DIR/credentials/AmazonRootCA.pem (not written)
	Endpoint         string // "localhost", covered by the server certificate
	Port             int    // port of the main listener
}

// WriteFixture writes the root CA, the claim certificate and key, and a
// Greengrass Lite configuration that points at the fake: DIR/config.yaml and
// DIR/config.d/fleetprovisioning.yaml in the shape the meta-aws recipe
// generates. Files that exist are replaced.
func (s *Server) WriteFixture(dir string) (Fixture, error) {
	f := s.fixturePaths(dir)
	for _, sub := range []string{"certs", "config.d", "credentials", "greengrass"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return Fixture{}, fmt.Errorf("create fixture directory: %w", err)
		}
	}

	mainConfig, err := encodeYAML(s.mainConfig(dir))
	if err != nil {
		return Fixture{}, fmt.Errorf("encode config.yaml: %w", err)
	}
	fleetConfig, err := encodeYAML(s.fleetConfig(f))
	if err != nil {
		return Fixture{}, fmt.Errorf("encode fleetprovisioning.yaml: %w", err)
	}

	files := []struct {
		path string
		data []byte
		perm fs.FileMode
	}{
		{f.RootCAPath, s.pki.root.pem, 0o644},
		{f.IssuerCAPath, s.pki.issuer.pem, 0o644},
		{f.ClaimCertPath, s.pki.claimPEM, 0o644},
		{f.ClaimKeyPath, s.pki.claimKey, 0o600},
		{f.ConfigPath, mainConfig, 0o644},
		{f.FleetConfigPath, append([]byte("---\n"), fleetConfig...), 0o644},
	}
	for _, file := range files {
		if err := writeFile(file.path, file.data, file.perm); err != nil {
			return Fixture{}, err
		}
	}
	return f, nil
}

func (s *Server) fixturePaths(dir string) Fixture {
	return Fixture{
		Dir:              dir,
		ConfigPath:       filepath.Join(dir, "config.yaml"),
		FleetConfigPath:  filepath.Join(dir, "config.d", "fleetprovisioning.yaml"),
		RootCAPath:       filepath.Join(dir, "certs", "AmazonRootCA1.pem"),
		IssuerCAPath:     filepath.Join(dir, "certs", "issuer-ca.pem"),
		ClaimCertPath:    filepath.Join(dir, "certs", "claim.cert.pem"),
		ClaimKeyPath:     filepath.Join(dir, "certs", "claim.key.pem"),
		CertPath:         filepath.Join(dir, "credentials", "certificate.pem"),
		KeyPath:          filepath.Join(dir, "credentials", "priv_key"),
		DeviceRootCAPath: filepath.Join(dir, "credentials", "AmazonRootCA.pem"),
		Endpoint:         "localhost",
		Port:             s.Port(),
	}
}

// encodeYAML encodes v with the two-space indentation of the Greengrass
// Lite examples.
func encodeYAML(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeFile writes data to path with exactly perm, whatever the umask.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write fixture file: %w", err)
	}
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("set mode of fixture file: %w", err)
	}
	return nil
}

type nucleusConfig struct {
	ComponentType string `yaml:"componentType"`
	Configuration struct {
		RunWithDefault struct {
			PosixUser string `yaml:"posixUser"`
		} `yaml:"runWithDefault"`
		DataPlanePort    string         `yaml:"greengrassDataPlanePort"`
		PlatformOverride map[string]any `yaml:"platformOverride"`
	} `yaml:"configuration"`
}

type mainConfig struct {
	System struct {
		RootPath string `yaml:"rootpath"`
	} `yaml:"system"`
	Services struct {
		Nucleus nucleusConfig `yaml:"aws.greengrass.NucleusLite"`
	} `yaml:"services"`
}

// mainConfig builds config.yaml. posixUser names the user running the fake,
// since the ggcore user of a real device may not exist on a test machine.
func (s *Server) mainConfig(dir string) mainConfig {
	var c mainConfig
	c.System.RootPath = filepath.Join(dir, "greengrass")

	n := &c.Services.Nucleus
	n.ComponentType = "NUCLEUS"
	n.Configuration.RunWithDefault.PosixUser = currentPosixUser()
	n.Configuration.DataPlanePort = "8443"
	n.Configuration.PlatformOverride = map[string]any{}
	return c
}

func currentPosixUser() string {
	u, err := user.Current()
	if err != nil {
		return "root:root"
	}

	group := u.Gid
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		group = g.Name
	}
	return u.Username + ":" + group
}

type fleetSettings struct {
	IoTDataEndpoint  string            `yaml:"iotDataEndpoint"`
	IoTCredEndpoint  string            `yaml:"iotCredEndpoint"`
	ClaimCertPath    string            `yaml:"claimCertPath"`
	ClaimKeyPath     string            `yaml:"claimKeyPath"`
	RootCAPath       string            `yaml:"rootCaPath"`
	TemplateName     string            `yaml:"templateName"`
	TemplateParams   map[string]string `yaml:"templateParams"`
	CertPath         string            `yaml:"certPath"`
	KeyPath          string            `yaml:"keyPath"`
	DeviceRootCAPath string            `yaml:"deviceRootCaPath"`
	MQTTPort         int               `yaml:"mqttPort"`
	MQTTALPN         bool              `yaml:"mqttAlpn,omitempty"`
}

type fleetConfig struct {
	System struct {
		ThingName       string `yaml:"thingName"`
		PrivateKeyPath  string `yaml:"privateKeyPath"`
		CertificatePath string `yaml:"certificateFilePath"`
	} `yaml:"system"`
	Services struct {
		Nucleus struct {
			Configuration struct {
				AWSRegion       string `yaml:"awsRegion"`
				IoTRoleAlias    string `yaml:"iotRoleAlias"`
				IoTDataEndpoint string `yaml:"iotDataEndpoint"`
				IoTCredEndpoint string `yaml:"iotCredEndpoint"`
			} `yaml:"configuration"`
		} `yaml:"aws.greengrass.NucleusLite"`
		Fleet struct {
			Configuration fleetSettings `yaml:"configuration"`
		} `yaml:"aws.greengrass.fleet_provisioning"`
	} `yaml:"services"`
}

// fleetConfig builds config.d/fleetprovisioning.yaml with empty system
// values, as the meta-aws recipe writes it.
func (s *Server) fleetConfig(f Fixture) fleetConfig {
	var c fleetConfig
	n := &c.Services.Nucleus.Configuration
	n.AWSRegion = "us-east-1"
	n.IoTRoleAlias = "GreengrassV2TokenExchangeRoleAlias"

	c.Services.Fleet.Configuration = fleetSettings{
		IoTDataEndpoint:  f.Endpoint,
		IoTCredEndpoint:  f.Endpoint,
		ClaimCertPath:    f.ClaimCertPath,
		ClaimKeyPath:     f.ClaimKeyPath,
		RootCAPath:       f.RootCAPath,
		TemplateName:     s.cfg.TemplateName,
		TemplateParams:   map[string]string{"SerialNumber": "<unique>"},
		CertPath:         f.CertPath,
		KeyPath:          f.KeyPath,
		DeviceRootCAPath: f.DeviceRootCAPath,
		MQTTPort:         f.Port,
	}
	return c
}
