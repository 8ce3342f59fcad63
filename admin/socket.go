package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/econe/econe-server/audit"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
)

// Service is the user administration the CLI drives: *Users in-process,
// *Client through the running server's admin socket.
type Service interface {
	Add(name, group string) (*Credentials, error)
	RotateKey(name string) (*Credentials, error)
	SetDisabled(name string, disabled bool) error
	Delete(name string) error
	Show(name string) (*UserInfo, error)
	List() ([]*UserInfo, error)
	Credentials(name string) (*Credentials, error)
	QuotaService
	UsageService
	StopService
	InstanceService
}

// Status is what a running server reports about itself on its socket.
type Status struct {
	PID      int       `json:"pid"`
	Version  string    `json:"version"`
	Address  string    `json:"address"`
	Endpoint string    `json:"endpoint"`
	Started  time.Time `json:"started"`
	// AdminListener is the admin listener's address ("" when off).
	AdminListener string `json:"admin_listener,omitempty"`
	// Store is the store driver (bolt, postgres); Role the server's part in
	// the background work (leader, follower); Replicas every server whose
	// heartbeat it sees in the store, itself included (none on bolt).
	Store    string          `json:"store,omitempty"`
	Role     string          `json:"role,omitempty"`
	Replica  string          `json:"replica,omitempty"`
	Replicas []store.Replica `json:"replicas,omitempty"`
	// ReplicasError says why Replicas could not be read.
	ReplicasError string `json:"replicas_error,omitempty"`
	// Backend is the backend's name; NotReady why the server is not ready
	// (the readiness probe's answer naming the store or the backend), ""
	// when both answer.
	Backend  string `json:"backend,omitempty"`
	NotReady string `json:"not_ready,omitempty"`
}

// The socket protocol: HTTP with JSON bodies. User names travel in the path
// (ValidName keeps them path-safe; others are escaped by the client).
const (
	pathStatus = "/status"
	pathUsers  = "/users"
)

// addRequest is the body of POST /users.
type addRequest struct {
	Name  string `json:"name"`
	Group string `json:"group"`
}

// errorBody is every failed answer; Kind restores the sentinel error on the
// client side, so errors.Is(err, ErrExists) works over the socket too.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"`
}

var errorKinds = map[string]error{"exists": ErrExists, "not_found": ErrNotFound, "in_use": ErrInUse}

// Socket is the admin socket of a running server.
type Socket struct {
	path string
	srv  *http.Server
	done chan error
}

// ServeSocket listens on the unix socket at path (directory 0700, socket
// 0600: only the server's own user may administer it) and serves svc,
// recording each change in auditLog as the OS user at the other end.
// A leftover socket file from a crashed server is replaced; one that still
// answers belongs to another server and is an error.
func ServeSocket(path string, svc Service, auditLog *audit.Log, status func() Status, log zerolog.Logger) (*Socket, error) {
	ln, err := listenUnix(path)
	if err != nil {
		return nil, err
	}
	s := &Socket{
		path: path,
		srv: &http.Server{
			Handler:           socketHandler(svc, auditLog, status, log),
			ReadHeaderTimeout: 10 * time.Second,
			ConnContext:       withPeer,
		},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		if _, err := NewClient(path).Status(); err == nil {
			return nil, fmt.Errorf("admin socket %s is in use by another running econe-server", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket: remove stale %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// The socket file is removed by Shutdown, not by the listener's Close.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// Shutdown stops accepting, waits for running admin requests (bounded by
// ctx) and removes the socket file.
func (s *Socket) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// socketHandler routes the admin operations. It logs one line per request
// with the operation and status only: bodies carry secrets.
func socketHandler(base Service, auditLog *audit.Log, status func() Status, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, op func(svc Service, r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			svc := Audited{base, Auditor{Log: auditLog, Actor: audit.AdminActor(peer(r.Context())), Source: "admin socket"}}
			v, err := op(svc, r)
			code := reply(w, v, err)
			ev := log.Info()
			if pattern == "GET "+pathStatus { // polled by start and status: not worth a line each
				ev = log.Debug()
			}
			ev.Str("component", "admin").Str("op", pattern).Str("user", r.PathValue("name")).
				Int("status", code).Dur("duration", time.Since(start)).Msg("admin request")
		})
	}
	user := pathUsers + "/{name}"
	handle("GET "+pathStatus, func(Service, *http.Request) (any, error) { return status(), nil })
	handle("GET "+pathUsers, func(svc Service, _ *http.Request) (any, error) { return svc.List() })
	handle("POST "+pathUsers, func(svc Service, r *http.Request) (any, error) {
		var req addRequest
		if err := decodeRequest(r, &req); err != nil {
			return nil, err
		}
		return svc.Add(req.Name, req.Group)
	})
	handle("GET "+user, func(svc Service, r *http.Request) (any, error) { return svc.Show(r.PathValue("name")) })
	handle("DELETE "+user, func(svc Service, r *http.Request) (any, error) { return nil, svc.Delete(r.PathValue("name")) })
	handle("POST "+user+"/rotate-key", func(svc Service, r *http.Request) (any, error) { return svc.RotateKey(r.PathValue("name")) })
	handle("POST "+user+"/disable", func(svc Service, r *http.Request) (any, error) {
		return nil, svc.SetDisabled(r.PathValue("name"), true)
	})
	handle("POST "+user+"/enable", func(svc Service, r *http.Request) (any, error) {
		return nil, svc.SetDisabled(r.PathValue("name"), false)
	})
	handle("GET "+user+"/credentials", func(svc Service, r *http.Request) (any, error) { return svc.Credentials(r.PathValue("name")) })
	handleQuotas(handle)
	handleUsage(handle)
	handleStopAll(handle)
	handleInstances(handle)
	return mux
}

// reply writes v (or err) as JSON and returns the HTTP status.
func reply(w http.ResponseWriter, v any, err error) int {
	code := http.StatusOK
	if err != nil {
		body := errorBody{Error: err.Error()}
		code = http.StatusBadRequest
		for kind, sentinel := range errorKinds {
			if errors.Is(err, sentinel) {
				body.Kind = kind
				code = http.StatusConflict
				if sentinel == ErrNotFound {
					code = http.StatusNotFound
				}
			}
		}
		v = body
	} else if v == nil {
		v = struct{}{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
	return code
}
