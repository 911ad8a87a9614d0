package setup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/bundle"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/claim"
	tmpl "github.com/ggl-fleetd/ggl-fleetd/pkg/setup/template"
)

const region = "eu-west-1"

type result struct {
	code           int
	stdout, stderr string
}

// runTool runs the binary against the proxy in front of moto, with fake
// credentials, no shared config and no instance metadata.
func runTool(t *testing.T, withRegion bool, args ...string) result {
	t.Helper()
	home := t.TempDir()
	vars := []string{
		"HOME=" + home,
		"AWS_ENDPOINT_URL=" + env.proxy.server.URL,
		"AWS_ACCESS_KEY_ID=AKIAFAKEFAKEFAKE",
		"AWS_SECRET_ACCESS_KEY=fake-secret",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}
	if withRegion {
		vars = append(vars, "AWS_REGION="+region)
	}
	return runWithEnv(t, vars, args...)
}

// runWithEnv runs the binary with PATH and vars as its whole environment.
func runWithEnv(t *testing.T, vars []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(env.binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, vars...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}

	r := result{code, stdout.String(), stderr.String()}
	if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
		t.Errorf("ggl-fleet-setup %v printed a private key", args)
	}
	return r
}

func deploy(t *testing.T, out string, extra ...string) result {
	t.Helper()
	args := append([]string{"deploy", "--stack", "fleet", "--out", out, "--poll-interval", "50ms"}, extra...)
	return runTool(t, true, args...)
}

func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d; want 0\nstderr:\n%s", r.code, r.stderr)
	}
}

// awsClients talk to moto directly, to check what the tool did.
func awsClients(t *testing.T) (*iot.Client, *cloudformation.Client) {
	t.Helper()
	cfg := aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAFAKEFAKEFAKE", "fake-secret", ""),
		BaseEndpoint: aws.String(env.moto),
	}
	return iot.NewFromConfig(cfg), cloudformation.NewFromConfig(cfg)
}

func readState(t *testing.T, out string) claim.State {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, claim.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		t.Error("state.json contains a private key")
	}
	var st claim.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func certStatuses(t *testing.T) map[string]string {
	t.Helper()
	client, _ := awsClients(t)
	out, err := client.ListCertificates(context.Background(), &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range out.Certificates {
		got[aws.ToString(c.CertificateId)] = string(c.Status)
	}
	return got
}

// stackStatus returns the status of the stack in moto, or NOT_FOUND when
// DescribeStacks says that it does not exist.
func stackStatus(t *testing.T, name string) string {
	t.Helper()
	st := describeStack(t, name)
	if st == nil {
		return "NOT_FOUND"
	}
	return string(st.StackStatus)
}

func describeStack(t *testing.T, name string) *cftypes.Stack {
	t.Helper()
	_, cfn := awsClients(t)
	out, err := cfn.DescribeStacks(context.Background(),
		&cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return nil
	}
	if err != nil {
		t.Fatalf("DescribeStacks(%q): %v", name, err)
	}
	if len(out.Stacks) != 1 {
		t.Fatalf("DescribeStacks(%q) returned %d stacks; want 1", name, len(out.Stacks))
	}
	return &out.Stacks[0]
}

func TestDeployFirstRun(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")

	mustSucceed(t, deploy(t, out))

	st := readState(t, out)
	certs := certStatuses(t)
	if len(certs) != 1 || certs[st.Current] != "ACTIVE" {
		t.Errorf("certificates = %v; want only %s ACTIVE", certs, st.Current)
	}
	client, _ := awsClients(t)
	pols, err := client.ListAttachedPolicies(context.Background(),
		&iot.ListAttachedPoliciesInput{Target: aws.String(st.Certificates[0].ARN)})
	if err != nil || len(pols.Policies) != 1 || aws.ToString(pols.Policies[0].PolicyName) != "fleet-ClaimPolicy" {
		t.Errorf("ListAttachedPolicies = %+v, %v; want fleet-ClaimPolicy", pols, err)
	}

	checkMode(t, filepath.Join(out, claim.KeyFile), 0o600)
	checkMode(t, filepath.Join(out, claim.CertFile), 0o644)
	for _, name := range []string{"AmazonRootCA1.pem", "AmazonRootCA3.pem", "local.conf.sample", "fleetprovisioning.yaml"} {
		checkMode(t, filepath.Join(out, name), 0o644)
	}
	checkLocalConf(t, out)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %o; want %o", path, got, want)
	}
}

