package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The daemon serves the admin listener where configured, and `status`
// names it.
func TestDaemonAdminListener(t *testing.T) {
	bin := buildServerBinary(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	d := newServerProcess(t, bin, "admin_listener:\n  address: "+admin+"\n")
	d.must(t, "start")
	if status := d.must(t, "status"); !strings.Contains(status, "admin:    http://"+admin) {
		t.Errorf("status = %q, want it to name the admin listener %s", status, admin)
	}
	for _, path := range []string{"/livez", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: got %d %q, want 200", path, resp.StatusCode, body)
		}
	}
}
