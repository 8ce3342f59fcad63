package actions

import (
	"errors"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// refusals are a call site's own words for the backend's common refusals,
// naming the resource at hand; a nil field keeps the backend's code and
// message.
type refusals struct {
	incorrectState, capacity *ec2err.Error
}

// volumeRefusals word the refusals of the volume and snapshot calls.
var volumeRefusals = refusals{
	incorrectState: ec2err.New(ec2err.IncorrectState, "The cloud refused the operation in the current state; try again shortly."),
	capacity:       ec2err.New(ec2err.VolumeLimitExceeded, "The cloud has no capacity for this volume now; try a smaller one or later."),
}

// backendError is the one translation of a backend's error for the
// student. A refusal the call site words itself gets its words; any other
// *backend.Error keeps its EC2 code (throttling reaches the student as
// RequestLimitExceeded, capacity as InsufficientInstanceCapacity) and its
// message, with the machines of insts named by their instance ids, never
// by the backend's. EC2 errors are returned as they are, and anything
// else is an internal error (logged, answered InternalError).
func backendError(err error, words refusals, insts ...*store.Instance) error {
	var be *backend.Error
	if !errors.As(err, &be) {
		return err
	}
	switch {
	case words.incorrectState != nil && errors.Is(be, backend.ErrIncorrectState):
		return words.incorrectState
	case words.capacity != nil && errors.Is(be, backend.ErrCapacity):
		return words.capacity
	}
	msg := be.Message
	for _, inst := range insts {
		if inst.BackendID != "" {
			msg = strings.ReplaceAll(msg, inst.BackendID, inst.ID)
		}
	}
	return ec2err.Passed(be.Code, msg)
}
