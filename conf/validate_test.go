package conf

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/econe/econe-server/quota"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate(): got %v, want nil", err)
	}
}

func TestInvalidValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	script := filepath.Join(dir, "script")
	for p, mode := range map[string]os.FileMode{file: 0o644, script: 0o755} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	tooHigh := 4
	negative := -1

	tests := []struct {
		name   string
		mutate func(*Config)
		path   string
		msg    string // substring of the message
	}{
		{"empty host", func(c *Config) { c.Host = "" }, "host", "must not be empty"},
		{"bracketed host", func(c *Config) { c.Host = "[::1]" }, "host", "without brackets"},
		{"host with port", func(c *Config) { c.Host = "localhost:80" }, "host", "set the port with port"},
		{"bad host name", func(c *Config) { c.Host = "my host" }, "host", "not an IP address or host name"},
		{"port 0", func(c *Config) { c.Port = 0 }, "port", "must be 1..65535, got 0"},
		{"port too big", func(c *Config) { c.Port = 65536 }, "port", "must be 1..65535, got 65536"},
		{"empty region", func(c *Config) { c.Region = "" }, "region", "must not be empty"},
		{"upper-case region", func(c *Config) { c.Region = "US-East-1" }, "region", `invalid region "US-East-1"`},
		{"AZ outside region", func(c *Config) { c.AvailabilityZones = []string{"us-east-1a", "eu-west-1a"} },
			"availability_zones[1]", `zone "eu-west-1a" must be the region "us-east-1" followed by a suffix`},
		{"AZ equal to region", func(c *Config) { c.AvailabilityZones = []string{"us-east-1"} },
			"availability_zones[0]", "followed by a suffix"},
		{"AZ bad characters", func(c *Config) { c.AvailabilityZones = []string{"us-east-1_a"} },
			"availability_zones[0]", `invalid zone "us-east-1_a"`},
		{"duplicate AZ", func(c *Config) { c.AvailabilityZones = []string{"us-east-1a", "us-east-1b", "us-east-1a"} },
			"availability_zones[2]", `zone "us-east-1a" duplicates availability_zones[0]`},
		{"no AZs", func(c *Config) { c.AvailabilityZones = nil }, "availability_zones", "must not be empty"},
		{"ssl_server not a URL", func(c *Config) { c.SSLServer = "ec2.example.edu" }, "ssl_server", "absolute http:// or https:// URL"},
		{"ssl_server ftp", func(c *Config) { c.SSLServer = "ftp://ec2.example.edu" }, "ssl_server", "absolute http:// or https:// URL"},
		{"ssl_server no host", func(c *Config) { c.SSLServer = "https://" }, "ssl_server", "has no host"},
		{"ssl_server path", func(c *Config) { c.SSLServer = "https://example.edu/ec2" }, "ssl_server", "must not have a path"},
		{"ssl_server query", func(c *Config) { c.SSLServer = "https://example.edu?x=1" }, "ssl_server", "query or fragment"},
		{"ssl_server user", func(c *Config) { c.SSLServer = "https://u:p@example.edu" }, "ssl_server", "user information"},
		{"ssl_server port", func(c *Config) { c.SSLServer = "https://example.edu:99999" }, "ssl_server", "invalid port"},
		{"ssl_server unparsable", func(c *Config) { c.SSLServer = "https://exa mple.edu" }, "ssl_server", "invalid URL"},
		{"tls cert only", func(c *Config) { c.TLS.Cert = file }, "tls.key", "required when tls.cert is set"},
		{"tls key only", func(c *Config) { c.TLS.Key = file }, "tls.cert", "required when tls.key is set"},
		{"tls cert missing", func(c *Config) { c.TLS = TLS{Cert: missing, Key: file} }, "tls.cert", "cannot read"},
		{"tls key is dir", func(c *Config) { c.TLS = TLS{Cert: file, Key: dir} }, "tls.key", "is a directory"},
		{"empty data_dir", func(c *Config) { c.DataDir = "" }, "data_dir", "must not be empty"},
		{"templates_dir missing", func(c *Config) { c.TemplatesDir = missing }, "templates_dir", "no such file"},
		{"templates_dir a file", func(c *Config) { c.TemplatesDir = file }, "templates_dir", "is not a directory"},
		{"admin socket too long", func(c *Config) { c.DataDir = "/" + strings.Repeat("d", 120) }, "admin_socket", "longer than the 107"},
		{"max_request_bytes 0", func(c *Config) { c.MaxRequestBytes = 0 }, "max_request_bytes", "must be > 0, got 0"},
		{"header_read_timeout 0", func(c *Config) { c.Limits.HeaderReadTimeout = 0 }, "limits.header_read_timeout", "must be > 0 and at most 10m0s, got 0s"},
		{"body_read_timeout 0", func(c *Config) { c.Limits.BodyReadTimeout = 0 }, "limits.body_read_timeout", "must be > 0 and at most 10m0s, got 0s"},
		{"body_read_timeout too long", func(c *Config) { c.Limits.BodyReadTimeout = Duration(time.Hour) }, "limits.body_read_timeout", "got 1h0m0s"},
		{"max_connections negative", func(c *Config) { c.Limits.MaxConnections = -1 }, "limits.max_connections", "got -1"},
		{"max_connections_per_ip negative", func(c *Config) { c.Limits.MaxConnectionsPerIP = -1 }, "limits.max_connections_per_ip", "got -1"},
		{"max_connections_per_ip over total", func(c *Config) { c.Limits.MaxConnections, c.Limits.MaxConnectionsPerIP = 10, 11 },
			"limits.max_connections_per_ip", "11 is more than limits.max_connections (10)"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `unknown level "verbose"`},
		{"log level case", func(c *Config) { c.Log.Level = "INFO" }, "log.level", `unknown level "INFO"`},
		{"debug_level high", func(c *Config) { c.Log.DebugLevel = &tooHigh }, "log.debug_level", "must be 0..3"},
		{"debug_level negative", func(c *Config) { c.Log.DebugLevel = &negative }, "log.debug_level", "got -1"},
		{"log format", func(c *Config) { c.Log.Format = "text" }, "log.format", `unknown format "text"`},
		{"negative log flush", func(c *Config) { c.Log.FlushInterval = Duration(-time.Millisecond) }, "log.flush_interval", "must be from 0 (no buffering) to 1s, got -1ms"},
		{"log flush too long", func(c *Config) { c.Log.FlushInterval = Duration(2 * time.Second) }, "log.flush_interval", "got 2s"},
		{"clock skew zero", func(c *Config) { c.Auth.MaxClockSkew = 0 }, "auth.max_clock_skew", "must be > 0 and at most 1h, got 0s"},
		{"clock skew too big", func(c *Config) { c.Auth.MaxClockSkew = Duration(2 * time.Hour) }, "auth.max_clock_skew", "got 2h0m0s"},
		{"backend name", func(c *Config) { c.Backend.Name = " " }, "backend.name", "must not be empty"},
		{"negative boot delay", func(c *Config) { c.Backend.Sim.BootDelay = Duration(-time.Second) }, "backend.sim.boot_delay", "must be >= 0, got -1s"},
		{"negative stop delay", func(c *Config) { c.Backend.Sim.StopDelay = -1 }, "backend.sim.stop_delay", "must be >= 0"},
		{"negative terminate delay", func(c *Config) { c.Backend.Sim.TerminateDelay = -1 }, "backend.sim.terminate_delay", "must be >= 0"},
		{"negative volume delay", func(c *Config) { c.Backend.Sim.VolumeDelay = -1 }, "backend.sim.volume_delay", "must be >= 0"},
		{"negative snapshot delay", func(c *Config) { c.Backend.Sim.SnapshotDelay = -1 }, "backend.sim.snapshot_delay", "must be >= 0"},
		{"sim cidr garbage", func(c *Config) { c.Backend.Sim.CIDR = "10.77.0.0" }, "backend.sim.cidr", `invalid CIDR "10.77.0.0"`},
		{"sim cidr IPv6", func(c *Config) { c.Backend.Sim.CIDR = "fd00::/64" }, "backend.sim.cidr", "is not IPv4"},
		{"sim cidr /31", func(c *Config) { c.Backend.Sim.CIDR = "10.0.0.0/31" }, "backend.sim.cidr", "at least a /30"},
		{"sim cidr host bits", func(c *Config) { c.Backend.Sim.CIDR = "10.77.0.5/16" }, "backend.sim.cidr", "did you mean 10.77.0.0/16?"},
		{"dns suffix empty", func(c *Config) { c.Backend.Sim.DNSSuffix = "" }, "backend.sim.dns_suffix", "invalid DNS suffix"},
		{"dns suffix bad label", func(c *Config) { c.Backend.Sim.DNSSuffix = "ec2..internal" }, "backend.sim.dns_suffix", "invalid DNS suffix"},
		{"ec2 without course", ec2(func(e *EC2Backend) { e.Course = "" }), "backend.ec2.course", "must name the course"},
		{"ec2 region garbage", ec2(func(e *EC2Backend) { e.Region = "us east" }), "backend.ec2.region", "AWS region"},
		{"ec2 endpoint not a URL", ec2(func(e *EC2Backend) { e.Endpoint = "127.0.0.1:5000" }), "backend.ec2.endpoint", "absolute http://"},
		{"ec2 key without secret", ec2(func(e *EC2Backend) { e.Credentials.AccessKeyID = "AKIA" }), "backend.ec2.credentials", "set both or neither"},
		{"ec2 profile and key", ec2(func(e *EC2Backend) {
			e.Credentials = EC2Credentials{Profile: "course", AccessKeyID: "AKIA", SecretAccessKey: "s"}
		}), "backend.ec2.credentials", "not both"},
		{"ec2 subnet", ec2(func(e *EC2Backend) { e.SubnetID = "vpc-1" }), "backend.ec2.subnet_id", "subnet id"},
		{"ec2 prefix sg-", ec2(func(e *EC2Backend) { e.NamePrefix = "sg-x" }), "backend.ec2.name_prefix", "not starting with sg-"},
		{"ec2 rate limit", ec2(func(e *EC2Backend) { e.RateLimit = 0 }), "backend.ec2.rate_limit", "must be > 0"},
		{"ec2 rate burst", ec2(func(e *EC2Backend) { e.RateBurst = 0 }), "backend.ec2.rate_burst", "at least 1"},
		{"ec2 attempts", ec2(func(e *EC2Backend) { e.MaxAttempts = 0 }), "backend.ec2.max_attempts", "1..10"},
		{"ec2 describe cache", ec2(func(e *EC2Backend) { e.DescribeCache = -1 }), "backend.ec2.describe_cache", "0..10m"},
		{"reconcile too often", func(c *Config) { c.Usage.ReconcileInterval = Duration(time.Millisecond) }, "usage.reconcile_interval", "must be at least 1s"},
		{"negative expiration", func(c *Config) { c.TerminatedInstancesExpirationTime = -1 }, "terminated_instances_expiration_time", "must be >= 0"},
		{"pool garbage", func(c *Config) { c.ElasticIPs.Pool = []string{"192.0.2.1", "nope"} }, "elastic_ips.pool[1]", `invalid IPv4 address or CIDR "nope"`},
		{"pool IPv6", func(c *Config) { c.ElasticIPs.Pool = []string{"2001:db8::1"} }, "elastic_ips.pool[0]", "is not IPv4"},
		{"pool overlap", func(c *Config) { c.ElasticIPs.Pool = []string{"192.0.2.0/24", "192.0.2.7"} },
			"elastic_ips.pool[1]", "192.0.2.7 overlaps elastic_ips.pool[0] (192.0.2.0/24)"},
		{"pool too big", func(c *Config) { c.ElasticIPs.Pool = []string{"100.64.0.0/10"} }, "elastic_ips.pool", "more than the 65536 allowed"},
		{"pool overlaps sim cidr", func(c *Config) { c.ElasticIPs.Pool = []string{"10.77.1.1"} },
			"elastic_ips.pool[0]", "10.77.1.1 overlaps backend.sim.cidr 10.77.0.0/16"},
		{"launch pool garbage", func(c *Config) { c.ElasticIPs.LaunchPool = []string{"nope"} }, "elastic_ips.launch_pool[0]", `invalid IPv4 address or CIDR "nope"`},
		{"launch pool overlaps itself", func(c *Config) { c.ElasticIPs.LaunchPool = []string{"192.0.2.0/24", "192.0.2.0/24"} },
			"elastic_ips.launch_pool[1]", "192.0.2.0/24 duplicates elastic_ips.launch_pool[0] (192.0.2.0/24)"},
		{"launch pool overlaps the pool", func(c *Config) { c.ElasticIPs.LaunchPool = []string{"198.51.100.16/28"} },
			"elastic_ips.launch_pool[0]", "198.51.100.16/28 overlaps elastic_ips.pool[0] (198.51.100.0/24)"},
		{"launch pool overlaps sim cidr", func(c *Config) { c.ElasticIPs.LaunchPool = []string{"10.77.9.0/24"} },
			"elastic_ips.launch_pool[0]", "10.77.9.0/24 overlaps backend.sim.cidr 10.77.0.0/16"},
		{"launch pool too big", func(c *Config) { c.ElasticIPs.LaunchPool = []string{"100.64.0.0/10"} }, "elastic_ips.launch_pool", "more than the 65536 allowed"},
		{"audit file size zero", func(c *Config) { c.Audit.MaxFileMiB = 0 }, "audit.max_file_mib", "must be 1..1048576"},
		{"audit negative file count", func(c *Config) { c.Audit.MaxFiles = -1 }, "audit.max_files", "must be 0 (keep every rotated file) or more"},
		{"associate script missing", func(c *Config) { c.ElasticIPs.AssociateScript = missing }, "elastic_ips.associate_script", "no such file"},
		{"associate script not executable", func(c *Config) { c.ElasticIPs.AssociateScript = file }, "elastic_ips.associate_script", "is not executable"},
		{"disassociate script is dir", func(c *Config) { c.ElasticIPs.DisassociateScript = dir }, "elastic_ips.disassociate_script", "is not a regular file"},
		{"script timeout zero", func(c *Config) { c.ElasticIPs.ScriptTimeout = 0 }, "elastic_ips.script_timeout", "must be > 0"},
		{"group name", func(c *Config) { c.Groups = map[string]Group{"Staff": {}} }, "groups.Staff", `invalid group name "Staff"`},
		{"group name too long", func(c *Config) { c.Groups = map[string]Group{"g" + strings.Repeat("x", 64): {}} }, "groups.g" + strings.Repeat("x", 64), "invalid group name"},
		{"group placeholder", func(c *Config) { c.Groups = map[string]Group{"staff": {KeyNamePrefix: "{username}-"}} },
			"groups.staff.key_name_prefix", `unknown placeholder "{username}"`},
		{"group max_instances negative", func(c *Config) {
			c.Groups = map[string]Group{"cs61c": {Limits: quota.Limits{MaxInstances: quota.Int(-1)}}}
		},
			"groups.cs61c.max_instances", "must be >= 0, got -1"},
		{"group instance type blank", func(c *Config) {
			c.Groups = map[string]Group{"cs61c": {Limits: quota.Limits{InstanceTypes: []string{"t3.micro", " "}}}}
		}, "groups.cs61c.instance_types[1]", "is not a name"},
		{"group image twice", func(c *Config) {
			c.Groups = map[string]Group{"cs61c": {Limits: quota.Limits{Images: []string{"ami-1", "ami-1"}}}}
		},
			"groups.cs61c.images[1]", `"ami-1" is listed twice`},
		{"quota max_running_hours 0", func(c *Config) { c.Quota.MaxRunningHours = quota.Int(0) }, "quota.max_running_hours", "must be at least 1 (hours), got 0"},
		{"quota max_volume_gib negative", func(c *Config) { c.Quota.MaxVolumeGiB = quota.Int(-5) }, "quota.max_volume_gib", "must be >= 0, got -5"},
		{"store driver", func(c *Config) { c.Store.Driver = "sqlite" }, "store.driver", `unknown driver "sqlite"`},
		{"postgres without dsn", func(c *Config) { c.Store.Driver = StorePostgres }, "store.dsn", "is required with driver postgres"},
		{"postgres dsn scheme", func(c *Config) { c.Store = Store{Driver: StorePostgres, DSN: "mysql://u:secret@db/x", MaxConns: 4} },
			"store.dsn", "is not a valid postgres:// or postgresql:// URL"},
		{"postgres dsn word", func(c *Config) { c.Store = Store{Driver: StorePostgres, DSN: "econe", MaxConns: 4} },
			"store.dsn", "must be a postgres:// URL or key=value pairs"},
		{"dsn with bolt", func(c *Config) { c.Store.DSN = "postgres://db/econe" }, "store.dsn", "is only used with driver postgres"},
		{"one connection", func(c *Config) { c.Store.MaxConns = 1 }, "store.max_conns", "must be 2..10000, got 1"},
		{"concurrent updates", func(c *Config) { c.Store.MaxConcurrentUpdates = 0 }, "store.max_concurrent_updates", "must be 1..10000, got 0"},
		{"leader takeover", func(c *Config) { c.Store.LeaderTakeover = Duration(time.Second) }, "store.leader_takeover", "must be from 5s to 10m, got 1s"},
		{"quota budget negative", func(c *Config) { m := quota.Money(-1); c.Quota.Budget = &m }, "quota.budget", "must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.mutate, tt.path, tt.msg) })
	}
}

