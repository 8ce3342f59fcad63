package conf

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/econe/econe-server/quota"
)

// Validate checks the whole configuration and returns every problem found,
// joined with errors.Join, each a *FieldError naming its key path. It reads
// the file system to check that the TLS files, templates directory and
// scripts exist.
func (c *Config) Validate() error {
	return joinProblems(c.problems())
}

type problems []*FieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	regionRe    = regexp.MustCompile(`^[a-z0-9-]+$`)
	groupNameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	labelRe     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	placeholder = regexp.MustCompile(`\{[^{}]*\}`)
)

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path is
// 108 bytes including the terminating NUL); longer ones fail only at listen.
const maxSocketPath = 107

func (c *Config) problems() []*FieldError {
	var p problems
	c.checkListen(&p)
	c.checkAdminListener(&p)
	if c.GoRuntime.GCPercent < 1 {
		p.add("go_runtime.gc_percent", "must be at least 1, got %d", c.GoRuntime.GCPercent)
	}
	if c.GoRuntime.MemoryLimitMiB < 0 {
		p.add("go_runtime.memory_limit_mib", "must be 0 (no limit) or a size in MiB, got %d", c.GoRuntime.MemoryLimitMiB)
	}

	regionOK := true
	switch {
	case c.Region == "":
		p.add("region", "must not be empty")
		regionOK = false
	case !regionRe.MatchString(c.Region):
		p.add("region", "invalid region %q: use lower-case letters, digits and '-'", c.Region)
		regionOK = false
	}
	// Zones are relative to the region; with a bad region they only add noise.
	if regionOK {
		if len(c.AvailabilityZones) == 0 {
			p.add("availability_zones", "must not be empty (leave it out to get %sa and %sb)", c.Region, c.Region)
		}
		seen := map[string]int{}
		for i, az := range c.AvailabilityZones {
			path := fmt.Sprintf("availability_zones[%d]", i)
			switch {
			case !strings.HasPrefix(az, c.Region) || len(az) == len(c.Region):
				p.add(path, "zone %q must be the region %q followed by a suffix, e.g. %sa", az, c.Region, c.Region)
			case !regionRe.MatchString(az):
				p.add(path, "invalid zone %q: use lower-case letters, digits and '-'", az)
			}
			if j, dup := seen[az]; dup {
				p.add(path, "zone %q duplicates availability_zones[%d]", az, j)
			} else {
				seen[az] = i
			}
		}
	}

	c.checkSSLServer(&p)

	switch {
	case c.TLS.Cert != "" && c.TLS.Key == "":
		p.add("tls.key", "required when tls.cert is set")
	case c.TLS.Cert == "" && c.TLS.Key != "":
		p.add("tls.cert", "required when tls.key is set")
	}
	checkReadable(&p, "tls.cert", c.TLS.Cert)
	checkReadable(&p, "tls.key", c.TLS.Key)

	if c.DataDir == "" {
		p.add("data_dir", "must not be empty")
	}
	if c.TemplatesDir != "" {
		if fi, err := os.Stat(c.TemplatesDir); err != nil {
			p.add("templates_dir", "%v", err)
		} else if !fi.IsDir() {
			p.add("templates_dir", "%q is not a directory", c.TemplatesDir)
		}
	}
	if s := c.AdminSocketPath(); len(s) > maxSocketPath {
		p.add("admin_socket", "socket path %q is %d bytes, longer than the %d a Unix socket allows; set a shorter admin_socket or data_dir", s, len(s), maxSocketPath)
	}
	c.checkStore(&p)
	if c.MaxRequestBytes <= 0 {
		p.add("max_request_bytes", "must be > 0, got %d", c.MaxRequestBytes)
	}
	c.checkLimits(&p)

	if _, ok := zerologLevels[c.Log.Level]; !ok && c.Log.Level != "" {
		p.add("log.level", "unknown level %q: use trace, debug, info, warn or error", c.Log.Level)
	}
	if d := c.Log.DebugLevel; d != nil && (*d < 0 || *d >= len(debugLevels)) {
		p.add("log.debug_level", "must be 0..3 (0=error, 1=warn, 2=info, 3=debug), got %d", *d)
	}
	if f := c.Log.Format; f != "json" && f != "console" {
		p.add("log.format", "unknown format %q: use json or console", f)
	}
	if d := c.Log.FlushInterval; d < 0 || d.D() > time.Second {
		p.add("log.flush_interval", "must be from 0 (no buffering) to 1s, got %s", d)
	}

	if s := c.Auth.MaxClockSkew; s <= 0 || s.D() > time.Hour {
		p.add("auth.max_clock_skew", "must be > 0 and at most 1h, got %s", s)
	}

	if strings.TrimSpace(c.Backend.Name) == "" {
		p.add("backend.name", "must not be empty")
	}
	c.checkSim(&p)
	if c.Backend.Name == "ec2" {
		c.checkEC2(&p)
	}

	if c.Usage.ReconcileInterval < Duration(time.Second) {
		p.add("usage.reconcile_interval", "must be at least 1s, got %s", c.Usage.ReconcileInterval)
	}
	if c.TerminatedInstancesExpirationTime < 0 {
		p.add("terminated_instances_expiration_time", "must be >= 0, got %s", c.TerminatedInstancesExpirationTime)
	}

	c.checkElasticIPs(&p)

	if c.Audit.MaxFileMiB < 1 || c.Audit.MaxFileMiB > 1<<20 {
		p.add("audit.max_file_mib", "must be 1..1048576 (MiB), got %d", c.Audit.MaxFileMiB)
	}
	if c.Audit.MaxFiles < 0 {
		p.add("audit.max_files", "must be 0 (keep every rotated file) or more, got %d", c.Audit.MaxFiles)
	}

	names := make([]string, 0, len(c.Groups))
	for name := range c.Groups {
		names = append(names, name)
	}
	sort.Strings(names) // map order is random; keep messages stable
	for _, name := range names {
		if !groupNameRe.MatchString(name) {
			p.add("groups."+name, "invalid group name %q: must match [a-z][a-z0-9_-]{0,63}", name)
		}
		for _, ph := range placeholder.FindAllString(c.Groups[name].KeyNamePrefix, -1) {
			if ph != "{user}" {
				p.add("groups."+name+".key_name_prefix", "unknown placeholder %q: only {user} is expanded", ph)
			}
		}
		checkLimits(&p, "groups."+name+".", c.Groups[name].Limits)
		c.checkGroupGuardrails(&p, name, c.Groups[name])
	}
	checkLimits(&p, "quota.", c.Quota.Limits)
	c.checkGuardrails(&p)
	return p
}

