package ggconfig

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// minimalFleet is a valid fleet provisioning block of a drop-in file.
const minimalFleet = `services:
  aws.greengrass.fleet_provisioning:
    configuration:
      iotDataEndpoint: data-ats.iot.eu-west-1.amazonaws.com
      claimCertPath: /etc/greengrass/certs/claim.cert.pem
      claimKeyPath: /etc/greengrass/certs/claim.key.pem
      rootCaPath: /etc/greengrass/certs/AmazonRootCA1.pem
      templateName: Template
`

func TestMergeRules(t *testing.T) {
	path := writeFiles(t, map[string]string{
		"config.yaml": `system:
  thingName: first
services:
  aws.greengrass.fleet_provisioning:
    configuration:
      templateParams: {A: "1", B: "2"}
      restartUnits: [a.service, b.service]
      csrCommonName: kept
`,
		"config.d/50-fleet.yaml": minimalFleet,
		"config.d/60-later.yaml": `system:
  thingName: second
services:
  aws.greengrass.fleet_provisioning:
    configuration:
      templateParams: {B: "3"}
      restartUnits: [c.service]
`,
		// An empty value leaves the merged map in place.
		"config.d/70-empty.yaml": "services:\n  aws.greengrass.fleet_provisioning:\n",
		// Not *.yaml: never read.
		"config.d/80-ignored.yml":     "system: {thingName: ignored}\n",
		"config.d/90-ignored.yaml~":   "system: {thingName: ignored}\n",
		"config.d/folder.yaml/x.yaml": "system: {thingName: ignored}\n",
	})
	c := mustLoad(t, path)

	if got := c.System.ThingName; got != "second" {
		t.Errorf("System.ThingName = %q; want %q", got, "second")
	}
	wantParams := map[string]string{"A": "1", "B": "3"}
	if diff := cmp.Diff(wantParams, c.Fleet.TemplateParams); diff != "" {
		t.Errorf("TemplateParams differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"c.service"}, c.Fleet.RestartUnits); diff != "" {
		t.Errorf("RestartUnits differ (-want +got):\n%s", diff)
	}
	if got := c.Fleet.CSRCommonName; got != "kept" {
		t.Errorf("CSRCommonName = %q; want %q", got, "kept")
	}
	if got := len(c.Files); got != 4 {
		t.Errorf("len(Files) = %d; want 4: %q", got, c.Files)
	}

	dir := filepath.Dir(path)
	wantDefs := []Position{
		{File: path, Line: 2, Column: 3, Key: "system.thingName"},
		{File: filepath.Join(dir, "config.d/60-later.yaml"), Line: 2, Column: 3,
			Key: "system.thingName"},
	}
	if diff := cmp.Diff(wantDefs, c.Definitions("system.thingName")); diff != "" {
		t.Errorf("Definitions differ (-want +got):\n%s", diff)
	}
	if got := c.Definitions("system.rootpath"); len(got) != 0 {
		t.Errorf("Definitions(system.rootpath) = %v; want none", got)
	}
}

func TestMergeReplacesKind(t *testing.T) {
	path := writeFiles(t, map[string]string{
		"config.yaml": minimalFleet + "      templateParams: {A: x}\n",
		"config.d/b.yaml": "services:\n  aws.greengrass.fleet_provisioning:\n" +
			"    configuration:\n      templateParams: none\n",
	})

	_, err := Load(path)
	errs := configErrors(t, err)
	if len(errs) != 1 || errs[0].File != "config.d/b.yaml" || errs[0].Line != 4 {
		t.Fatalf("Load(%q) = %v; want one error at config.d/b.yaml:4", path, err)
	}
}

func TestLoadAllErrors(t *testing.T) {
	path := writeFiles(t, map[string]string{
		"config.yaml": "system:\n  thingName: \"bad name\"\n",
		"config.d/fleet.yaml": minimalFleet +
			"      mqttPort: 0\n      keyType: dsa\n",
	})

	_, err := Load(path)
	errs := configErrors(t, err)
	var got []string
	for _, e := range errs {
		got = append(got, e.File+":"+strconv.Itoa(e.Line)+": "+e.Key)
	}
	fleet := "services.aws.greengrass.fleet_provisioning.configuration."
	want := []string{
		"config.yaml:2: system.thingName",
		"config.d/fleet.yaml:9: " + fleet + "mqttPort",
		"config.d/fleet.yaml:10: " + fleet + "keyType",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(%q) errors differ (-want +got):\n%s", path, diff)
	}
	if n := strings.Count(err.Error(), "\n"); n != 2 {
		t.Errorf("Load(%q) error has %d line breaks; want 2, one error a line", path, n)
	}
}
