// Package ec2err defines the EC2 error codes econe-server answers with.
//
// The error code is the error value: a handler creates an *Error where the
// problem is found and returns it unchanged; the server writes it once, in
// EC2's <Response><Errors> envelope. Anything that is not an *Error becomes
// InternalError on the wire and is logged in full, never shown to the client.
package ec2err

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an EC2 API error: a code from the table below and a message a
// student can act on. Detail is for the log only.
type Error struct {
	Code    string
	Message string
	Detail  string
	// HTTPStatus, when not 0, is the status of a code the table lacks: an
	// EC2 code a backend passed through (see Passed).
	HTTPStatus int
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Code + ": " + e.Message + " (" + e.Detail + ")"
	}
	return e.Code + ": " + e.Message
}

// Status is the HTTP status EC2 uses for the code.
func (e *Error) Status() int {
	if s, ok := codes[e.Code]; ok {
		return s
	}
	if e.HTTPStatus != 0 {
		return e.HTTPStatus
	}
	return http.StatusInternalServerError
}

// Passed is an error with a code from elsewhere (a cloud behind a
// backend), kept as it is. A code the table lacks is a client error (400):
// EC2's server-side codes (InternalError, Unavailable, ServiceUnavailable,
// RequestLimitExceeded) are all in the table, and a 5xx would make old
// clients retry for minutes.
func Passed(code, message string) *Error {
	e := &Error{Code: code, Message: message}
	if !Known(code) {
		e.HTTPStatus = http.StatusBadRequest
	}
	return e
}

// New returns an error with the given code; the code must be in the table
// (a test walks every call site's constant through Known).
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// As extracts an *Error from err, or converts it to InternalError keeping err
// as the log-only detail.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: InternalError, Message: "An internal error has occurred.", Detail: err.Error()}
}

