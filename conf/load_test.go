package conf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// loadErr loads src as econe.yaml and returns the error text, one problem
// per line.
func loadErr(t *testing.T, src string) string {
	t.Helper()
	c, err := LoadBytes("econe.yaml", []byte(src))
	if err == nil {
		t.Fatalf("LoadBytes(%q): got no error, config %+v", src, c)
	}
	return err.Error()
}

func mustLoad(t *testing.T, src string) *Config {
	t.Helper()
	c, err := LoadBytes("econe.yaml", []byte(src))
	if err != nil {
		t.Fatalf("LoadBytes(%q): got error %v, want none", src, err)
	}
	return c
}

func TestUnknownKey(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"top level typo", "port: 1\nprot: 2\n",
			`econe.yaml:2: prot: unknown key "prot" (did you mean "port"?)`},
		{"nested typo", "backend:\n  sim:\n    boot_dealy: 1s\n",
			`econe.yaml:3: backend.sim.boot_dealy: unknown key "boot_dealy" (did you mean "boot_delay"?)`},
		{"camel case", "maxRequestBytes: 10\n",
			`econe.yaml:1: maxRequestBytes: unknown key "maxRequestBytes" (did you mean "max_request_bytes"?)`},
		{"nothing close lists valid keys", "tls:\n  certificate_chain: x\n",
			`econe.yaml:2: tls.certificate_chain: unknown key "certificate_chain" (valid keys: cert, key)`},
		{"inside a group", "groups:\n  staff:\n    prefix: x-\n",
			`econe.yaml:3: groups.staff.prefix: unknown key "prefix" (valid keys: key_name_prefix, max_instances, max_vcpus,`},
		{"quota key in a group", "groups:\n  staff:\n    max_instance: 3\n",
			`econe.yaml:3: groups.staff.max_instance: unknown key "max_instance" (did you mean "max_instances"?)`},
		{"quota section", "quota:\n  count_stoped_instances: true\n",
			`econe.yaml:2: quota.count_stoped_instances: unknown key "count_stoped_instances" (did you mean "count_stopped_instances"?)`},
		{"flow mapping", "log: {level: info, colour: true}\n",
			`econe.yaml:1: log.colour: unknown key "colour"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadErr(t, tt.src); !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestSettingsAcceptAnyKeys(t *testing.T) {
	c := mustLoad(t, "backend:\n  name: openstack\n  settings:\n    url: http://x\n    nested: {a: [1, 2]}\n")
	if got, want := c.Backend.Settings["url"], "http://x"; got != want {
		t.Errorf("got settings.url %v, want %v", got, want)
	}
	if got := c.Backend.Settings["nested"]; got == nil {
		t.Errorf("got settings.nested nil, want a map")
	}
}

func TestWrongType(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"string for int", "port: abc\n", `econe.yaml:1: port: expected an integer, got string "abc"`},
		{"quoted int", "host: 127.0.0.1\nport: \"4567\"\n", `econe.yaml:2: port: expected an integer, got string "4567"`},
		{"long value not truncated", "max_request_bytes: twelve-megabytes\n",
			`econe.yaml:1: max_request_bytes: expected an integer, got string "twelve-megabytes"`},
		{"string for bool", "auth:\n  sigv2: maybe\n", `econe.yaml:2: auth.sigv2: expected true or false, got string "maybe"`},
		{"scalar for list", "availability_zones: us-east-1a\n",
			`econe.yaml:1: availability_zones: expected a list of strings, got string "us-east-1a"`},
		{"list for struct", "tls:\n  - a\n", `econe.yaml:2: tls: expected a mapping, got a list`},
		{"bad duration", "backend:\n  sim:\n    boot_delay: fast\n",
			`econe.yaml:3: backend.sim.boot_delay: invalid duration "fast"`},
		{"mapping for duration", "auth:\n  max_clock_skew:\n    minutes: 5\n",
			`econe.yaml:3: auth.max_clock_skew: expected a duration such as "30s" or integer seconds, got a mapping`},
		{"string for debug_level", "log:\n  debug_level: high\n",
			`econe.yaml:2: log.debug_level: expected an integer, got string "high"`},
		{"list item", "elastic_ips:\n  pool:\n    - [192.0.2.1]\n",
			`econe.yaml:3: elastic_ips.pool[0]: expected a string, got a list`},
		{"bad budget", "quota:\n  budget: 12.1234567\n",
			`econe.yaml:2: quota.budget: expected an amount such as 12.50 (at most 6 decimals), got number 12.1234567`},
		{"string for a group limit", "groups:\n  cs61c:\n    max_instances: four\n",
			`econe.yaml:3: groups.cs61c.max_instances: expected an integer, got string "four"`},
		{"scalar for instance types", "groups:\n  cs61c:\n    instance_types: t3.micro\n",
			`econe.yaml:3: groups.cs61c.instance_types: expected a list of strings, got string "t3.micro"`},
		{"top level list", "- port: 1\n", `econe.yaml:1: expected a mapping, got a list`},
		{"duplicate key", "port: 1\nport: 2\n", `econe.yaml:2: port: duplicate key (first set at line 1)`},
		{"syntax error", "port: 1\n  host: x\n", `econe.yaml:2: mapping values are not allowed in this context`},
		{"two documents", "port: 1\n---\nport: 2\n", `econe.yaml:2: more than one YAML document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadErr(t, tt.src); !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		if got, want := mustLoad(t, src), Default(); !reflect.DeepEqual(got, want) {
			t.Errorf("LoadBytes(%q): got %+v, want %+v", src, got, want)
		}
	}
}

