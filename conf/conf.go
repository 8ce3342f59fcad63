package conf

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/econe/econe-server/quota"
	"github.com/rs/zerolog"
)

// Config is the whole server configuration. YAML keys are the yaml tags.
type Config struct {
	// Host is the listen address; "0.0.0.0" or "::" for all interfaces.
	Host   string `yaml:"host"`
	Port   int    `yaml:"port"`
	Region string `yaml:"region"`
	// AvailabilityZones defaults to REGION+"a", REGION+"b" when left empty.
	AvailabilityZones []string `yaml:"availability_zones"`
	// SSLServer is the public URL when behind a TLS proxy, e.g.
	// https://ec2.example.edu. Its host[:port] is what clients sign (SigV2)
	// and what goes into generated credentials files.
	SSLServer string `yaml:"ssl_server"`
	TLS       TLS    `yaml:"tls"`
	DataDir   string `yaml:"data_dir"`
	// Store chooses where the state lives: bbolt under DataDir, or
	// PostgreSQL shared by several replicas.
	Store Store `yaml:"store"`
	// TemplatesDir holds extra instance types and images; "" means the
	// built-in ones only.
	TemplatesDir string `yaml:"templates_dir"`
	// AdminSocket defaults to DataDir/admin.sock; see AdminSocketPath.
	AdminSocket     string    `yaml:"admin_socket"`
	MaxRequestBytes int64     `yaml:"max_request_bytes"`
	Limits          Limits    `yaml:"limits"`
	GoRuntime       GoRuntime `yaml:"go_runtime"`
	Log             Log       `yaml:"log"`
	Auth            Auth      `yaml:"auth"`
	Backend         Backend   `yaml:"backend"`

	DescribeWithTerminatedInstances   bool     `yaml:"describe_with_terminated_instances"`
	TerminatedInstancesExpirationTime Duration `yaml:"terminated_instances_expiration_time"`

	// Usage is the usage ledger's bookkeeping.
	Usage Usage `yaml:"usage"`

	ElasticIPs ElasticIPs `yaml:"elastic_ips"`
	// Groups holds per user-group policy, keyed by group name.
	Groups map[string]Group `yaml:"groups"`

	// Audit configures the audit log of changes (package audit).
	Audit Audit `yaml:"audit"`

	// Quota is what students may use when neither their group nor an
	// override says otherwise.
	Quota Quota `yaml:"quota"`

	// Guardrails act on forgotten instances and tell who needs to know.
	Guardrails Guardrails `yaml:"guardrails"`

	// AdminListener serves metrics, health probes and pprof to operators.
	AdminListener AdminListener `yaml:"admin_listener"`
}

// Audit configures the audit log: JSON lines in their own directory,
// rotated by size.
type Audit struct {
	// Dir defaults to DataDir/audit; see AuditDir.
	Dir string `yaml:"dir"`
	// MaxFileMiB is the size at which the current file is rotated.
	MaxFileMiB int64 `yaml:"max_file_mib"`
	// MaxFiles is how many rotated files are kept; 0 keeps them all.
	MaxFiles int `yaml:"max_files"`
}

// Usage configures the usage ledger.
type Usage struct {
	// ReconcileInterval is how often every live instance is described from
	// the backend, so that changes econe-server did not cause (a guest
	// shutdown, a vanished machine) reach the ledger and the counters.
	ReconcileInterval Duration `yaml:"reconcile_interval"`
}

// Quota holds the default limits (EC2's for a new account, quota.Builtin)
// and how usage is counted against them.
type Quota struct {
	quota.Limits `yaml:",inline"`
	// CountStoppedInstances makes stopped instances count toward
	// max_instances (and their vCPUs toward max_vcpus).
	CountStoppedInstances bool `yaml:"count_stopped_instances"`
}

// TLS makes the server terminate TLS itself. Set both or neither.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Limits bound what slow or numerous clients can hold: how long a request
// may take to arrive, and how many connections may be open at once.
type Limits struct {
	// HeaderReadTimeout is how long a client may take to send a request's
	// headers (an idle keep-alive connection's clock starts at its first byte).
	HeaderReadTimeout Duration `yaml:"header_read_timeout"`
	// BodyReadTimeout is how long a client may take to send a request's
	// body once its headers have arrived.
	BodyReadTimeout Duration `yaml:"body_read_timeout"`
	// MaxConnections caps open client connections; connections beyond it
	// are closed as soon as they are accepted. 0: the process's open-file
	// limit less a reserve for the database, logs and scripts.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps open connections from one IPv4 address or
	// IPv6 /64. 0: half of the effective MaxConnections.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
}

