package postgres_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/econe/econe-server/store/postgres/pgtest"
)

// BenchmarkRoundTripFloor is the least a read from PostgreSQL costs: one
// SELECT 1 by the store's own path (pool, statement, rows), from 8
// goroutines over a pool of 8 as the e2e describe benchmark runs, over
// loopback TCP and over the cluster's Unix socket. It reports the CPU time
// per round trip of this process (go-cpu-ns/op, getrusage) and of the
// cluster (pg-cpu-ns/op), against which a describe's own figures can be
// read.
func BenchmarkRoundTripFloor(b *testing.B) {
	srv := pgtest.Start(b)
	for _, c := range []struct {
		name string
		dsn  func(testing.TB) string
	}{
		{"tcp", srv.NewSchema},
		{"unix", srv.NewSocketSchema},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := open(b, c.dsn(b))
			b.SetParallelism(8 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			own, cluster := cpu(b), srv.CPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := st.SelectOne(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpu(b)-own)/float64(b.N), "go-cpu-ns/op")
			b.ReportMetric(float64(srv.CPU()-cluster)/float64(b.N), "pg-cpu-ns/op")
		})
	}
}

// cpu is the CPU time (user and system) this process has used so far.
func cpu(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
