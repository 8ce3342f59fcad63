package econetest

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
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
	// Port 0: moto binds a port the kernel chooses and says which. A port
	// found free beforehand could be taken by another test in the seconds
	// moto takes to import, and its server would then answer for moto.
	logs := &motoLog{lockedWriter: lockedWriter{buf: &bytes.Buffer{}}, listening: make(chan string, 1)}
	cmd := exec.Command(name, append(args, "-H", "127.0.0.1", "-p", "0")...)
	cmd.Stdout, cmd.Stderr = logs, logs
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Moto takes a few seconds to import; it is ready once it answers.
	var url string
	select {
	case url = <-logs.listening:
	case <-exited:
		t.Fatalf("moto exited before listening:\n%s", logs)
	case <-ctx.Done():
		t.Fatalf("moto did not listen within a minute:\n%s", logs)
	}
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
			t.Fatalf("moto exited before answering:\n%s", logs)
		case <-ctx.Done():
			t.Fatalf("moto did not answer at %s within a minute:\n%s", url, logs)
		case <-tick.C:
		}
	}
}

// motoListening is the line moto's server (werkzeug) writes once it
// listens, with the port.
var motoListening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// motoLog keeps moto's output and sends the URL it listens on, once.
type motoLog struct {
	lockedWriter
	listening chan string
	told      bool
}

func (m *motoLog) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf.Write(p)
	if sub := motoListening.FindSubmatch(m.buf.Bytes()); sub != nil && !m.told {
		m.told = true
		m.listening <- string(sub[1])
	}
	return len(p), nil
}
