package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/econe/econe-server/store"
)

// InstanceService shows one instance to an admin: econe's id, the
// student's, and the backend's id, so that an admin looking in the
// cloud's console (AWS's) finds the student, and the other way round.
type InstanceService interface {
	Instance(id string) (*InstanceInfo, error)
}

// InstanceInfo is what `econe-server instance show` prints.
type InstanceInfo struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	Group     string `json:"group,omitempty"`
	Backend   string `json:"backend"`    // the configured backend's name
	BackendID string `json:"backend_id"` // "" before the backend answered the launch
	State     string `json:"state"`
	Type      string `json:"instance_type"`
	Zone      string `json:"zone"`
	PrivateIP string `json:"private_ip,omitempty"`
	PublicIP  string `json:"public_ip,omitempty"`
}

const pathInstances = "/instances"

// Instance implements InstanceService: id is econe's instance id or the
// backend's (an AWS id read in the console). One scan of every instance:
// an admin command, not a request path.
func (u *Users) Instance(id string) (*InstanceInfo, error) {
	if id == "" {
		return nil, fmt.Errorf("instance: give an instance id (econe's i-… or the backend's)")
	}
	var found *store.Instance
	var group string
	err := u.Store.View(func(tx store.Tx) error {
		found, group = nil, ""
		err := store.ScanJSON(tx, store.BucketInstances, "", func(key string, inst *store.Instance) error {
			if strings.HasSuffix(key, "/"+id) || inst.BackendID == id {
				found = inst
				return store.ErrStop
			}
			return nil
		})
		if err != nil || found == nil {
			return err
		}
		user, err := store.GetUser(tx, found.Owner)
		if user != nil {
			group = user.Group
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("instance: no instance %s (by econe's id or the backend's)", id)
	}
	return &InstanceInfo{
		ID: found.ID, Owner: found.Owner, Group: group, Backend: u.config().Backend.Name, BackendID: found.BackendID,
		State: found.State, Type: found.InstanceType, Zone: found.Zone, PrivateIP: found.PrivateIP, PublicIP: found.PublicIP,
	}, nil
}

func handleInstances(handle func(pattern string, op func(svc Service, r *http.Request) (any, error))) {
	handle("GET "+pathInstances+"/{id}", func(svc Service, r *http.Request) (any, error) { return svc.Instance(r.PathValue("id")) })
}

// Instance is InstanceService through the socket.
func (c *Client) Instance(id string) (*InstanceInfo, error) {
	return fetch[InstanceInfo](c, http.MethodGet, pathInstances+"/"+url.PathEscape(id), nil)
}
