// Package claim manages the fleet provisioning claim certificate: a key made
// on this machine, a certificate signed by AWS IoT from its CSR, the claim
// policy attached, and the IDs kept in state.json so later runs reuse,
// rotate or delete it. The private key never leaves the machine.
package claim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/apierror"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/progress"
)

// File names of the claim credentials inside the output directory.
const (
	CertFile = "claim.cert.pem"
	KeyFile  = "claim.key.pem"
)

// API is the part of the AWS IoT client that Manager calls.
type API interface {
	CreateCertificateFromCsr(ctx context.Context, in *iot.CreateCertificateFromCsrInput,
		opts ...func(*iot.Options)) (*iot.CreateCertificateFromCsrOutput, error)
	AttachPolicy(ctx context.Context, in *iot.AttachPolicyInput,
		opts ...func(*iot.Options)) (*iot.AttachPolicyOutput, error)
	DescribeCertificate(ctx context.Context, in *iot.DescribeCertificateInput,
		opts ...func(*iot.Options)) (*iot.DescribeCertificateOutput, error)
	UpdateCertificate(ctx context.Context, in *iot.UpdateCertificateInput,
		opts ...func(*iot.Options)) (*iot.UpdateCertificateOutput, error)
	DeleteCertificate(ctx context.Context, in *iot.DeleteCertificateInput,
		opts ...func(*iot.Options)) (*iot.DeleteCertificateOutput, error)
	iot.ListAttachedPoliciesAPIClient
	DetachPolicy(ctx context.Context, in *iot.DetachPolicyInput,
		opts ...func(*iot.Options)) (*iot.DetachPolicyOutput, error)
}

// Manager creates, reuses, rotates and deletes claim certificates.
type Manager struct {
	Client   API
	Dir      string // output directory with the claim files and state.json
	Progress *progress.Reporter
	DryRun   bool      // report changing calls instead of making them
	Rand     io.Reader // key entropy; crypto/rand.Reader in production
	Now      func() time.Time
}

// Ensure makes sure DIR holds an ACTIVE claim certificate with its key and
// the policy attached, and returns its record. It reuses the current
// certificate unless rotate is set, it is no longer ACTIVE, or its key file
// is missing or does not match. A replaced certificate is set INACTIVE only
// after the new one has the policy.
func (m *Manager) Ensure(ctx context.Context, st *State, policy string,
	rotate bool) (*Record, error) {
	old, reusable, err := m.current(ctx, st)
	if err != nil {
		return nil, err
	}

	if reusable && !rotate {
		return old.record, m.reuse(ctx, old, policy)
	}

	rec, err := m.create(ctx, st, policy)
	if err != nil || rec == nil {
		return rec, err
	}
	if old != nil && old.status == types.CertificateStatusActive {
		return rec, m.deactivate(ctx, old.record)
	}
	return rec, nil
}

// existing is the current claim certificate as AWS IoT describes it.
type existing struct {
	record  *Record
	status  types.CertificateStatus
	certPEM []byte
}

// current describes the current certificate; reusable is true when it is
// ACTIVE and the key file matches it.
func (m *Manager) current(ctx context.Context, st *State) (*existing, bool, error) {
	rec := st.find(st.Current)
	if rec == nil {
		return nil, false, nil
	}

	out, err := m.Client.DescribeCertificate(ctx,
		&iot.DescribeCertificateInput{CertificateId: aws.String(rec.ID)})
	if apierror.Code(err) == "ResourceNotFoundException" {
		m.Progress.Stepf("claim certificate %s no longer exists; creating a new one",
			rec.ID)
		st.remove(rec.ID)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, apierror.Wrap("DescribeCertificate", err,
			"check the credentials and the Region")
	}
	desc := out.CertificateDescription
	if desc == nil {
		return nil, false, fmt.Errorf(
			"DescribeCertificate returned no description for %s", rec.ID)
	}

	ex := &existing{
		record:  rec,
		status:  desc.Status,
		certPEM: []byte(aws.ToString(desc.CertificatePem)),
	}
	if ex.status != types.CertificateStatusActive {
		m.Progress.Stepf("claim certificate %s is %s; creating a new one",
			rec.ID, ex.status)
		return ex, false, nil
	}
	if err := m.keyMatches(ex.certPEM); err != nil {
		m.Progress.Stepf("claim certificate %s cannot be reused (%v); creating a new one",
			rec.ID, err)
		return ex, false, nil
	}
	return ex, true, nil
}

