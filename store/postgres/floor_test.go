package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/postgres/pgtest"
)

// The store benchmarks run from 8 goroutines over a pool of 8, as the e2e
// describe benchmark does, and report the CPU time per operation of this
// process (go-cpu-ns/op, getrusage) and of the cluster (pg-cpu-ns/op),
// which other work on the machine inflates less than the time.

// BenchmarkRoundTripFloor is the least a read from PostgreSQL costs: one
// SELECT 1 by the store's own path (pool, statement, rows), over loopback
// TCP and over the cluster's Unix socket.
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
			measure(b, srv, st.SelectOne)
		})
	}
}

// BenchmarkDescribeRead is the store's part of a DescribeInstances of one
// instance by id: one ViewRefs of its record, tags, volume and interface
// attachments and the user record (what actions and the credentials' check
// name), with 10,000 instances of 100 owners stored, each with a root
// volume, on bbolt and on PostgreSQL over TCP and the Unix socket.
func BenchmarkDescribeRead(b *testing.B) {
	srv := pgtest.Start(b)
	for _, c := range []struct {
		name string
		open func(testing.TB) store.Store
	}{
		{"bolt", func(tb testing.TB) store.Store {
			st, err := store.OpenBolt(filepath.Join(tb.TempDir(), "econe.db"), time.Second)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres-tcp", func(tb testing.TB) store.Store { return open(tb, srv.NewSchema(tb)) }},
		{"postgres-unix", func(tb testing.TB) store.Store { return open(tb, srv.NewSocketSchema(tb)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := c.open(b)
			const owners, each = 100, 100
			value := []byte(strings.Repeat("x", 1000))
			for o := range owners {
				owner := fmt.Sprintf("bench%03d", o)
				if err := st.Update(func(tx store.Tx) error {
					tx.Put(store.BucketUsers, owner, value[:300])
					for i := range each {
						id, vol := fmt.Sprintf("i-%017d", i), fmt.Sprintf("vol-%017d", i)
						tx.Put(store.BucketInstances, store.OwnedKey(owner, id), value)
						tx.Put(store.BucketVolumeAttachments, store.OwnedKey(owner, id)+"/"+vol, []byte{})
						tx.Put(store.BucketVolumes, store.OwnedKey(owner, vol), value[:430])
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			// As autovacuum would after the load: the figures are of the
			// steady state, without its work in the timed span.
			if err := srv.Exec(context.Background(), "postgres", "VACUUM ANALYZE"); err != nil {
				b.Fatal(err)
			}
			refs := func(n int) (string, []store.Ref) {
				owner, id := fmt.Sprintf("bench%03d", n%owners), fmt.Sprintf("i-%017d", n%each)
				return store.OwnedKey(owner, id), []store.Ref{{Bucket: store.BucketInstances, Key: store.OwnedKey(owner, id)},
					store.TagsRef(owner, id), store.VolumesOnRef(owner, id), store.InterfacesOnRef(owner, id),
					{Bucket: store.BucketUsers, Key: owner}}
			}
			var n atomic.Int64
			measure(b, srv, func() error {
				key, r := refs(int(n.Add(1)))
				return store.ViewRefs(st, r, func(tx store.Tx) error {
					if tx.Get(store.BucketInstances, key) == nil {
						return fmt.Errorf("%s: not found", key)
					}
					return nil
				})
			})
		})
	}
}

// measure runs op from 8 goroutines and reports the CPU per op.
func measure(b *testing.B, srv *pgtest.Server, op func() error) {
	b.ReportAllocs()
	b.SetParallelism(8 / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	own, cluster := cpu(b), srv.CPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpu(b)-own)/float64(b.N), "go-cpu-ns/op")
	b.ReportMetric(float64(srv.CPU()-cluster)/float64(b.N), "pg-cpu-ns/op")
}

// cpu is the CPU time (user and system) this process has used so far.
func cpu(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
