// Package sigv4 verifies AWS request signatures: Signature Version 4 (the
// Authorization header and presigned X-Amz-* query parameters) and the legacy
// Signature Version 2 used by boto 2 and other old Query API clients.
//
// The package is deliberately pure. It does no I/O, keeps no global state or
// cache, knows nothing about EC2 actions or the store, and never reads the
// wall clock: the caller reads the body once, hashes it, hands over a
// [Request], a [SecretLookup] for the access key and the current time in
// [Options]. That keeps the security-critical code small enough to review,
// makes every decision reproducible in a test (fixed clock, fixed secrets,
// published vectors) and lets it be fuzzed without a server.
//
// Verify returns an [*Error] whose [Kind] the server maps to an EC2 error
// code. Error messages are meant for the client: they say what to fix but
// never contain the secret or the signature the server expected.
package sigv4
