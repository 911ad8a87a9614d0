// Package stack creates, updates, describes and deletes the CloudFormation
// stack of ggl-fleet-setup. It never deletes a stack on its own: a failed
// first creation is replaced only when the caller asks for it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/apierror"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup/progress"
)

// ErrFailedCreation is returned by Deploy for a stack in ROLLBACK_COMPLETE
// (its first creation failed) when Spec.ReplaceFailed is false.
var ErrFailedCreation = errors.New("stack creation failed earlier")

// API is the part of the CloudFormation client that Deployer calls.
type API interface {
	cloudformation.DescribeStacksAPIClient
	cloudformation.DescribeStackEventsAPIClient
	CreateStack(ctx context.Context, in *cloudformation.CreateStackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
}

// Deployer runs stack operations and waits for them to finish.
type Deployer struct {
	Client   API
	Progress *progress.Reporter
	// Poll is the shortest delay between two DescribeStacks calls while
	// waiting; the SDK waiters back off up to four times that.
	Poll time.Duration
	// Timeout bounds each wait for a stack operation.
	Timeout time.Duration
	// DryRun reports the changing calls instead of making them.
	DryRun bool
}

// Spec is the stack that Deploy creates or updates.
type Spec struct {
	Name          string            // stack name
	TemplateBody  string            // template in YAML or JSON
	Parameters    map[string]string // parameter key -> value
	ReplaceFailed bool              // delete and recreate a stack in ROLLBACK_COMPLETE
}

// Stack is the state of a deployed stack, from DescribeStacks.
type Stack struct {
	Name    string            // stack name
	ID      string            // stack ARN
	Status  string            // stack status, such as CREATE_COMPLETE
	Reason  string            // stack status reason; may be ""
	Outputs map[string]string // output key -> value
}

// Describe returns the stack called name, or nil when it does not exist.
func (d *Deployer) Describe(ctx context.Context, name string) (*Stack, error) {
	out, err := d.Client.DescribeStacks(ctx,
		&cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, apierror.Wrap("DescribeStacks", err,
			"check the credentials, the Region and the stack name")
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return fromSDK(out.Stacks[0]), nil
}

// Deploy creates the stack or updates it, waits until the operation ends and
// returns the stack with its outputs. A stack in progress is waited for
// first. An update without changes is a success.
func (d *Deployer) Deploy(ctx context.Context, spec Spec) (*Stack, error) {
	st, err := d.Describe(ctx, spec.Name)
	if err != nil {
		return nil, err
	}

	if st != nil && isInProgress(st.Status) {
		d.Progress.Stepf("stack %q is %s; waiting for it to finish", st.Name, st.Status)
		st, err = d.waitSettled(ctx, spec.Name)
		if err != nil {
			return nil, err
		}
	}

	switch {
	case st == nil:
		return d.create(ctx, spec)
	case st.Status == string(types.StackStatusRollbackComplete):
		return d.replace(ctx, spec, st)
	case isUpdatable(st.Status):
		return d.update(ctx, spec)
	default:
		return nil, d.failure(ctx, st,
			"fix the cause in the AWS console or delete the stack, then run deploy again")
	}
}

func (d *Deployer) replace(ctx context.Context, spec Spec, st *Stack) (*Stack, error) {
	if !spec.ReplaceFailed {
		err := d.failure(ctx, st,
			"run deploy again with --replace-failed to delete and recreate it")
		return nil, fmt.Errorf("%w: %w", ErrFailedCreation, err)
	}

	d.Progress.Stepf("stack %q is %s; deleting it because of --replace-failed",
		st.Name, st.Status)
	if err := d.Delete(ctx, spec.Name); err != nil {
		return nil, err
	}
	return d.create(ctx, spec)
}

func (d *Deployer) create(ctx context.Context, spec Spec) (*Stack, error) {
	if d.DryRun {
		d.Progress.Wouldf("call CreateStack for stack %q with %s",
			spec.Name, formatParams(spec.Parameters))
		return nil, nil
	}

	d.Progress.Stepf("creating stack %q", spec.Name)
	_, err := d.Client.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(spec.Name),
		TemplateBody: aws.String(spec.TemplateBody),
		Parameters:   sdkParams(spec.Parameters),
		Capabilities: []types.Capability{types.CapabilityCapabilityIam},
		Tags: []types.Tag{{
			Key:   aws.String("created-by"),
			Value: aws.String("ggl-fleet-setup"),
		}},
	})
	if err != nil {
		return nil, apierror.Wrap("CreateStack", err,
			"check the parameters and the IAM permissions of these credentials")
	}

	waiter := cloudformation.NewStackCreateCompleteWaiter(d.Client,
		func(o *cloudformation.StackCreateCompleteWaiterOptions) {
			o.MinDelay, o.MaxDelay = d.Poll, 4*d.Poll
		})
	if err := waiter.Wait(ctx, describeInput(spec.Name), d.Timeout); err != nil {
		return nil, d.waitFailure(ctx, spec.Name, err,
			"run deploy again with --replace-failed to delete and recreate it")
	}
	d.Progress.Stepf("stack %q created", spec.Name)
	return d.Describe(ctx, spec.Name)
}

