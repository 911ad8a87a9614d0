package ggconfig

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// fleetKeys are the keys of the fleet provisioning block that Greengrass
// Lite or ggl-fleetd reads. Any other key goes to Config.Unknown.
var fleetKeys = []string{
	"iotDataEndpoint", "iotCredEndpoint", "claimCertPath", "claimKeyPath",
	"rootCaPath", "templateName", "templateParams", "csrCommonName",
	"certPath", "keyPath", "deviceRootCaPath", "mqttPort", "mqttAlpn",
	"deviceIdSources", "deviceIdFile", "restartUnits", "keyType",
	"responseTimeout", "retryMaxDelay", "rejectedRetryMaxDelay", "maxAttempts",
	"useSystemRoots", "removeClaimCredentials", "user", "group",
}

// readSystem reads the system block.
func (r *reader) readSystem() {
	s := &r.cfg.System
	b := systemBlock
	s.ThingName = r.text(b, "thingName", checkThingName)
	s.CertificateFilePath = r.text(b, "certificateFilePath", checkPath)
	s.PrivateKeyPath = r.text(b, "privateKeyPath", checkPath)
	s.RootCAPath = r.text(b, "rootCaPath", checkPath)

	// Greengrass documents the key as "rootpath", but "rootPath" is also seen.
	s.RootPath = r.text(b, "rootpath", checkPath)
	if s.RootPath == "" {
		s.RootPath = r.text(b, "rootPath", checkPath)
	}
}

// readNucleus reads the configuration block of the Greengrass Lite nucleus.
func (r *reader) readNucleus() {
	n := &r.cfg.Nucleus
	b := nucleusBlock
	n.AWSRegion = r.text(b, "awsRegion", checkRegion)
	n.IoTDataEndpoint = r.text(b, "iotDataEndpoint", checkHost)
	n.IoTCredEndpoint = r.text(b, "iotCredEndpoint", checkHost)
	n.IoTRoleAlias = r.text(b, "iotRoleAlias", checkRoleAlias)
	n.ProxyURL = r.text(at(b, "networkProxy", "proxy"), "url", checkProxyURL)
	n.NoProxy = r.text(at(b, "networkProxy"), "noproxy", checkNoProxy)
	n.PosixUser = r.text(at(b, "runWithDefault"), "posixUser", checkPosixUser)
}

// readFleet reads the fleet provisioning block, fills in defaults and checks
// the settings that depend on each other.
func (r *reader) readFleet() {
	r.readFleetCloud()
	r.readFleetFiles()
	r.readFleetConnection()
	r.readDeviceIDSources()
	r.readRestartUnits()
	r.readOwner()
	r.requireFleet()
}

// readFleetCloud reads where and how to provision.
func (r *reader) readFleetCloud() {
	f := &r.cfg.Fleet
	b := fleetBlock
	f.IoTDataEndpoint = r.text(b, "iotDataEndpoint", checkHost)
	f.IoTCredEndpoint = r.text(b, "iotCredEndpoint", checkHost)
	f.TemplateName = r.text(b, "templateName", checkTemplateName)
	f.TemplateParams = r.stringMap(b, "templateParams")
	f.CSRCommonName = r.text(b, "csrCommonName", checkCommonName)
	f.KeyType = r.text(b, "keyType", oneOf(KeyTypes))
	if f.KeyType == "" {
		f.KeyType = DefaultKeyType
	}
}

