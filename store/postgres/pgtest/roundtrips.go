package pgtest

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// RoundTrips counts a client's sends through a proxy. A client waits for
// each answer before it sends again, so each send of the small messages of
// a store is one read here: a round trip.
type RoundTrips struct {
	sends atomic.Int64
}

// Count is the number of round trips so far.
func (c *RoundTrips) Count() int64 { return c.sends.Load() }

// CountRoundTrips starts a proxy to the server that the test's cleanup
// stops, and returns dsn (one of the server's) rewritten to go through it.
func (s *Server) CountRoundTrips(t testing.TB, dsn string) (string, *RoundTrips) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c := &RoundTrips{}
	go c.serve(l, "127.0.0.1:"+strconv.Itoa(s.Port))
	port := ":" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + "/"
	return strings.Replace(dsn, ":"+strconv.Itoa(s.Port)+"/", port, 1), c
}

func (c *RoundTrips) serve(l net.Listener, to string) {
	for {
		client, err := l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", to)
		if err != nil {
			client.Close()
			continue
		}
		go func() {
			io.Copy(client, server)
			client.Close()
		}()
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					c.sends.Add(1)
					server.Write(buf[:n])
				}
				if err != nil {
					server.Close()
					return
				}
			}
		}()
	}
}
