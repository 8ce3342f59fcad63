package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
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
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			serve(b, e, signer, creds[i%int64(len(creds))], "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&ClientToken=bench-"+strconv.FormatInt(i, 10))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// serve signs body as the SDK does and serves it without a network; it
// fails b unless the answer is 200.
func serve(b *testing.B, e *econetest.Env, signer *v4.Signer, creds aws.Credentials, body string) {
	sum := sha256.Sum256([]byte(body))
	req := httptest.NewRequest(http.MethodPost, e.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Content-Length", strconv.Itoa(len(body))) // as net/http delivers it
	if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	e.App.Server.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("got %d: %s", w.Code, w.Body.String())
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
