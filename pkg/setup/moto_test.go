package setup_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"gopkg.in/yaml.v3"
)

// env is shared by the tests of this package: one moto_server, one proxy in
// front of it and one build of the binary.
var env struct {
	skip   string // reason to skip, when moto_server or the build is missing
	moto   string // moto base URL
	proxy  *motoProxy
	binary string
}

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "ggl-fleet-setup-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)

		stop, err := setUp(dir)
		if stop != nil {
			defer stop()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setUp(dir string) (stop func(), err error) {
	env.binary = filepath.Join(dir, "ggl-fleet-setup")
	build := exec.Command("go", "build", "-o", env.binary, "github.com/ggl-fleetd/ggl-fleetd/cmd/ggl-fleet-setup")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}

	server, err := exec.LookPath("moto_server")
	if err != nil {
		env.skip = "moto_server not found in PATH; install moto[server] to run the AWS API tests"
		return nil, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(server, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	pid := cmd.Process.Pid
	stopMoto := func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}

	env.moto = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitForPort(env.moto, 60*time.Second); err != nil {
		return stopMoto, err
	}
	env.proxy = newMotoProxy(env.moto)
	return func() { env.proxy.server.Close(); stopMoto() }, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitForPort(base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("moto_server at %s did not answer within %s", base, limit)
}

// resetMoto clears moto and the proxy's faults before a test.
func resetMoto(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	resp, err := http.Post(env.moto+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	env.proxy.reset()
}

// motoProxy forwards every request to moto and bridges two gaps of moto
// 5.2.1 that the real services do not have:
//   - CreateCertificateFromCsr returns a certificate for a new RSA key, not
//     for the CSR's key; the proxy replaces it with one for the CSR's key
//     (signed by a test CA) and returns that PEM from DescribeCertificate.
//   - CloudFormation never rolls a stack back; a stack marked with
//     failCreate reports ROLLBACK_COMPLETE with a CREATE_FAILED event after
//     CreateStack, until DeleteStack reaches moto.
//   - DeleteStack fails for a stack whose AWS::IoT::Policy or
//     AWS::IoT::RoleAlias takes its name from an intrinsic function; the
//     proxy deletes those resources itself (see serveDeleteStack).
//
// With noUpdates set, UpdateStack gets the ValidationError that
// CloudFormation returns for an unchanged stack, which moto never sends.
type motoProxy struct {
	target string
	server *httptest.Server
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate

	cfn *cloudformation.Client // talks to moto directly
	iot *iot.Client

	mu         sync.Mutex
	certs      map[string]string // certificate ID -> PEM for the CSR's key
	failing    map[string]bool   // stack name -> reports ROLLBACK_COMPLETE
	failCreate map[string]bool   // stack name -> fail its next CreateStack
	noUpdates  bool
}

func newMotoProxy(target string) *motoProxy {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	ca, _ := x509.ParseCertificate(der)

	cfg := aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAFAKEFAKEFAKE", "fake-secret", ""),
		BaseEndpoint: aws.String(target),
	}
	p := &motoProxy{target: target, caKey: key, caCert: ca,
		cfn: cloudformation.NewFromConfig(cfg), iot: iot.NewFromConfig(cfg)}
	p.reset()
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

func (p *motoProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.certs = map[string]string{}
	p.failing = map[string]bool{}
	p.failCreate = map[string]bool{}
	p.noUpdates = false
}

func (p *motoProxy) set(f func(p *motoProxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

var (
	describeCertPath = regexp.MustCompile(`^/certificates/([0-9a-f]{64})$`)
	stackStatusTag   = regexp.MustCompile(`<StackStatus>[A-Z_]+</StackStatus>`)
)

func (p *motoProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	action, stack := form.Get("Action"), form.Get("StackName")

	if action == "UpdateStack" && p.get(func() bool { return p.noUpdates }) {
		writeQueryError(w, "ValidationError", "No updates are to be performed.")
		return
	}
	if action == "DeleteStack" {
		p.serveDeleteStack(w, r, body, stack)
		return
	}

	status, header, respBody, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	respBody = p.rewrite(r, action, stack, body, status, respBody)
	p.copyResponse(w, status, header, respBody)
}

func (p *motoProxy) copyResponse(w http.ResponseWriter, status int, header http.Header,
	body []byte) {
	for k, v := range header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (p *motoProxy) get(f func() bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f()
}

func (p *motoProxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

func (p *motoProxy) rewrite(r *http.Request, action, stack string, reqBody []byte, status int, body []byte) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case status != http.StatusOK:
		return body
	case r.Method == http.MethodPost && r.URL.Path == "/certificates":
		return p.signCSR(reqBody, body)
	case r.Method == http.MethodGet && describeCertPath.MatchString(r.URL.Path):
		return p.describeCert(describeCertPath.FindStringSubmatch(r.URL.Path)[1], body)
	case action == "CreateStack" && p.failCreate[stack]:
		delete(p.failCreate, stack)
		p.failing[stack] = true
	case action == "DescribeStacks" && p.failing[stack]:
		return stackStatusTag.ReplaceAll(body, []byte("<StackStatus>ROLLBACK_COMPLETE</StackStatus>"))
	case action == "DescribeStackEvents" && p.failing[stack]:
		return bytes.Replace(body, []byte("<StackEvents>"), []byte("<StackEvents>"+failedEvent(stack)), 1)
	}
	return body
}

// serveDeleteStack forwards DeleteStack to moto and finishes what moto
// 5.2.1 leaves undone. moto deletes an AWS::IoT::Policy or
// AWS::IoT::RoleAlias of a stack by its raw template property, so a name
// given as Fn::Sub reaches DeletePolicy or DeleteRoleAlias as a map.
// DeletePolicy then returns 404 ResourceNotFoundException with a JSON body,
// and DeleteRoleAlias fails with a TypeError (500). By then moto has removed
// the stack and its other resources. The proxy deletes these policies and
// role aliases by their resolved names, as CloudFormation does, and returns
// success. Deletes that moto completes pass through unchanged.
func (p *motoProxy) serveDeleteStack(w http.ResponseWriter, r *http.Request, body []byte,
	stack string) {
	named, nameErr := p.stackIoTResources(stack)

	status, header, respBody, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if status == http.StatusOK {
		p.set(func(p *motoProxy) { delete(p.failing, stack) })
		p.copyResponse(w, status, header, respBody)
		return
	}
	if !p.stackGone(stack) {
		p.copyResponse(w, status, header, respBody)
		return
	}

	err = nameErr
	if err == nil {
		err = p.deleteIoTResources(named)
	}
	if err != nil {
		writeQueryError(w, "ProxyDeleteFailed", "moto left stack "+stack+
			" partly deleted, and the proxy failed to finish: "+err.Error())
		return
	}
	p.set(func(p *motoProxy) { delete(p.failing, stack) })
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<DeleteStackResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">`+
		`<ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></DeleteStackResponse>`)
}

// iotResource is an AWS IoT policy or role alias of a stack.
type iotResource struct {
	kind, name string // CloudFormation resource type, resource name
}

// iotNameProperty maps the resource types that moto 5.2.1 cannot delete
// from a stack to the property that names the resource.
var iotNameProperty = map[string]string{
	"AWS::IoT::Policy":    "PolicyName",
	"AWS::IoT::RoleAlias": "RoleAlias",
}

// stackIoTResources reads the stack's template from moto and returns its
// AWS::IoT::Policy and AWS::IoT::RoleAlias resources whose name is an
// Fn::Sub, with the name resolved. moto deletes those with a literal name
// itself, and its ListStackResources has no physical IDs for either.
func (p *motoProxy) stackIoTResources(stack string) ([]iotResource, error) {
	out, err := p.cfn.GetTemplate(context.Background(),
		&cloudformation.GetTemplateInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, err
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(aws.ToString(out.TemplateBody)), &tpl); err != nil {
		return nil, err
	}

	var named []iotResource
	for id, res := range tpl.Resources {
		key, ok := iotNameProperty[res.Type]
		sub, isMap := res.Properties[key].(map[string]any)
		if !ok || !isMap {
			continue
		}
		name, err := resolveSub(sub, stack)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		named = append(named, iotResource{res.Type, name})
	}
	return named, nil
}

// resolveSub resolves an Fn::Sub that refers to AWS::StackName only, which
// is all that the names in the embedded template use.
func resolveSub(sub map[string]any, stack string) (string, error) {
	s, ok := sub["Fn::Sub"].(string)
	s = strings.ReplaceAll(s, "${AWS::StackName}", stack)
	if !ok || s == "" || strings.Contains(s, "${") {
		return "", fmt.Errorf("cannot resolve name %v", sub)
	}
	return s, nil
}

func (p *motoProxy) stackGone(stack string) bool {
	_, err := p.cfn.DescribeStacks(context.Background(),
		&cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	return err != nil && strings.Contains(err.Error(), "does not exist")
}

func (p *motoProxy) deleteIoTResources(named []iotResource) error {
	ctx := context.Background()
	for _, res := range named {
		var err error
		switch res.kind {
		case "AWS::IoT::Policy":
			_, err = p.iot.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String(res.name)})
		case "AWS::IoT::RoleAlias":
			_, err = p.iot.DeleteRoleAlias(ctx, &iot.DeleteRoleAliasInput{RoleAlias: aws.String(res.name)})
		}
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", res.kind, res.name, err)
		}
	}
	return nil
}

func failedEvent(stack string) string {
	return "<member><StackId>" + stack + "</StackId><EventId>injected-1</EventId>" +
		"<StackName>" + stack + "</StackName><LogicalResourceId>TokenExchangeRole</LogicalResourceId>" +
		"<ResourceType>AWS::IAM::Role</ResourceType><ResourceStatus>CREATE_FAILED</ResourceStatus>" +
		"<ResourceStatusReason>Cannot exceed quota for RolesPerAccount: 1000</ResourceStatusReason>" +
		"<Timestamp>" + time.Now().UTC().Format(time.RFC3339) + "</Timestamp></member>"
}

func (p *motoProxy) signCSR(reqBody, body []byte) []byte {
	var in struct {
		CSR string `json:"certificateSigningRequest"`
	}
	var out map[string]any
	if json.Unmarshal(reqBody, &in) != nil || json.Unmarshal(body, &out) != nil {
		return body
	}
	block, _ := pem.Decode([]byte(in.CSR))
	if block == nil {
		return body
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return body
	}

	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, csr.PublicKey, p.caKey)
	if err != nil {
		return body
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	id, _ := out["certificateId"].(string)
	p.certs[id] = certPEM
	out["certificatePem"] = certPEM
	data, _ := json.Marshal(out)
	return data
}

func (p *motoProxy) describeCert(id string, body []byte) []byte {
	certPEM, ok := p.certs[id]
	var out map[string]map[string]any
	if !ok || json.Unmarshal(body, &out) != nil || out["certificateDescription"] == nil {
		return body
	}
	out["certificateDescription"]["certificatePem"] = certPEM
	data, _ := json.Marshal(out)
	return data
}

func writeQueryError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">`+
		`<Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>`+
		`<RequestId>proxy</RequestId></ErrorResponse>`, code, msg)
}
