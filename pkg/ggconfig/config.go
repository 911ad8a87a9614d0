package ggconfig

import (
	"strings"
	"time"
)

// DefaultPath is where Greengrass Lite keeps its main configuration file.
const DefaultPath = "/etc/greengrass/config.yaml"

// Key paths of the blocks that Load reads.
var (
	systemBlock  = []string{"system"}
	nucleusBlock = []string{"services", "aws.greengrass.NucleusLite", "configuration"}
	fleetBlock   = []string{"services", "aws.greengrass.fleet_provisioning",
		"configuration"}
)

// Defaults of the settings that ggl-fleetd adds to the fleet provisioning block.
const (
	DefaultCertPath              = "/var/lib/greengrass/credentials/certificate.pem"
	DefaultKeyPath               = "/var/lib/greengrass/credentials/priv_key"
	DefaultRootCAName            = "AmazonRootCA.pem"
	DefaultMQTTPort              = 8883
	DefaultKeyType               = "ec-p256"
	DefaultResponseTimeout       = 30 * time.Second
	DefaultRetryMaxDelay         = 5 * time.Minute
	DefaultRejectedRetryMaxDelay = time.Hour
	DefaultUser                  = "ggcore"
	DefaultGroup                 = "ggcore"
)

// Unique is the placeholder in templateParams values that Params replaces
// with the device ID.
const Unique = "<unique>"

// DefaultDeviceIDSources is the order in which device ID sources are tried
// when deviceIdSources is not set.
var DefaultDeviceIDSources = []string{"mac", "cpu-serial", "device-tree", "dmi",
	"generated"}

// DefaultRestartUnits are the units restarted after provisioning when
// restartUnits is not set.
var DefaultRestartUnits = []string{"greengrass-lite.target"}

// Config is the merged Greengrass Lite configuration as ggl-fleetd reads it.
type Config struct {
	// Path is the main file, config.yaml, which need not exist.
	Path string

	// Files lists every file read, in merge order.
	Files []string

	System  System
	Nucleus Nucleus
	Fleet   Fleet

	// Unknown lists keys in the fleet provisioning block that neither
	// Greengrass Lite nor ggl-fleetd reads, often a misspelled key, in file
	// order. Load does not fail on them, so the caller should log them.
	Unknown []Position

	sources []*source
	defs    map[string][]Position
}

// System is the system block: the device's own identity and root folder.
type System struct {
	ThingName           string // "thingName"
	CertificateFilePath string // "certificateFilePath"
	PrivateKeyPath      string // "privateKeyPath"
	RootCAPath          string // "rootCaPath"
	RootPath            string // "rootpath" (also read as "rootPath")
}

// Nucleus is the configuration block of aws.greengrass.NucleusLite.
type Nucleus struct {
	AWSRegion       string // "awsRegion"
	IoTDataEndpoint string // "iotDataEndpoint", a host name
	IoTCredEndpoint string // "iotCredEndpoint", a host name
	IoTRoleAlias    string // "iotRoleAlias"
	ProxyURL        string // "networkProxy.proxy.url", http or https
	NoProxy         string // "networkProxy.noproxy", comma-separated hosts
	PosixUser       string // "runWithDefault.posixUser", "user" or "user:group"
}

// Fleet is the configuration block of aws.greengrass.fleet_provisioning:
// the keys Greengrass Lite's own fleet provisioning reads, plus the settings
// of ggl-fleetd. The comment after each field names its key and default.
type Fleet struct {
	IoTDataEndpoint string // "iotDataEndpoint", a host name
	IoTCredEndpoint string // "iotCredEndpoint", a host name
	ClaimCertPath   string // "claimCertPath", required
	ClaimKeyPath    string // "claimKeyPath", required
	RootCAPath      string // "rootCaPath", required unless UseSystemRoots

	TemplateName string // "templateName", required

	// TemplateParams is "templateParams" as written, with Unique kept. It is
	// nil when the key is not set. Values written as numbers or booleans are
	// kept as their text.
	TemplateParams map[string]string

	CSRCommonName string // "csrCommonName", at most 64 characters

	CertPath string // "certPath", DefaultCertPath
	KeyPath  string // "keyPath", DefaultKeyPath

	// DeviceRootCAPath is where the root CA is copied ("deviceRootCaPath"),
	// by default DefaultRootCAName in the folder of CertPath.
	DeviceRootCAPath string

	MQTTPort int  // "mqttPort", DefaultMQTTPort
	ALPN     bool // "mqttAlpn", true when MQTTPort is 443

	DeviceIDSources []string // "deviceIdSources", DefaultDeviceIDSources
	DeviceIDFile    string   // "deviceIdFile", required by source "file"

	RestartUnits []string // "restartUnits", DefaultRestartUnits
	KeyType      string   // "keyType", DefaultKeyType

	ResponseTimeout       time.Duration // "responseTimeout", 30s
	RetryMaxDelay         time.Duration // "retryMaxDelay", 5m (transient errors)
	RejectedRetryMaxDelay time.Duration // "rejectedRetryMaxDelay", 1h (rejections)
	MaxAttempts           int           // "maxAttempts", 0 = no limit

	UseSystemRoots         bool // "useSystemRoots", false
	RemoveClaimCredentials bool // "removeClaimCredentials", false

	// User and Group own the installed credentials ("user", "group").
	// They default to the parts of Nucleus.PosixUser, else to ggcore.
	// Group is empty when posixUser names only a user: then the owner is
	// that user's primary group.
	User, Group string
}

// Params returns the RegisterThing parameters for deviceID: TemplateParams
// with every Unique replaced by deviceID, or {"SerialNumber": deviceID} when
// templateParams is not set. An empty templateParams map gives an empty map.
func (c *Config) Params(deviceID string) map[string]string {
	if c.Fleet.TemplateParams == nil {
		return map[string]string{"SerialNumber": deviceID}
	}

	params := make(map[string]string, len(c.Fleet.TemplateParams))
	for k, v := range c.Fleet.TemplateParams {
		params[k] = strings.ReplaceAll(v, Unique, deviceID)
	}

	return params
}

// DataEndpoint returns Fleet.IoTDataEndpoint, else Nucleus.IoTDataEndpoint.
func (c *Config) DataEndpoint() string {
	if c.Fleet.IoTDataEndpoint != "" {
		return c.Fleet.IoTDataEndpoint
	}

	return c.Nucleus.IoTDataEndpoint
}

// CredEndpoint returns Fleet.IoTCredEndpoint, else Nucleus.IoTCredEndpoint.
func (c *Config) CredEndpoint() string {
	if c.Fleet.IoTCredEndpoint != "" {
		return c.Fleet.IoTCredEndpoint
	}

	return c.Nucleus.IoTCredEndpoint
}

// Definitions returns every place that sets the dotted key path, in merge
// order, including places whose value a later file overrides. Keys that
// contain dots are joined as written, so "services.aws.greengrass.NucleusLite"
// names the component key "aws.greengrass.NucleusLite".
func (c *Config) Definitions(key string) []Position {
	return append([]Position(nil), c.defs[key]...)
}
