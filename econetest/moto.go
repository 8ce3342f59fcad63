package econetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// motoServer is pyenv's moto_server script (moto 5 with its server extra).
const motoServer = "/root/.pyenv/shims/moto_server"

// Moto starts moto, a real implementation of the EC2 Query API, on a free
// loopback port and returns its endpoint URL; it is stopped by its pid
// when the test ends. It runs moto_server, or `$ECONE_TEST_PYTHON -m
// moto.server` when that is set. Without moto the test skips, or fails in
// CI (CI=true).
func Moto(t testing.TB) string {
	t.Helper()
	name, args := motoServer, []string{}
	if py := os.Getenv("ECONE_TEST_PYTHON"); py != "" {
		name, args = py, []string{"-m", "moto.server"}
	}
	Require(t, name, "pip install 'moto[server]'")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(name, append(args, "-H", "127.0.0.1", "-p", strconv.Itoa(port))...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// Unknown instance types are refused, as EC2 does.
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=false", "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Moto takes a few seconds to import; it is ready once it answers.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return url
		}
		select {
		case <-exited:
			t.Fatalf("moto exited before answering:\n%s", logs.String())
		case <-ctx.Done():
			t.Fatalf("moto did not answer at %s within a minute:\n%s", url, logs.String())
		case <-tick.C:
		}
	}
}
