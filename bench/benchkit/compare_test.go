package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareQuick is the CI smoke test of bench/compare.sh: the quick run
// completes every scenario against econe-server, limitsrv and moto with no
// failed request. Timings are never judged here.
func TestCompareQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute of load; not with -short")
	}
	if os.Getenv("CI") == "" && !haveMoto() {
		t.Skip("no python3 with moto (set ECONE_TEST_PYTHON); in CI this fails")
	}
	out := filepath.Join(t.TempDir(), "quick")
	cmd := exec.Command("bash", "../compare.sh", "--quick", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("compare.sh --quick: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"describe-id, 10 stored", "wrk c=32", "describe own", "filter instance-state-name", "wrk c=8", "memory", "start-up after kill -9", "usage", "start of a lab", "RunInstances"} {
		found := false
		for _, r := range rows {
			if strings.Contains(r.Scenario, want) {
				found = true
				if e, ok := r.Values["err"]; !ok || e != 0 {
					t.Errorf("%s: got err=%v (present %v), want 0", r.Scenario, e, ok)
				}
			}
		}
		if !found {
			t.Errorf("no scenario %q in %s", want, raw)
		}
	}
	for _, r := range rows {
		if r.Values["econe_rps"] == 0 && strings.Contains(r.Scenario, "c=") {
			t.Errorf("%s: no econe req/s", r.Scenario)
		}
	}
	md, err := os.ReadFile(out + ".md")
	if err != nil || !strings.Contains(string(md), "| scenario |") {
		t.Errorf("markdown: got %q, %v", md, err)
	}
}

func haveMoto() bool {
	for _, py := range []string{os.Getenv("ECONE_TEST_PYTHON"), "/root/.pyenv/shims/python3"} {
		if py != "" && exec.Command(py, "-c", "import moto.server").Run() == nil {
			return true
		}
	}
	return false
}

// TestWrkParse reads wrk --latency's output, units and errors included.
func TestWrkParse(t *testing.T) {
	const in = `Running 2s test @ http://127.0.0.1:1/
  2 threads and 32 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.10ms
     99%    1.02s
  17000 requests in 2.00s, 9.1MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   8500.12
`
	var b strings.Builder
	if err := wrkParse(strings.NewReader(in), &b); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "rps=8500.12 p50_ms=0.812 p99_ms=1020.000 done=17000 err=7\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
