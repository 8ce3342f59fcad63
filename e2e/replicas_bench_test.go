package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/store"
	"github.com/jackc/pgx/v5"
)

// launchConcurrency is how many RunInstances are in flight at once: the
// issue's c=32.
const launchConcurrency = 32

// noQuotas lifts the limits a long run would reach: nothing is refused,
// and the launch pool (4,094 addresses) does not run out, as a course
// sizes it to its instances.
const noQuotas = "quota:\n  max_instances: null\n  max_vcpus: null\n  max_volumes: null\n  max_volume_gib: null\n" +
	"elastic_ips:\n  launch_pool: [198.18.0.0/20]\n"

// BenchmarkRunInstancesTwoReplicas is RunInstances of one instance each,
// 32 at a time, from aws-sdk-go-v2 over loopback HTTP to econe-server
// processes: two replicas on one PostgreSQL (half of the goroutines send
// to A, half to B), one of them alone, and one process on bbolt. Each of
// 64 students is launched for by one goroutine (two students a
// goroutine), so a student's launches do not race each other. It reports
// the latency's p50, p99 and max and the launches per second, fails on
// any error, checks on PostgreSQL that every acknowledged instance is in
// the database, and logs pg_stat_statements' top statements of the run and
// the serialization failures (each a transaction run again).
func BenchmarkRunInstancesTwoReplicas(b *testing.B) {
	// The log names the bucket of each statement that failed, so that
	// the serialization failures can be told apart.
	p := startReplicas(b, noQuotas, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_utility=on",
		"log_parameter_max_length_on_error=64")
	if err := p.pg.Exec(context.Background(), "postgres", "CREATE EXTENSION pg_stat_statements"); err != nil {
		b.Fatal(err)
	}
	bolt := newServerProcess(b, buildServerBinary(b), noQuotas)
	bolt.must(b, "start")
	targets := []struct {
		name   string
		prefix string // of the students' names
		at     []*serverProcess
		pg     *replicaPair // nil on bbolt
	}{
		{"postgres-two-replicas", "two", []*serverProcess{p.a, p.b}, p},
		{"postgres-one-replica", "one", []*serverProcess{p.a}, p},
		{"bolt-one-process", "bolt", []*serverProcess{bolt}, nil},
	}
	for _, tg := range targets {
		var students []launchStudent // made once, for every b.N
		b.Run(tg.name, func(b *testing.B) {
			if students == nil {
				students = newLaunchStudents(b, tg.prefix, tg.at)
			}
			var logFrom int64
			if tg.pg != nil {
				tg.pg.resetStatements(b)
				logFrom = tg.pg.logSize(b)
			}
			cpu := serverCPU(b, tg.at)
			acked, err := launchLoad(b, students)
			b.ReportMetric(float64((serverCPU(b, tg.at)-cpu).Microseconds())/float64(b.N), "server-cpu-us/op")
			if tg.pg != nil {
				// b.N is 1 first, only to size the run, and go test keeps
				// ten lines of a benchmark's log: that run's say nothing.
				if b.N > 1 {
					tg.pg.logStatements(b)
					tg.pg.logConflicts(b, logFrom)
				}
				tg.pg.checkDurable(b, acked)
			}
			if err != nil {
				b.Fatal(err)
			}
			terminate(b, students, acked)
		})
	}
}

// launchStudent is a student and their client at the replica their
// goroutine sends to.
type launchStudent struct {
	name string
	ec2  *ec2.Client
}

// newLaunchStudents adds 2·launchConcurrency students, student s to be
// served by goroutine s % launchConcurrency, which sends to at[goroutine %
// len(at)]. Each makes a first call there (the default VPC, the
// connection), outside the timing.
func newLaunchStudents(b *testing.B, prefix string, at []*serverProcess) []launchStudent {
	students := make([]launchStudent, 2*launchConcurrency)
	for s := range students {
		d := at[s%launchConcurrency%len(at)]
		name := fmt.Sprintf("%s%02d", prefix, s)
		students[s] = launchStudent{name: name, ec2: econetest.EC2At(d.url(), conf.Default().Region, d.user(b, name))}
		if _, err := students[s].ec2.DescribeVpcs(econetest.Context(b), &ec2.DescribeVpcsInput{}); err != nil {
			b.Fatal(err)
		}
	}
	return students
}

