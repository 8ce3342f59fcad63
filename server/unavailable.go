package server

import (
	"errors"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// storeUnavailable turns a store that cannot be reached, or is too busy
// to carry out an update, into EC2's ServiceUnavailable (503, which SDKs
// retry), worded for a student; the store's own detail stays in the log.
// Other errors pass unchanged.
func storeUnavailable(err error) error {
	if err == nil || ec2err.As(err).Code != ec2err.InternalError {
		return err
	}
	var msg string
	switch {
	case errors.Is(err, store.ErrUnavailable):
		msg = "The server cannot reach its database right now, so nothing was changed. Retry in a few seconds; if it persists, tell the course's administrator."
	case errors.Is(err, store.ErrBusy):
		msg = "The server is busy with other requests' changes and could not finish yours. Retry it in a moment."
	default:
		return err
	}
	return &ec2err.Error{Code: ec2err.ServiceUnavailable, Detail: err.Error(), Message: msg}
}
