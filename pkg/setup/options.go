// Package setup implements ggl-fleet-setup, the host tool that deploys the
// fleet provisioning stack, mints the claim certificate and writes the files
// of the Yocto build. Progress goes to stderr as plain lines, one per step,
// because the reader is a person at a terminal or a CI log, not a journal.
package setup

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Exit codes of ggl-fleet-setup.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2 // invalid flags or missing configuration such as the Region
)

// UsageError is an error in the command line or the local configuration;
// ggl-fleet-setup exits with ExitUsage for it.
type UsageError struct{ Err error }

// Error returns the text of the wrapped error.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Options are the settings of one run, from flags.
type Options struct {
	Profile string // shared config profile; "" = AWS_PROFILE or default
	Region  string // "" = AWS_REGION or the profile's region

	// Stack is the CloudFormation stack name; every resource name of the
	// stack starts with it.
	Stack string
	// Out is the output directory of the claim files, state.json and the
	// build files. deploy makes it absolute.
	Out string

	TemplateName   string // fleet provisioning template name
	ThingGroup     string // thing group of provisioned devices
	ThingPrefix    string // prefix of every thing name; may be ""
	ArtifactBucket string // S3 bucket devices may read; "" = no S3 access
	Hook           bool   // add the pre-provisioning Lambda hook

	ReplaceFailed bool // delete and recreate a stack in ROLLBACK_COMPLETE
	RotateClaim   bool // replace the claim certificate even if reusable
	DryRun        bool // print the changing calls instead of making them

	// Poll is the shortest delay between two stack status checks
	// (--poll-interval, default 5 s); the waiters back off up to four
	// times that.
	Poll time.Duration
	// Timeout is the maximum duration of one wait for a stack operation
	// (--timeout, default 30 min).
	Timeout time.Duration
}

var (
	stackPattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,99}$`)
	templatePattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,36}$`)
	groupPattern    = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
	prefixPattern   = regexp.MustCompile(`^[a-zA-Z0-9:_-]{0,64}$`)
	bucketPattern   = regexp.MustCompile(`^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

func newFlagSet(cmd string, stderr io.Writer, o *Options, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("ggl-fleet-setup "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ggl-fleet-setup %s\n\n", usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Profile, "profile", "",
		"AWS shared config profile (default: AWS_PROFILE, else \"default\")")
	fs.StringVar(&o.Region, "region", "",
		"AWS Region (default: AWS_REGION, else the profile's region)")
	fs.StringVar(&o.Stack, "stack", "",
		"CloudFormation stack name, 1 to 100 letters, digits and '-' (required)")
	fs.StringVar(&o.Out, "out", "",
		"output directory for the claim files, state.json and build files (required)")
	fs.DurationVar(&o.Poll, "poll-interval", 5*time.Second,
		"shortest delay between two stack status checks")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute,
		"maximum wait for one stack operation")
	return fs
}

func addDeployFlags(fs *flag.FlagSet, o *Options) {
	fs.StringVar(&o.TemplateName, "template-name", "",
		"fleet provisioning template name, up to 36 of [0-9A-Za-z_-] (default: STACK-template)")
	fs.StringVar(&o.ThingGroup, "thing-group", "",
		"thing group of provisioned devices (default: STACK-devices)")
	fs.StringVar(&o.ThingPrefix, "thing-prefix", "",
		"prefix of every thing name; thing name = prefix + device ID (default: none)")
	fs.StringVar(&o.ArtifactBucket, "artifact-bucket", "",
		"S3 bucket of private component artifacts for devices (default: none, no S3 access)")
	fs.BoolVar(&o.Hook, "hook", false,
		"add a pre-provisioning Lambda hook that checks the serial number (default: off)")
	fs.BoolVar(&o.ReplaceFailed, "replace-failed", false,
		"delete and recreate a stack whose creation failed (ROLLBACK_COMPLETE) (default: off)")
	fs.BoolVar(&o.RotateClaim, "rotate-claim", false,
		"create a new claim certificate and set the previous one INACTIVE (default: off)")
	addDryRunFlag(fs, o)
}

func addDryRunFlag(fs *flag.FlagSet, o *Options) {
	fs.BoolVar(&o.DryRun, "dry-run", false,
		"print the calls that would change something, and change nothing (default: off)")
}

// parse parses args into fs and checks the options shared by all commands.
func parse(fs *flag.FlagSet, args []string, o *Options) error {
	if err := fs.Parse(args); err != nil {
		return &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q: see --help", fs.Arg(0))
	}
	if !stackPattern.MatchString(o.Stack) {
		return usageErrorf(
			"--stack %q is invalid: want 1 to 100 letters, digits and '-', starting with a letter",
			o.Stack)
	}
	if o.Out == "" {
		return usageErrorf("--out is missing: name the output directory")
	}
	if o.Poll <= 0 || o.Timeout <= 0 {
		return usageErrorf("--poll-interval and --timeout must be positive")
	}
	return nil
}

// deployDefaults fills in derived names and checks the deploy options.
func (o *Options) deployDefaults() error {
	if o.TemplateName == "" {
		o.TemplateName = o.Stack + "-template"
		if !templatePattern.MatchString(o.TemplateName) {
			return usageErrorf(
				"default template name %q is longer than 36 characters: pass --template-name",
				o.TemplateName)
		}
	}
	if o.ThingGroup == "" {
		o.ThingGroup = o.Stack + "-devices"
	}

	checks := []struct {
		flag, value string
		re          *regexp.Regexp
	}{
		{"--template-name", o.TemplateName, templatePattern},
		{"--thing-group", o.ThingGroup, groupPattern},
		{"--thing-prefix", o.ThingPrefix, prefixPattern},
		{"--artifact-bucket", o.ArtifactBucket, bucketPattern},
	}
	for _, c := range checks {
		if !c.re.MatchString(c.value) {
			return usageErrorf("%s %q is invalid: want to match %s",
				c.flag, c.value, c.re)
		}
	}
	return nil
}

// exitCode maps an error of Run to an exit code.
func exitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	default:
		return ExitFailure
	}
}