// launchLoad sends b.N RunInstances from launchConcurrency goroutines,
// reports the latencies and rate, and returns the instances acknowledged
// (owner/id), and an error giving the figures if any launch failed.
func launchLoad(b *testing.B, students []launchStudent) ([]string, error) {
	var (
		next     atomic.Int64
		failures atomic.Int64
		firstErr sync.Once
		wg       sync.WaitGroup
	)
	latencies := make([][]time.Duration, launchConcurrency)
	acked := make([][]string, launchConcurrency)
	b.ResetTimer()
	start := time.Now()
	for g := range launchConcurrency {
		wg.Go(func() {
			for k := 0; next.Add(1) <= int64(b.N); k++ {
				st := students[g+launchConcurrency*(k%2)]
				t0 := time.Now()
				out, err := st.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(debianAMI),
					MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
				latencies[g] = append(latencies[g], time.Since(t0))
				if err != nil {
					failures.Add(1)
					firstErr.Do(func() { b.Errorf("RunInstances for %s: %v", st.name, err) })
					continue
				}
				acked[g] = append(acked[g], st.name+"/"+aws.ToString(out.Instances[0].InstanceId))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Sorted(slices.Values(slices.Concat(latencies...)))
	ms := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds()) / 1000
	}
	rate := float64(b.N) / elapsed.Seconds()
	if n := failures.Load(); n > 0 {
		return slices.Concat(acked...), fmt.Errorf("%d of %d RunInstances failed, want none (p50 %.1f ms, p99 %.1f ms, max %.1f ms, %.1f launches/s)",
			n, b.N, ms(0.50), ms(0.99), ms(1), rate)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(ms(1), "max-ms")
	b.ReportMetric(rate, "launches/s")
	return slices.Concat(acked...), nil
}

// terminate ends the acknowledged instances (owner/id), outside the
// timing, so that a run with -count leaves the next one the launch pool
// it found (1,024 launches take a quarter of it, and a fuller pool makes
// the address search slower).
func terminate(b *testing.B, students []launchStudent, acked []string) {
	ids := map[string][]string{}
	for _, a := range acked {
		owner, id, _ := strings.Cut(a, "/")
		ids[owner] = append(ids[owner], id)
	}
	for _, st := range students {
		if len(ids[st.name]) == 0 {
			continue
		}
		if _, err := st.ec2.TerminateInstances(econetest.Context(b), &ec2.TerminateInstancesInput{InstanceIds: ids[st.name]}); err != nil {
			b.Fatal(err)
		}
	}
}

// serverCPU is the CPU time (user and system) the server processes have
// used so far, from /proc/PID/stat (in clock ticks of 10 ms).
func serverCPU(b *testing.B, at []*serverProcess) time.Duration {
	var ticks int64
	for _, d := range at {
		pid, err := os.ReadFile(filepath.Join(d.dir, "data", "econe-server.pid"))
		if err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		// Fields 14 and 15, utime and stime, counted after the command's
		// closing parenthesis (the command may hold spaces).
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		for _, f := range fields[11:13] {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// resetStatements empties pg_stat_statements, so that it holds the run.
func (p *replicaPair) resetStatements(b *testing.B) {
	if err := p.pg.Exec(context.Background(), "postgres", "SELECT pg_stat_statements_reset()"); err != nil {
		b.Fatal(err)
	}
}

// logStatements logs pg_stat_statements' statements by total time: calls,
// mean time, rows; and the server's time per launch.
func (p *replicaPair) logStatements(b *testing.B) {
	ctx := econetest.Context(b)
	conn, err := pgx.Connect(ctx, p.pg.DSN("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, mean_exec_time, rows, regexp_replace(query, '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC`)
	if err != nil {
		b.Fatal(err)
	}
	var (
		report   strings.Builder
		totalMS  float64
		shown    int
		calls    int64
		rowCount int64
		total    float64
		mean     float64
		query    string
	)
	_, err = pgx.ForEachRow(rows, []any{&calls, &total, &mean, &rowCount, &query}, func() error {
		totalMS += total
		if shown++; shown <= 6 {
			fmt.Fprintf(&report, "\n%8d calls %9.1f ms total %7.3f ms mean %8d rows  %.110s", calls, total, mean, rowCount, query)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("N=%d: PostgreSQL statement time %.1f ms, %.3f ms a launch; top statements:%s", b.N, totalMS, totalMS/float64(b.N), report.String())
}

// checkDurable fails b unless every acknowledged instance (owner/id) is in
// the database with its machine.
func (p *replicaPair) checkDurable(b *testing.B, acked []string) {
	p.view(b, func(tx store.Tx) error {
		for _, a := range acked {
			owner, id, _ := strings.Cut(a, "/")
			inst, err := store.GetInstance(tx, owner, id)
			if err != nil {
				return err
			}
			if inst == nil || inst.BackendID == "" {
				b.Errorf("acknowledged instance %s of %s: got %+v in the database, want it with its machine", id, owner, inst)
			}
		}
		return nil
	})
}

// logSize is the length of the cluster's log.
func (p *replicaPair) logSize(b *testing.B) int64 {
	fi, err := os.Stat(filepath.Join(p.pg.Dir, "postgres.log"))
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// logConflicts reports the serialization failures PostgreSQL logged after
// offset from, per launch, and logs them by the bucket of the statement
// that failed ("COMMIT" for those failing at commit).
func (p *replicaPair) logConflicts(b *testing.B, from int64) {
	raw, err := os.ReadFile(filepath.Join(p.pg.Dir, "postgres.log"))
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(string(raw[from:]), "\n")
	total, byBucket := 0, map[string]int{}
	for i, line := range lines {
		if !strings.Contains(line, "could not serialize access") {
			continue
		}
		total++
		bucket := "COMMIT"
		// The error's CONTEXT line, after DETAIL and HINT, names the
		// statement's parameters: the bucket, and the key's shape.
		for _, next := range lines[i+1 : min(len(lines), i+4)] {
			if _, after, ok := strings.Cut(next, "parameters: $1 = '"); ok {
				bucket, after, _ = strings.Cut(after, "'")
				if _, key, ok := strings.Cut(after, "$2 = '\\x"); ok {
					bucket += " " + keyShape(key)
				}
				break
			}
		}
		byBucket[bucket]++
	}
	b.ReportMetric(float64(total)/float64(b.N), "conflicts/op")
	b.Logf("N=%d: %d serialization failures, by the bucket of the statement that failed: %v", b.N, total, byBucket)
}

// keyShape is a logged hex key (bytea, maybe cut short) with its ids
// masked: "sim/ip/*", "*/i-*", so that failures group by kind of key.
func keyShape(logged string) string {
	hexKey, _, _ := strings.Cut(logged, "'")
	raw, _ := hex.DecodeString(strings.TrimSuffix(hexKey, "..."))
	segs := strings.Split(string(raw), "/")
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "0123456789") {
			continue
		}
		prefix, _, dash := strings.Cut(seg, "-")
		segs[i] = "*"
		if dash {
			segs[i] = prefix + "-*"
		}
	}
	return strings.Join(segs, "/")
}
