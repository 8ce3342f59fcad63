package conf

import (
	"net"
	"net/netip"
	"strconv"
)

// AdminListener is the operators' HTTP listener: /metrics (Prometheus),
// /livez, /readyz and, when PProf is set, /debug/pprof/. It is never the
// API port, because students must not reach it.
type AdminListener struct {
	// Address is host:port; "" (the default) leaves the listener off.
	Address string `yaml:"address"`
	// AllowRemote must be set for an address that is not loopback: the
	// listener has no authentication of its own.
	AllowRemote bool `yaml:"allow_remote"`
	// PProf serves Go's profiler under /debug/pprof/.
	PProf bool `yaml:"pprof"`
}

func (c *Config) checkAdminListener(p *problems) {
	const path = "admin_listener.address"
	al := c.AdminListener
	if al.Address == "" {
		return
	}
	host, portText, err := net.SplitHostPort(al.Address)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || port < 1 || port > 65535 {
		p.add(path, "%q must be host:port with a port 1..65535, e.g. 127.0.0.1:9467", al.Address)
		return
	}
	if port == c.Port {
		p.add(path, "port %d is the API port (port); the admin listener needs a port of its own", port)
	}
	loopback := host == "localhost"
	if ip, err := netip.ParseAddr(host); err == nil {
		loopback = ip.IsLoopback()
	} else if host != "localhost" {
		p.add(path, "host %q must be an IP address or localhost", host)
		return
	}
	if !loopback && !al.AllowRemote {
		p.add(path, "%q is reachable from other machines and the listener has no authentication; use 127.0.0.1 or set admin_listener.allow_remote: true", al.Address)
	}
}