// wantProblem checks that the default configuration changed by mutate
// fails validation with a problem at path whose message contains msg.
func wantProblem(t *testing.T, mutate func(*Config), path, msg string) {
	t.Helper()
	c := Default()
	mutate(c)
	err := c.Validate()
	if err == nil {
		t.Fatalf("got no error, want %s: %s", path, msg)
	}
	for _, fe := range problemsOf(t, err) {
		if fe.Path == path && strings.Contains(fe.Msg, msg) {
			return
		}
	}
	t.Errorf("got %q, want a problem %s: ...%s...", err, path, msg)
}

func TestValidValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.pem")
	script := filepath.Join(dir, "assoc")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	zero := 0
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"IPv6 host", func(c *Config) { c.Host = "::" }},
		{"host name", func(c *Config) { c.Host = "localhost" }},
		{"https proxy", func(c *Config) { c.SSLServer = "https://ec2.example.edu/" }},
		{"http proxy with port", func(c *Config) { c.SSLServer = "http://ec2.example.edu:8080" }},
		{"tls", func(c *Config) { c.TLS = TLS{Cert: file, Key: file} }},
		{"templates dir", func(c *Config) { c.TemplatesDir = dir }},
		{"debug_level 0", func(c *Config) { c.Log.DebugLevel = &zero }},
		{"empty level", func(c *Config) { c.Log.Level = "" }},
		{"console", func(c *Config) { c.Log.Format = "console" }},
		{"unbuffered log", func(c *Config) { c.Log.FlushInterval = 0 }},
		{"clock skew 1h", func(c *Config) { c.Auth.MaxClockSkew = Duration(time.Hour) }},
		{"out-of-tree backend", func(c *Config) { c.Backend.Name = "opennebula" }},
		{"zero delays", func(c *Config) { c.Backend.Sim.BootDelay, c.Backend.Sim.StopDelay = 0, 0 }},
		{"sim /30", func(c *Config) { c.Backend.Sim.CIDR = "192.168.0.0/30" }},
		{"pool", func(c *Config) { c.ElasticIPs.Pool = []string{"203.0.113.9", " 198.51.100.0/24", "203.0.113.0/31"} }},
		{"launch pool apart from the pool", func(c *Config) {
			c.ElasticIPs.Pool, c.ElasticIPs.LaunchPool = []string{"198.51.100.0/25"}, []string{"198.51.100.128/25", "203.0.113.7"}
		}},
		{"no launch pool", func(c *Config) { c.ElasticIPs.LaunchPool = nil }},
		{"pool in sim cidr with another backend", func(c *Config) {
			c.Backend.Name, c.Backend.EC2.Course = "ec2", "cs101"
			c.ElasticIPs.Pool = []string{"10.77.0.1"}
		}},
		{"pool of a /16", func(c *Config) { c.ElasticIPs.Pool = []string{"100.64.0.0/16", "203.0.113.1", "203.0.113.2"} }},
		{"scripts", func(c *Config) { c.ElasticIPs.AssociateScript, c.ElasticIPs.DisassociateScript = script, script }},
		{"groups", func(c *Config) {
			c.Groups = map[string]Group{"staff": {KeyNamePrefix: "{user}-"}, "g_2-x": {}}
		}},
		{"group quota", func(c *Config) {
			c.Groups = map[string]Group{"cs61c": {Limits: quota.Limits{MaxInstances: quota.Int(0), InstanceTypes: []string{"t3.micro"}, MaxRunningHours: quota.Int(1)}}}
		}},
		{"postgres URL", func(c *Config) {
			c.Store.Driver, c.Store.DSN, c.Store.MaxConns = StorePostgres, "postgresql://econe@db:5432/econe?sslmode=verify-full", 2
		}},
		{"postgres key=value", func(c *Config) {
			c.Store.Driver, c.Store.DSN, c.Store.MaxConns = StorePostgres, "host=/run/postgresql dbname=econe", 50
		}},
		{"no default limits", func(c *Config) { c.Quota = Quota{CountStoppedInstances: true} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			if err := c.Validate(); err != nil {
				t.Errorf("got %v, want no error", err)
			}
		})
	}
}

