package conf

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const exampleFile = "../econe.example.yaml"

// The shipped example must stay equal to Default(), so it cannot drift.
func TestExampleFileIsDefault(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadBytes(exampleFile, data)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		for _, d := range diff(reflect.ValueOf(*got), reflect.ValueOf(*want), "") {
			t.Errorf("%s differs from Default(): %s", exampleFile, d)
		}
	}
}

// diff names the fields that differ between two values of one struct type.
func diff(got, want reflect.Value, path string) []string {
	if got.Kind() == reflect.Struct {
		var out []string
		for i := range got.NumField() {
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)...)
		}
		return out
	}
	if reflect.DeepEqual(got.Interface(), want.Interface()) {
		return nil
	}
	format := "%s: got %#v, want %#v"
	if _, ok := got.Interface().(fmt.Stringer); ok {
		format = "%s: got %v, want %v" // Duration: "4s", not nanoseconds
	}
	return []string{fmt.Sprintf(format, path[1:], got.Interface(), want.Interface())}
}

// yamlPaths lists the key paths of every yaml-tagged field under t; map
// values appear as "*".
func yamlPaths(t reflect.Type, prefix string) []string {
	var out []string
	for _, f := range yamlFields(t) {
		tag := yamlName(f)
		p := prefix + tag
		out = append(out, p)
		ft := f.Type
		if ft.Kind() == reflect.Map {
			p += ".*"
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() {
			out = append(out, yamlPaths(ft, p+".")...)
		}
	}
	return out
}

// Every option must be documented in the example file: present as a key,
// or for map entries (groups.*) at least as a commented-out example.
func TestExampleFileHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := indexYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	paths := yamlPaths(reflect.TypeOf(Config{}), "")
	if len(paths) < 40 {
		t.Fatalf("got %d paths from reflection, want at least 40: %q", len(paths), paths)
	}
	for _, p := range paths {
		if _, ok := idx.lines[p]; ok {
			continue
		}
		leaf := p[strings.LastIndex(p, ".")+1:]
		commented := regexp.MustCompile(`(?m)^\s*#\s*` + regexp.QuoteMeta(leaf) + `:`)
		if strings.Contains(p, "*") && commented.Match(data) {
			continue
		}
		t.Errorf("got no key %s in %s, want every option documented", p, exampleFile)
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name                       string
		mutate                     func(*Config)
		addr, publicHost, endpoint string
	}{
		{"default", func(c *Config) {}, "127.0.0.1:4567", "127.0.0.1:4567", "http://127.0.0.1:4567"},
		{"IPv6", func(c *Config) { c.Host = "::1" }, "[::1]:4567", "[::1]:4567", "http://[::1]:4567"},
		{"TLS", func(c *Config) { c.TLS = TLS{Cert: "c", Key: "k"}; c.Port = 443 },
			"127.0.0.1:443", "127.0.0.1:443", "https://127.0.0.1:443"},
		{"proxy", func(c *Config) { c.SSLServer = "https://ec2.example.edu" },
			"127.0.0.1:4567", "ec2.example.edu", "https://ec2.example.edu"},
		{"proxy with port", func(c *Config) { c.SSLServer = "https://ec2.example.edu:8443/" },
			"127.0.0.1:4567", "ec2.example.edu:8443", "https://ec2.example.edu:8443"},
		{"proxy default port dropped", func(c *Config) { c.SSLServer = "HTTPS://EC2.Example.EDU:443" },
			"127.0.0.1:4567", "ec2.example.edu", "https://ec2.example.edu"},
		{"http proxy default port dropped", func(c *Config) { c.SSLServer = "http://ec2.example.edu:80" },
			"127.0.0.1:4567", "ec2.example.edu", "http://ec2.example.edu"},
		{"IPv6 proxy", func(c *Config) { c.SSLServer = "https://[2001:db8::1]:8443" },
			"127.0.0.1:4567", "[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
		{"IPv6 proxy default port", func(c *Config) { c.SSLServer = "https://[2001:db8::1]:443" },
			"127.0.0.1:4567", "[2001:db8::1]", "https://[2001:db8::1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			if got := c.Addr(); got != tt.addr {
				t.Errorf("Addr: got %q, want %q", got, tt.addr)
			}
			if got := c.PublicHost(); got != tt.publicHost {
				t.Errorf("PublicHost: got %q, want %q", got, tt.publicHost)
			}
			if got := c.EndpointURL(); got != tt.endpoint {
				t.Errorf("EndpointURL: got %q, want %q", got, tt.endpoint)
			}
		})
	}
}

func TestDerivedPaths(t *testing.T) {
	c := Default()
	if got, want := c.AdminSocketPath(), "econe-data/admin.sock"; got != want {
		t.Errorf("AdminSocketPath: got %q, want %q", got, want)
	}
	if got, want := c.LogFile(), "econe-data/econe-server.log"; got != want {
		t.Errorf("LogFile: got %q, want %q", got, want)
	}
	c.AdminSocket, c.Log.File = "/run/econe.sock", "/var/log/econe.log"
	if got, want := c.AdminSocketPath(), "/run/econe.sock"; got != want {
		t.Errorf("AdminSocketPath: got %q, want %q", got, want)
	}
	if got, want := c.LogFile(), "/var/log/econe.log"; got != want {
		t.Errorf("LogFile: got %q, want %q", got, want)
	}
}

func TestKeyNamePrefix(t *testing.T) {
	c := mustLoad(t, "groups:\n  students:\n    key_name_prefix: \"{user}-\"\n  staff:\n    key_name_prefix: staff-\n  open:\n")
	tests := []struct {
		group, user, want string
	}{
		{"students", "alice", "alice-"},
		{"staff", "bob", "staff-"},
		{"open", "carol", ""},
		{"unknown", "dave", ""},
	}
	for _, tt := range tests {
		if got := c.KeyNamePrefix(tt.group, tt.user); got != tt.want {
			t.Errorf("KeyNamePrefix(%q, %q): got %q, want %q", tt.group, tt.user, got, tt.want)
		}
	}
	var empty Config
	if got := empty.KeyNamePrefix("x", "y"); got != "" {
		t.Errorf("KeyNamePrefix on a zero Config: got %q, want \"\"", got)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.AvailabilityZones[0] = "changed"
	a.Groups["x"] = Group{}
	a.Backend.Settings["x"] = 1
	b := Default()
	if b.AvailabilityZones[0] != "us-east-1a" || len(b.Groups) != 0 || len(b.Backend.Settings) != 0 {
		t.Errorf("got %+v after modifying an earlier Default(), want a fresh default", b)
	}
}

// By default gc_percent's growth is capped by a soft memory limit, so a
// large store's heap does not grow to five times what is live unbounded.
func TestDefaultMemoryLimit(t *testing.T) {
	if got := Default().GoRuntime.MemoryLimitMiB; got != DefaultMemoryLimitMiB || got <= 0 {
		t.Errorf("go_runtime.memory_limit_mib: got %d, want %d (a limit)", got, DefaultMemoryLimitMiB)
	}
}