func (d *Deployer) update(ctx context.Context, spec Spec) (*Stack, error) {
	if d.DryRun {
		d.Progress.Wouldf("call UpdateStack for stack %q with %s",
			spec.Name, formatParams(spec.Parameters))
		return d.Describe(ctx, spec.Name)
	}

	d.Progress.Stepf("updating stack %q", spec.Name)
	_, err := d.Client.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:    aws.String(spec.Name),
		TemplateBody: aws.String(spec.TemplateBody),
		Parameters:   sdkParams(spec.Parameters),
		Capabilities: []types.Capability{types.CapabilityCapabilityIam},
	})
	if isNoUpdates(err) {
		d.Progress.Stepf("stack %q is up to date", spec.Name)
		return d.Describe(ctx, spec.Name)
	}
	if err != nil {
		return nil, apierror.Wrap("UpdateStack", err,
			"check the parameters and the IAM permissions of these credentials")
	}

	waiter := cloudformation.NewStackUpdateCompleteWaiter(d.Client,
		func(o *cloudformation.StackUpdateCompleteWaiterOptions) {
			o.MinDelay, o.MaxDelay = d.Poll, 4*d.Poll
		})
	if err := waiter.Wait(ctx, describeInput(spec.Name), d.Timeout); err != nil {
		return nil, d.waitFailure(ctx, spec.Name, err,
			"CloudFormation rolled the update back; fix the cause and run deploy again")
	}
	d.Progress.Stepf("stack %q updated", spec.Name)
	return d.Describe(ctx, spec.Name)
}

// Delete deletes the stack called name and waits until it is gone. A stack
// that does not exist is not an error.
func (d *Deployer) Delete(ctx context.Context, name string) error {
	if d.DryRun {
		d.Progress.Wouldf("call DeleteStack for stack %q", name)
		return nil
	}

	d.Progress.Stepf("deleting stack %q", name)
	_, err := d.Client.DeleteStack(ctx,
		&cloudformation.DeleteStackInput{StackName: aws.String(name)})
	if err != nil {
		return apierror.Wrap("DeleteStack", err,
			"check the IAM permissions of these credentials")
	}

	waiter := cloudformation.NewStackDeleteCompleteWaiter(d.Client,
		func(o *cloudformation.StackDeleteCompleteWaiterOptions) {
			o.MinDelay, o.MaxDelay = d.Poll, 4*d.Poll
		})
	if err := waiter.Wait(ctx, describeInput(name), d.Timeout); err != nil {
		return d.waitFailure(ctx, name, err,
			"delete the resources named in the event, then run destroy again")
	}
	d.Progress.Stepf("stack %q deleted", name)
	return nil
}

// waitSettled polls until the stack is no longer in an *_IN_PROGRESS state.
func (d *Deployer) waitSettled(ctx context.Context, name string) (*Stack, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	for {
		st, err := d.Describe(ctx, name)
		if err != nil || st == nil || !isInProgress(st.Status) {
			return st, err
		}

		select {
		case <-ctx.Done():
			return nil, fmt.Errorf(
				"stack %q still %s after %s: wait and run the command again",
				name, st.Status, d.Timeout)
		case <-time.After(d.Poll):
		}
	}
}

