package setup

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/apierror"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/bundle"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/claim"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/progress"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/rootca"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/stack"
	tmpl "github.com/ggl-fleetd/ggl-fleetd/pkg/setup/template"
)

const usage = `usage: ggl-fleet-setup COMMAND [flags]

Deploys the AWS IoT fleet provisioning stack for Greengrass Lite devices,
mints the claim certificate and writes the files of the Yocto build.

Commands:
  deploy    create or update the stack, ensure a claim certificate, write the files
  status    print the stack status, its outputs and the claim certificate status
  destroy   delete the claim certificates created here, then the stack
  template  print the CloudFormation template

Run "ggl-fleet-setup COMMAND --help" for the flags of a command.
Credentials and Region come from the AWS SDK default chain (AWS_PROFILE,
AWS_REGION, ~/.aws/config); AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_IOT or
AWS_ENDPOINT_URL_CLOUDFORMATION override the service endpoints.
`

// Main runs ggl-fleet-setup with args (without the program name) and
// returns its exit code. Results go to stdout, progress and errors to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "ggl-fleet-setup: %v\n", err)
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return exitCode(err)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &UsageError{Err: errors.New("no command given")}
	}

	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "template":
		fmt.Fprint(stdout, tmpl.Body())
		return nil
	case "deploy":
		return runDeploy(ctx, rest, stdout, stderr)
	case "status":
		return runStatus(ctx, rest, stdout, stderr)
	case "destroy":
		return runDestroy(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("unknown command %q", cmd)
}

// clients are the AWS clients of one run.
type clients struct {
	region string
	cfn    *cloudformation.Client
	iot    *iot.Client
}

// newClients loads the SDK configuration: the default credential chain and
// Region, overridden by --profile and --region.
func newClients(ctx context.Context, o *Options) (*clients, error) {
	var opts []func(*config.LoadOptions) error
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}

	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, usageErrorf(
			"load AWS configuration: %w; check --profile, AWS_PROFILE and ~/.aws/config",
			err)
	}
	if cfg.Region == "" {
		return nil, usageErrorf("no AWS Region is set: pass --region, set AWS_REGION, " +
			"or set region in the profile in ~/.aws/config")
	}
	if err := checkCredentials(ctx, cfg); err != nil {
		return nil, err
	}
	return &clients{
		region: cfg.Region,
		cfn:    cloudformation.NewFromConfig(cfg),
		iot:    iot.NewFromConfig(cfg),
	}, nil
}

// checkCredentials retrieves the credentials once, so that a missing or
// expired login fails before the first API call with a plain message. A
// default chain without credentials falls back to the EC2 instance role.
// Its error names instance metadata, so that case gets its own message.
func checkCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials != nil {
		_, err := cfg.Credentials.Retrieve(ctx)
		if err == nil {
			return nil
		}
		if !aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
			return fmt.Errorf(
				"load AWS credentials: %w; check --profile and AWS_PROFILE, or run `aws sso login`",
				err)
		}
	}
	return errors.New(
		"no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`")
}

func (c *clients) deployer(o *Options, p *progress.Reporter) *stack.Deployer {
	return &stack.Deployer{
		Client:   c.cfn,
		Progress: p,
		Poll:     o.Poll,
		Timeout:  o.Timeout,
		DryRun:   o.DryRun,
	}
}

func (c *clients) claims(o *Options, p *progress.Reporter) *claim.Manager {
	return &claim.Manager{
		Client:   c.iot,
		Dir:      o.Out,
		Progress: p,
		DryRun:   o.DryRun,
		Rand:     rand.Reader,
		Now:      time.Now,
	}
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("deploy", stderr, &o, "deploy --stack NAME --out DIR [flags]")
	addDeployFlags(fs, &o)
	if err := parse(fs, args, &o); err != nil {
		return err
	}
	if err := o.deployDefaults(); err != nil {
		return err
	}
	c, err := newClients(ctx, &o)
	if err != nil {
		return err
	}

	out, removeOut, err := prepareOut(&o)
	if err != nil {
		return err
	}
	if err := deployTo(ctx, c, &o, out, stdout, stderr); err != nil {
		removeOut()
		return err
	}
	return nil
}