// readFleetFiles reads the paths of the claim and the device credentials.
func (r *reader) readFleetFiles() {
	f := &r.cfg.Fleet
	b := fleetBlock
	f.ClaimCertPath = r.text(b, "claimCertPath", checkPath)
	f.ClaimKeyPath = r.text(b, "claimKeyPath", checkPath)
	f.RootCAPath = r.text(b, "rootCaPath", checkPath)
	f.CertPath = r.text(b, "certPath", checkPath)
	f.KeyPath = r.text(b, "keyPath", checkPath)
	f.DeviceRootCAPath = r.text(b, "deviceRootCaPath", checkPath)
	f.DeviceIDFile = r.text(b, "deviceIdFile", checkPath)
	f.RemoveClaimCredentials, _ = r.boolean(b, "removeClaimCredentials", false)

	if f.CertPath == "" {
		f.CertPath = DefaultCertPath
	}
	if f.KeyPath == "" {
		f.KeyPath = DefaultKeyPath
	}
	if f.DeviceRootCAPath == "" {
		f.DeviceRootCAPath = filepath.Join(filepath.Dir(f.CertPath),
			DefaultRootCAName)
	}
	r.checkDistinctPaths()
}

// checkDistinctPaths rejects an installed file that would overwrite the
// claim credentials or another installed file. Installing over the claim
// key, for one, would later remove it as the superseded key.
func (r *reader) checkDistinctPaths() {
	f := &r.cfg.Fleet
	installed := []struct{ key, path string }{
		{"keyPath", f.KeyPath},
		{"certPath", f.CertPath},
		{"deviceRootCaPath", f.DeviceRootCAPath},
	}
	taken := map[string]string{
		f.ClaimCertPath: "claimCertPath",
		f.ClaimKeyPath:  "claimKeyPath",
	}
	for _, in := range installed {
		other, clash := taken[in.path]
		if clash && in.path != "" {
			r.failPath(in.key, fmt.Errorf("%q is also %s; give the installed file a path of its own", in.path, other))
		}
		taken[in.path] = in.key
	}
}

// failPath reports an error on key of the fleet provisioning block, at its
// own line when a file sets it, else at the nearest enclosing block.
func (r *reader) failPath(key string, err error) {
	path := at(fleetBlock, key)
	if e := r.field(fleetBlock, key); e != nil {
		r.fail(e, path, err)
		return
	}
	file, line := r.nearest(path)
	r.errs = append(r.errs, &Error{File: file, Line: line, Key: dotted(path), Err: err})
}

// readFleetConnection reads the MQTT connection and retry settings.
func (r *reader) readFleetConnection() {
	f := &r.cfg.Fleet
	b := fleetBlock
	f.MQTTPort = r.integer(b, "mqttPort", DefaultMQTTPort, 1, 65535)
	f.ALPN = f.MQTTPort == 443
	if alpn, set := r.boolean(b, "mqttAlpn", false); set {
		f.ALPN = alpn
	}
	f.UseSystemRoots, _ = r.boolean(b, "useSystemRoots", false)

	f.ResponseTimeout = r.duration(b, "responseTimeout", DefaultResponseTimeout)
	f.RetryMaxDelay = r.duration(b, "retryMaxDelay", DefaultRetryMaxDelay)
	f.RejectedRetryMaxDelay = r.duration(b, "rejectedRetryMaxDelay",
		DefaultRejectedRetryMaxDelay)
	f.MaxAttempts = r.integer(b, "maxAttempts", 0, 0, math.MaxInt32)
}

// readDeviceIDSources reads deviceIdSources: known names, no repeats, and
// "file" only with deviceIdFile.
func (r *reader) readDeviceIDSources() {
	f := &r.cfg.Fleet
	path := at(fleetBlock, "deviceIdSources")
	e, items, set := r.list(fleetBlock, "deviceIdSources")
	if !set {
		f.DeviceIDSources = slices.Clone(DefaultDeviceIDSources)
		return
	}
	if len(items) == 0 {
		r.fail(e, path, fmt.Errorf("is empty: list at least one of %s",
			strings.Join(DeviceIDSources, ", ")))
		return
	}

	for i, it := range items {
		err := oneOf(DeviceIDSources)(it.value)
		switch {
		case err != nil:
			r.failItem(e, path, it, err)
		case slices.ContainsFunc(items[:i], func(o item) bool {
			return o.value == it.value
		}):
			r.failItem(e, path, it, fmt.Errorf("is listed twice: remove one"))
		case it.value == "file" && f.DeviceIDFile == "":
			r.failItem(e, path, it, fmt.Errorf("needs deviceIdFile: set it "+
				"to the absolute path of the file that contains the device ID"))
		}
		f.DeviceIDSources = append(f.DeviceIDSources, it.value)
	}
}

