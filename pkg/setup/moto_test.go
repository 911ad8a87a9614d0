package setup_test

import (
	"bytes"
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
	"sync"
	"syscall"
	"testing"
	"time"
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
//
// With noUpdates set, UpdateStack gets the ValidationError that
// CloudFormation returns for an unchanged stack, which moto never sends.
type motoProxy struct {
	target string
	server *httptest.Server
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate

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

	p := &motoProxy{target: target, caKey: key, caCert: ca}
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

	status, header, respBody, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	respBody = p.rewrite(r, action, stack, body, status, respBody)
	for k, v := range header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(respBody)
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
	case action == "DeleteStack":
		delete(p.failing, stack)
	case action == "DescribeStacks" && p.failing[stack]:
		return stackStatusTag.ReplaceAll(body, []byte("<StackStatus>ROLLBACK_COMPLETE</StackStatus>"))
	case action == "DescribeStackEvents" && p.failing[stack]:
		return bytes.Replace(body, []byte("<StackEvents>"), []byte("<StackEvents>"+failedEvent(stack)), 1)
	}
	return body
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
