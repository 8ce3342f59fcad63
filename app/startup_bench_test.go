package app

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/actions"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// BenchmarkOpen100k times Open of a data directory holding 100,000
// instances (500 students × 200, sim backend), as after a restart, and
// reports each start-up step's share in ms/op.
//
//	go test ./app -run X -bench BenchmarkOpen100k -benchtime 5x
func BenchmarkOpen100k(b *testing.B) {
	const students, each = 500, 200
	cfg := conf.Default()
	cfg.DataDir = b.TempDir()
	cfg.Backend.Sim.CIDR = "10.64.0.0/10"
	cfg.Quota.MaxInstances, cfg.Quota.MaxVCPUs, cfg.Quota.MaxVolumes, cfg.Quota.MaxVolumeGiB = quota.Int(1<<30), quota.Int(1<<30), quota.Int(1<<30), quota.Int(1<<30)
	a, err := Open(cfg, zerolog.Nop(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	image := a.Service.Templates.Images()[0].ID
	for i := range students {
		v := url.Values{"ImageId": {image}, "MinCount": {strconv.Itoa(each)}, "MaxCount": {strconv.Itoa(each)}}
		r := &actions.Request{Context: context.Background(), ID: "seed", User: &store.User{Name: fmt.Sprintf("student%03d", i)},
			Action: "RunInstances", Version: actions.DefaultVersion, Params: query.New(v)}
		if _, err := actions.Table()["RunInstances"](a.Service, r); err != nil {
			b.Fatal(err)
		}
	}
	a.Close()
	steps := map[string]time.Duration{}
	b.ResetTimer()
	for range b.N {
		var step string
		var began time.Time
		progress := func(s string) {
			if step != "" {
				steps[step] += time.Since(began)
			}
			step, began = s, time.Now()
		}
		a, err := Open(cfg, zerolog.Nop(), nil, progress)
		progress("")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		a.Close()
		b.StartTimer()
	}
	for s, d := range steps {
		words := slices.DeleteFunc(strings.Fields(s), func(w string) bool { return strings.Contains(w, "/") })
		b.ReportMetric(float64(d.Milliseconds())/float64(b.N), "ms-"+strings.Join(words, "-")+"/op")
	}
}
