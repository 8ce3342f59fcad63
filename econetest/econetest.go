// Package econetest starts a real econe-server (in-process, on a loopback
// port) for tests, and drives it with real clients: aws-sdk-go-v2, the AWS
// CLI v2, boto3 and boto 2.
package econetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/server"
	"github.com/econe/econe-server/store/postgres/pgtest"
	"github.com/rs/zerolog"
)

// Clock is the server's clock in tests: real time plus an offset that tests
// advance, so signatures (made with real time) stay valid while simulated
// delays elapse without sleeping.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Env is one running server.
type Env struct {
	App    *app.App
	Config *conf.Config
	Clock  *Clock
	URL    string
	// AdminURL is the admin listener's base URL, when the config sets
	// admin_listener.address ("" otherwise). It listens on a free loopback
	// port, not the configured one, so that tests can run in parallel.
	AdminURL string
	Log      *bytes.Buffer // every log line the server wrote (JSON)
	srv      *httptest.Server
	adminSrv *httptest.Server
	logMu    *lockedWriter
}

type lockedWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Logs returns what the server logged so far.
func (e *Env) Logs() string { return e.logMu.String() }

// StoreEnv names the environment variable that chooses the store driver
// of the servers Start runs: "postgres" gives each test a private
// PostgreSQL cluster (pgtest) and a fresh schema; unset or "bolt", a bbolt
// file in the data directory. test.sh runs the e2e package with each.
const StoreEnv = "ECONE_TEST_STORE"

// Start runs a server with the default configuration, a fresh data
// directory, the store StoreEnv names, zero simulated delays, and the
// changes opts make.
func Start(t testing.TB, opts ...func(*conf.Config)) *Env {
	t.Helper()
	cfg := conf.Default()
	cfg.DataDir = t.TempDir()
	switch d := os.Getenv(StoreEnv); d {
	case "", conf.StoreBolt:
	case conf.StorePostgres:
		cfg.Store = PostgresStore(t, pgtest.Start(t))
	default:
		t.Fatalf("%s=%q: want %s or %s", StoreEnv, d, conf.StoreBolt, conf.StorePostgres)
	}
	cfg.Backend.Sim.BootDelay = 0
	cfg.Backend.Sim.StopDelay = 0
	cfg.Backend.Sim.TerminateDelay = 0
	cfg.Backend.Sim.VolumeDelay = 0
	cfg.Backend.Sim.SnapshotDelay = 0
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return StartConfig(t, cfg)
}

// PostgresStore is the store config of a fresh, empty schema of srv.
func PostgresStore(t testing.TB, srv *pgtest.Server) conf.Store {
	s := conf.Default().Store
	s.Driver, s.DSN, s.MaxConns = conf.StorePostgres, srv.NewSchema(t), 8
	return s
}

// StartConfig runs a server with exactly cfg (DataDir must be set).
func StartConfig(t testing.TB, cfg *conf.Config) *Env {
	t.Helper()
	buf := &bytes.Buffer{}
	lw := &lockedWriter{buf: buf}
	log := zerolog.New(lw).With().Timestamp().Logger().Level(zerolog.DebugLevel)
	clock := &Clock{}
	a, err := app.Open(cfg, log, clock.Now, nil)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	// The daemon's http.Server and connection caps, on a loopback port.
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = a.Server.HTTPServer()
	limits, _, err := server.Limits(cfg.Limits)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = server.LimitListener(srv.Listener, limits, log)
	srv.Start()
	e := &Env{App: a, Config: cfg, Clock: clock, URL: srv.URL, Log: buf, srv: srv, logMu: lw}
	if cfg.AdminListener.Address != "" {
		e.adminSrv = httptest.NewServer(a.AdminHandler())
		e.AdminURL = e.adminSrv.URL
	}
	t.Cleanup(e.Stop)
	return e
}

// Stop shuts the server down (idempotent); its data directory remains
// until the test ends, so a test can start a new server on it.
func (e *Env) Stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	e.srv = nil
	if e.adminSrv != nil {
		e.adminSrv.Close()
	}
	e.App.Close()
}

// Replica starts a second server on e's store, as another replica of
// the same course: its own data directory, holding a copy of e's secret
// key (the store's secrets are sealed with it), and its own clock.
func (e *Env) Replica(t testing.TB) *Env {
	t.Helper()
	cfg := *e.Config
	cfg.DataDir = t.TempDir()
	key, err := os.ReadFile(filepath.Join(e.Config.DataDir, app.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, app.KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return StartConfig(t, &cfg)
}

// Host is host:port of the server.
func (e *Env) Host() string { return strings.TrimPrefix(e.URL, "http://") }

// User creates a student and returns their credentials.
func (e *Env) User(t testing.TB, name string) *admin.Credentials {
	t.Helper()
	c, err := e.App.Users.Add(name, "")
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	return c
}

// EC2 is an aws-sdk-go-v2 EC2 client for the user, set up as the README's
// client notes tell students (the SDK's own HTTP client behind
// SDKHTTPClient), with retries off so every error reaches the test.
func (e *Env) EC2(c *admin.Credentials) *ec2.Client { return EC2At(e.URL, e.Config.Region, c) }

// EC2At is Env.EC2 for a server at endpoint that this test did not start
// (an econe-server process, one of several replicas).
func EC2At(endpoint, region string, c *admin.Credentials) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   SDKHTTPClient(awshttp.NewBuildableClient()),
	})
}