func TestValidateReturnsAllProblems(t *testing.T) {
	c := Default()
	c.Port = 0
	c.Region = "Bad Region"
	c.Log.Format = "xml"
	c.Auth.MaxClockSkew = 0
	c.Backend.Sim.CIDR = "nope"
	c.ElasticIPs.Pool = []string{"203.0.113.1", "203.0.113.1"}
	c.Groups = map[string]Group{"B": {}, "A": {}}

	var got []string
	for _, fe := range problemsOf(t, c.Validate()) {
		got = append(got, fe.Path)
	}
	want := []string{
		"port", "region", "log.format", "auth.max_clock_skew", "backend.sim.cidr",
		"elastic_ips.pool[1]", "groups.A", "groups.B",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got paths %q, want %q", got, want)
	}
}

func TestPoolAddresses(t *testing.T) {
	tests := []struct {
		name  string
		pool  []string
		count int
		first []string // leading addresses
		last  string
	}{
		{"empty", nil, 0, nil, ""},
		{"single", []string{"192.0.2.9"}, 1, []string{"192.0.2.9"}, "192.0.2.9"},
		{"/32", []string{"192.0.2.9/32"}, 1, []string{"192.0.2.9"}, "192.0.2.9"},
		{"/31 keeps both", []string{"192.0.2.8/31"}, 2, []string{"192.0.2.8", "192.0.2.9"}, "192.0.2.9"},
		{"/30 drops network and broadcast", []string{"192.0.2.8/30"}, 2, []string{"192.0.2.9", "192.0.2.10"}, "192.0.2.10"},
		{"/24", []string{"198.51.100.0/24"}, 254, []string{"198.51.100.1"}, "198.51.100.254"},
		{"file order", []string{"203.0.113.5", "192.0.2.0/30"}, 3, []string{"203.0.113.5", "192.0.2.1", "192.0.2.2"}, "192.0.2.2"},
		{"/16 plus two is at the cap", []string{"100.64.0.0/16", "192.0.2.1", "192.0.2.2"}, 65536, []string{"100.64.0.1"}, "192.0.2.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.ElasticIPs.Pool = tt.pool
			got, err := c.PoolAddresses()
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(got) != tt.count {
				t.Fatalf("got %d addresses, want %d", len(got), tt.count)
			}
			for i, w := range tt.first {
				if got[i] != netip.MustParseAddr(w) {
					t.Errorf("got [%d] %v, want %v", i, got[i], w)
				}
			}
			if tt.count > 0 && got[len(got)-1] != netip.MustParseAddr(tt.last) {
				t.Errorf("got last %v, want %v", got[len(got)-1], tt.last)
			}
		})
	}

	bad := []struct {
		name string
		pool []string
		want []string // every problem, in order
	}{
		{"duplicate address", []string{"192.0.2.1", "192.0.2.2", "192.0.2.1"},
			[]string{"elastic_ips.pool[2]: 192.0.2.1 duplicates elastic_ips.pool[0] (192.0.2.1)"}},
		{"duplicate CIDR", []string{"192.0.2.0/24", "192.0.2.0/24"},
			[]string{"elastic_ips.pool[1]: 192.0.2.0/24 duplicates elastic_ips.pool[0] (192.0.2.0/24)"}},
		{"address inside earlier CIDR", []string{"192.0.2.0/28", "192.0.2.15"},
			[]string{"elastic_ips.pool[1]: 192.0.2.15 overlaps elastic_ips.pool[0] (192.0.2.0/28)"}},
		{"CIDR around earlier address", []string{"192.0.2.200", "192.0.2.128/25"},
			[]string{"elastic_ips.pool[1]: 192.0.2.128/25 overlaps elastic_ips.pool[0] (192.0.2.200)"}},
		{"nested CIDRs and a disjoint one", []string{"192.0.2.64/26", "198.51.100.1", "192.0.2.0/24", "192.0.2.70"},
			[]string{
				"elastic_ips.pool[2]: 192.0.2.0/24 overlaps elastic_ips.pool[0] (192.0.2.64/26)",
				"elastic_ips.pool[3]: 192.0.2.70 overlaps elastic_ips.pool[2] (192.0.2.0/24)",
			}},
		{"host bits", []string{"192.0.2.1/24"}, []string{`elastic_ips.pool[0]: "192.0.2.1/24" has host bits set; did you mean 192.0.2.0/24?`}},
		{"bad CIDR", []string{"192.0.2.0/33"}, []string{`elastic_ips.pool[0]: invalid CIDR "192.0.2.0/33"`}},
		{"IPv4-mapped IPv6", []string{"::ffff:192.0.2.1"}, []string{`elastic_ips.pool[0]: "::ffff:192.0.2.1" is not IPv4`}},
		{"over the cap", []string{"100.64.0.0/16", "192.0.2.0/29"},
			[]string{"elastic_ips.pool: expands to 65540 addresses, more than the 65536 allowed"}},
		{"way over the cap", []string{"0.0.0.0/0"},
			[]string{"elastic_ips.pool: expands to 4294967294 addresses, more than the 65536 allowed"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.ElasticIPs.Pool = tt.pool
			got, err := c.PoolAddresses()
			if err == nil {
				t.Fatalf("got %d addresses and no error, want %q", len(got), tt.want)
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPoolOfManySingleAddresses(t *testing.T) {
	// The overlap check must not be quadratic.
	c := Default()
	c.ElasticIPs.Pool = nil
	start := netip.MustParseAddr("100.64.0.0")
	a := start
	for range 65536 {
		c.ElasticIPs.Pool = append(c.ElasticIPs.Pool, a.String())
		a = a.Next()
	}
	c.ElasticIPs.Pool = append(c.ElasticIPs.Pool, start.String())
	_, err := c.PoolAddresses()
	if want := "elastic_ips.pool[65536]: 100.64.0.0 duplicates elastic_ips.pool[0] (100.64.0.0)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// ec2 selects the ec2 backend for a course, then applies fn.
func ec2(fn func(e *EC2Backend)) func(c *Config) {
	return func(c *Config) {
		c.Backend.Name, c.Backend.EC2.Course = "ec2", "cs101"
		fn(&c.Backend.EC2)
	}
}
