package ec2err

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestEveryCodeHasClientSafeStatus(t *testing.T) {
	for code, status := range Codes() {
		if status < 400 || status > 599 {
			t.Errorf("code %s: got status %d, want 4xx or 5xx", code, status)
		}
		server := status >= 500
		allowed := code == InternalError || code == Unavailable || code == ServiceUnavailable || code == RequestLimitExceeded
		if server && !allowed {
			t.Errorf("code %s: got status %d, client errors must never be 5xx (old boto retries them)", code, status)
		}
	}
}

func TestAsWrapsUnknownErrorsAsInternal(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
	}{
		{"ec2 error", New(InvalidInstanceIDNotFound, "nope"), InvalidInstanceIDNotFound, 400},
		{"wrapped ec2 error", fmt.Errorf("ctx: %w", New(AuthFailure, "x")), AuthFailure, 401},
		{"plain error", errors.New("disk on fire"), InternalError, 500},
		{"dry run", DryRun(), DryRunOperation, http.StatusPreconditionFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := As(c.err)
			if e.Code != c.wantCode || e.Status() != c.wantStatus {
				t.Errorf("got %s/%d, want %s/%d", e.Code, e.Status(), c.wantCode, c.wantStatus)
			}
		})
	}
	if e := As(errors.New("disk on fire")); e.Message == "disk on fire" || e.Detail != "disk on fire" {
		t.Errorf("internal detail must stay out of the client message: got message %q detail %q", e.Message, e.Detail)
	}
}

func TestUndeclaredCodeIs500(t *testing.T) {
	if got := (&Error{Code: "Bogus.Code"}).Status(); got != 500 {
		t.Errorf("got %d, want 500 for an undeclared code", got)
	}
}

// A code passed through from a backend keeps its table status when known
// (RequestLimitExceeded is 503, as EC2 answers) and is a client error when
// the table lacks it.
func TestPassedStatus(t *testing.T) {
	cases := []struct {
		code string
		want int
	}{
		{RequestLimitExceeded, http.StatusServiceUnavailable},
		{InsufficientInstanceCapacity, http.StatusBadRequest},
		{"InvalidSubnetID.NotFound", http.StatusBadRequest},
	}
	for _, c := range cases {
		if got := Passed(c.code, "m").Status(); got != c.want {
			t.Errorf("Passed(%s): got status %d, want %d", c.code, got, c.want)
		}
	}
}