// STS is an aws-sdk-go-v2 STS client for the user at the same endpoint,
// set up as EC2 is.
func (e *Env) STS(c *admin.Credentials) *sts.Client {
	return sts.New(sts.Options{
		Region:       e.Config.Region,
		BaseEndpoint: aws.String(e.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   SDKHTTPClient(awshttp.NewBuildableClient()),
	})
}

// IAM is an aws-sdk-go-v2 IAM client for the user at the same endpoint,
// set up as EC2 is.
func (e *Env) IAM(c *admin.Credentials) *iam.Client {
	return iam.New(iam.Options{
		Region:       e.Config.Region,
		BaseEndpoint: aws.String(e.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   SDKHTTPClient(awshttp.NewBuildableClient()),
	})
}

// SDKHTTPClient is the workaround the README's client notes give students
// of aws-sdk-go-v2 (1.48, smithy-go 1.28): it hides the WriteTo method of
// the request body the SDK hands net/http.
//
// The SDK closes the request body as soon as Do returns, and the body's
// WriteTo then answers io.EOF. A server that answers as soon as it has
// read the request can make Do return before net/http's writer goroutine
// has made its last read of the body (the check that nothing follows
// Content-Length); that read goes through WriteTo, net/http takes the
// io.EOF for a failed request write and closes the connection while the
// SDK is still reading the response: "use of closed network connection"
// on any answer larger than the transport's 4 KB read buffer. Through Read
// instead, the last read is an ordinary end of body.
func SDKHTTPClient(next aws.HTTPClient) aws.HTTPClient { return hideBodyWriteTo{next} }

type hideBodyWriteTo struct{ next aws.HTTPClient }

func (c hideBodyWriteTo) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r = r.Clone(r.Context())
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return c.next.Do(r)
}

// Context is a test's context for its calls, with a deadline that only
// keeps a hung call from hanging the run: a minute before go test's
// -timeout (ten minutes without one). A fixed 30 s for the whole test
// failed a test that was only slow (-race, a loaded 2-core machine).
func Context(t testing.TB) context.Context {
	end := time.Now().Add(10 * time.Minute)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if timeout, ok := d.Deadline(); ok {
			end = timeout.Add(-time.Minute)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	t.Cleanup(cancel)
	return ctx
}

// Require makes sure an external client exists: in CI (CI=true) a missing
// prerequisite fails the test; elsewhere it skips, naming the install step.
func Require(t testing.TB, path, install string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (install: %s); .ci/run installs it", path, install)
	}
	t.Skipf("%s is missing (install: %s)", path, install)
}

// The real clients.
const (
	AWSCLI     = "/usr/bin/aws"     // AWS CLI v2 (Debian awscli)
	SysPython  = "/usr/bin/python3" // Debian python with boto 2.49 (python3-boto)
	pyenvShims = "/root/.pyenv/shims/python3"
)

// Python returns the pyenv python3 that has boto3 and awscli v1.
func Python(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ECONE_TEST_PYTHON"), pyenvShims} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("python3"); err == nil && p != SysPython {
		return p
	}
	Require(t, pyenvShims, "pyenv python3 with boto3")
	return pyenvShims
}

// clientEnv is the environment a real client runs in: the user's keys, the
// region, and no shared config of the machine's.
func (e *Env) clientEnv(t testing.TB, c *admin.Credentials) []string {
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
		"AWS_DEFAULT_REGION=" + e.Config.Region,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_RETRY_MODE=standard",
		"ECONE_ENDPOINT=" + e.URL,
		"ECONE_HOST=" + e.Host(),
	}
	if p := os.Getenv("PYENV_ROOT"); p != "" {
		env = append(env, "PYENV_ROOT="+p)
	}
	return env
}

// CLI runs the AWS CLI v2 as the user: `aws --endpoint-url URL ARGS...`.
// It returns stdout; a non-zero exit returns an error carrying stderr.
func (e *Env) CLI(t testing.TB, c *admin.Credentials, args ...string) (string, error) {
	t.Helper()
	Require(t, AWSCLI, "apt-get install -y awscli")
	full := append([]string{"--endpoint-url", e.URL, "--output", "json"}, args...)
	return run(t, e.clientEnv(t, c), "", AWSCLI, full...)
}

// Boto3 runs a Python script with the pyenv python (boto3) as the user. The
// script finds the endpoint in ECONE_ENDPOINT and keys in the environment.
func (e *Env) Boto3(t testing.TB, c *admin.Credentials, script string) (string, error) {
	t.Helper()
	return run(t, e.clientEnv(t, c), script, Python(t), "-")
}

// Boto2 runs a Python script with Debian's python3 and boto 2.49 as the
// user; ECONE_HOST is host:port.
func (e *Env) Boto2(t testing.TB, c *admin.Credentials, script string) (string, error) {
	t.Helper()
	Require(t, SysPython, "apt-get install -y python3-boto")
	return run(t, e.clientEnv(t, c), script, SysPython, "-")
}

func run(t testing.TB, env []string, stdin, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
