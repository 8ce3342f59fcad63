package server

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/econe/econe-server/conf"
	"github.com/rs/zerolog"
)

// reservedFiles are the open files kept for everything but client
// connections when max_connections comes from the open-file limit: the
// database, the log, the admin socket and its clients, scripts' pipes.
const reservedFiles = 128

// ConnLimits are the connection caps in force.
type ConnLimits struct {
	Total int // open connections at most
	PerIP int // open connections from one IPv4 address or IPv6 /64 at most
}

// Limits resolves l against the process's open-file limit (RLIMIT_NOFILE),
// which it also returns. Go has already raised the soft limit to the hard
// one at start-up, so that is what the process can really open.
func Limits(l conf.Limits) (ConnLimits, uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return ConnLimits{}, 0, fmt.Errorf("cannot read the open-file limit: %w", err)
	}
	return LimitsFor(l, lim.Cur), lim.Cur, nil
}

// LimitsFor resolves the configured caps against the open-file limit:
// max_connections 0 leaves reservedFiles (at most half the limit) for the
// rest of the server, and max_connections_per_ip 0 is half the total, so
// that no one host can take every connection.
func LimitsFor(l conf.Limits, openFiles uint64) ConnLimits {
	total := l.MaxConnections
	if total == 0 {
		total = int(min(openFiles-min(reservedFiles, openFiles/2), math.MaxInt32))
	}
	total = max(total, 1)
	perIP := l.MaxConnectionsPerIP
	if perIP == 0 {
		perIP = max(total/2, 1)
	}
	return ConnLimits{Total: total, PerIP: min(perIP, total)}
}

// LimitListener caps the connections open through ln at lim. A connection
// over a cap is closed as soon as it is accepted rather than left waiting:
// waiting would queue well-behaved clients behind a flood, while closing
// costs each excess connection one accept, and clients retry. Refusals
// are logged at the 1st, 2nd, 4th, 8th, ... so that a flood cannot fill
// the log.
func LimitListener(ln net.Listener, lim ConnLimits, log zerolog.Logger) net.Listener {
	return &limitListener{Listener: ln, lim: lim, log: log, byHost: map[netip.Addr]int{}}
}

type limitListener struct {
	net.Listener
	lim ConnLimits
	log zerolog.Logger

	mu      sync.Mutex
	open    int
	byHost  map[netip.Addr]int
	refused uint64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostKey(c.RemoteAddr())
		if l.admit(host, c.RemoteAddr()) {
			return &limitedConn{Conn: c, release: func() { l.release(host) }}, nil
		}
		c.Close()
	}
}

// admit counts a new connection from host in, or reports (and logs) that
// a cap refuses it.
func (l *limitListener) admit(host netip.Addr, remote net.Addr) bool {
	l.mu.Lock()
	var key string
	var limit int
	switch {
	case l.open >= l.lim.Total:
		key, limit = "limits.max_connections", l.lim.Total
	case l.byHost[host] >= l.lim.PerIP:
		key, limit = "limits.max_connections_per_ip", l.lim.PerIP
	default:
		l.open++
		l.byHost[host]++
		l.mu.Unlock()
		return true
	}
	l.refused++
	refused := l.refused
	l.mu.Unlock()
	if refused&(refused-1) == 0 {
		l.log.Warn().Str("remote", remote.String()).Str("limit", key).Int("max", limit).Uint64("refused", refused).
			Msg("connection refused: too many open connections (refusals are logged at 1, 2, 4, 8, ...)")
	}
	return false
}

func (l *limitListener) release(host netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byHost[host]--; l.byHost[host] == 0 {
		delete(l.byHost, host)
	}
}

// hostKey is what the per-IP cap counts by: the IPv4 address, or the IPv6
// /64 (one host's usual allocation).
func hostKey(a net.Addr) netip.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// limitedConn gives its slot back when closed (once, however often Close
// is called).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite keeps the half-close net/http uses before closing a
// connection whose request body it did not read, so that the client gets
// the answer rather than a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
