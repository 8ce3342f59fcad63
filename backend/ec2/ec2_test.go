package ec2_test

import (
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/backend/backendtest"
	"github.com/econe/econe-server/backend/ec2"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// config is the ec2 backend pointed at moto.
func config(endpoint string) *conf.Config {
	cfg := conf.Default()
	cfg.Backend.Name = "ec2"
	e := &cfg.Backend.EC2
	e.Endpoint, e.Course = endpoint, "suite"
	e.Credentials = conf.EC2Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}
	e.RateLimit, e.RateBurst = 1000, 1000
	return cfg
}

func newBackend(endpoint string) backendtest.NewBackend {
	return func(t *testing.T, st store.Store, clock func() time.Time) backend.Backend {
		b, err := ec2.New(backend.Deps{Config: config(endpoint), Store: store.NewSpace(st, "ec2"), Clock: clock, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func TestConformance(t *testing.T) {
	endpoint := econetest.Moto(t)
	backendtest.Run(t, newBackend(endpoint))
	backendtest.RunVolumes(t, newBackend(endpoint))
}