// GoRuntime tunes Go's garbage collector for the server process. The
// GOGC and GOMEMLIMIT environment variables, when set, win.
type GoRuntime struct {
	// GCPercent is how far the heap may grow past what is live before a
	// collection, in percent (Go's own default is 100). Higher trades
	// memory for CPU.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimitMiB caps the heap softly: collections run more often near
	// it. 0: no limit.
	MemoryLimitMiB int64 `yaml:"memory_limit_mib"`
}

// DefaultMemoryLimitMiB is go_runtime.memory_limit_mib's default: with
// 100,000 instances the live heap is under 20 MB, so GCPercent's fivefold
// growth stays below it (keeping its CPU gain) until the heap nears this,
// and then the collector holds the process's memory down. It bounds Go's
// memory only: RSS also counts the database file's mapped pages.
const DefaultMemoryLimitMiB = 256

// DefaultLogFlushInterval is log.flush_interval's default: a few
// milliseconds, so that a crash loses little while a busy server writes its
// access lines in batches.
const DefaultLogFlushInterval = 5 * time.Millisecond

// Log configures logging.
type Log struct {
	// File defaults to DataDir/econe-server.log in the background and to
	// stderr with `run`; see Config.LogFile.
	File string `yaml:"file"`
	// Level is trace|debug|info|warn|error.
	Level string `yaml:"level"`
	// DebugLevel is econe's 0..3 (0=error, 1=warn, 2=info, 3=debug). It
	// decides the level only when the file does not set level.
	DebugLevel *int `yaml:"debug_level"`
	// Format is json|console.
	Format string `yaml:"format"`
	// FlushInterval is how long a line may wait in the log's buffer, which
	// saves a write per request; 0 writes each line at once.
	FlushInterval Duration `yaml:"flush_interval"`
}

// Auth configures request authentication.
type Auth struct {
	SigV2         bool     `yaml:"sigv2"`
	MaxClockSkew  Duration `yaml:"max_clock_skew"`
	EnforceRegion bool     `yaml:"enforce_region"`
}

// Backend selects and configures the compute backend.
type Backend struct {
	// Name is looked up in the backend registry; conf only checks it is set.
	Name string     `yaml:"name"`
	Sim  SimBackend `yaml:"sim"`
	EC2  EC2Backend `yaml:"ec2"`
	// Settings is free-form configuration for out-of-tree backends.
	Settings map[string]any `yaml:"settings"`
}

// SimBackend configures the built-in simulated backend. The delays are how
// long resources stay in their transitional states.
type SimBackend struct {
	BootDelay      Duration `yaml:"boot_delay"`      // pending -> running
	StopDelay      Duration `yaml:"stop_delay"`      // stopping -> stopped
	TerminateDelay Duration `yaml:"terminate_delay"` // shutting-down -> terminated
	VolumeDelay    Duration `yaml:"volume_delay"`    // creating -> available, attaching -> attached, ...
	SnapshotDelay  Duration `yaml:"snapshot_delay"`  // pending -> completed
	// CIDR is where instances' private addresses come from.
	CIDR string `yaml:"cidr"`
	// DNSSuffix makes private DNS names: ip-10-77-0-5.<suffix>.
	DNSSuffix string `yaml:"dns_suffix"`
}

// EC2Backend configures the backend that forwards to real EC2 (or an
// EC2-compatible cloud at Endpoint) with the course's AWS account.
type EC2Backend struct {
	Region string `yaml:"region"`
	// Endpoint overrides the region's EC2 endpoint (tests, private clouds).
	Endpoint    string         `yaml:"endpoint"`
	Credentials EC2Credentials `yaml:"credentials"`
	// SubnetID places instances (and groups, in its VPC); "" is the
	// default VPC, in the student's availability zone.
	SubnetID string `yaml:"subnet_id"`
	// NamePrefix starts the names of key pairs and security groups in
	// the account: PREFIX-USER-NAME, as those names are global there.
	NamePrefix string `yaml:"name_prefix"`
	// AllowVPCs lets students create VPCs, subnets, internet gateways and
	// route tables: econe's records only, never made in the account.
	AllowVPCs bool `yaml:"allow_vpcs"`
	// Course is the econe:course tag on everything made in the account.
	Course string `yaml:"course"`
	// RateLimit caps the calls sent to AWS per second, in total; RateBurst
	// is how many may go at once after a quiet spell.
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
	// MaxAttempts is how often the SDK tries a call that failed with a
	// transient error or throttling (its standard retryer, with backoff).
	MaxAttempts int `yaml:"max_attempts"`
	// DescribeCache is how long a machine's state read from AWS is served
	// without asking again, so that polling students cost no calls.
	DescribeCache Duration `yaml:"describe_cache"`
}

