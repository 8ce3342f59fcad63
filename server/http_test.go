package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A request whose body arrived in time keeps its context while its action
// runs past the body deadline: net/http's background read of the
// connection must not inherit the deadline and cancel the request.
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	const deadline = 20 * time.Millisecond
	canceled := make(chan bool, 1)
	hs := httptest.NewServer(bodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Errorf("read body: %v", err)
		}
		// Wait well past the deadline (there is no clock to inject into a
		// socket deadline); a cancellation would arrive first.
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(10 * deadline):
			canceled <- false
		}
	}), deadline))
	defer hs.Close()
	resp, err := http.Post(hs.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeRegions"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if <-canceled {
		t.Errorf("got the request's context canceled after its body was read, want it alive until the answer")
	}
}
