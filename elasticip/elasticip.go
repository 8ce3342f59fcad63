// Package elasticip is the boundary between the address actions and
// whatever makes an elastic IP real: the admin's scripts on a private cloud
// (Scripts), nothing at all in a pure simulation (Record), or, later, real
// EC2. The actions own the records, the locking and the crash-safe intents;
// a provider only changes the network, and must be idempotent, because
// reconciliation may repeat a call after a crash.
package elasticip

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/econe/econe-server/conf"
	"github.com/rs/zerolog"
)

// Association is one elastic IP bound to one instance: everything a
// provider is told. The JSON names are the fields of the scripts'
// BASE64_CONTEXT (documented in scripts/README.md).
type Association struct {
	PublicIP      string `json:"elastic_ip"`
	PrivateIP     string `json:"private_ip"`
	InstanceID    string `json:"instance_id"`
	Owner         string `json:"user"`
	AllocationID  string `json:"allocation_id"`
	AssociationID string `json:"association_id"`
	Network       string `json:"network"` // the instance's private network (CIDR); "" when unknown
	// Launch marks the public address an instance got at launch or start
	// (elastic_ips.launch_pool), not an elastic IP: AllocationID and
	// AssociationID are then "".
	Launch bool `json:"launch"`
}

// Context is the association as base64 of its JSON: the scripts' third argument.
func (a Association) Context() string {
	raw, err := json.Marshal(a)
	if err != nil {
		panic(err) // a struct of strings always encodes
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// Provider makes associations real. Both calls MUST be idempotent and MUST
// return only once the network is in the requested state (or fail).
// Disassociate MUST also clean up a half-done Associate of the same
// association: it is how a failure or a crash is undone. A provider that
// runs processes MUST tell started (when not nil) about each before it
// does anything, and MUST NOT let it run if started fails.
type Provider interface {
	Associate(ctx context.Context, a Association, started Started) error
	Disassociate(ctx context.Context, a Association, started Started) error
}

// New returns the provider the configuration asks for: Scripts when either
// script is set, else Record.
func New(cfg conf.ElasticIPs, log zerolog.Logger) Provider {
	if cfg.AssociateScript == "" && cfg.DisassociateScript == "" {
		return Record{Log: log}
	}
	return &Scripts{
		AssociatePath:    cfg.AssociateScript,
		DisassociatePath: cfg.DisassociateScript,
		Timeout:          cfg.ScriptTimeout.D(),
		Log:              log,
	}
}

// Record is the provider of a pure simulation: associations exist only in
// the records the actions keep.
type Record struct {
	Log zerolog.Logger
}

func (p Record) Associate(_ context.Context, a Association, _ Started) error {
	p.Log.Debug().Str("elastic_ip", a.PublicIP).Str("instance_id", a.InstanceID).Msg("elastic IP associated (recorded only, no script configured)")
	return nil
}

func (p Record) Disassociate(_ context.Context, a Association, _ Started) error {
	p.Log.Debug().Str("elastic_ip", a.PublicIP).Str("instance_id", a.InstanceID).Msg("elastic IP disassociated (recorded only, no script configured)")
	return nil
}