// EC2Credentials chooses the AWS credentials: a profile of the shared
// files, an access key, or (all empty) the SDK's default chain.
type EC2Credentials struct {
	Profile         string `yaml:"profile"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
}

// ElasticIPs configures the public address pool. Without scripts,
// associations are only recorded, as on a pure simulation.
type ElasticIPs struct {
	// Pool entries are IPv4 addresses and/or CIDRs; see PoolAddresses.
	// Left out of the file, it is SimPool with backend sim (nothing is
	// routed there) and empty otherwise; an explicit [] means none.
	Pool []string `yaml:"pool"`
	// LaunchPool is where the public IPv4 addresses given to instances at
	// launch come from (MapPublicIpOnLaunch, AssociatePublicIpAddress), in
	// the same forms as Pool; see LaunchPoolAddresses. Left out of the
	// file, it is SimLaunchPool with backend sim and empty otherwise; empty,
	// instances get no public address at launch. Not used with a backend
	// that brings its own network (ec2), whose instances get its addresses.
	LaunchPool         []string `yaml:"launch_pool"`
	AssociateScript    string   `yaml:"associate_script"`
	DisassociateScript string   `yaml:"disassociate_script"`
	ScriptTimeout      Duration `yaml:"script_timeout"`
}

// Group is the policy for one user group.
type Group struct {
	// KeyNamePrefix is required on key pair names; "{user}" expands to the
	// user name, e.g. "{user}-".
	KeyNamePrefix string `yaml:"key_name_prefix"`

	// Quota limits of the group's students: each key set here replaces
	// the one of the quota: section; `quota set --group` overrides both.
	quota.Limits `yaml:",inline"`

	// Guardrails (see Guardrails for the server-wide settings).

	// TermEnd is the term's last day, YYYY-MM-DD in guardrails.time_zone;
	// from the midnight after it the group's keys are refused. "" for none.
	TermEnd string `yaml:"term_end"`
	// StopSchedule stops every running instance of the group at these
	// times (schedule.Syntax, e.g. "daily 23:00") in guardrails.time_zone.
	StopSchedule []string `yaml:"stop_schedule"`
	// MaxRunningHoursAction overrides guardrails.max_running_hours_action
	// for the group; "" keeps it.
	MaxRunningHoursAction string `yaml:"max_running_hours_action"`
}

// Default returns the default configuration. Each call returns a fresh
// value, so callers may modify it.
func Default() *Config {
	c := defaults()
	c.AvailabilityZones = defaultAZs(c.Region)
	c.Backend.EC2.Region = c.Region
	return c
}

// defaults is Default without the availability zones, which depend on the
// region and are therefore filled in only after the file is decoded.
func defaults() *Config {
	return &Config{
		Host:            "127.0.0.1",
		Port:            4567,
		Region:          "us-east-1",
		DataDir:         "./econe-data",
		Store:           Store{Driver: StoreBolt, MaxConns: defaultMaxConns, MaxConcurrentUpdates: defaultMaxConcurrentUpdates, LeaderTakeover: DefaultLeaderTakeover},
		MaxRequestBytes: 1 << 20,
		Limits: Limits{
			HeaderReadTimeout: Duration(30 * time.Second),
			BodyReadTimeout:   Duration(10 * time.Second),
		},
		GoRuntime: GoRuntime{GCPercent: 400, MemoryLimitMiB: DefaultMemoryLimitMiB},
		Log: Log{
			Level:         "info",
			Format:        "json",
			FlushInterval: Duration(DefaultLogFlushInterval),
		},
		Auth: Auth{
			SigV2:        true,
			MaxClockSkew: Duration(15 * time.Minute),
		},
		Backend: Backend{
			Name: "sim",
			Sim: SimBackend{
				BootDelay:      Duration(3 * time.Second),
				StopDelay:      Duration(2 * time.Second),
				TerminateDelay: Duration(2 * time.Second),
				VolumeDelay:    Duration(1 * time.Second),
				SnapshotDelay:  Duration(2 * time.Second),
				CIDR:           "10.77.0.0/16",
				DNSSuffix:      "ec2.internal",
			},
			EC2: EC2Backend{
				NamePrefix: "econe", RateLimit: 20, RateBurst: 40, MaxAttempts: 3,
				DescribeCache: Duration(5 * time.Second),
			},
			// Empty rather than nil so that "settings: {}" in a file
			// (as in econe.example.yaml) compares equal to the default.
			Settings: map[string]any{},
		},
		DescribeWithTerminatedInstances:   true,
		TerminatedInstancesExpirationTime: Duration(time.Hour),
		Usage:                             Usage{ReconcileInterval: Duration(time.Minute)},
		ElasticIPs: ElasticIPs{
			Pool:          defaultPool("sim"),
			LaunchPool:    defaultLaunchPool("sim"),
			ScriptTimeout: Duration(30 * time.Second),
		},
		Groups:     map[string]Group{},
		Audit:      Audit{MaxFileMiB: 64},
		Quota:      Quota{Limits: quota.Builtin()},
		Guardrails: defaultGuardrails(),
	}
}

// SimPool is the elastic IP pool of the sim when the file sets none:
// TEST-NET-2 (RFC 5737), a documentation range that nothing routes, so a
// newcomer's AllocateAddress works out of the box.
const SimPool = "198.51.100.0/24"

// defaultPool is elastic_ips.pool when the file does not set it: SimPool
// for the sim, none for a backend on a real network, where an admin must
// choose the addresses.
func defaultPool(backendName string) []string {
	if backendName == "sim" {
		return []string{SimPool}
	}
	return []string{}
}

// SimLaunchPool is the sim's launch address pool when the file sets
// none: TEST-NET-1 (RFC 5737), another documentation range, apart from
// SimPool so an address says which kind it is.
const SimLaunchPool = "192.0.2.0/24"

// defaultLaunchPool is elastic_ips.launch_pool when the file does not set
// it, chosen as defaultPool is.
func defaultLaunchPool(backendName string) []string {
	if backendName == "sim" {
		return []string{SimLaunchPool}
	}
	return []string{}
}

func defaultAZs(region string) []string {
	return []string{region + "a", region + "b"}
}

// Addr is the listen address host:port (IPv6 hosts get brackets).
func (c *Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// publicURL returns SSLServer normalized: lower-case scheme and host, the
// scheme's default port dropped and no trailing slash. Clients build the
// SigV2 string-to-sign from the endpoint they were given, so the credentials
// file and the server must agree on one spelling; without the default port
// is what SDKs send in the Host header.
func (c *Config) publicURL() (*url.URL, bool) {
	if c.SSLServer == "" {
		return nil, false
	}
	u, err := url.Parse(c.SSLServer)
	if err != nil || u.Host == "" {
		return nil, false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	} else {
		u.Host = host
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, true
}

// PublicHost is the host[:port] clients use: that of SSLServer if set,
// else Addr(). The port is omitted when it is the scheme's default.
func (c *Config) PublicHost() string {
	if u, ok := c.publicURL(); ok {
		return u.Host
	}
	return c.Addr()
}

// EndpointURL is the URL clients should use: SSLServer (normalized) if set,
// else http(s)://Addr(), https when the server terminates TLS itself.
func (c *Config) EndpointURL() string {
	if u, ok := c.publicURL(); ok {
		return u.String()
	}
	scheme := "http"
	if c.TLS.Cert != "" {
		scheme = "https"
	}
	return scheme + "://" + c.Addr()
}

// AdminSocketPath is AdminSocket, or DataDir/admin.sock when unset.
func (c *Config) AdminSocketPath() string {
	if c.AdminSocket != "" {
		return c.AdminSocket
	}
	return filepath.Join(c.DataDir, "admin.sock")
}

// AuditDir is Audit.Dir, or DataDir/audit when unset.
func (c *Config) AuditDir() string {
	if c.Audit.Dir != "" {
		return c.Audit.Dir
	}
	return filepath.Join(c.DataDir, "audit")
}

// LogFile is Log.File, or DataDir/econe-server.log when unset. It is the
// file used when running in the background; `run` logs to stderr instead
// when Log.File is empty.
func (c *Config) LogFile() string {
	if c.Log.File != "" {
		return c.Log.File
	}
	return filepath.Join(c.DataDir, "econe-server.log")
}

// ZerologLevel is c.Log.ZerologLevel().
func (c *Config) ZerologLevel() zerolog.Level { return c.Log.ZerologLevel() }

// debugLevels maps econe's debug_level to level names.
var debugLevels = [...]string{0: "error", 1: "warn", 2: "info", 3: "debug"}

var zerologLevels = map[string]zerolog.Level{
	"trace": zerolog.TraceLevel,
	"debug": zerolog.DebugLevel,
	"info":  zerolog.InfoLevel,
	"warn":  zerolog.WarnLevel,
	"error": zerolog.ErrorLevel,
}

// ZerologLevel is the effective log level: Level if set, else DebugLevel
// mapped (0=error, 1=warn, 2=info, 3=debug), else info. Load already
// resolves DebugLevel into Level when the file does not set level; unknown
// values (which Validate rejects) also give info.
func (l Log) ZerologLevel() zerolog.Level {
	name := l.Level
	if name == "" && l.DebugLevel != nil && *l.DebugLevel >= 0 && *l.DebugLevel < len(debugLevels) {
		name = debugLevels[*l.DebugLevel]
	}
	if lv, ok := zerologLevels[name]; ok {
		return lv
	}
	return zerolog.InfoLevel
}

// KeyNamePrefix is the key pair name prefix required for user in group,
// with "{user}" expanded; "" when the group has no policy.
func (c *Config) KeyNamePrefix(group, user string) string {
	g, ok := c.Groups[group]
	if !ok {
		return ""
	}
	return strings.ReplaceAll(g.KeyNamePrefix, "{user}", user)
}