func (m *Manager) keyMatches(certPEM []byte) error {
	pub, err := readKey(filepath.Join(m.Dir, KeyFile))
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	return checkCertificate(certPEM, pub)
}

func (m *Manager) reuse(ctx context.Context, ex *existing, policy string) error {
	m.Progress.Stepf("reusing claim certificate %s", ex.record.ID)
	if m.DryRun {
		m.Progress.Wouldf("call AttachPolicy %q to %s", policy, ex.record.ARN)
		return nil
	}

	// The policy is attached again because a recreated stack has a new
	// policy of the same name; AttachPolicy is idempotent.
	if err := m.attach(ctx, ex.record, policy); err != nil {
		return err
	}
	return m.writeCert(ex.certPEM)
}

func (m *Manager) create(ctx context.Context, st *State, policy string) (*Record, error) {
	if m.DryRun {
		m.Progress.Wouldf("call CreateCertificateFromCsr and AttachPolicy %q", policy)
		return nil, nil
	}

	m.Progress.Stepf("creating claim certificate from a new ECDSA P-256 key")
	keyPEM, csrPEM, err := newKey(m.Rand, "ggl-fleet-setup claim "+st.Stack)
	if err != nil {
		return nil, err
	}
	out, err := m.Client.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(string(csrPEM)),
		SetAsActive:               true,
	})
	if err != nil {
		return nil, apierror.Wrap("CreateCertificateFromCsr", err,
			"check the IAM permissions of these credentials")
	}

	rec, certPEM, err := m.record(st, out, keyPEM)
	if err != nil {
		return nil, err
	}
	if err := m.attach(ctx, rec, policy); err != nil {
		return nil, err
	}
	return rec, m.install(st, rec, keyPEM, certPEM)
}

// record validates the response and records the certificate in state.json
// at once, so that destroy finds it even if a later step fails.
func (m *Manager) record(st *State, out *iot.CreateCertificateFromCsrOutput,
	keyPEM []byte) (*Record, []byte, error) {
	id, arn := aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn)
	if !certificateIDPattern.MatchString(id) || arn == "" {
		return nil, nil, fmt.Errorf(
			"CreateCertificateFromCsr returned ID %q and ARN %q: want 64 hex digits and an ARN",
			id, arn)
	}

	rec := Record{ID: id, ARN: arn, Created: m.Now().UTC()}
	st.Certificates = append(st.Certificates, rec)
	if err := st.Save(m.Dir); err != nil {
		return nil, nil, err
	}
	m.Progress.Stepf("created claim certificate %s", id)

	certPEM := []byte(aws.ToString(out.CertificatePem))
	pub, err := publicKeyOf(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("read back claim key: %w", err)
	}
	if err := checkCertificate(certPEM, pub); err != nil {
		return nil, nil, fmt.Errorf(
			"CreateCertificateFromCsr returned an invalid certificate %s: %w", id, err)
	}
	return st.find(id), certPEM, nil
}

// install writes the key before the certificate and state.json last, so a
// crash leaves either the old pair or a key that state.json does not use.
func (m *Manager) install(st *State, rec *Record, keyPEM, certPEM []byte) error {
	keyPath := filepath.Join(m.Dir, KeyFile)
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("write claim key %q: %w", keyPath, err)
	}
	if err := m.writeCert(certPEM); err != nil {
		return err
	}

	st.Current = rec.ID
	return st.Save(m.Dir)
}

func (m *Manager) writeCert(certPEM []byte) error {
	path := filepath.Join(m.Dir, CertFile)
	if err := atomicfile.WriteFile(path, certPEM, 0o644); err != nil {
		return fmt.Errorf("write claim certificate %q: %w", path, err)
	}
	return nil
}

func (m *Manager) attach(ctx context.Context, rec *Record, policy string) error {
	_, err := m.Client.AttachPolicy(ctx, &iot.AttachPolicyInput{
		PolicyName: aws.String(policy),
		Target:     aws.String(rec.ARN),
	})
	if err != nil {
		return apierror.Wrap("AttachPolicy", err,
			fmt.Sprintf("check that policy %q exists (stack output ClaimPolicyName)",
				policy))
	}
	m.Progress.Stepf("attached policy %q to claim certificate %s", policy, rec.ID)
	return nil
}

