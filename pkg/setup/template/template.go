// Package template embeds the CloudFormation template that ggl-fleet-setup
// deploys: the token exchange role and its role alias, the provisioning role,
// the thing group, the claim and device policies, the fleet provisioning
// template and an optional pre-provisioning hook.
package template

import _ "embed"

//go:embed fleet.yaml
var body string

// Body returns the template in YAML, as CloudFormation receives it.
func Body() string { return body }

// Parameter keys of the template.
const (
	ParamTemplateName   = "TemplateName"
	ParamThingGroupName = "ThingGroupName"
	ParamThingPrefix    = "ThingPrefix"
	ParamHook           = "EnablePreProvisioningHook"
	ParamArtifactBucket = "ArtifactBucket"
)

// Output keys of the template.
const (
	OutputTemplateName        = "TemplateName"
	OutputThingGroupName      = "ThingGroupName"
	OutputThingPrefix         = "ThingPrefix"
	OutputClaimPolicyName     = "ClaimPolicyName"
	OutputDevicePolicyName    = "DevicePolicyName"
	OutputRoleAliasName       = "RoleAliasName"
	OutputTokenExchangeRole   = "TokenExchangeRoleArn"
	OutputTokenExchangePolicy = "TokenExchangePolicyName"
)
