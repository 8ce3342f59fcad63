package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/econe/econe-server/guard"
	"github.com/econe/econe-server/store"
)

// The kill switch: `econe-server stop-all` stops (or terminates) every
// live instance of a student, a group, or, named explicitly, everyone.

// StopService is the kill switch the CLI drives.
type StopService interface {
	StopAll(t guard.Target, terminate bool) (*guard.Report, error)
}

// Stopper carries out stop-all through the instances' one transition
// (actions.Service); admin does not move instances itself.
type Stopper interface {
	StopAll(ctx context.Context, t guard.Target, terminate bool) (*guard.Report, error)
}

const pathStopAll = "/stop-all"

// stopAllRequest is the body of POST /stop-all.
type stopAllRequest struct {
	Target    guard.Target `json:"target"`
	Terminate bool         `json:"terminate"`
}

// StopAll implements StopService. A named student must exist; a group
// need not have any.
func (u *Users) StopAll(t guard.Target, terminate bool) (*guard.Report, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	switch {
	case t.Group != "":
		if err := ValidName("group", t.Group); err != nil {
			return nil, err
		}
	case t.User != "":
		err := u.Store.View(func(tx store.Tx) error {
			_, err := userRecord(tx, t.User)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", t.User, err)
		}
	}
	if u.Instances == nil {
		return nil, errors.New("stop-all: no backend to stop instances with")
	}
	return u.Instances.StopAll(context.Background(), t, terminate)
}

func (c *Client) StopAll(t guard.Target, terminate bool) (*guard.Report, error) {
	return fetch[guard.Report](c, http.MethodPost, pathStopAll, stopAllRequest{Target: t, Terminate: terminate})
}

// StopAll is recorded as stop-all (or stop-all.terminate) on the target,
// with the instances it changed as its result.
func (a Audited) StopAll(t guard.Target, terminate bool) (rep *guard.Report, err error) {
	action := "stop-all"
	if terminate {
		action += ".terminate"
	}
	target := t.User
	switch {
	case t.All:
		target = "all"
	case t.Group != "":
		target = "group:" + t.Group
	}
	err = a.Record(action, []string{target}, func() ([]string, error) {
		if rep, err = a.Service.StopAll(t, terminate); err != nil {
			return nil, err
		}
		ids := make([]string, len(rep.Instances))
		for i, s := range rep.Instances {
			ids[i] = s.InstanceID
		}
		return ids, nil
	})
	return rep, err
}

func handleStopAll(handle func(pattern string, op func(svc Service, r *http.Request) (any, error))) {
	handle("POST "+pathStopAll, func(svc Service, r *http.Request) (any, error) {
		var req stopAllRequest
		if err := decodeRequest(r, &req); err != nil {
			return nil, err
		}
		return svc.StopAll(req.Target, req.Terminate)
	})
}
