package admin

import (
	"net"
	"syscall"

	"github.com/econe/econe-server/audit"
)

// peerUser names the OS user of the process at the other end of c.
func peerUser(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "unknown"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "unknown"
	}
	var cred *syscall.Ucred
	cerr := raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil || err != nil {
		return "unknown"
	}
	return audit.OSUserName(cred.Uid)
}
