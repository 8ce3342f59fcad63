package server

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres"
)

func TestStoreUnavailable(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		code   string
		status int
	}{
		{"database unreachable", fmt.Errorf("%w: begin: connection refused", store.ErrUnavailable), ec2err.ServiceUnavailable, http.StatusServiceUnavailable},
		{"update conflicts", fmt.Errorf("%w (40 attempts; the last: SQLSTATE 40001)", postgres.ErrConflicts), ec2err.ServiceUnavailable, http.StatusServiceUnavailable},
		{"an EC2 error", ec2err.New(ec2err.InvalidInstanceIDNotFound, "no"), ec2err.InvalidInstanceIDNotFound, http.StatusBadRequest},
		{"another error", errors.New("disk full"), ec2err.InternalError, http.StatusInternalServerError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := ec2err.As(storeUnavailable(c.err))
			if e.Code != c.code || e.Status() != c.status {
				t.Errorf("got %s %d, want %s %d", e.Code, e.Status(), c.code, c.status)
			}
		})
	}
}
