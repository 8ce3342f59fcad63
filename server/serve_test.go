package server

import (
	"net/http"
	"testing"
	"time"
)

// A path not in canonical form is redirected to it (as the router the
// server used did), the query kept; any canonical path is the API.
func TestNonCanonicalPathRedirected(t *testing.T) {
	f := newFixture(t, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		name, path   string
		wantStatus   int
		wantLocation string
	}{
		{"double slash", "//services/ec2", http.StatusMovedPermanently, "/services/ec2"},
		{"dot segments, trailing slash kept", "/a/../ec2/./?Action=DescribeRegions", http.StatusMovedPermanently, "/ec2/?Action=DescribeRegions"},
		{"canonical path", "/services/ec2/?Action=DescribeRegions", http.StatusUnauthorized, ""},
	}
	for _, c := range cases {
		resp, err := client.Get(f.url + c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.wantStatus || resp.Header.Get("Location") != c.wantLocation {
			t.Errorf("%s: got %d, Location %q, want %d, %q", c.name, resp.StatusCode, resp.Header.Get("Location"), c.wantStatus, c.wantLocation)
		}
	}
}

// httpDate formats a second once, and a new second afresh.
func TestHTTPDate(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 5, 0, 0, 100, time.FixedZone("CET", 3600))
	cases := []struct {
		name string
		at   time.Time
		want string
	}{
		{"first", t0, "Fri, 04 Dec 2026 04:00:00 GMT"},
		{"same second", t0.Add(900 * time.Millisecond), "Fri, 04 Dec 2026 04:00:00 GMT"},
		{"next second", t0.Add(time.Second), "Fri, 04 Dec 2026 04:00:01 GMT"},
		{"a day later", t0.Add(24*time.Hour + time.Second), "Sat, 05 Dec 2026 04:00:01 GMT"},
	}
	for _, c := range cases {
		if got := httpDate(c.at); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