// checkLimits reports the invalid quota limits of one layer under prefix.
func checkLimits(p *problems, prefix string, l quota.Limits) {
	for _, pr := range l.Problems() {
		p.add(prefix+pr.Key, "%s", pr.Msg)
	}
}

func (c *Config) checkListen(p *problems) {
	switch h := c.Host; {
	case h == "":
		p.add("host", "must not be empty (use 0.0.0.0 or :: to listen on all interfaces)")
	case strings.HasPrefix(h, "["):
		p.add("host", "write IPv6 addresses without brackets, e.g. ::1")
	default:
		if _, err := netip.ParseAddr(h); err == nil {
			break
		}
		if strings.Contains(h, ":") {
			p.add("host", "invalid host %q: set the port with port, not in host", h)
		} else if !validDNSName(h) {
			p.add("host", "invalid host %q: not an IP address or host name", h)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		p.add("port", "must be 1..65535, got %d", c.Port)
	}
}

func (c *Config) checkSSLServer(p *problems) {
	if c.SSLServer == "" {
		return
	}
	const path = "ssl_server"
	u, err := url.Parse(c.SSLServer)
	if err != nil {
		p.add(path, "invalid URL %q: %v", c.SSLServer, err)
		return
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		p.add(path, "%q must be an absolute http:// or https:// URL", c.SSLServer)
		return
	}
	if u.Hostname() == "" {
		p.add(path, "%q has no host", c.SSLServer)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			p.add(path, "%q has an invalid port", c.SSLServer)
		}
	}
	if u.User != nil {
		p.add(path, "%q must not contain user information", c.SSLServer)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		p.add(path, "%q must not have a query or fragment", c.SSLServer)
	}
	// SigV2 signs the path the client used; a proxy mapping /prefix to /
	// would make every signature mismatch.
	if u.Path != "" && u.Path != "/" {
		p.add(path, "%q must not have a path: the proxy must serve the API at /", c.SSLServer)
	}
}

