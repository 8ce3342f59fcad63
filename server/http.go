package server

import (
	"io"
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
// deliver its body; net/http has no such per-request limit of its own
// (ReadTimeout also covers the headers, and its deadline outlives the body,
// cancelling requests that run longer). A body that misses the deadline
// fails to read, the request is answered RequestTimeout and, its body being
// unread, the connection is closed.
func bodyDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body has been read:
// net/http then keeps reading the connection in the background to notice a
// client hanging up, and a deadline expiring there would cancel the
// request's context while its action runs.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