func (m *Manager) deactivate(ctx context.Context, rec *Record) error {
	_, err := m.Client.UpdateCertificate(ctx, &iot.UpdateCertificateInput{
		CertificateId: aws.String(rec.ID),
		NewStatus:     types.CertificateStatusInactive,
	})
	if err != nil {
		return apierror.Wrap("UpdateCertificate", err,
			fmt.Sprintf(
				"set certificate %s INACTIVE by hand; the new claim certificate is in place",
				rec.ID))
	}
	m.Progress.Stepf("set old claim certificate %s INACTIVE", rec.ID)
	return nil
}

// Status returns the AWS IoT status of the current claim certificate, or ""
// when there is none.
func (m *Manager) Status(ctx context.Context, st *State) (string, error) {
	if st.Current == "" {
		return "", nil
	}
	out, err := m.Client.DescribeCertificate(ctx,
		&iot.DescribeCertificateInput{CertificateId: aws.String(st.Current)})
	if apierror.Code(err) == "ResourceNotFoundException" {
		return "NOT_FOUND", nil
	}
	if err != nil {
		return "", apierror.Wrap("DescribeCertificate", err,
			"check the credentials and the Region")
	}
	if out.CertificateDescription == nil {
		return "", fmt.Errorf("DescribeCertificate returned no description for %s",
			st.Current)
	}
	return string(out.CertificateDescription.Status), nil
}

// DeleteAll detaches the policies of every claim certificate in st, sets it
// INACTIVE and deletes it, then removes the claim files. A certificate that
// no longer exists is skipped.
func (m *Manager) DeleteAll(ctx context.Context, st *State) error {
	for _, rec := range append([]Record(nil), st.Certificates...) {
		if err := m.delete(ctx, rec); err != nil {
			return err
		}
		if m.DryRun {
			continue
		}
		st.remove(rec.ID)
		if err := st.Save(m.Dir); err != nil {
			return err
		}
	}
	if m.DryRun {
		return nil
	}
	return m.removeFiles()
}

func (m *Manager) delete(ctx context.Context, rec Record) error {
	policies, err := m.attachedPolicies(ctx, rec)
	if apierror.Code(err) == "ResourceNotFoundException" {
		m.Progress.Stepf("claim certificate %s no longer exists", rec.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if m.DryRun {
		m.Progress.Wouldf("detach %v, set INACTIVE and delete claim certificate %s",
			policies, rec.ID)
		return nil
	}

	for _, p := range policies {
		_, err := m.Client.DetachPolicy(ctx, &iot.DetachPolicyInput{
			PolicyName: aws.String(p),
			Target:     aws.String(rec.ARN),
		})
		if err != nil {
			return apierror.Wrap("DetachPolicy", err,
				"check the IAM permissions of these credentials")
		}
		m.Progress.Stepf("detached policy %q from claim certificate %s", p, rec.ID)
	}
	return m.deactivateAndDelete(ctx, rec)
}

func (m *Manager) deactivateAndDelete(ctx context.Context, rec Record) error {
	_, err := m.Client.UpdateCertificate(ctx, &iot.UpdateCertificateInput{
		CertificateId: aws.String(rec.ID),
		NewStatus:     types.CertificateStatusInactive,
	})
	if err != nil {
		return apierror.Wrap("UpdateCertificate", err,
			"check the IAM permissions of these credentials")
	}

	_, err = m.Client.DeleteCertificate(ctx,
		&iot.DeleteCertificateInput{CertificateId: aws.String(rec.ID)})
	if err != nil {
		return apierror.Wrap("DeleteCertificate", err,
			"detach any thing from the certificate (DetachThingPrincipal), then run destroy again")
	}
	m.Progress.Stepf("deleted claim certificate %s", rec.ID)
	return nil
}

func (m *Manager) attachedPolicies(ctx context.Context, rec Record) ([]string, error) {
	var names []string
	pages := iot.NewListAttachedPoliciesPaginator(m.Client,
		&iot.ListAttachedPoliciesInput{Target: aws.String(rec.ARN)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if apierror.Code(err) == "ResourceNotFoundException" {
			return nil, err
		}
		if err != nil {
			return nil, apierror.Wrap("ListAttachedPolicies", err,
				"check the IAM permissions of these credentials")
		}
		for _, p := range out.Policies {
			names = append(names, aws.ToString(p.PolicyName))
		}
	}
	return names, nil
}

// removeFiles deletes the claim key and certificate, whose certificate no
// longer exists in AWS IoT.
func (m *Manager) removeFiles() error {
	for _, name := range []string{KeyFile, CertFile} {
		path := filepath.Join(m.Dir, name)
		if err := atomicfile.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %q: %w", path, err)
		}
		m.Progress.Stepf("removed %s", path)
	}
	return nil
}
