package backend

import "github.com/econe/econe-server/ec2err"

// Error is a backend's refusal that the student is to see as EC2 would
// say it: Code is an EC2 error code (one of ec2err's, or any code EC2
// itself answers with, passed through as it is), Message the cloud's
// words. actions rewrite the backend ids the message names (Machine.ID)
// to the student's ids; a backend MUST NOT quote any other id of its own
// cloud in Message (name volumes, snapshots and instances by the ids
// econe-server gave it). Any other error a backend returns is an internal
// error: logged, and answered with InternalError.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "backend: " + e.Code + ": " + e.Message }

// Is matches backend errors by code, so that errors.Is(err, ErrCapacity)
// holds for a capacity refusal in the cloud's own words.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The refusals every backend may need; errors.Is matches them by code.
var (
	ErrNotFound       = &Error{Code: ec2err.InvalidInstanceIDNotFound, Message: "The machine does not exist."}
	ErrIncorrectState = &Error{Code: ec2err.IncorrectInstanceState, Message: "The machine is not in a state that allows this."}
	ErrCapacity       = &Error{Code: ec2err.InsufficientInstanceCapacity, Message: "There is not enough capacity for this machine now."}
	// ErrThrottled is the cloud refusing for the rate of requests; it
	// reaches the student as EC2's RequestLimitExceeded (HTTP 503), which
	// every SDK retries with backoff.
	ErrThrottled = &Error{Code: ec2err.RequestLimitExceeded, Message: "Request limit exceeded."}
)
