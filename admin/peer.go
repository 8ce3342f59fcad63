package admin

import (
	"context"
	"net"
)

type peerKey struct{}

// withPeer notes in a connection's context which OS user is at the other
// end of the admin socket, as the kernel says (SO_PEERCRED), for the
// audit log.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, peerUser(c))
}

func peer(ctx context.Context) string {
	if p, ok := ctx.Value(peerKey{}).(string); ok {
		return p
	}
	return "unknown"
}