// readRestartUnits reads restartUnits. An empty list restarts nothing.
func (r *reader) readRestartUnits() {
	f := &r.cfg.Fleet
	path := at(fleetBlock, "restartUnits")
	e, items, set := r.list(fleetBlock, "restartUnits")
	if !set {
		f.RestartUnits = slices.Clone(DefaultRestartUnits)
		return
	}

	f.RestartUnits = []string{}
	for _, it := range items {
		err := checkUnit(it.value)
		if err != nil {
			r.failItem(e, path, it, err)
		}
		f.RestartUnits = append(f.RestartUnits, it.value)
	}
}

// readOwner reads user and group, defaulting to the parts of posixUser.
func (r *reader) readOwner() {
	f := &r.cfg.Fleet
	f.User = r.text(fleetBlock, "user", checkPosixName)
	f.Group = r.text(fleetBlock, "group", checkPosixName)

	posixUser := r.cfg.Nucleus.PosixUser
	user, group, hasGroup := strings.Cut(posixUser, ":")
	switch {
	case posixUser == "" && f.User == "":
		f.User = DefaultUser
		if f.Group == "" {
			f.Group = DefaultGroup
		}
	case f.User == "":
		f.User = user
		if f.Group == "" && hasGroup {
			f.Group = group
		}
	}
}

// requireFleet reports the settings without which provisioning cannot start.
func (r *reader) requireFleet() {
	f := &r.cfg.Fleet
	b := fleetBlock
	if r.cfg.DataEndpoint() == "" {
		r.required(b, "iotDataEndpoint", "set it here or in "+
			dotted(at(nucleusBlock, "iotDataEndpoint"))+" to the AWS IoT data "+
			"endpoint (aws iot describe-endpoint --endpoint-type iot:Data-ATS)")
	}
	if f.TemplateName == "" {
		r.required(b, "templateName", "set it to the name of the fleet "+
			"provisioning template")
	}
	if f.ClaimCertPath == "" {
		r.required(b, "claimCertPath", "set it to the path of the claim "+
			"certificate, such as /etc/greengrass/certs/claim.cert.pem")
	}
	if f.ClaimKeyPath == "" {
		r.required(b, "claimKeyPath", "set it to the path of the claim "+
			"private key, such as /etc/greengrass/certs/claim.key.pem")
	}
	if f.RootCAPath == "" && !f.UseSystemRoots {
		r.required(b, "rootCaPath", "set it to the path of the Amazon root CA "+
			"file, or set useSystemRoots: true")
	}
}

// unknownKeys lists the keys of each file's fleet provisioning block that
// are not in fleetKeys.
func unknownKeys(sources []*source) []Position {
	var unknown []Position
	for _, src := range sources {
		block := lookup(src.root, fleetBlock)
		if !isMap(block) {
			continue
		}

		for i := 0; i+1 < len(block.Content); i += 2 {
			k := resolve(block.Content[i])
			if slices.Contains(fleetKeys, k.Value) {
				continue
			}
			unknown = append(unknown, Position{File: src.path, Line: k.Line,
				Column: k.Column, Key: dotted(at(fleetBlock, k.Value))})
		}
	}

	return unknown
}

// lookup returns the value node at path in the mapping m of one file, or
// nil.
func lookup(m *yaml.Node, path []string) *yaml.Node {
	n := m
	for _, k := range path {
		if !isMap(n) {
			return nil
		}

		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if resolve(n.Content[i]).Value == k {
				next = resolve(n.Content[i+1])
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}

	return n
}
