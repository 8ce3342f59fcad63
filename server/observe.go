package server

import "time"

// Observer is told of every API request (package metrics implements it
// for Prometheus). Its methods must be quick and safe for concurrent use.
type Observer interface {
	// InFlight moves the count of requests being served by delta.
	InFlight(delta int)
	// RequestDone is a request answered: its action as the client named it
	// ("" when none), the EC2 error code or "Success", and its time.
	RequestDone(action, code string, took time.Duration)
	// AuthFailed is a request refused by signature verification, with the
	// sigv4 failure kind.
	AuthFailed(reason string)
}

// Observe makes o the server's observer. Call it before serving.
func (s *Server) Observe(o Observer) { s.obs = o }

type noObserver struct{}

func (noObserver) InFlight(int)                              {}
func (noObserver) RequestDone(string, string, time.Duration) {}
func (noObserver) AuthFailed(string)                         {}