// deployTo deploys the stack, ensures the claim certificate and writes the
// build files in out.
func deployTo(ctx context.Context, c *clients, o *Options, out string,
	stdout, stderr io.Writer) error {
	p := progress.New(stderr)
	state, err := claim.LoadState(out, o.Stack, c.region)
	if err != nil {
		return err
	}

	p.Stepf("deploying stack %q in %s", o.Stack, c.region)
	st, err := c.deployer(o, p).Deploy(ctx, stack.Spec{
		Name:          o.Stack,
		TemplateBody:  tmpl.Body(),
		Parameters:    o.stackParameters(),
		ReplaceFailed: o.ReplaceFailed,
	})
	if err != nil {
		return err
	}
	if st == nil {
		p.Wouldf("create the claim certificate and write the files in %s", out)
		return nil
	}
	return finishDeploy(ctx, c, o, p, st, state, stdout)
}

func (o *Options) stackParameters() map[string]string {
	return map[string]string{
		tmpl.ParamTemplateName:   o.TemplateName,
		tmpl.ParamThingGroupName: o.ThingGroup,
		tmpl.ParamThingPrefix:    o.ThingPrefix,
		tmpl.ParamHook:           strconv.FormatBool(o.Hook),
		tmpl.ParamArtifactBucket: o.ArtifactBucket,
	}
}

// prepareOut makes --out absolute and creates it unless this is a dry run.
// The returned function removes the directories that prepareOut created, as
// long as they are still empty, so a run that failed before writing
// anything leaves no trace.
func prepareOut(o *Options) (string, func(), error) {
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return "", nil, usageErrorf("--out %q: %w", o.Out, err)
	}
	o.Out = out
	if o.DryRun {
		return out, func() {}, nil
	}

	top := firstMissing(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", nil, fmt.Errorf("create output directory %q: %w", out, err)
	}
	return out, func() { removeEmpty(out, top) }, nil
}

// firstMissing returns the outermost directory of path, path included,
// that does not exist, or "" when path exists.
func firstMissing(path string) string {
	missing := ""
	for dir := path; ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			return missing
		}
		missing = dir
		if filepath.Dir(dir) == dir {
			return missing
		}
	}
}

// removeEmpty removes dir and its parents up to top while they are empty.
func removeEmpty(dir, top string) {
	if top == "" {
		return
	}
	for os.Remove(dir) == nil && dir != top {
		dir = filepath.Dir(dir)
	}
}

func finishDeploy(ctx context.Context, c *clients, o *Options, p *progress.Reporter,
	st *stack.Stack, state *claim.State, stdout io.Writer) error {
	outputs, err := requireOutputs(st, tmpl.OutputClaimPolicyName,
		tmpl.OutputRoleAliasName, tmpl.OutputTemplateName)
	if err != nil {
		return err
	}
	dataHost, credHost, err := endpoints(ctx, c.iot)
	if err != nil {
		return err
	}

	policy := outputs[tmpl.OutputClaimPolicyName]
	if _, err := c.claims(o, p).Ensure(ctx, state, policy, o.RotateClaim); err != nil {
		return err
	}
	settings := bundle.Settings{
		Stack: o.Stack, Region: c.region,
		DataEndpoint: dataHost, CredEndpoint: credHost,
		RoleAlias:     outputs[tmpl.OutputRoleAliasName],
		TemplateName:  outputs[tmpl.OutputTemplateName],
		ClaimCertPath: filepath.Join(o.Out, claim.CertFile),
		ClaimKeyPath:  filepath.Join(o.Out, claim.KeyFile),
		RootCAPath:    filepath.Join(o.Out, rootca.RSAFile),
	}
	if o.DryRun {
		if err := settings.Validate(); err != nil {
			return err
		}
		p.Wouldf("write %s, %s and the root CAs in %s",
			bundle.LocalConfFile, bundle.DropInFile, o.Out)
		return nil
	}

	written, err := bundle.Write(o.Out, settings)
	if err != nil {
		return err
	}
	for _, path := range written {
		p.Stepf("wrote %s", path)
	}
	fmt.Fprintf(stdout, "Append %s to conf/local.conf of the Yocto build.\n",
		filepath.Join(o.Out, bundle.LocalConfFile))
	return nil
}