// waitFailure turns a waiter error into an error that names the stack status
// and the first failed resource event.
func (d *Deployer) waitFailure(ctx context.Context, name string, err error,
	hint string) error {
	st, derr := d.Describe(ctx, name)
	if derr != nil || st == nil {
		return fmt.Errorf("waiting for stack %q: %w", name, err)
	}
	if isInProgress(st.Status) {
		return fmt.Errorf("stack %q still %s: %w; wait and run the command again",
			name, st.Status, err)
	}
	return d.failure(ctx, st, hint)
}

func (d *Deployer) failure(ctx context.Context, st *Stack, hint string) error {
	msg := fmt.Sprintf("stack %q is %s", st.Name, st.Status)
	if st.Reason != "" {
		msg += fmt.Sprintf(" (%s)", st.Reason)
	}

	ev, err := d.firstFailedEvent(ctx, st.Name)
	switch {
	case err != nil:
		msg += fmt.Sprintf("; reading its events failed: %v", err)
	case ev != nil:
		msg += fmt.Sprintf("; first failed resource: %s (%s) %s: %s",
			aws.ToString(ev.LogicalResourceId), aws.ToString(ev.ResourceType),
			ev.ResourceStatus, aws.ToString(ev.ResourceStatusReason))
	}
	return fmt.Errorf("%s; %s", msg, hint)
}

// firstFailedEvent returns the oldest *_FAILED event of the stack's latest
// operation. Events come newest first, and an operation starts with a stack
// event whose reason is "User Initiated".
func (d *Deployer) firstFailedEvent(ctx context.Context,
	name string) (*types.StackEvent, error) {
	var first *types.StackEvent
	pages := cloudformation.NewDescribeStackEventsPaginator(d.Client,
		&cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	for page := 0; pages.HasMorePages() && page < 20; page++ {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apierror.Wrap("DescribeStackEvents", err, "")
		}

		for i := range out.StackEvents {
			ev := &out.StackEvents[i]
			if strings.HasSuffix(string(ev.ResourceStatus), "_FAILED") {
				first = ev
			}
			if isOperationStart(ev) {
				return first, nil
			}
		}
	}
	return first, nil
}

func isOperationStart(ev *types.StackEvent) bool {
	return aws.ToString(ev.ResourceType) == "AWS::CloudFormation::Stack" &&
		aws.ToString(ev.ResourceStatusReason) == "User Initiated"
}

func isNotFound(err error) bool {
	return apierror.Code(err) == "ValidationError" &&
		strings.Contains(apierror.Message(err), "does not exist")
}

func isNoUpdates(err error) bool {
	return apierror.Code(err) == "ValidationError" &&
		strings.Contains(apierror.Message(err), "No updates are to be performed")
}

// isInProgress reports whether CloudFormation is still working on the stack.
// REVIEW_IN_PROGRESS is left out: it waits for a person to run a change set.
func isInProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") &&
		status != string(types.StackStatusReviewInProgress)
}

func isUpdatable(status string) bool {
	switch types.StackStatus(status) {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete,
		types.StackStatusUpdateRollbackComplete, types.StackStatusImportComplete,
		types.StackStatusImportRollbackComplete:
		return true
	}
	return false
}

func describeInput(name string) *cloudformation.DescribeStacksInput {
	return &cloudformation.DescribeStacksInput{StackName: aws.String(name)}
}

func fromSDK(s types.Stack) *Stack {
	st := &Stack{
		Name:    aws.ToString(s.StackName),
		ID:      aws.ToString(s.StackId),
		Status:  string(s.StackStatus),
		Reason:  aws.ToString(s.StackStatusReason),
		Outputs: map[string]string{},
	}
	for _, o := range s.Outputs {
		st.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return st
}

func sdkParams(params map[string]string) []types.Parameter {
	var out []types.Parameter
	for _, k := range sortedKeys(params) {
		out = append(out, types.Parameter{
			ParameterKey:   aws.String(k),
			ParameterValue: aws.String(params[k]),
		})
	}
	return out
}

func formatParams(params map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(params) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, params[k]))
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
