package backend

import "github.com/econe/econe-server/store"

// Network is the optional ability of a backend whose students' default
// VPC is a network of its cloud (real EC2: the course's). The answer is
// found when the backend starts and never changes, so callers read it
// inside their transactions.
type Network interface {
	DefaultNetwork() DefaultNetwork
}

// DefaultNetwork is the range of a student's default VPC and, per
// availability zone, the range of its default subnet (a zone without one
// is left out). A zero DefaultNetwork means the backend found none.
type DefaultNetwork struct {
	CIDR    string
	Subnets map[string]string
}

// InterfaceAddresses is the optional ability of a backend that hands out
// its machines' private addresses itself (the sim): it holds an address
// for a student's network interface in the same allocation, so an
// interface and a machine never get the same one. A machine launched on
// the interface (LaunchContext.Interface) uses its address. Both calls
// work in the caller's transaction and go with it.
type InterfaceAddresses interface {
	// HoldAddress reserves an address of sn for the interface: want when
	// given (InvalidIPAddress.InUse when held), else a free one. It
	// returns the address and its private DNS name.
	HoldAddress(tx store.Tx, iface string, sn Subnet, want string) (ip, dnsName string, err error)
	// ReleaseAddress frees the interface's address (if it still holds it).
	ReleaseAddress(tx store.Tx, iface string, sn Subnet, addr string) error
}