func requireOutputs(st *stack.Stack, keys ...string) (map[string]string, error) {
	for _, k := range keys {
		if st.Outputs[k] == "" {
			return nil, fmt.Errorf(
				"stack %q has no output %q: it was not deployed by this version; run deploy again",
				st.Name, k)
		}
	}
	return st.Outputs, nil
}

// endpoints returns the ATS data endpoint and the credentials provider
// endpoint of the account.
func endpoints(ctx context.Context, client *iot.Client) (data, cred string, err error) {
	for _, e := range []struct {
		kind string
		dst  *string
	}{{"iot:Data-ATS", &data}, {"iot:CredentialProvider", &cred}} {
		out, err := client.DescribeEndpoint(ctx,
			&iot.DescribeEndpointInput{EndpointType: aws.String(e.kind)})
		if err != nil {
			return "", "", apierror.Wrap("DescribeEndpoint", err,
				"check the IAM permission iot:DescribeEndpoint")
		}
		*e.dst = aws.ToString(out.EndpointAddress)
	}
	return data, cred, nil
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("status", stderr, &o, "status --stack NAME --out DIR [flags]")
	if err := parse(fs, args, &o); err != nil {
		return err
	}
	c, err := newClients(ctx, &o)
	if err != nil {
		return err
	}
	p := progress.New(stderr)

	st, err := c.deployer(&o, p).Describe(ctx, o.Stack)
	if err != nil {
		return err
	}
	printStack(stdout, o.Stack, c.region, st)

	state, err := claim.LoadState(o.Out, o.Stack, c.region)
	if err != nil {
		return err
	}
	status, err := c.claims(&o, p).Status(ctx, state)
	if err != nil {
		return err
	}
	if status == "" {
		fmt.Fprintln(stdout, "claim certificate: none")
		return nil
	}
	fmt.Fprintf(stdout, "claim certificate: %s %s\n", state.Current, status)
	return nil
}

func printStack(w io.Writer, name, region string, st *stack.Stack) {
	fmt.Fprintf(w, "stack: %s\nregion: %s\n", name, region)
	if st == nil {
		fmt.Fprintln(w, "status: NOT_FOUND")
		return
	}
	fmt.Fprintf(w, "status: %s\n", st.Status)
	keys := make([]string, 0, len(st.Outputs))
	for k := range st.Outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "output %s: %s\n", k, st.Outputs[k])
	}
}

func runDestroy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o Options
	fs := newFlagSet("destroy", stderr, &o, "destroy --stack NAME --out DIR [--dry-run]")
	addDryRunFlag(fs, &o)
	if err := parse(fs, args, &o); err != nil {
		return err
	}
	c, err := newClients(ctx, &o)
	if err != nil {
		return err
	}
	p := progress.New(stderr)

	state, err := claim.LoadState(o.Out, o.Stack, c.region)
	if err != nil {
		return err
	}
	p.Stepf("deleting %d claim certificates of stack %q",
		len(state.Certificates), o.Stack)
	if err := c.claims(&o, p).DeleteAll(ctx, state); err != nil {
		return err
	}

	d := c.deployer(&o, p)
	st, err := d.Describe(ctx, o.Stack)
	if err != nil {
		return err
	}
	if st == nil {
		p.Stepf("stack %q does not exist", o.Stack)
		return nil
	}
	if err := d.Delete(ctx, o.Stack); err != nil {
		return err
	}
	if !o.DryRun {
		fmt.Fprintf(stdout, "Deleted stack %s and its claim certificates.\n", o.Stack)
	}
	return nil
}