// maxReadTimeout bounds the read timeouts: beyond it a slow client holds a
// connection long enough for a few to exhaust the server's.
const maxReadTimeout = 10 * time.Minute

func (c *Config) checkLimits(p *problems) {
	l := &c.Limits
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"header_read_timeout", l.HeaderReadTimeout},
		{"body_read_timeout", l.BodyReadTimeout},
	} {
		if d.v <= 0 || d.v.D() > maxReadTimeout {
			p.add("limits."+d.key, "must be > 0 and at most %s, got %s", Duration(maxReadTimeout), d.v)
		}
	}
	if l.MaxConnections < 0 {
		p.add("limits.max_connections", "must be 0 (from the open-file limit) or a count, got %d", l.MaxConnections)
	}
	switch {
	case l.MaxConnectionsPerIP < 0:
		p.add("limits.max_connections_per_ip", "must be 0 (half of max_connections) or a count, got %d", l.MaxConnectionsPerIP)
	case l.MaxConnections > 0 && l.MaxConnectionsPerIP > l.MaxConnections:
		p.add("limits.max_connections_per_ip", "%d is more than limits.max_connections (%d)", l.MaxConnectionsPerIP, l.MaxConnections)
	}
}

func checkReadable(p *problems, path, file string) {
	if file == "" {
		return
	}
	f, err := os.Open(file)
	if err != nil {
		p.add(path, "cannot read: %v", err)
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		p.add(path, "%q is a directory", file)
	}
}

func checkExecutable(p *problems, path, file string) {
	if file == "" {
		return
	}
	fi, err := os.Stat(file)
	switch {
	case err != nil:
		p.add(path, "%v", err)
	case !fi.Mode().IsRegular():
		p.add(path, "%q is not a regular file", file)
	case fi.Mode().Perm()&0o111 == 0:
		p.add(path, "%q is not executable (chmod +x)", file)
	}
}

func (c *Config) checkSim(p *problems) {
	s := &c.Backend.Sim
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"boot_delay", s.BootDelay},
		{"stop_delay", s.StopDelay},
		{"terminate_delay", s.TerminateDelay},
		{"volume_delay", s.VolumeDelay},
		{"snapshot_delay", s.SnapshotDelay},
	} {
		if d.v < 0 {
			p.add("backend.sim."+d.key, "must be >= 0, got %s", d.v)
		}
	}
	if pfx, err := netip.ParsePrefix(s.CIDR); err != nil {
		p.add("backend.sim.cidr", "invalid CIDR %q", s.CIDR)
	} else if !pfx.Addr().Is4() {
		p.add("backend.sim.cidr", "%q is not IPv4", s.CIDR)
	} else if pfx.Bits() > 30 {
		p.add("backend.sim.cidr", "%q is too small: need at least a /30", s.CIDR)
	} else if pfx != pfx.Masked() {
		p.add("backend.sim.cidr", "%q has host bits set; did you mean %s?", s.CIDR, pfx.Masked())
	}
	if !validDNSName(s.DNSSuffix) {
		p.add("backend.sim.dns_suffix", "invalid DNS suffix %q", s.DNSSuffix)
	}
}

