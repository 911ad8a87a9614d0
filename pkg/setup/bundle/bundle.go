// Package bundle writes the files a Yocto build needs besides the claim
// credentials: the Amazon root CAs, a local.conf snippet with the variables
// of the Greengrass Lite recipe, and a Greengrass Lite configuration drop-in
// for the device.
package bundle

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/rootca"
)

// File names written into the output directory.
const (
	LocalConfFile = "local.conf.sample"
	DropInFile    = "fleetprovisioning.yaml"
)

// DeviceCertDir is where the recipe installs the claim files and root CA on
// the device.
const DeviceCertDir = "/etc/greengrass/certs"

// Settings are the values written into the files.
type Settings struct {
	Stack        string
	Region       string
	DataEndpoint string // iot:Data-ATS endpoint host
	CredEndpoint string // iot:CredentialProvider endpoint host
	RoleAlias    string
	TemplateName string
	// ClaimCertPath, ClaimKeyPath and RootCAPath are absolute paths on the
	// build host; the recipe copies these files into the image.
	ClaimCertPath, ClaimKeyPath, RootCAPath string
}

var (
	hostPattern   = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9:_=,@.+-]{1,128}$`)
)

// Validate checks every value that came from flags or AWS responses before
// it is written into a configuration file.
func (s Settings) Validate() error {
	checks := []struct {
		name, value string
		re          *regexp.Regexp
	}{
		{"region", s.Region, regionPattern},
		{"iot:Data-ATS endpoint", s.DataEndpoint, hostPattern},
		{"iot:CredentialProvider endpoint", s.CredEndpoint, hostPattern},
		{"role alias", s.RoleAlias, namePattern},
		{"template name", s.TemplateName, namePattern},
	}
	for _, c := range checks {
		if !c.re.MatchString(c.value) {
			return fmt.Errorf("%s %q is invalid: want to match %s", c.name, c.value, c.re)
		}
	}
	for _, p := range []string{s.ClaimCertPath, s.ClaimKeyPath, s.RootCAPath} {
		if !filepath.IsAbs(p) || strings.ContainsAny(p, "\"\\\n$") {
			return fmt.Errorf(
				"path %q is invalid: want an absolute path without quotes, backslashes, newlines or $",
				p)
		}
	}
	return nil
}

// Write validates s and writes the root CAs, local.conf.sample and
// fleetprovisioning.yaml into dir. It returns the paths it wrote.
func Write(dir string, s Settings) ([]string, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}

	files := rootca.Files()
	files[LocalConfFile] = LocalConf(s)
	files[DropInFile] = DropIn(s)

	var written []string
	for _, name := range []string{rootca.RSAFile, rootca.ECCFile, LocalConfFile, DropInFile} {
		path := filepath.Join(dir, name)
		if err := atomicfile.WriteFile(path, files[name], 0o644); err != nil {
			return written, fmt.Errorf("write %q: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}

var localConf = template.Must(template.New("local.conf").Parse(`# Written by ggl-fleet-setup for stack "{{.Stack}}" in {{.Region}}.
# Append to conf/local.conf of the Yocto build.
#
# CLAIM_CERT_PATH, CLAIM_KEY_PATH and ROOT_CA_PATH name files on this build
# host; the greengrass-lite recipe installs them on the device under
# ` + DeviceCertDir + `/. The claim key is a secret shared by every device
# built with it: keep the build host, its sstate cache and the images private.
#
# The plain variables are read by this project's layer; the ones with
# :pn-greengrass-lite by the greengrass-lite recipe of meta-aws.
{{range .Vars}}{{.Name}} = "{{.Value}}"
{{end}}
{{range .Vars}}{{.Name}}:pn-greengrass-lite = "{{.Value}}"
{{end}}`))

type variable struct{ Name, Value string }

// LocalConf returns the local.conf snippet for s.
func LocalConf(s Settings) []byte {
	vars := []variable{
		{"AWS_REGION", s.Region},
		{"IOT_DATA_ENDPOINT", s.DataEndpoint},
		{"IOT_CRED_ENDPOINT", s.CredEndpoint},
		{"IOT_ROLE_ALIAS", s.RoleAlias},
		{"FLEET_PROVISIONING_TEMPLATE", s.TemplateName},
		{"CLAIM_CERT_PATH", s.ClaimCertPath},
		{"CLAIM_KEY_PATH", s.ClaimKeyPath},
		{"ROOT_CA_PATH", s.RootCAPath},
	}
	var buf bytes.Buffer
	data := struct {
		Settings
		Vars []variable
	}{s, vars}
	if err := localConf.Execute(&buf, data); err != nil {
		panic(err) // the template and its data are fixed
	}
	return buf.Bytes()
}

var dropIn = template.Must(template.New("drop-in").Parse(`# Written by ggl-fleet-setup for stack "{{.Stack}}" in {{.Region}}.
# Install as /etc/greengrass/config.d/fleetprovisioning.yaml; "<unique>" is
# replaced by the device ID when the device provisions itself.
---
system:
  thingName: ""
  privateKeyPath: ""
  certificateFilePath: ""
services:
  aws.greengrass.NucleusLite:
    configuration:
      awsRegion: "{{.Region}}"
      iotRoleAlias: "{{.RoleAlias}}"
      iotDataEndpoint: "{{.DataEndpoint}}"
      iotCredEndpoint: "{{.CredEndpoint}}"
  aws.greengrass.fleet_provisioning:
    configuration:
      iotDataEndpoint: "{{.DataEndpoint}}"
      iotCredEndpoint: "{{.CredEndpoint}}"
      claimCertPath: "` + DeviceCertDir + `/claim.cert.pem"
      claimKeyPath: "` + DeviceCertDir + `/claim.key.pem"
      rootCaPath: "` + DeviceCertDir + `/AmazonRootCA1.pem"
      templateName: "{{.TemplateName}}"
      templateParams:
        SerialNumber: "<unique>"
`))

// DropIn returns the Greengrass Lite configuration drop-in for s.
func DropIn(s Settings) []byte {
	var buf bytes.Buffer
	if err := dropIn.Execute(&buf, s); err != nil {
		panic(err) // the template and its data are fixed
	}
	return buf.Bytes()
}
