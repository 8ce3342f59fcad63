package sim

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// A student's network interface holds its address in the same records as
// the machines (ip/…, the holder being the interface's id), from its
// creation to its deletion; a machine launched on it uses that address
// and never holds it, so the interface keeps it when the machine goes.

var _ backend.InterfaceAddresses = (*Sim)(nil)

// isInterface reports whether an address holder is an interface.
func isInterface(holder string) bool { return strings.HasPrefix(holder, "eni-") }

// HoldAddress implements backend.InterfaceAddresses.
func (s *Sim) HoldAddress(tx store.Tx, iface string, sn backend.Subnet, want string) (ip, dnsName string, err error) {
	r, err := s.rangeOf(&backend.LaunchContext{Subnet: sn})
	if err != nil {
		return "", "", err
	}
	a, err := s.allocateIP(s.st.In(tx), iface, r, want, randomHost(r.prefix), s.now())
	if err != nil {
		return "", "", err
	}
	return a.String(), s.dnsName(a.String()), nil
}

// ReleaseAddress implements backend.InterfaceAddresses.
func (s *Sim) ReleaseAddress(tx store.Tx, iface string, sn backend.Subnet, addr string) error {
	r, err := s.rangeOf(&backend.LaunchContext{Subnet: sn})
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("sim: interface %s has a bad address %q", iface, addr)
	}
	stx := s.st.In(tx)
	if string(stx.Get(ipKey(r.network, a))) != iface {
		return nil
	}
	return stx.Delete(ipKey(r.network, a))
}

// interfaceAddress is the address of lc.Interface for a machine launched
// on it: the one the interface holds in r.
func interfaceAddress(tx store.SpaceTx, r addressRange, lc *backend.LaunchContext) (netip.Addr, error) {
	a, err := netip.ParseAddr(lc.PrivateIP)
	if err != nil || string(tx.Get(ipKey(r.network, a))) != lc.Interface {
		return netip.Addr{}, &backend.Error{Code: ec2err.InvalidIPAddressInUse, Message: fmt.Sprintf("The network interface %s does not hold the address %s.", lc.Interface, lc.PrivateIP)}
	}
	return a, nil
}
