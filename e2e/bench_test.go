package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	"github.com/econe/econe-server/quota"
)

// BenchmarkServeRunInstances is one RunInstances through the whole server
// (signature, decode, launch, commit, XML), in process and without a
// network, from many goroutines and students, each launch with its own
// ClientToken as the SDKs send: the server's own cost per launch. cpu-µs/op
// is the process's CPU time (user and system, the signing included) per
// launch, steadier on a shared machine than ns/op.
func BenchmarkServeRunInstances(b *testing.B) {
	e := econetest.Start(b, func(c *conf.Config) { // quotas checked, never reached
		c.Quota.MaxInstances, c.Quota.MaxVCPUs = quota.Int(1<<30), quota.Int(1<<30)
	})
	var creds []aws.Credentials
	for i := range 50 {
		c := e.User(b, "bench"+strconv.Itoa(i))
		creds = append(creds, aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey})
	}
	signer := v4.NewSigner()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	cpu0, commits0 := cpuTime(b), commits(b, e)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			serve(b, e, signer, creds[i%int64(len(creds))], "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&ClientToken=bench-"+strconv.FormatInt(i, 10))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(commits(b, e)-commits0)/float64(b.N), "commits/op")
}

// commits is how many write transactions the server's store has committed
// (its econe_store_commit_batch_size histogram's count): each is two
// fdatasyncs on bbolt.
func commits(b testing.TB, e *econetest.Env) uint64 {
	families, err := e.App.Metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "econe_store_commit_batch_size" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	b.Fatal("no econe_store_commit_batch_size metric")
	return 0
}

// serve signs body as the SDK does and serves it without a network; it
// fails b unless the answer is 200.
func serve(b testing.TB, e *econetest.Env, signer *v4.Signer, creds aws.Credentials, body string) *httptest.ResponseRecorder {
	return serveSigned(b, e, sign(b, e, signer, creds, body), body)
}

// sign is the request of body, signed as the SDK signs it.
func sign(b testing.TB, e *econetest.Env, signer *v4.Signer, creds aws.Credentials, body string) *http.Request {
	sum := sha256.Sum256([]byte(body))
	req := httptest.NewRequest(http.MethodPost, e.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Content-Length", strconv.Itoa(len(body))) // as net/http delivers it
	if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	return req
}

// serveSigned serves a copy of signed, with body, without a network; it
// fails b unless the answer is 200.
func serveSigned(b testing.TB, e *econetest.Env, signed *http.Request, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, e.URL+"/", strings.NewReader(body))
	req.Header = signed.Header
	w := httptest.NewRecorder()
	e.App.Server.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("got %d: %s", w.Code, w.Body.String())
	}
	return w
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeDescribeInstances is DescribeInstances through the whole
// server (signature, store, sim, XML, access log; no network) with 10,000
// instances of 500 students stored as bench/compare.sh seeds them
// (ec2load's instance-store image, 20 per RunInstances): one instance by
// id, and one student's full describe of their 20, without and with
// compare.sh's filter. Each request is signed once, before the loop, so
// the figures are the server's alone; cpu-µs/op is the process's CPU time
// per request.
func BenchmarkServeDescribeInstances(b *testing.B) {
	e := econetest.Start(b, func(c *conf.Config) { c.Quota = conf.Quota{} })
	const students, each = 500, 20
	signer := v4.NewSigner()
	var student aws.Credentials
	var id string
	for s := range students {
		c := e.User(b, fmt.Sprintf("bench%03d", s))
		creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
		w := serve(b, e, signer, creds, "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount="+strconv.Itoa(each)+"&MaxCount="+strconv.Itoa(each))
		if s == students/2 {
			student = creds
			id = regexp.MustCompile(`<instanceId>(i-[0-9a-f]+)</instanceId>`).FindAllStringSubmatch(w.Body.String(), -1)[each/2][1]
		}
	}
	cases := []struct{ name, body string }{
		{"by-id", "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=" + id},
		{"own", "Action=DescribeInstances&Version=2016-11-15"},
		{"own-filter-running", "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-state-name&Filter.1.Value.1=running"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := sign(b, e, signer, student, c.body)
			serveSigned(b, e, req, c.body) // the boots recorded once
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				serveSigned(b, e, req, c.body)
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
