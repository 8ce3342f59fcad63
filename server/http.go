package server

import (
	stdlog "log"
	"net/http"
	"time"
)

// idleTimeout is how long a keep-alive connection may wait for its next
// request.
const idleTimeout = 2 * time.Minute

// HTTPServer is the http.Server for s with the configured read timeouts:
// the daemon serves it and econetest starts it, so tests run the real
// settings.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           bodyDeadline(s, s.cfg.Limits.BodyReadTimeout.D()),
		ReadHeaderTimeout: s.cfg.Limits.HeaderReadTimeout.D(),
		IdleTimeout:       idleTimeout,
		ErrorLog:          stdlog.New(s.log.With().Str("component", "http").Logger(), "", 0),
	}
}

// bodyDeadline gives each request d, from the end of its headers, to
// deliver its body; net/http has no such limit of its own (ReadTimeout
// also counts the headers). A body that misses the deadline fails to read,
// the request is answered RequestTimeout and, its body unread, the
// connection is closed. net/http lifts the deadline once the body is read,
// when it starts watching the connection for a hang-up, so the action may
// run longer.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// Fails only for a ResponseWriter without deadlines; net/http's has them.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}