func TestNullKeepsDefault(t *testing.T) {
	// "sim:" with all children commented out must not zero the delays.
	c := mustLoad(t, "backend:\n  sim:\n    # boot_delay: 10s\nhost:\n")
	if got, want := c.Backend.Sim, Default().Backend.Sim; got != want {
		t.Errorf("got sim %+v, want %+v", got, want)
	}
	if got, want := c.Host, "127.0.0.1"; got != want {
		t.Errorf("got host %q, want %q", got, want)
	}
}

func TestDecodeOverDefaults(t *testing.T) {
	c := mustLoad(t, "port: 8080\nbackend:\n  sim:\n    boot_delay: 10s\n")
	want := Default()
	want.Port = 8080
	want.Backend.Sim.BootDelay = Duration(10 * time.Second)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

// Quota keys sit in a group next to key_name_prefix; null in the quota:
// section lifts a default limit.
func TestQuotaKeys(t *testing.T) {
	c := mustLoad(t, "groups:\n  cs61c:\n    key_name_prefix: \"{user}-\"\n    max_instances: 4\n    instance_types: [t3.micro]\n    budget: 12.50\n"+
		"quota:\n  max_vcpus: null\n  count_stopped_instances: true\n")
	g := c.Groups["cs61c"]
	if g.KeyNamePrefix != "{user}-" || g.Format("max_instances") != "4" || g.Format("instance_types") != "t3.micro" || g.Format("budget") != "12.50" || g.IsSet("max_vcpus") {
		t.Errorf("got group %+v, want key_name_prefix, max_instances 4, instance_types, budget 12.50 and nothing else", g)
	}
	if c.Quota.IsSet("max_vcpus") || c.Quota.Format("max_instances") != "20" || !c.Quota.CountStoppedInstances {
		t.Errorf("got quota %+v, want max_vcpus lifted, max_instances 20 kept, stopped instances counted", c.Quota)
	}
}

func TestDebugLevel(t *testing.T) {
	tests := []struct {
		name, src string
		level     string
		zl        zerolog.Level
	}{
		{"neither", "", "info", zerolog.InfoLevel},
		{"debug_level 0", "log:\n  debug_level: 0\n", "error", zerolog.ErrorLevel},
		{"debug_level 1", "log:\n  debug_level: 1\n", "warn", zerolog.WarnLevel},
		{"debug_level 2", "log:\n  debug_level: 2\n", "info", zerolog.InfoLevel},
		{"debug_level 3", "log:\n  debug_level: 3\n", "debug", zerolog.DebugLevel},
		{"explicit level wins", "log:\n  level: warn\n  debug_level: 3\n", "warn", zerolog.WarnLevel},
		{"explicit default level wins", "log:\n  level: info\n  debug_level: 3\n", "info", zerolog.InfoLevel},
		{"null level is unset", "log:\n  level: null\n  debug_level: 3\n", "debug", zerolog.DebugLevel},
		{"level alone", "log:\n  level: trace\n", "trace", zerolog.TraceLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.src)
			if c.Log.Level != tt.level {
				t.Errorf("got level %q, want %q", c.Log.Level, tt.level)
			}
			if got := c.ZerologLevel(); got != tt.zl {
				t.Errorf("got ZerologLevel %v, want %v", got, tt.zl)
			}
		})
	}

	three := 3
	if got, want := (Log{DebugLevel: &three}).ZerologLevel(), zerolog.DebugLevel; got != want {
		t.Errorf("Log{DebugLevel: 3}.ZerologLevel(): got %v, want %v", got, want)
	}
	if got, want := (Log{Level: "bogus"}).ZerologLevel(), zerolog.InfoLevel; got != want {
		t.Errorf("Log{Level: bogus}.ZerologLevel(): got %v, want %v", got, want)
	}
}

