package metrics_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func withAdmin(c *conf.Config) { c.AdminListener.Address = "127.0.0.1:9467" }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrape parses /metrics with Prometheus' own text parser.
func scrape(t *testing.T, e *econetest.Env) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, e.AdminURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// find is the metric of the family with exactly the labels given.
func find(families map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(labels)/2 {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m
	}
	return nil
}

// A success, an authentication failure and a client error, through the
// real server, move the counters and histograms with the right labels.
func TestMetricsAfterRequests(t *testing.T) {
	e := econetest.Start(t, withAdmin)
	creds := e.User(t, "alice")
	c := e.EC2(creds)
	ctx := econetest.Context(t)
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-0a1b2c3d4e5f60001"), InstanceType: types.InstanceTypeT2Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}); err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-bad"}}); err == nil {
		t.Fatal("DescribeInstances of a malformed id: got success, want InvalidInstanceID.Malformed")
	}
	wrong := *creds
	wrong.SecretAccessKey = "not-the-secret"
	if _, err := e.EC2(&wrong).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err == nil {
		t.Fatal("DescribeInstances with a wrong secret: got success, want AuthFailure")
	}

	families := scrape(t, e)
	counters := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"econe_requests_total", []string{"action", "RunInstances", "code", "Success"}, 1},
		{"econe_requests_total", []string{"action", "DescribeInstances", "code", "InvalidInstanceID.Malformed"}, 1},
		{"econe_requests_total", []string{"action", "DescribeInstances", "code", "AuthFailure"}, 1},
		{"econe_auth_failures_total", []string{"reason", "signature_mismatch"}, 1},
	}
	for _, c := range counters {
		t.Run(fmt.Sprint(c.name, c.labels), func(t *testing.T) {
			m := find(families, c.name, c.labels...)
			if got := m.GetCounter().GetValue(); m == nil || got != c.want {
				t.Errorf("got %v (found %v), want %v", got, m != nil, c.want)
			}
		})
	}
	histograms := []struct {
		name    string
		labels  []string
		atLeast uint64
	}{
		{"econe_request_duration_seconds", []string{"action", "RunInstances"}, 1},
		{"econe_request_duration_seconds", []string{"action", "DescribeInstances"}, 2},
		{"econe_backend_call_duration_seconds", []string{"operation", "run_in_tx"}, 1},
		{"econe_store_commit_duration_seconds", nil, 1},
		{"econe_store_commit_batch_size", nil, 1},
	}
	for _, h := range histograms {
		t.Run(fmt.Sprint(h.name, h.labels), func(t *testing.T) {
			m := find(families, h.name, h.labels...)
			if got := m.GetHistogram().GetSampleCount(); m == nil || got < h.atLeast {
				t.Errorf("got %d samples (found %v), want at least %d", got, m != nil, h.atLeast)
			}
		})
	}
	for _, name := range []string{"econe_requests_in_flight", "go_goroutines", "process_resident_memory_bytes"} {
		if families[name] == nil {
			t.Errorf("got no %s family, want it exported", name)
		}
	}
}

// An action that is not in the table is counted as "unknown": a client
// cannot grow the label set.
func TestUnknownActionLabel(t *testing.T) {
	e := econetest.Start(t, withAdmin)
	for _, action := range []string{"NoSuchAction1", "NoSuchAction2"} {
		if code, _ := get(t, e.URL+"/?Action="+action); code != http.StatusUnauthorized {
			t.Fatalf("unsigned %s: got status %d, want 401", action, code)
		}
	}
	families := scrape(t, e)
	m := find(families, "econe_requests_total", "action", "unknown", "code", "MissingAuthenticationToken")
	if got := m.GetCounter().GetValue(); got != 2 {
		t.Errorf("got %v requests with action unknown, want 2", got)
	}
	if got := find(families, "econe_auth_failures_total", "reason", "missing_credentials").GetCounter().GetValue(); got != 2 {
		t.Errorf("got %v auth failures for missing credentials, want 2", got)
	}
}

// The API port serves none of the admin paths: every path there is the
// EC2 API, which answers an unsigned request with an EC2 error.
func TestAdminPathsAreNotOnTheAPIPort(t *testing.T) {
	e := econetest.Start(t, withAdmin, func(c *conf.Config) { c.AdminListener.PProf = true })
	for _, path := range []string{"/metrics", "/livez", "/readyz", "/debug/pprof/", "/debug/pprof/heap"} {
		t.Run(path, func(t *testing.T) {
			if code, _ := get(t, e.AdminURL+path); code != http.StatusOK {
				t.Fatalf("admin listener %s: got %d, want 200 (else this test proves nothing)", path, code)
			}
			code, body := get(t, e.URL+path)
			var answer struct {
				Errors []struct {
					Code string `xml:"Error>Code"`
				} `xml:"Errors"`
			}
			if err := xml.Unmarshal([]byte(body), &answer); err != nil || len(answer.Errors) != 1 {
				t.Fatalf("API port %s: got %d %q, want an EC2 error envelope", path, code, body)
			}
			if got := answer.Errors[0].Code; code != http.StatusUnauthorized || got != "MissingAuthenticationToken" {
				t.Errorf("API port %s: got %d %s, want 401 MissingAuthenticationToken", path, code, got)
			}
		})
	}
}

// pprof is served only when switched on.
func TestPProfIsOffByDefault(t *testing.T) {
	e := econetest.Start(t, withAdmin)
	if code, _ := get(t, e.AdminURL+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("got %d, want 404 with admin_listener.pprof off", code)
	}
}

// /readyz follows the store: closed, the server is not ready, and says why.
func TestReadyzWhenTheStoreCloses(t *testing.T) {
	e := econetest.Start(t, withAdmin)
	want := func(wantCode int, wantReason string) {
		t.Helper()
		code, body := get(t, e.AdminURL+"/readyz")
		var a struct{ Status, Reason string }
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("got %q, want JSON: %v", body, err)
		}
		if code != wantCode || !strings.Contains(a.Reason, wantReason) {
			t.Errorf("got %d %q, want %d with reason ...%s...", code, body, wantCode, wantReason)
		}
	}
	want(http.StatusOK, "")
	if code, _ := get(t, e.AdminURL+"/livez"); code != http.StatusOK {
		t.Errorf("livez: got %d, want 200", code)
	}
	e.App.Store.Close()
	// Within a second the answer is reused; past it the store is probed.
	e.Clock.Advance(2 * time.Second)
	want(http.StatusServiceUnavailable, "store: store: closed")
	if code, _ := get(t, e.AdminURL+"/livez"); code != http.StatusOK {
		t.Errorf("livez with the store closed: got %d, want 200 (the process runs)", code)
	}
}
