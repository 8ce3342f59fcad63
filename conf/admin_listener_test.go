package conf

import (
	"strings"
	"testing"
)

func TestAdminListenerAddress(t *testing.T) {
	const path = "admin_listener.address"
	tests := []struct {
		name   string
		al     AdminListener
		wantOK bool
		msg    string // substring of the problem when not ok
	}{
		{"off by default", AdminListener{}, true, ""},
		{"loopback IPv4", AdminListener{Address: "127.0.0.1:9467"}, true, ""},
		{"loopback IPv6", AdminListener{Address: "[::1]:9467"}, true, ""},
		{"localhost", AdminListener{Address: "localhost:9467", PProf: true}, true, ""},
		{"all interfaces with the opt-in", AdminListener{Address: "0.0.0.0:9467", AllowRemote: true}, true, ""},
		{"all interfaces", AdminListener{Address: "0.0.0.0:9467"}, false, "reachable from other machines"},
		{"a public address", AdminListener{Address: "192.0.2.7:9467"}, false, "allow_remote: true"},
		{"the API port", AdminListener{Address: "127.0.0.1:4567"}, false, "is the API port"},
		{"no port", AdminListener{Address: "127.0.0.1"}, false, "must be host:port"},
		{"port 0", AdminListener{Address: "127.0.0.1:0"}, false, "port 1..65535"},
		{"host name", AdminListener{Address: "metrics.example.edu:9467", AllowRemote: true}, false, "IP address or localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.AdminListener = tt.al
			var got []string
			if err := c.Validate(); err != nil {
				for _, fe := range problemsOf(t, err) {
					got = append(got, fe.Path+": "+fe.Msg)
					if fe.Path != path {
						t.Errorf("got a problem at %s, want only %s", fe.Path, path)
					}
				}
			}
			switch {
			case tt.wantOK && len(got) > 0:
				t.Errorf("got %q, want no problem", got)
			case !tt.wantOK && (len(got) != 1 || !strings.Contains(got[0], tt.msg)):
				t.Errorf("got %q, want one problem ...%s...", got, tt.msg)
			}
		})
	}
}
