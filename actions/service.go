// Package actions implements the EC2 actions. Each family lives in its own
// file and contributes a table of Action name -> handler; table.go joins
// them. Handlers take a decoded Request and return a response struct (or an
// *ec2err.Error); they never see HTTP. The server writes both envelopes.
package actions

import (
	"context"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/elasticip"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
	"github.com/rs/zerolog"
)

// DefaultVersion is the API version assumed when a client sends none.
const DefaultVersion = "2016-11-15"

// Service holds what every handler needs. Build it with the fields set;
// Clock defaults to time.Now.
type Service struct {
	Config *conf.Config
	Store  store.Store
	// Backend is the backend with its optional abilities, found once when
	// the service is assembled (backend.Discover).
	Backend   backend.Abilities
	Templates *templates.Catalog
	Addresses elasticip.Provider
	Clock     func() time.Time
	Log       zerolog.Logger
	// Replica names this replica in the intents it records, so that
	// recovery finishes only those of replicas that are gone ("" on
	// bbolt, which one process opens).
	Replica string
}

// Orphaned tells whether an intent recorded by replica was left by a
// replica that is gone, so recovery may finish it.
type Orphaned func(replica string) bool

// AllOrphaned is a crash's start-up, when every intent found is the
// crash's (bbolt's one process).
func AllOrphaned(string) bool { return true }

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock().UTC()
}

// Request is one authenticated API call.
type Request struct {
	Context context.Context
	ID      string // request id, echoed as requestId
	User    *store.User
	Action  string
	Version string // the client's API version, e.g. 2010-08-31
	Params  *query.Params

	// Region is the region the client signed for (SigV4's scope; "" for
	// SigV2): the configured one where auth.enforce_region holds.
	Region string
}

// requestLog is the service's log with the request's id and user, built
// only by the actions that log (a describe would pay for it on every call).
func (s *Service) requestLog(r *Request) *zerolog.Logger {
	l := s.Log.With().Str("request_id", r.ID).Str("user", r.User.Name).Logger()
	return &l
}

// Before reports whether the client's API version predates v
// (YYYY-MM-DD strings compare in date order). Old versions get old shapes.
func (r *Request) Before(v string) bool { return r.Version < v }

// DryRun reports whether the client asked for a dry run. Handlers call it
// after validating and before changing anything, and return its error.
func (r *Request) DryRun() error {
	dry, err := r.Params.Bool("DryRun", false)
	if err != nil {
		return err
	}
	if dry {
		return ec2err.DryRun()
	}
	return nil
}

// Handler serves one action.
type Handler func(s *Service, r *Request) (any, error)

// Meta is embedded first in every response struct: encoding/xml flattens it,
// so the server can set requestId on any response.
type Meta struct {
	RequestID string `xml:"requestId"`
}

// SetRequestID is how the server fills in requestId.
func (m *Meta) SetRequestID(id string) { m.RequestID = id }

// ReturnResponse is the answer of actions that only say yes.
type ReturnResponse struct {
	Meta
	Return bool `xml:"return"`
}

func ok() (any, error) { return &ReturnResponse{Return: true}, nil }