func checkLocalConf(t *testing.T, out string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "local.conf.sample"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(data)
	for _, want := range []string{
		`AWS_REGION = "eu-west-1"`,
		`AWS_REGION:pn-greengrass-lite = "eu-west-1"`,
		`IOT_ROLE_ALIAS = "fleet-TokenExchangeRoleAlias"`,
		`FLEET_PROVISIONING_TEMPLATE:pn-greengrass-lite = "fleet-template"`,
		`CLAIM_KEY_PATH = "` + filepath.Join(out, claim.KeyFile) + `"`,
		`ROOT_CA_PATH = "` + filepath.Join(out, "AmazonRootCA1.pem") + `"`,
		"IOT_DATA_ENDPOINT = \"", "IOT_CRED_ENDPOINT:pn-greengrass-lite = \"",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("local.conf.sample lacks %q:\n%s", want, conf)
		}
	}
}

// TestDropInLoads loads the written drop-in with the daemon's configuration
// loader beside a typical config.yaml.
func TestDropInLoads(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")
	mustSucceed(t, deploy(t, out))

	etc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(etc, "config.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(out, "fleetprovisioning.yaml"), filepath.Join(etc, "config.d", "fleetprovisioning.yaml"))
	main := "system:\n  rootpath: \"/var/lib/greengrass\"\n"
	if err := os.WriteFile(filepath.Join(etc, "config.yaml"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := ggconfig.Load(filepath.Join(etc, "config.yaml"))
	if err != nil {
		t.Fatalf("ggconfig.Load: %v", err)
	}
	if cfg.Fleet.TemplateName != "fleet-template" || cfg.Nucleus.AWSRegion != region ||
		cfg.Nucleus.IoTRoleAlias != "fleet-TokenExchangeRoleAlias" || cfg.DataEndpoint() == "" {
		t.Errorf("loaded %+v %+v; want template fleet-template, region %s, role alias", cfg.Fleet, cfg.Nucleus, region)
	}
	if got := cfg.Params("dev-1"); got["SerialNumber"] != "dev-1" {
		t.Errorf("Params(dev-1) = %v; want SerialNumber dev-1", got)
	}
	// The recipe installs the files the tool wrote under these names.
	for _, p := range []string{cfg.Fleet.ClaimCertPath, cfg.Fleet.ClaimKeyPath, cfg.Fleet.RootCAPath} {
		if _, err := os.Stat(filepath.Join(out, filepath.Base(p))); err != nil {
			t.Errorf("drop-in names %s, but the output has no %s", p, filepath.Base(p))
		}
	}
	checkDropInWithDaemon(t, out)
}

// checkDropInWithDaemon runs `ggl-fleetd check` on the drop-in and the
// claim files that deploy wrote. The drop-in's claim folder is pointed at
// the output folder, where the recipe would install the same files under
// /etc/greengrass/certs, and the device credentials at a temporary folder.
func checkDropInWithDaemon(t *testing.T, out string) {
	t.Helper()
	etc := t.TempDir()
	confD := filepath.Join(etc, "config.d")
	dropIn, err := os.ReadFile(filepath.Join(out, "fleetprovisioning.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dropIn = bytes.ReplaceAll(dropIn, []byte(bundle.DeviceCertDir+"/"), []byte(out+"/"))
	creds := filepath.Join(t.TempDir(), "credentials")
	local := "services:\n  aws.greengrass.fleet_provisioning:\n    configuration:\n" +
		"      certPath: \"" + creds + "/certificate.pem\"\n      keyPath: \"" + creds + "/priv_key\"\n"
	writeFile(t, filepath.Join(confD, "fleetprovisioning.yaml"), string(dropIn))
	writeFile(t, filepath.Join(confD, "zz-test.yaml"), local)

	daemon := filepath.Join(t.TempDir(), "ggl-fleetd")
	build := exec.Command("go", "build", "-o", daemon, "github.com/ggl-fleetd/ggl-fleetd/cmd/ggl-fleetd")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ggl-fleetd: %v\n%s", err, msg)
	}
	check := exec.Command(daemon, "check", "--config", filepath.Join(etc, "config.yaml"))
	msg, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("ggl-fleetd check on the drop-in: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "claim certificate: valid") {
		t.Errorf("ggl-fleetd check output lacks the claim certificate line:\n%s", msg)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDeployRerunReusesClaim(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")
	mustSucceed(t, deploy(t, out))
	first := readState(t, out).Current
	key1, _ := os.ReadFile(filepath.Join(out, claim.KeyFile))

	env.proxy.set(func(p *motoProxy) { p.noUpdates = true })
	r := deploy(t, out)
	mustSucceed(t, r)

	if got := readState(t, out).Current; got != first {
		t.Errorf("current certificate = %s; want %s reused", got, first)
	}
	if n := len(certStatuses(t)); n != 1 {
		t.Errorf("moto has %d certificates; want 1", n)
	}
	key2, _ := os.ReadFile(filepath.Join(out, claim.KeyFile))
	if !bytes.Equal(key1, key2) {
		t.Error("the claim key changed on a rerun")
	}
	if !strings.Contains(r.stderr, "is up to date") {
		t.Errorf("stderr lacks %q:\n%s", "is up to date", r.stderr)
	}
}

func TestDeployRotateClaim(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")
	mustSucceed(t, deploy(t, out))
	old := readState(t, out).Current

	mustSucceed(t, deploy(t, out, "--rotate-claim"))

	st := readState(t, out)
	certs := certStatuses(t)
	if st.Current == old {
		t.Fatalf("current certificate = %s; want a new one", old)
	}
	if certs[old] != "INACTIVE" || certs[st.Current] != "ACTIVE" {
		t.Errorf("statuses = %v; want %s INACTIVE and %s ACTIVE", certs, old, st.Current)
	}
	if len(st.Certificates) != 2 {
		t.Errorf("state lists %d certificates; want 2", len(st.Certificates))
	}
}

func TestDeployRollbackComplete(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "builds", "out")
	env.proxy.set(func(p *motoProxy) { p.failCreate["fleet"] = true })

	r := deploy(t, out)
	if r.code != 1 {
		t.Fatalf("first deploy: exit code %d; want 1", r.code)
	}
	for _, want := range []string{"ROLLBACK_COMPLETE", "TokenExchangeRole", "CREATE_FAILED",
		"RolesPerAccount", "--replace-failed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("first deploy: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Dir(out)); !os.IsNotExist(err) {
		t.Errorf("failed deploy left %s behind: %v", filepath.Dir(out), err)
	}
	failedID := aws.ToString(describeStack(t, "fleet").StackId)

	// A directory that existed before the run stays, even when empty.
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	r = deploy(t, out)
	if r.code != 1 || !strings.Contains(r.stderr, "--replace-failed") {
		t.Errorf("rerun without --replace-failed: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("failed deploy removed the existing %s: %v", out, err)
	}
	if strings.Contains(r.stderr, "deleting stack") {
		t.Errorf("rerun without --replace-failed deleted the stack:\n%s", r.stderr)
	}

	r = deploy(t, out, "--replace-failed")
	mustSucceed(t, r)
	for _, want := range []string{
		`stack "fleet" is ROLLBACK_COMPLETE; deleting it because of --replace-failed`,
		`stack "fleet" deleted`, `creating stack "fleet"`, `stack "fleet" created`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--replace-failed: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	st := describeStack(t, "fleet")
	if st == nil {
		t.Fatal("no stack fleet after --replace-failed")
	}
	if st.StackStatus != cftypes.StackStatusCreateComplete {
		t.Errorf("stack status = %s; want CREATE_COMPLETE", st.StackStatus)
	}
	if aws.ToString(st.StackId) == failedID {
		t.Errorf("stack ID = %s; want a new stack, not the failed one", failedID)
	}
	if _, err := os.Stat(filepath.Join(out, claim.CertFile)); err != nil {
		t.Errorf("deploy after --replace-failed wrote no claim certificate: %v", err)
	}
}

func TestMissingRegion(t *testing.T) {
	resetMoto(t)
	r := runTool(t, false, "deploy", "--stack", "fleet", "--out", t.TempDir())
	if r.code != 2 {
		t.Errorf("exit code = %d; want 2", r.code)
	}
	if !strings.Contains(r.stderr, "no AWS Region is set: pass --region, set AWS_REGION") {
		t.Errorf("stderr = %q; want the missing Region message", r.stderr)
	}
}

// TestMissingCredentials runs with a Region but without credentials. The
// endpoint is a closed port on loopback, so no request can leave the host.
func TestMissingCredentials(t *testing.T) {
	tests := []struct {
		name    string
		config  string // ~/.aws/config
		profile string
		want    string
	}{
		{
			name: "none-configured",
			want: "ggl-fleet-setup: no AWS credentials found; set AWS_PROFILE or " +
				"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`\n",
		},
		{
			name:    "credential-process-fails",
			config:  "[profile broken]\ncredential_process = /bin/false\n",
			profile: "broken",
			want:    "load AWS credentials: ",
		},
	}
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			vars := []string{
				"HOME=" + home,
				"AWS_REGION=" + region,
				"AWS_EC2_METADATA_DISABLED=true",
				"AWS_MAX_ATTEMPTS=1",
				fmt.Sprintf("AWS_ENDPOINT_URL=http://127.0.0.1:%d", closed),
			}
			if tt.config != "" {
				writeFile(t, filepath.Join(home, ".aws", "config"), tt.config)
				vars = append(vars, "AWS_PROFILE="+tt.profile)
			}
			out := filepath.Join(home, "out")

			r := runWithEnv(t, vars, "deploy", "--stack", "fleet", "--out", out)

			if r.code != 1 {
				t.Errorf("exit code = %d; want 1", r.code)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q; want it to contain %q", r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, "IMDS") {
				t.Errorf("stderr = %q; want no mention of instance metadata", r.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("deploy without credentials created %s: %v", out, err)
			}
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAPIErrorShown deletes the claim policy behind the tool's back, so
// moto rejects AttachPolicy on the rerun.
func TestAPIErrorShown(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")
	mustSucceed(t, deploy(t, out, "--rotate-claim"))
	client, _ := awsClients(t)
	st := readState(t, out)
	ctx := context.Background()
	if _, err := client.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("fleet-ClaimPolicy"),
		Target: aws.String(st.Certificates[0].ARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("fleet-ClaimPolicy")}); err != nil {
		t.Fatal(err)
	}

	r := deploy(t, out)
	if r.code != 1 {
		t.Errorf("exit code = %d; want 1", r.code)
	}
	want := "AttachPolicy failed: ResourceNotFoundException: "
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "ClaimPolicyName") {
		t.Errorf("stderr lacks %q and a hint:\n%s", want, r.stderr)
	}
}

func TestDestroy(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")
	mustSucceed(t, deploy(t, out))
	mustSucceed(t, deploy(t, out, "--rotate-claim"))

	r := runTool(t, true, "destroy", "--stack", "fleet", "--out", out, "--poll-interval", "50ms")
	mustSucceed(t, r)

	if want := "Deleted stack fleet and its claim certificates.\n"; r.stdout != want {
		t.Errorf("stdout = %q; want %q", r.stdout, want)
	}
	if got := stackStatus(t, "fleet"); got != "NOT_FOUND" {
		t.Errorf("stack status = %s; want NOT_FOUND", got)
	}
	if certs := certStatuses(t); len(certs) != 0 {
		t.Errorf("certificates left: %v", certs)
	}
	if st := readState(t, out); len(st.Certificates) != 0 || st.Current != "" {
		t.Errorf("state after destroy = %+v; want no certificates", st)
	}
	for _, name := range []string{claim.KeyFile, claim.CertFile} {
		if _, err := os.Stat(filepath.Join(out, name)); !os.IsNotExist(err) {
			t.Errorf("%s still present after destroy: %v", name, err)
		}
	}
	checkNoIoTResources(t)
}

// checkNoIoTResources checks that the stack's IoT policies and role alias
// are gone.
func checkNoIoTResources(t *testing.T) {
	t.Helper()
	client, _ := awsClients(t)
	ctx := context.Background()
	pols, err := client.ListPolicies(ctx, &iot.ListPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Policies {
		t.Errorf("policy %s left after destroy", aws.ToString(p.PolicyName))
	}
	aliases, err := client.ListRoleAliases(ctx, &iot.ListRoleAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases.RoleAliases {
		t.Errorf("role alias %s left after destroy", a)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")

	r := deploy(t, out, "--dry-run")
	mustSucceed(t, r)
	if !strings.Contains(r.stderr, "dry run: would call CreateStack") {
		t.Errorf("stderr lacks the CreateStack line:\n%s", r.stderr)
	}
	if got := stackStatus(t, "fleet"); got != "NOT_FOUND" {
		t.Errorf("stack status after dry run = %s; want NOT_FOUND", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", out)
	}

	mustSucceed(t, deploy(t, out))
	before := certStatuses(t)
	r = runTool(t, true, "destroy", "--stack", "fleet", "--out", out, "--dry-run")
	mustSucceed(t, r)
	if !strings.Contains(r.stderr, "dry run: would call DeleteStack") {
		t.Errorf("stderr lacks the DeleteStack line:\n%s", r.stderr)
	}
	if got := certStatuses(t); len(got) != len(before) {
		t.Errorf("certificates after destroy --dry-run = %v; want %v", got, before)
	}
	if got := stackStatus(t, "fleet"); got != "CREATE_COMPLETE" {
		t.Errorf("stack status after destroy --dry-run = %s; want CREATE_COMPLETE", got)
	}
}

func TestStatus(t *testing.T) {
	resetMoto(t)
	out := filepath.Join(t.TempDir(), "out")
	mustSucceed(t, deploy(t, out))
	id := readState(t, out).Current

	r := runTool(t, true, "status", "--stack", "fleet", "--out", out)
	mustSucceed(t, r)
	for _, want := range []string{"status: CREATE_COMPLETE", "output ClaimPolicyName: fleet-ClaimPolicy",
		"claim certificate: " + id + " ACTIVE"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestTemplateCommand(t *testing.T) {
	r := runTool(t, false, "template")
	mustSucceed(t, r)
	if r.stdout != tmpl.Body() {
		t.Error("ggl-fleet-setup template does not print the embedded template")
	}
}

func TestHelpShowsDefaults(t *testing.T) {
	r := runTool(t, false, "deploy", "--help")
	mustSucceed(t, r)
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(line, "  -") {
			continue // the flag name; its text follows on the next line
		}
		if strings.HasPrefix(line, "    \t") && !strings.Contains(line, "default") && !strings.Contains(line, "required") {
			t.Errorf("help line without a default: %q", line)
		}
	}
}
