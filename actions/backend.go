package actions

import (
	"errors"
	"regexp"
	"slices"
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

// instanceIDPattern matches the instance ids a backend's message may name.
var instanceIDPattern = regexp.MustCompile(`\bi-[0-9a-f]{8,17}\b`)

// volumeRefusals word the refusals of the volume and snapshot calls.
var volumeRefusals = refusals{
	incorrectState: ec2err.New(ec2err.IncorrectState, "The cloud refused the operation in the current state; try again shortly."),
	capacity:       ec2err.New(ec2err.VolumeLimitExceeded, "The cloud has no capacity for this volume now; try a smaller one or later."),
}

// backendError is the one translation of a backend's error for the
// student. A refusal the call site words itself gets its words; a machine
// not found is the student's instance not found; any other
// *backend.Error keeps its EC2 code (throttling reaches the student as
// RequestLimitExceeded, capacity as InsufficientInstanceCapacity) and its
// message, with the machines of insts named by their instance ids, never
// by the backend's, and any other instance id hidden (another student's
// is none of this one's business). EC2 errors are returned as they are,
// and anything else is an internal error (logged, answered InternalError).
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
	case errors.Is(be, backend.ErrNotFound) && len(insts) == 1:
		return ec2err.New(ec2err.InvalidInstanceIDNotFound, "The instance ID '%s' does not exist", insts[0].ID)
	}
	msg := be.Message
	for _, inst := range insts {
		if inst.BackendID != "" {
			msg = strings.ReplaceAll(msg, inst.BackendID, inst.ID)
		}
	}
	msg = instanceIDPattern.ReplaceAllStringFunc(msg, func(id string) string {
		if slices.ContainsFunc(insts, func(inst *store.Instance) bool { return inst.ID == id }) {
			return id
		}
		return "(unknown)"
	})
	return ec2err.Passed(be.Code, msg)
}
