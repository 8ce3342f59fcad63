package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/econetest"
)

// failsafe bounds how long the test waits for the server to cut a slow
// connection; it fails the test instead of hanging, it measures nothing.
const failsafe = 20 * time.Second

// TestSlowBodyFlood: a few hundred connections from one host that send
// their headers and one byte of a body, then stall, neither keep a
// well-behaved student from being served nor stay open: each is answered
// RequestTimeout once its body is late, or closed at once when its host is
// over its cap.
func TestSlowBodyFlood(t *testing.T) {
	e := econetest.Start(t, func(c *conf.Config) {
		c.Limits.BodyReadTimeout = conf.Duration(500 * time.Millisecond)
		c.Limits.MaxConnections = 100
		c.Limits.MaxConnectionsPerIP = 50
	})
	student := e.EC2(e.User(t, "alice"))

	const flood = 200
	conns := make([]net.Conn, flood)
	for i := range conns {
		conns[i] = stallBody(t, e.Host(), "127.0.0.2")
	}
	outcomes := make(chan string, flood)
	for _, c := range conns {
		go func() { outcomes <- outcome(c) }()
	}
	if _, err := student.DescribeInstances(econetest.Context(t), &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("DescribeInstances during the flood: got %v, want an answer", err)
	}

	got := map[string]int{}
	for range flood {
		got[<-outcomes]++
	}
	t.Logf("outcomes of %d slow connections: %v", flood, got)
	if got["RequestTimeout 400"] == 0 {
		t.Errorf("got outcomes %v, want some slow bodies answered RequestTimeout 400", got)
	}
	for o, n := range got {
		if o != "RequestTimeout 400" && o != "closed" {
			t.Errorf("got %d connections ending %q, want each answered RequestTimeout 400 or closed", n, o)
		}
	}
}

// stallBody connects from the loopback address from and sends a POST's
// headers and the first byte of its 1,000-byte body.
func stallBody(t *testing.T, host, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nA", host)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	return c
}

var codeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// outcome is how the server ended a stalled request: "CODE STATUS" of
// its answer, "closed" without one, or what else happened.
func outcome(c net.Conn) string {
	c.SetReadDeadline(time.Now().Add(failsafe))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if isTimeout(err) {
			return "still open after " + failsafe.String()
		}
		return "closed"
	}
	body, _ := io.ReadAll(resp.Body)
	code := "no code"
	if m := codeRE.FindSubmatch(body); m != nil {
		code = string(m[1])
	}
	// The connection must not outlive the answer.
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		return fmt.Sprintf("%s %d, then still open", code, resp.StatusCode)
	}
	return fmt.Sprintf("%s %d", code, resp.StatusCode)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