// awsName is what AWS accepts in the names built from name_prefix and
// in the econe:course tag: letters, digits and a few marks.
var awsName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *Config) checkEC2(p *problems) {
	e := &c.Backend.EC2
	if !awsName.MatchString(e.Region) {
		p.add("backend.ec2.region", "must be an AWS region such as us-east-1, got %q", e.Region)
	}
	if e.Endpoint != "" {
		if u, err := url.Parse(e.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("backend.ec2.endpoint", "must be an absolute http:// or https:// URL, got %q", e.Endpoint)
		}
	}
	cr := &e.Credentials
	if (cr.AccessKeyID == "") != (cr.SecretAccessKey == "") {
		p.add("backend.ec2.credentials", "access_key_id and secret_access_key go together: set both or neither")
	}
	if cr.Profile != "" && cr.AccessKeyID != "" {
		p.add("backend.ec2.credentials", "set profile or access_key_id/secret_access_key, not both")
	}
	if e.SubnetID != "" && !strings.HasPrefix(e.SubnetID, "subnet-") {
		p.add("backend.ec2.subnet_id", "must be a subnet id (subnet-…), got %q", e.SubnetID)
	}
	if !awsName.MatchString(e.NamePrefix) || strings.HasPrefix(e.NamePrefix, "sg-") {
		p.add("backend.ec2.name_prefix", "must be 1-64 letters, digits, '.', '_' or '-' (not starting with sg-), got %q", e.NamePrefix)
	}
	if !awsName.MatchString(e.Course) {
		p.add("backend.ec2.course", "must name the course (1-64 letters, digits, '.', '_' or '-'): it tags everything made in the account, got %q", e.Course)
	}
	if e.RateLimit <= 0 {
		p.add("backend.ec2.rate_limit", "must be > 0 calls per second, got %v", e.RateLimit)
	}
	if e.RateBurst < 1 {
		p.add("backend.ec2.rate_burst", "must be at least 1, got %d", e.RateBurst)
	}
	if e.MaxAttempts < 1 || e.MaxAttempts > 10 {
		p.add("backend.ec2.max_attempts", "must be 1..10, got %d", e.MaxAttempts)
	}
	if e.DescribeCache < 0 || e.DescribeCache.D() > 10*time.Minute {
		p.add("backend.ec2.describe_cache", "must be 0..10m, got %s", e.DescribeCache)
	}
}

func (c *Config) checkElasticIPs(p *problems) {
	e := &c.ElasticIPs
	eips := c.checkPool(p, "elastic_ips.pool", e.Pool)
	launch := c.checkPool(p, "elastic_ips.launch_pool", e.LaunchPool)
	// One address is either an elastic IP or a launch address: both kinds
	// are handed out on their own, and would end up on two instances.
	for _, l := range launch {
		for _, en := range eips {
			if l.prefix.Overlaps(en.prefix) {
				p.add(fmt.Sprintf("elastic_ips.launch_pool[%d]", l.idx), "%s overlaps elastic_ips.pool[%d] (%s)", l.text, en.idx, en.text)
			}
		}
	}
	checkExecutable(p, "elastic_ips.associate_script", e.AssociateScript)
	checkExecutable(p, "elastic_ips.disassociate_script", e.DisassociateScript)
	if e.ScriptTimeout <= 0 {
		p.add("elastic_ips.script_timeout", "must be > 0, got %s", e.ScriptTimeout)
	}
}

// checkPool checks the address pool at key and returns its entries: valid,
// not too big, and on the sim outside the private range, where an address
// could equal an instance's private one.
func (c *Config) checkPool(p *problems, key string, pool []string) []poolEntry {
	entries, errs := parsePool(key, pool)
	*p = append(*p, errs...)
	if len(errs) == 0 {
		if n := poolSize(entries); n > maxPoolAddresses {
			p.add(key, "expands to %d addresses, more than the %d allowed", n, maxPoolAddresses)
		}
	}
	if c.Backend.Name == "sim" {
		if sim, err := netip.ParsePrefix(c.Backend.Sim.CIDR); err == nil {
			for _, en := range entries {
				if en.prefix.Overlaps(sim) {
					p.add(fmt.Sprintf("%s[%d]", key, en.idx), "%s overlaps backend.sim.cidr %s", en.text, c.Backend.Sim.CIDR)
				}
			}
		}
	}
	return entries
}

// validDNSName accepts host names such as "ec2.internal"; a single label
// ("localhost") is fine too.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	return true
}
