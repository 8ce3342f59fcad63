//go:build !linux

package admin

import (
	"net"

	"github.com/econe/econe-server/audit"
)

// peerUser is not known without SO_PEERCRED; the socket is the server
// user's alone (0600), so that user is at the other end.
func peerUser(net.Conn) string { return audit.CurrentOSUser() }
