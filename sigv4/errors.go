package sigv4

// Kind classifies a verification failure so the server can map it to an EC2
// error code without parsing messages.
type Kind int

const (
	// KindMissing: no credentials at all (MissingAuthenticationToken).
	KindMissing Kind = iota + 1
	// KindMalformed: header or parameters malformed, components missing, bad
	// algorithm or date format (IncompleteSignature).
	KindMalformed
	// KindUnknownKey: the access key id is unknown or disabled (AuthFailure).
	KindUnknownKey
	// KindMismatch: the signature does not match (AuthFailure).
	KindMismatch
	// KindExpired: outside the clock skew, presigned URL expired, or SigV2
	// Expires in the past (RequestExpired).
	KindExpired
	// KindWrongRegion: the SigV4 scope names another region; only returned
	// when Options.EnforceRegion is set.
	KindWrongRegion
	// KindV2Disabled: a SigV2 request while Options.AllowV2 is false.
	KindV2Disabled
	// KindWrongService: the SigV4 scope names another service than
	// Options.Service.
	KindWrongService
	// KindSecurityToken: the request carries a session token
	// (X-Amz-Security-Token, or SecurityToken for SigV2); this package
	// verifies long-term keys only, so no token can be valid.
	KindSecurityToken
)

var kindNames = [...]string{
	KindMissing:       "missing credentials",
	KindMalformed:     "malformed signature",
	KindUnknownKey:    "unknown access key",
	KindMismatch:      "signature mismatch",
	KindExpired:       "request expired",
	KindWrongRegion:   "wrong region",
	KindV2Disabled:    "SigV2 disabled",
	KindWrongService:  "wrong service",
	KindSecurityToken: "security token",
}

// String names the kind for logs.
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown error"
}

// Error is the only error type Verify returns. Msg is safe to show to the
// client: it never contains the secret or the expected signature.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return "sigv4: " + e.Kind.String() + ": " + e.Msg }

// Is makes errors.Is(err, ErrExpired) and friends match on Kind alone, so the
// sentinels below work although every returned error carries its own Msg.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Msg == "" || t.Msg == e.Msg)
}

// Sentinels for errors.Is; they carry only a Kind.
var (
	ErrMissing       = &Error{Kind: KindMissing}
	ErrMalformed     = &Error{Kind: KindMalformed}
	ErrUnknownKey    = &Error{Kind: KindUnknownKey}
	ErrMismatch      = &Error{Kind: KindMismatch}
	ErrExpired       = &Error{Kind: KindExpired}
	ErrWrongRegion   = &Error{Kind: KindWrongRegion}
	ErrV2Disabled    = &Error{Kind: KindV2Disabled}
	ErrWrongService  = &Error{Kind: KindWrongService}
	ErrSecurityToken = &Error{Kind: KindSecurityToken}
)

func fail(k Kind, msg string) *Error { return &Error{Kind: k, Msg: msg} }
