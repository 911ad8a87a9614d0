package ggconfig

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	templateNameRE = regexp.MustCompile(`^[0-9A-Za-z_-]{1,36}$`)
	thingNameRE    = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
	roleAliasRE    = regexp.MustCompile(`^[\w=,@-]{1,128}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	hostLabelRE    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

	// posixNameRE is a user or group name as shadow-utils accepts it by
	// default with upper case allowed, or a numeric ID.
	posixNameRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]{0,31}|[0-9]{1,10})$`)

	// unitPrefixRE is the part of a systemd unit name before its type
	// suffix: a name, optionally with an "@instance".
	unitPrefixRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?$`)
)

// unitSuffixes are the systemd unit types.
var unitSuffixes = []string{"service", "socket", "target", "device", "mount",
	"automount", "swap", "path", "timer", "slice", "scope"}

// DeviceIDSources are the allowed values of deviceIdSources.
var DeviceIDSources = []string{"mac", "cpu-serial", "device-tree", "dmi", "file",
	"generated"}

// KeyTypes are the allowed values of keyType. "aws-generated" lets AWS IoT
// create the key (CreateKeysAndCertificate) in place of a local CSR.
var KeyTypes = []string{"ec-p256", "ec-p384", "rsa-2048", "rsa-3072",
	"aws-generated"}

// checkHost accepts an RFC 1123 host name: no scheme, port or path.
func checkHost(v string) error {
	switch {
	case strings.Contains(v, "://"):
		return errors.New("must be a host name without a scheme, " +
			"such as a1b2c3-ats.iot.eu-west-1.amazonaws.com")
	case strings.Contains(v, "/"):
		return errors.New("must be a host name without a path")
	case strings.Contains(v, ":"):
		return errors.New("must be a host name without a port: set mqttPort " +
			"for the port")
	}

	host := strings.TrimSuffix(v, ".")
	if len(host) > 253 {
		return errors.New("must be a host name of at most 253 characters")
	}
	for _, label := range strings.Split(host, ".") {
		if !hostLabelRE.MatchString(label) {
			return errors.New("must be a host name: labels of letters, digits " +
				"and inner hyphens, separated by dots")
		}
	}

	return nil
}

// checkPath accepts an absolute, clean path.
func checkPath(v string) error {
	if !strings.HasPrefix(v, "/") {
		return errors.New("must be an absolute path, starting with /")
	}
	if strings.ContainsRune(v, 0) {
		return errors.New("must not contain a NUL byte")
	}
	if clean := filepath.Clean(v); clean != v {
		return fmt.Errorf("must be a clean path: write %q", clean)
	}

	return nil
}

// checkTemplateName accepts an AWS IoT provisioning template name.
func checkTemplateName(v string) error {
	if !templateNameRE.MatchString(v) {
		return errors.New("must match [0-9A-Za-z_-]{1,36}, the form of an " +
			"AWS IoT provisioning template name")
	}

	return nil
}

// checkThingName accepts an AWS IoT thing name.
func checkThingName(v string) error {
	if !thingNameRE.MatchString(v) {
		return errors.New("must match [a-zA-Z0-9:_-]{1,128}, the form of an " +
			"AWS IoT thing name")
	}

	return nil
}

// checkRoleAlias accepts an AWS IoT role alias name.
func checkRoleAlias(v string) error {
	if !roleAliasRE.MatchString(v) {
		return errors.New("must match [\\w=,@-]{1,128}, the form of an AWS IoT " +
			"role alias")
	}

	return nil
}

// checkRegion accepts the form of an AWS region name such as eu-west-1.
func checkRegion(v string) error {
	if !regionRE.MatchString(v) {
		return errors.New("must be an AWS region name such as eu-west-1")
	}

	return nil
}

// checkCommonName accepts an X.509 common name: at most 64 printable
// characters.
func checkCommonName(v string) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 64 {
		return errors.New("must be at most 64 characters of valid UTF-8")
	}
	if strings.IndexFunc(v, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0 {
		return errors.New("must contain only printable characters")
	}

	return nil
}

// checkProxyURL accepts an http or https URL with a host and no path.
func checkProxyURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http:// or https:// URL with a host, " +
			"such as http://proxy.example.com:3128")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not have a path, query or fragment")
	}

	return nil
}

// checkNoProxy accepts a comma-separated list of hosts, domains or
// addresses, without spaces inside an entry.
func checkNoProxy(v string) error {
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" || strings.IndexFunc(e, func(c rune) bool {
			return unicode.IsSpace(c) || !unicode.IsPrint(c)
		}) >= 0 {
			return errors.New("must be a comma-separated list of host names, " +
				"domains or addresses")
		}
	}

	return nil
}

// checkPosixName accepts a user or group name, or a numeric ID.
func checkPosixName(v string) error {
	if !posixNameRE.MatchString(v) {
		return errors.New("must be a user or group name (letters, digits, " +
			"_ . -, at most 32 characters) or a numeric ID")
	}

	return nil
}

// checkPosixUser accepts "user" or "user:group".
func checkPosixUser(v string) error {
	user, group, hasGroup := strings.Cut(v, ":")
	if checkPosixName(user) != nil || hasGroup && checkPosixName(group) != nil {
		return errors.New("must be \"user\" or \"user:group\" with valid names, " +
			"such as ggcore:ggcore")
	}

	return nil
}

// checkUnit accepts a systemd unit name that can be restarted: name.type,
// where name may carry an "@instance" but not be a bare template.
func checkUnit(v string) error {
	dot := strings.LastIndexByte(v, '.')
	if len(v) > 255 || dot <= 0 || !unitPrefixRE.MatchString(v[:dot]) ||
		!slices.Contains(unitSuffixes, v[dot+1:]) {
		return fmt.Errorf("must be a systemd unit name such as "+
			"greengrass-lite.target, ending in .%s",
			strings.Join(unitSuffixes, ", ."))
	}

	return nil
}

// oneOf returns a check that accepts only the given values.
func oneOf(allowed []string) func(string) error {
	return func(v string) error {
		if slices.Contains(allowed, v) {
			return nil
		}

		return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	}
}
