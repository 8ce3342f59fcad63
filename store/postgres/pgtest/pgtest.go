// Package pgtest starts a private PostgreSQL cluster for tests: initdb
// into a temporary directory (as the postgres user when the tests run as
// root, since initdb refuses root), the server on a free loopback port with
// its Unix socket in that directory, stopped by its pid when the test ends.
// In CI (CI set) a missing PostgreSQL fails the test; elsewhere it skips.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir is where Debian's PostgreSQL 15 puts its programs; ECONE_PG_BIN
// overrides it.
const BinDir = "/usr/lib/postgresql/15/bin"

// readyWait bounds how long a new cluster may take to accept connections.
const readyWait = 30 * time.Second

// Server is a running private cluster.
type Server struct {
	// Dir holds the cluster (Dir/data), its socket and its log.
	Dir  string
	Port int
	cmd  *exec.Cmd
	bin  string
	cred *syscall.Credential
	// settings are the caller's extra server settings, given at every launch.
	settings []string
	// exited is closed when the server process has ended.
	exited  chan struct{}
	schemas atomic.Int64
}

func binDir() string {
	if d := os.Getenv("ECONE_PG_BIN"); d != "" {
		return d
	}
	if _, err := os.Stat(BinDir); err == nil {
		return BinDir
	}
	// Another Debian major version.
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(found)
	if len(found) > 0 {
		return found[len(found)-1]
	}
	return BinDir
}

// Start starts a cluster that the test's cleanup stops. Each of settings
// is a server setting NAME=VALUE (postgres -c), e.g.
// "shared_preload_libraries=pg_stat_statements".
func Start(t testing.TB, settings ...string) *Server {
	t.Helper()
	bin := binDir()
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is missing (%s/initdb; install: apt-get install postgresql); test.sh installs it", bin)
		}
		t.Skipf("PostgreSQL is missing (%s/initdb; install: apt-get install postgresql)", bin)
	}
	s, err := start(bin, settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func start(bin string, settings []string) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Under /tmp, not t.TempDir: the postgres user must reach it.
	dir, err := os.MkdirTemp("", "econe-pg-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	s := &Server{Dir: dir, bin: bin, cred: cred, settings: settings}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Port = port
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// launch starts the postgres process of the cluster.
func (s *Server) launch() error {
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.exited = make(chan struct{})
	args := []string{"-D", s.data(), "-p", strconv.Itoa(s.Port), "-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	for _, kv := range s.settings {
		args = append(args, "-c", kv)
	}
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The server dies with the test binary, even one killed by a timeout.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: postgres: %w", err)
	}
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	return nil
}

// Pause stops the server by its pid (fast shutdown: sessions end, what was
// committed is kept), keeping the cluster for Resume: the database is
// unreachable meanwhile.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGINT)
	<-s.exited
}

// Resume starts a paused server again on the same port.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
	if err := s.waitReady(); err != nil {
		t.Fatal(err)
	}
}

// credential is the postgres user's when running as root (initdb and
// postgres refuse root), nil otherwise.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

// waitReady polls until the server accepts a connection, it exits, or
// readyWait passes: a process's start-up has no other signal.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pgtest: postgres exited at start-up: %s", s.log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not ready after %v: %v: %s", readyWait, err, s.log())
		}
	}
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return string(b)
}

// DSN is the URL of database db as the superuser postgres.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewSchema creates an empty schema and returns a DSN whose search_path is
// that schema only: a store opened there starts empty, and separate from
// the others on this server.
func (s *Server) NewSchema(t testing.TB) string {
	return s.newSchema(t, s.DSN("postgres"))
}

// NewSocketSchema is NewSchema over the cluster's Unix socket, where a
// dead connection's writes fail at once (EPIPE) rather than being taken
// by the kernel as over TCP.
func (s *Server) NewSocketSchema(t testing.TB) string {
	return s.newSchema(t, fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", s.Dir, s.Port))
}

func (s *Server) newSchema(t testing.TB, dsn string) string {
	t.Helper()
	name := fmt.Sprintf("s%d", s.schemas.Add(1))
	if err := s.Exec(context.Background(), "postgres", "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	return dsn + "&search_path=" + name
}

// Exec runs sql in database db as the superuser.
func (s *Server) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("pgtest: %s: %w", sql, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: sessions are ended, what was
// committed is kept) and removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT) // an error: it has exited (Pause)
		<-s.exited
	}
	if err := os.RemoveAll(s.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
}
