package server

import (
	"math"
	"net"
	"strings"
	"testing"

	"github.com/econe/econe-server/conf"
	"github.com/rs/zerolog"
)

func TestLimitsFor(t *testing.T) {
	tests := []struct {
		name      string
		limits    conf.Limits
		openFiles uint64
		want      ConnLimits
	}{
		{"from ulimit -n 1024", conf.Limits{}, 1024, ConnLimits{Total: 896, PerIP: 448}},
		{"small limit keeps half", conf.Limits{}, 100, ConnLimits{Total: 50, PerIP: 25}},
		{"no limit", conf.Limits{}, math.MaxUint64, ConnLimits{Total: math.MaxInt32, PerIP: math.MaxInt32 / 2}},
		{"explicit total", conf.Limits{MaxConnections: 10}, 1024, ConnLimits{Total: 10, PerIP: 5}},
		{"explicit both", conf.Limits{MaxConnections: 10, MaxConnectionsPerIP: 10}, 1024, ConnLimits{Total: 10, PerIP: 10}},
		{"per-IP above the derived total", conf.Limits{MaxConnectionsPerIP: 5000}, 1024, ConnLimits{Total: 896, PerIP: 896}},
		{"total of one", conf.Limits{MaxConnections: 1}, 1024, ConnLimits{Total: 1, PerIP: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LimitsFor(tc.limits, tc.openFiles); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// capFixture is a LimitListener on loopback whose accepted connections
// arrive on accepted.
type capFixture struct {
	addr     string
	accepted chan net.Conn
	logs     *syncBuffer
}

func newCapFixture(t *testing.T, lim ConnLimits) *capFixture {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &capFixture{addr: raw.Addr().String(), accepted: make(chan net.Conn, 16), logs: &syncBuffer{}}
	ln := LimitListener(raw, lim, zerolog.New(f.logs))
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted <- c
		}
	}()
	return f
}

// dial connects from the loopback address from and reports whether the
// listener admitted the connection (handing it out, to close it later) or
// closed it at once.
func (f *capFixture) dial(t *testing.T, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", f.addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	closed := make(chan struct{})
	go func() {
		if _, err := c.Read(make([]byte, 1)); err != nil { // EOF or reset: closed by the listener
			close(closed)
		}
	}()
	select {
	case sc := <-f.accepted:
		t.Cleanup(func() { sc.Close() })
		return sc, true
	case <-closed:
		return nil, false
	}
}

// The caps admit connections up to the limit per host and in total,
// close the excess at once, and free a slot when a connection closes.
func TestLimitListener(t *testing.T) {
	f := newCapFixture(t, ConnLimits{Total: 3, PerIP: 2})
	const hostA, hostB, hostC = "127.0.0.2", "127.0.0.3", "127.0.0.4"
	var open []net.Conn
	steps := []struct {
		name  string
		from  string
		close bool // close the oldest admitted connection first
		want  bool
	}{
		{"first from A", hostA, false, true},
		{"second from A", hostA, false, true},
		{"third from A: over the per-IP cap", hostA, false, false},
		{"first from B", hostB, false, true},
		{"first from C: over the total", hostC, false, false},
		{"C after one of A's closed", hostC, true, true},
		{"A again: back under its cap", hostA, true, true},
	}
	for _, st := range steps {
		if st.close {
			open[0].Close()
			open[0].Close() // a second Close must not free a second slot
			open = open[1:]
		}
		c, got := f.dial(t, st.from)
		if got != st.want {
			t.Fatalf("%s: got admitted %v, want %v", st.name, got, st.want)
		}
		if got {
			open = append(open, c)
		}
	}
	// Open now: one each from B, C and A: the total is reached.
	if _, got := f.dial(t, hostB); got {
		t.Errorf("B with %d open: got admitted, want refused (double Close freed a slot twice?)", len(open))
	}
	logs := f.logs.String()
	for _, want := range []string{`"limit":"limits.max_connections_per_ip"`, `"limit":"limits.max_connections"`, `"refused":1`, `"refused":2`} {
		if !strings.Contains(logs, want) {
			t.Errorf("got log %s, want it to contain %s", logs, want)
		}
	}
}

func TestHostKey(t *testing.T) {
	tests := []struct {
		name string
		addr string
		want string
	}{
		{"IPv4", "192.0.2.7:4567", "192.0.2.7"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.7]:4567", "192.0.2.7"},
		{"IPv6 grouped by /64", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:4567", "2001:db8:1:2::"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := hostKey(a).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