func TestDurationForms(t *testing.T) {
	tests := []struct {
		name, val string
		want      time.Duration
	}{
		{"minutes", "15m", 15 * time.Minute},
		{"seconds", "30s", 30 * time.Second},
		{"hours", "1h", time.Hour},
		{"mixed", "1h30m", 90 * time.Minute},
		{"quoted", `"45s"`, 45 * time.Second},
		{"integer seconds", "90", 90 * time.Second},
		{"quoted integer seconds", `"90"`, 90 * time.Second},
		{"zero", "0", 0},
		{"sub-second", "250ms", 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, "terminated_instances_expiration_time: "+tt.val+"\n")
			if got := c.TerminatedInstancesExpirationTime.D(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	bad := []struct {
		name, val, want string
	}{
		{"word", "fast", `invalid duration "fast"`},
		{"float", "1.5", `invalid duration "1.5"`},
		{"no unit", "1e3", `invalid duration "1e3"`},
		{"overflow", "99999999999999", `invalid duration "99999999999999": out of range`},
		{"list", "[1s]", `expected a duration such as "30s" or integer seconds, got a list`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErr(t, "terminated_instances_expiration_time: "+tt.val+"\n")
			want := "econe.yaml:1: terminated_instances_expiration_time: " + tt.want
			if !strings.Contains(got, want) {
				t.Errorf("got %q, want it to contain %q", got, want)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	d := Duration(90 * time.Second)
	b, _ := d.MarshalText()
	if got, want := string(b), "1m30s"; got != want {
		t.Errorf("MarshalText: got %q, want %q", got, want)
	}
	var back Duration
	if err := back.UnmarshalText(b); err != nil || back != d {
		t.Errorf("UnmarshalText(%q): got %v, %v, want %v", b, back, err, d)
	}
	if err := back.UnmarshalText([]byte("soon")); err == nil {
		t.Errorf("UnmarshalText(soon): got no error, want one")
	}
}

func TestAZDefaulting(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"default region", "", []string{"us-east-1a", "us-east-1b"}},
		{"from region", "region: eu-west-3\n", []string{"eu-west-3a", "eu-west-3b"}},
		{"explicit empty", "region: eu-west-3\navailability_zones: []\n", []string{"eu-west-3a", "eu-west-3b"}},
		{"null", "region: eu-west-3\navailability_zones:\n", []string{"eu-west-3a", "eu-west-3b"}},
		{"explicit", "region: site-1\navailability_zones: [site-1-rack1, site-1-rack2, site-1-rack3]\n",
			[]string{"site-1-rack1", "site-1-rack2", "site-1-rack3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.src).AvailabilityZones; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatalf(`Load(""): got error %v, want none`, err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf(`Load(""): got %+v, want Default()`, c)
	}

	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing): got %v, want fs.ErrNotExist", err)
	}

	path := filepath.Join(dir, "econe.yaml")
	if err := os.WriteFile(path, []byte("port: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("Load(%s): got %v, want a *FieldError", path, err)
	}
	if got, want := *fe, (FieldError{File: path, Line: 1, Path: "port", Msg: "must be 1..65535, got 0"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// problemsOf splits an error from Validate or LoadBytes into its problems.
func problemsOf(t *testing.T, err error) []*FieldError {
	t.Helper()
	var out []*FieldError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("got %T %v, want *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

func TestLoadReportsEverythingSortedByLine(t *testing.T) {
	src := `port: 70000
region: us-east-1
log:
  format: xml
  colour: yes
backend:
  sim:
    boot_delay: fast
    cidr: 10.0.0.0/31
`
	_, err := LoadBytes("econe.yaml", []byte(src))
	if err == nil {
		t.Fatal("got no error, want several")
	}
	var got []string
	for _, fe := range problemsOf(t, err) {
		got = append(got, fe.Error())
	}
	want := []string{
		`econe.yaml:1: port: must be 1..65535, got 70000`,
		`econe.yaml:4: log.format: unknown format "xml": use json or console`,
		`econe.yaml:5: log.colour: unknown key "colour" (valid keys: file, level, debug_level, format, flush_interval)`,
		`econe.yaml:8: backend.sim.boot_delay: invalid duration "fast" (use e.g. "30s", "15m", "1h" or integer seconds)`,
		`econe.yaml:9: backend.sim.cidr: "10.0.0.0/31" is too small: need at least a /30`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestMissingKeyReportedAtParent(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "server.crt")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := loadErr(t, "port: 1\ntls:\n  cert: "+cert+"\n")
	if want := "econe.yaml:2: tls.key: required when tls.cert is set"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A newcomer with no pool gets one on the sim; an admin's explicit empty
// pool, or a backend on a real network, gets none.
func TestDefaultElasticIPPool(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"no file content", "", []string{"198.51.100.0/24"}},
		{"sim, pool left out", "elastic_ips:\n  script_timeout: 5s\n", []string{"198.51.100.0/24"}},
		{"sim, pool null", "elastic_ips:\n  pool:\n", []string{"198.51.100.0/24"}},
		{"sim, explicit empty pool", "elastic_ips:\n  pool: []\n", []string{}},
		{"sim, own pool", "elastic_ips:\n  pool: [203.0.113.1]\n", []string{"203.0.113.1"}},
		{"other backend, pool left out", "backend:\n  name: openstack\n", []string{}},
		{"other backend, own pool", "backend:\n  name: openstack\nelastic_ips:\n  pool: [192.0.2.0/30]\n", []string{"192.0.2.0/30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.src).ElasticIPs.Pool; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got pool %q, want %q", got, tt.want)
			}
		})
	}
	launch := []struct {
		name string
		src  string
		want []string
	}{
		{"sim, left out", "", []string{"192.0.2.0/24"}},
		{"sim, explicit empty", "elastic_ips:\n  launch_pool: []\n", []string{}},
		{"sim, own", "elastic_ips:\n  launch_pool: [203.0.113.0/28]\n", []string{"203.0.113.0/28"}},
		{"other backend, left out", "backend:\n  name: openstack\n", []string{}},
	}
	for _, tt := range launch {
		t.Run("launch pool "+tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.src).ElasticIPs.LaunchPool; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got launch pool %q, want %q", got, tt.want)
			}
		})
	}
	if got, err := Load(""); err != nil || !reflect.DeepEqual(got.ElasticIPs.Pool, []string{"198.51.100.0/24"}) {
		t.Errorf("Load(\"\"): got pool %v (%v), want the sim's default pool", got.ElasticIPs.Pool, err)
	}
}
