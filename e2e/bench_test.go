package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/econe/econe-server/econetest"
)

// BenchmarkServeRunInstances is one RunInstances through the whole server
// (signature, decode, launch, commit, XML), in process and without a
// network, from many goroutines: the server's own cost per launch.
func BenchmarkServeRunInstances(b *testing.B) {
	e := econetest.Start(b)
	c := e.User(b, "bench")
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
	body := "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1"
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	signer := v4.NewSigner()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, e.URL+"/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			req.Header.Set("Content-Length", strconv.Itoa(len(body))) // as net/http delivers it
			if err := signer.SignHTTP(context.Background(), creds, req, hash, "ec2", "us-east-1", time.Now()); err != nil {
				b.Fatal(err)
			}
			w := httptest.NewRecorder()
			e.App.Server.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("got %d: %s", w.Code, w.Body.String())
			}
		}
	})
}