// Is reports whether err carries the given EC2 code.
func Is(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Known reports whether code is declared in the table.
func Known(code string) bool {
	_, ok := codes[code]
	return ok
}

// Codes returns every declared code (for tests and documentation).
func Codes() map[string]int {
	out := make(map[string]int, len(codes))
	for k, v := range codes {
		out[k] = v
	}
	return out
}

// The codes, as EC2 spells them.
const (
	AuthFailure                   = "AuthFailure"
	MissingAuthenticationToken    = "MissingAuthenticationToken"
	IncompleteSignature           = "IncompleteSignature"
	RequestExpired                = "RequestExpired"
	SignatureDoesNotMatch         = "SignatureDoesNotMatch"
	UnauthorizedOperation         = "UnauthorizedOperation"
	OptInRequired                 = "OptInRequired"
	InvalidAction                 = "InvalidAction"
	MissingParameter              = "MissingParameter"
	InvalidParameter              = "InvalidParameter"
	InvalidParameterValue         = "InvalidParameterValue"
	InvalidParameterCombination   = "InvalidParameterCombination"
	InvalidParameterDependency    = "InvalidParameterDependency" // a parameter given without the one it needs
	InvalidFilter                 = "InvalidFilter"
	FilterLimitExceeded           = "FilterLimitExceeded"
	InvalidRequest                = "InvalidRequest"
	InvalidNextToken              = "InvalidPaginationToken"
	UnsupportedOperation          = "UnsupportedOperation"
	UnknownParameter              = "UnknownParameter"
	RequestEntityTooLarge         = "RequestEntityTooLarge"
	RequestTimeout                = "RequestTimeout" // AWS's code for a request too slow to arrive; SDKs retry it
	DryRunOperation               = "DryRunOperation"
	IdempotentParameterMismatch   = "IdempotentParameterMismatch"
	InternalError                 = "InternalError"
	Unavailable                   = "Unavailable"
	ServiceUnavailable            = "ServiceUnavailable" // a temporary failure of the server (its database unreachable); clients retry it
	RequestLimitExceeded          = "RequestLimitExceeded"
	IncorrectState                = "IncorrectState"
	IncorrectInstanceState        = "IncorrectInstanceState"
	OperationNotPermitted         = "OperationNotPermitted"
	DependencyViolation           = "DependencyViolation"
	InstanceLimitExceeded         = "InstanceLimitExceeded"
	VcpuLimitExceeded             = "VcpuLimitExceeded"
	InsufficientInstanceCapacity  = "InsufficientInstanceCapacity"
	InvalidInstanceIDNotFound     = "InvalidInstanceID.NotFound"
	InvalidInstanceIDMalformed    = "InvalidInstanceID.Malformed"
	InvalidAMIIDNotFound          = "InvalidAMIID.NotFound"
	InvalidAMIIDMalformed         = "InvalidAMIID.Malformed"
	InvalidAMIIDUnavailable       = "InvalidAMIID.Unavailable" // a pending image, which cannot be launched yet
	InvalidAMINameMalformed       = "InvalidAMIName.Malformed"
	InvalidAMINameDuplicate       = "InvalidAMIName.Duplicate"
	InvalidAMIAttributeItemValue  = "InvalidAMIAttributeItemValue"
	InvalidReservationIDNotFound  = "InvalidReservationID.NotFound"
	InvalidIDMalformed            = "InvalidID"
	InvalidInstanceType           = "InvalidInstanceType"
	InvalidKeyPairNotFound        = "InvalidKeyPair.NotFound"
	InvalidKeyPairDuplicate       = "InvalidKeyPair.Duplicate"
	InvalidKeyPairFormat          = "InvalidKeyPair.Format"
	InvalidKeyFormat              = "InvalidKey.Format"
	InvalidGroupNotFound          = "InvalidGroup.NotFound"
	InvalidGroupDuplicate         = "InvalidGroup.Duplicate"
	InvalidGroupIDMalformed       = "InvalidGroupId.Malformed"
	InvalidGroupReserved          = "InvalidGroup.Reserved"
	CannotDelete                  = "CannotDelete"
	InvalidPermissionDuplicate    = "InvalidPermission.Duplicate"
	InvalidPermissionNotFound     = "InvalidPermission.NotFound"
	InvalidPermissionMalformed    = "InvalidPermission.Malformed"
	RulesPerSecurityGroupLimit    = "RulesPerSecurityGroupLimitExceeded"
	SecurityGroupLimitExceeded    = "SecurityGroupLimitExceeded"
	InvalidSecurityGroupRuleIDNF  = "InvalidSecurityGroupRuleId.NotFound"
	InvalidVpcIDNotFound          = "InvalidVpcID.NotFound"
	InvalidVolumeNotFound         = "InvalidVolume.NotFound"
	InvalidVolumeIDMalformed      = "InvalidVolumeID.Malformed"
	InvalidVolumeZoneMismatch     = "InvalidVolume.ZoneMismatch"
	InvalidVolumeIDZoneMismatch   = "InvalidVolumeID.ZoneMismatch"
	VolumeInUse                   = "VolumeInUse"
	InvalidAttachmentNotFound     = "InvalidAttachment.NotFound"
	InvalidSnapshotNotFound       = "InvalidSnapshot.NotFound"
	InvalidSnapshotIDMalformed    = "InvalidSnapshotID.Malformed"
	InvalidSnapshotInUse          = "InvalidSnapshot.InUse"
	CreditsNotSupported           = "InstanceCreditSpecification.NotSupported"
	VolumeLimitExceeded           = "VolumeLimitExceeded"
	InvalidZoneNotFound           = "InvalidZone.NotFound"
	AddressLimitExceeded          = "AddressLimitExceeded"
	InvalidAddressNotFound        = "InvalidAddress.NotFound"
	InvalidAllocationIDNotFound   = "InvalidAllocationID.NotFound"
	InvalidAssociationIDNotFound  = "InvalidAssociationID.NotFound"
	InvalidAllocationIDMalformed  = "InvalidAllocationID.Malformed"
	InvalidAssociationIDMalformed = "InvalidAssociationID.Malformed"
	InvalidIPAddressInUse         = "InvalidIPAddress.InUse"
	ResourceAlreadyAssociated     = "Resource.AlreadyAssociated"
	InvalidTagKeyMalformed        = "InvalidTagKey.Malformed"
	TagLimitExceeded              = "TagLimitExceeded"
	ResourceLimitExceeded         = "ResourceLimitExceeded" // a limit with no code of its own (snapshots, key pairs, the course budget)
	InvalidUserIDMalformed        = "InvalidUserID.Malformed"
	InvalidRegionNotFound         = "InvalidRegion.NotFound"
	InvalidInstanceAttributeValue = "InvalidInstanceAttributeValue"
	LaunchTemplateIDNotFound      = "InvalidLaunchTemplateId.NotFound"
	LaunchTemplateIDMalformed     = "InvalidLaunchTemplateId.Malformed"
	LaunchTemplateVersionNotFound = "InvalidLaunchTemplateId.VersionNotFound"
	LaunchTemplateNameExists      = "InvalidLaunchTemplateName.AlreadyExistsException"
	LaunchTemplateNameNotFound    = "InvalidLaunchTemplateName.NotFoundException"
	LaunchTemplateNameMalformed   = "InvalidLaunchTemplateName.MalformedException"
	InvalidUserDataMalformed      = "InvalidUserData.Malformed"

	// STS and IAM codes, for the identity actions served at the same endpoint.
	InvalidClientTokenId = "InvalidClientTokenId"
	NoSuchEntity         = "NoSuchEntity"
	ValidationError      = "ValidationError"

	// Security group rules by id, and managed prefix lists.
	InvalidSecurityGroupRuleIDMalformed = "InvalidSecurityGroupRuleId.Malformed"
	InvalidPrefixListIDNotFound         = "InvalidPrefixListID.NotFound"
	InvalidPrefixListIDMalformed        = "InvalidPrefixListId.Malformed"
	PrefixListVersionMismatch           = "PrefixListVersionMismatch"

	// The network resources (VPCs, subnets, gateways, route tables).
	VpcLimitExceeded                  = "VpcLimitExceeded"
	InvalidVpcIDMalformed             = "InvalidVpcID.Malformed"
	InvalidVpcRange                   = "InvalidVpc.Range"
	InvalidSubnetIDNotFound           = "InvalidSubnetID.NotFound"
	InvalidSubnetIDMalformed          = "InvalidSubnetID.Malformed"
	InvalidSubnetConflict             = "InvalidSubnet.Conflict"
	InvalidSubnetRange                = "InvalidSubnet.Range"
	InvalidInternetGatewayIDNotFound  = "InvalidInternetGatewayID.NotFound"
	InvalidInternetGatewayIDMalformed = "InvalidInternetGatewayId.Malformed"
	InvalidRouteTableIDNotFound       = "InvalidRouteTableID.NotFound"
	InvalidRouteTableIDMalformed      = "InvalidRouteTableId.Malformed"
	InvalidRouteNotFound              = "InvalidRoute.NotFound"
	RouteAlreadyExists                = "RouteAlreadyExists"
	InvalidGatewayIDNotFound          = "InvalidGatewayID.NotFound"
	GatewayNotAttached                = "Gateway.NotAttached"

	// Network interfaces.
	InvalidNetworkInterfaceIDNotFound  = "InvalidNetworkInterfaceID.NotFound"
	InvalidNetworkInterfaceIDMalformed = "InvalidNetworkInterfaceID.Malformed"
	InvalidNetworkInterfaceInUse       = "InvalidNetworkInterface.InUse"
	InvalidAttachmentIDNotFound        = "InvalidAttachmentID.NotFound"
	InvalidInstanceID                  = "InvalidInstanceID" // an instance-level change of an instance with several interfaces
	NetworkInterfaceLimitExceeded      = "NetworkInterfaceLimitExceeded"
)

// codes maps every code to its HTTP status. Client errors are never 5xx:
// old boto retries 5xx for minutes.
var codes = map[string]int{
	AuthFailure:                   http.StatusUnauthorized,
	MissingAuthenticationToken:    http.StatusUnauthorized,
	IncompleteSignature:           http.StatusBadRequest,
	RequestExpired:                http.StatusBadRequest,
	SignatureDoesNotMatch:         http.StatusForbidden,
	UnauthorizedOperation:         http.StatusForbidden,
	OptInRequired:                 http.StatusForbidden,
	InvalidAction:                 http.StatusBadRequest,
	MissingParameter:              http.StatusBadRequest,
	InvalidParameter:              http.StatusBadRequest,
	InvalidParameterValue:         http.StatusBadRequest,
	InvalidParameterCombination:   http.StatusBadRequest,
	InvalidParameterDependency:    http.StatusBadRequest,
	InvalidFilter:                 http.StatusBadRequest,
	FilterLimitExceeded:           http.StatusBadRequest,
	InvalidRequest:                http.StatusBadRequest,
	InvalidNextToken:              http.StatusBadRequest,
	UnsupportedOperation:          http.StatusBadRequest,
	UnknownParameter:              http.StatusBadRequest,
	RequestEntityTooLarge:         http.StatusRequestEntityTooLarge,
	RequestTimeout:                http.StatusBadRequest,
	DryRunOperation:               http.StatusPreconditionFailed,
	IdempotentParameterMismatch:   http.StatusBadRequest,
	InternalError:                 http.StatusInternalServerError,
	Unavailable:                   http.StatusServiceUnavailable,
	ServiceUnavailable:            http.StatusServiceUnavailable,
	RequestLimitExceeded:          http.StatusServiceUnavailable,
	IncorrectState:                http.StatusBadRequest,
	IncorrectInstanceState:        http.StatusBadRequest,
	OperationNotPermitted:         http.StatusBadRequest,
	DependencyViolation:           http.StatusBadRequest,
	InstanceLimitExceeded:         http.StatusBadRequest,
	VcpuLimitExceeded:             http.StatusBadRequest,
	InsufficientInstanceCapacity:  http.StatusBadRequest,
	InvalidInstanceIDNotFound:     http.StatusBadRequest,
	InvalidInstanceIDMalformed:    http.StatusBadRequest,
	InvalidAMIIDNotFound:          http.StatusBadRequest,
	InvalidAMIIDMalformed:         http.StatusBadRequest,
	InvalidAMIIDUnavailable:       http.StatusBadRequest,
	InvalidAMINameMalformed:       http.StatusBadRequest,
	InvalidAMINameDuplicate:       http.StatusBadRequest,
	InvalidAMIAttributeItemValue:  http.StatusBadRequest,
	InvalidReservationIDNotFound:  http.StatusBadRequest,
	InvalidIDMalformed:            http.StatusBadRequest,
	InvalidInstanceType:           http.StatusBadRequest,
	InvalidKeyPairNotFound:        http.StatusBadRequest,
	InvalidKeyPairDuplicate:       http.StatusBadRequest,
	InvalidKeyPairFormat:          http.StatusBadRequest,
	InvalidKeyFormat:              http.StatusBadRequest,
	InvalidGroupNotFound:          http.StatusBadRequest,
	InvalidGroupDuplicate:         http.StatusBadRequest,
	InvalidGroupIDMalformed:       http.StatusBadRequest,
	InvalidGroupReserved:          http.StatusBadRequest,
	CannotDelete:                  http.StatusBadRequest,
	InvalidPermissionDuplicate:    http.StatusBadRequest,
	InvalidPermissionNotFound:     http.StatusBadRequest,
	InvalidPermissionMalformed:    http.StatusBadRequest,
	RulesPerSecurityGroupLimit:    http.StatusBadRequest,
	SecurityGroupLimitExceeded:    http.StatusBadRequest,
	InvalidSecurityGroupRuleIDNF:  http.StatusBadRequest,
	InvalidVpcIDNotFound:          http.StatusBadRequest,
	InvalidVolumeNotFound:         http.StatusBadRequest,
	InvalidVolumeIDMalformed:      http.StatusBadRequest,
	InvalidVolumeZoneMismatch:     http.StatusBadRequest,
	InvalidVolumeIDZoneMismatch:   http.StatusBadRequest,
	VolumeInUse:                   http.StatusBadRequest,
	InvalidAttachmentNotFound:     http.StatusBadRequest,
	InvalidSnapshotNotFound:       http.StatusBadRequest,
	InvalidSnapshotIDMalformed:    http.StatusBadRequest,
	InvalidSnapshotInUse:          http.StatusBadRequest,
	CreditsNotSupported:           http.StatusBadRequest,
	VolumeLimitExceeded:           http.StatusBadRequest,
	InvalidZoneNotFound:           http.StatusBadRequest,
	AddressLimitExceeded:          http.StatusBadRequest,
	InvalidAddressNotFound:        http.StatusBadRequest,
	InvalidAllocationIDNotFound:   http.StatusBadRequest,
	InvalidAssociationIDNotFound:  http.StatusBadRequest,
	InvalidAllocationIDMalformed:  http.StatusBadRequest,
	InvalidAssociationIDMalformed: http.StatusBadRequest,
	InvalidIPAddressInUse:         http.StatusBadRequest,
	ResourceAlreadyAssociated:     http.StatusBadRequest,
	InvalidTagKeyMalformed:        http.StatusBadRequest,
	TagLimitExceeded:              http.StatusBadRequest,
	ResourceLimitExceeded:         http.StatusBadRequest,
	InvalidUserIDMalformed:        http.StatusBadRequest,
	InvalidRegionNotFound:         http.StatusBadRequest,
	InvalidInstanceAttributeValue: http.StatusBadRequest,
	LaunchTemplateIDNotFound:      http.StatusBadRequest,
	LaunchTemplateIDMalformed:     http.StatusBadRequest,
	LaunchTemplateVersionNotFound: http.StatusBadRequest,
	LaunchTemplateNameExists:      http.StatusBadRequest,
	LaunchTemplateNameNotFound:    http.StatusBadRequest,
	LaunchTemplateNameMalformed:   http.StatusBadRequest,
	InvalidUserDataMalformed:      http.StatusBadRequest,
	InvalidClientTokenId:          http.StatusForbidden,
	NoSuchEntity:                  http.StatusNotFound,
	ValidationError:               http.StatusBadRequest,

	InvalidSecurityGroupRuleIDMalformed: http.StatusBadRequest,
	InvalidPrefixListIDNotFound:         http.StatusBadRequest,
	InvalidPrefixListIDMalformed:        http.StatusBadRequest,
	PrefixListVersionMismatch:           http.StatusBadRequest,

	VpcLimitExceeded:                  http.StatusBadRequest,
	InvalidVpcIDMalformed:             http.StatusBadRequest,
	InvalidVpcRange:                   http.StatusBadRequest,
	InvalidSubnetIDNotFound:           http.StatusBadRequest,
	InvalidSubnetIDMalformed:          http.StatusBadRequest,
	InvalidSubnetConflict:             http.StatusBadRequest,
	InvalidSubnetRange:                http.StatusBadRequest,
	InvalidInternetGatewayIDNotFound:  http.StatusBadRequest,
	InvalidInternetGatewayIDMalformed: http.StatusBadRequest,
	InvalidRouteTableIDNotFound:       http.StatusBadRequest,
	InvalidRouteTableIDMalformed:      http.StatusBadRequest,
	InvalidRouteNotFound:              http.StatusBadRequest,
	RouteAlreadyExists:                http.StatusBadRequest,
	InvalidGatewayIDNotFound:          http.StatusBadRequest,
	GatewayNotAttached:                http.StatusBadRequest,

	InvalidNetworkInterfaceIDNotFound:  http.StatusBadRequest,
	InvalidNetworkInterfaceIDMalformed: http.StatusBadRequest,
	InvalidNetworkInterfaceInUse:       http.StatusBadRequest,
	InvalidAttachmentIDNotFound:        http.StatusBadRequest,
	InvalidInstanceID:                  http.StatusBadRequest,
	NetworkInterfaceLimitExceeded:      http.StatusBadRequest,
}

// Convenience constructors for the errors every action family raises.

// Missing reports a required parameter that was not sent.
func Missing(param string) *Error {
	return New(MissingParameter, "The request must contain the parameter %s", param)
}

// BadValue reports a parameter whose value is not acceptable.
func BadValue(param, value, why string) *Error {
	return New(InvalidParameterValue, "Value (%s) for parameter %s is invalid. %s", value, param, why)
}

// DryRun is the answer to a DryRun request that would have succeeded.
func DryRun() *Error {
	return New(DryRunOperation, "Request would have succeeded, but DryRun flag is set.")
}
