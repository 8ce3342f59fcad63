package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"

	"github.com/econe/econe-server/admin"
	"github.com/econe/econe-server/app"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/logbuf"
	"github.com/econe/econe-server/server"
	"github.com/econe/econe-server/store"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

const (
	// shutdownTimeout bounds how long in-flight requests may take to drain.
	shutdownTimeout = 30 * time.Second
	// stopTimeout is how long `stop` waits: the drain plus closing the store.
	stopTimeout = shutdownTimeout + 15*time.Second
	// startTimeout is how long `start` waits for the server to answer
	// while it reports no progress.
	startTimeout = 30 * time.Second
	pollInterval = 50 * time.Millisecond
)

func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the server in the foreground (for systemd)",
		Long: `Run the server in the foreground until SIGTERM or SIGINT, then shut down
gracefully: stop accepting, let in-flight requests finish (at most 30s),
close the store. Logs go to log.file, or stderr when it is not set. The pid
file (DATA_DIR/econe-server.pid) is written so that status and stop work.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fd, _ := cmd.Flags().GetInt("ready-fd")
			ready := readyPipe(fd)
			err := runForeground(cmd, ready)
			ready.fail(err)
			return err
		},
	}
	// Set by `start`: the child reports start-up failure (or success) there.
	cmd.Flags().Int("ready-fd", 0, "file descriptor to report readiness on")
	_ = cmd.Flags().MarkHidden("ready-fd")
	return cmd
}

func runForeground(cmd *cobra.Command, ready *notifier) error {
	cfg, _, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer closeLog()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, log, ready); err != nil {
		log.Error().Err(err).Msg("econe-server stopped with an error")
		return err
	}
	log.Info().Msg("econe-server stopped")
	return nil
}

// logBufferSize bounds the log's buffer (see log.flush_interval): at 20,000
// requests a second, 5 ms of access lines.
const logBufferSize = 64 << 10

// newLogger logs to log.file if set, else to stderr, in the configured
// format and level, through a buffer flushed each log.flush_interval. The
// returned function flushes and closes the log: every way out of
// runForeground, an error too, calls it after its last line.
func newLogger(cfg *conf.Config, stderr io.Writer) (zerolog.Logger, func(), error) {
	w, closeFn := stderr, func() {}
	if cfg.Log.File != "" {
		f, err := os.OpenFile(cfg.Log.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return zerolog.Nop(), nil, fmt.Errorf("cannot write the log file: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	if d := cfg.Log.FlushInterval.D(); d > 0 {
		b, closeOut := logbuf.New(w, d, logBufferSize, nil), closeFn
		w, closeFn = b, func() { b.Close(); closeOut() }
	}
	if cfg.Log.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(cfg.ZerologLevel()).With().Timestamp().Logger(), closeFn, nil
}

// tuneRuntime applies go_runtime where the GOGC and GOMEMLIMIT environment
// variables have not already decided, and returns the settings in force
// (memory limit in bytes, math.MaxInt64 for none).
func tuneRuntime(rt conf.GoRuntime, getenv func(string) string) (gcPercent int, memoryLimit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(rt.GCPercent)
	}
	if getenv("GOMEMLIMIT") == "" && rt.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(rt.MemoryLimitMiB << 20)
	}
	in := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(in)
	return int(in[0].Value.Uint64()), int64(in[1].Value.Uint64())
}

// serve runs the server until ctx ends, telling ready its start-up steps
// and when it answers.
func serve(ctx context.Context, cfg *conf.Config, log zerolog.Logger, ready *notifier) error {
	if pid, running := livePID(cfg); running && pid != os.Getpid() {
		return fmt.Errorf("econe-server is already running, pid %d", pid)
	}
	limits, openFiles, err := server.Limits(cfg.Limits)
	if err != nil {
		return err
	}
	if uint64(limits.Total) >= openFiles {
		log.Warn().Int("max_connections", limits.Total).Uint64("open_files", openFiles).
			Msg("limits.max_connections is not below the open-file limit (ulimit -n): a flood of connections can leave the server unable to open files")
	}
	ln, err := listenAPI(cfg, limits, log)
	if err != nil {
		return err
	}
	defer ln.Close()
	gcPercent, memLimit := tuneRuntime(cfg.GoRuntime, os.Getenv)
	a, err := app.Open(cfg, log, nil, ready.progress)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("the data directory %s is in use by another process (another econe-server, or an admin command running right now)", cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("cannot open the data directory %s: %w", cfg.DataDir, err)
	}
	defer a.Close()
	if a.Reconciling != nil && a.Reconciling.Pending > 0 {
		n := a.Reconciling.Pending
		ready.progress(fmt.Sprintf("undoing %d unfinished elastic IP changes in the background; their addresses answer IncorrectState until then", n))
		go func() {
			<-a.Reconciling.Done()
			log.Info().Int("changes", n).Msg("unfinished elastic IP changes reconciled")
		}()
	}

	status := admin.Status{PID: os.Getpid(), Version: version, Address: cfg.Addr(), Endpoint: cfg.EndpointURL(), Started: time.Now().UTC(),
		AdminListener: cfg.AdminListener.Address, Backend: cfg.Backend.Name}
	sock, err := admin.ServeSocket(cfg.AdminSocketPath(), a.Users, a.Audit, func() admin.Status {
		s := replicaStatus(status, a)
		if err := a.Ready.Check(context.Background()); err != nil {
			s.NotReady = err.Error()
		}
		return s
	}, log)
	if err != nil {
		return err
	}
	defer shutdownWithin(log, "admin socket", sock.Shutdown)
	pidPath := pidFile(cfg)
	if err := writePID(pidPath); err != nil {
		return fmt.Errorf("cannot write the pid file: %w", err)
	}
	defer removePID(pidPath)

	if cfg.AdminListener.Address != "" {
		stop, err := serveAdmin(cfg, a, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv := a.Server.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info().Int("pid", status.PID).Str("address", status.Address).Str("endpoint", status.Endpoint).
		Str("version", version).Str("data_dir", cfg.DataDir).Int("gc_percent", gcPercent).Int64("memory_limit", memLimit).
		Int("max_connections", limits.Total).Int("max_connections_per_ip", limits.PerIP).Uint64("open_files", openFiles).
		Msg("econe-server started")
	ready.ok()

	select {
	case <-ctx.Done():
		log.Info().Msg("signal received: shutting down, draining in-flight requests")
	case err = <-served:
		err = fmt.Errorf("serving %s: %w", cfg.Addr(), err)
	}
	shutdownWithin(log, "API server", srv.Shutdown)
	return err
}

// serveAdmin starts the admin listener (metrics, probes, pprof); stop
// shuts it down.
func serveAdmin(cfg *conf.Config, a *app.App, log zerolog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", cfg.AdminListener.Address)
	if err != nil {
		return nil, fmt.Errorf("admin_listener: cannot listen on %s: %w", cfg.AdminListener.Address, err)
	}
	srv := &http.Server{Handler: a.AdminHandler(), ReadHeaderTimeout: cfg.Limits.HeaderReadTimeout.D(),
		ErrorLog: stdlog.New(log.With().Str("component", "admin_listener").Logger(), "", 0)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	return func() { shutdownWithin(log, "admin listener", srv.Shutdown) }, nil
}

// shutdownWithin runs a graceful shutdown bounded by shutdownTimeout.
func shutdownWithin(log zerolog.Logger, what string, shutdown func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn().Err(err).Str("what", what).Msg("shutdown did not finish cleanly")
	}
}

// listenAPI opens the API port, capped at limits, with TLS when configured.
// The certificate is loaded now so that a bad one fails the start rather
// than each request.
func listenAPI(cfg *conf.Config, limits server.ConnLimits, log zerolog.Logger) (net.Listener, error) {
	var tlsCfg *tls.Config
	if cfg.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		cause := err
		var se *os.SyscallError
		if errors.As(err, &se) {
			cause = se.Err
		}
		return nil, fmt.Errorf("cannot listen on %s: %v (is another server using the port? change port in the configuration)", cfg.Addr(), cause)
	}
	// Capped before TLS, so that a refused connection costs no handshake.
	ln = server.LimitListener(ln, limits, log.With().Str("component", "http").Logger())
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

// notifier is the pipe `start` waits on: start-up steps (lines starting
// with stepPrefix), then an error message, or just its closing once the
// server answers. A nil notifier (plain `run`) is silent.
type notifier struct{ f *os.File }

// stepPrefix marks a start-up step on the ready pipe.
const stepPrefix = "step: "

func readyPipe(fd int) *notifier {
	if fd <= 0 {
		return nil
	}
	return &notifier{os.NewFile(uintptr(fd), "ready")}
}

// progress reports a start-up step that may take a while.
func (n *notifier) progress(step string) {
	if n != nil && n.f != nil {
		fmt.Fprintln(n.f, stepPrefix+step)
	}
}

func (n *notifier) ok() {
	if n != nil && n.f != nil {
		n.f.Close()
		n.f = nil
	}
}

func (n *notifier) fail(err error) {
	if n != nil && n.f != nil && err != nil {
		fmt.Fprintln(n.f, err)
	}
	n.ok()
}

func newStartCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start",
		Short: "Start the server in the background",
		Long: `Start the server in the background (as "run", detached), with its pid file
and log (default DATA_DIR/econe-server.log) under the data directory.
Shows the start-up steps the server reports, and returns once it answers
on its port and admin socket, or exits non-zero with the reason (port
taken, bad configuration, data directory unusable, ...) or when the server
has neither answered nor reported progress for 30s. A second start while the server runs is refused; a pid file
left by a crashed server is removed.`,
		Args: cobra.NoArgs,
		RunE: runStart,
	}
}

func runStart(cmd *cobra.Command, _ []string) error {
	cfg, path, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	st := probe(cfg)
	switch {
	case st.running():
		return fmt.Errorf("econe-server is already running, pid %d", st.pid)
	case st.stalePID != 0:
		if err := os.Remove(pidFile(cfg)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "removed a stale pid file (pid %d is not running)\n", st.stalePID)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir %s is not usable: %w", cfg.DataDir, err)
	}
	logPath := cfg.LogFile()
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write the log file: %w", err)
	}
	logStart, _ := logFile.Seek(0, io.SeekEnd)
	child, err := spawnRun(path, logFile)
	logFile.Close()
	if err != nil {
		return err
	}
	if err := waitReady(cfg, child, startTimeout, cmd.ErrOrStderr(), logPath, logStart); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "econe-server started, pid %d, listening on %s (log: %s)\n", child.pid, cfg.EndpointURL(), logPath)
	return nil
}

// started is a detached `run` child being watched by `start`: its steps
// as it reports them, then its report (an error message, "" once it is up).
type started struct {
	pid    int
	exited chan error
	steps  chan string
	report chan string
}

// spawnRun re-executes this binary as `run` in its own session, output to
// the log file, with a pipe on fd 3 for its start-up report.
func spawnRun(cfgPath string, logFile *os.File) (*started, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--ready-fd", "3", "--config", cfgPath}
	if cfgPath != "" {
		if args[len(args)-1], err = filepath.Abs(cfgPath); err != nil {
			return nil, err
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	c := newDetached(exe, args, logFile, w)
	if err := c.Start(); err != nil {
		r.Close()
		return nil, fmt.Errorf("cannot start the server process: %w", err)
	}
	s := &started{pid: c.Process.Pid, exited: make(chan error, 1), steps: make(chan string), report: make(chan string, 1)}
	go func() { s.exited <- c.Wait() }()
	go func() {
		readReport(r, s.steps, s.report)
		r.Close()
	}()
	return s, nil
}

// readReport reads the ready pipe: each step to steps (closed at the end
// of the pipe), then the rest of what was written to report.
func readReport(r io.Reader, steps chan<- string, report chan<- string) {
	var msg strings.Builder
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		if step, ok := strings.CutPrefix(lines.Text(), stepPrefix); ok {
			steps <- step
			continue
		}
		msg.WriteString(lines.Text() + "\n")
	}
	close(steps)
	report <- msg.String()
}

// waitReady polls until the child answers, or reports why it cannot,
// showing each step it reports on out. It gives up only when the child
// has reported nothing new for stall: a slow start that progresses is not
// failed.
func waitReady(cfg *conf.Config, child *started, stall time.Duration, out io.Writer, logPath string, logStart int64) error {
	stalled := time.NewTimer(stall)
	defer stalled.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	steps, report, step := child.steps, child.report, "starting"
	for {
		select {
		case s, ok := <-steps:
			if !ok {
				steps = nil
				continue
			}
			step = s
			fmt.Fprintf(out, "econe-server: %s\n", s)
			stalled.Reset(stall)
		case msg := <-report:
			if msg != "" {
				return fmt.Errorf("the server could not start: %s", strings.TrimSpace(msg))
			}
			report = nil // closed without a message: it is up; keep polling to confirm
		case err := <-child.exited:
			for steps != nil { // the report comes after the last step
				if _, ok := <-steps; !ok {
					steps = nil
				}
			}
			if msg := <-reportOrEmpty(report); msg != "" {
				return fmt.Errorf("the server could not start: %s", strings.TrimSpace(msg))
			}
			return fmt.Errorf("the server exited during start-up (%v); the end of %s:\n%s", err, logPath, logTail(logPath, logStart))
		case <-stalled.C:
			return fmt.Errorf("the server (pid %d) has not answered, nor reported progress, for %s; it was %s. It is still running: see %s, then `econe-server status` or `econe-server stop`", child.pid, stall, step, logPath)
		case <-tick.C:
			// Up once it answers and every step it reported has been shown
			// (the steps end when it closes the pipe, just after answering).
			if steps == nil && answers(cfg, child.pid) {
				return nil
			}
		}
	}
}

// reportOrEmpty is report, or an already-drained stand-in once it is nil.
func reportOrEmpty(report chan string) chan string {
	if report != nil {
		return report
	}
	empty := make(chan string, 1)
	empty <- ""
	return empty
}

// answers reports whether the server with pid is up: its admin socket
// answers a status request and its TCP port accepts.
func answers(cfg *conf.Config, pid int) bool {
	st, err := admin.NewClient(cfg.AdminSocketPath()).Status()
	if err != nil || st.PID != pid {
		return false
	}
	conn, err := net.DialTimeout("tcp", cfg.Addr(), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func newStopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the running server gracefully",
		Long: `Send SIGTERM to the running server and wait until it has drained in-flight
requests and exited. When no server is running, say so and exit 0 (what
service managers expect); a timeout is an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			st := probe(cfg)
			if !st.running() {
				fmt.Fprintln(cmd.OutOrStdout(), "econe-server is not running")
				return nil
			}
			if err := syscall.Kill(st.pid, syscall.SIGTERM); err != nil {
				return fmt.Errorf("cannot signal pid %d: %w", st.pid, err)
			}
			for deadline := time.Now().Add(stopTimeout); alive(st.pid); time.Sleep(pollInterval) {
				if time.Now().After(deadline) {
					return fmt.Errorf("pid %d did not exit within %s; if it is stuck, kill -9 %d", st.pid, stopTimeout, st.pid)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "econe-server stopped (pid %d)\n", st.pid)
			return nil
		},
	}
}

// LSB exit statuses of `status`.
const (
	statusNotRunning exitCode = 3
	statusUnknown    exitCode = 4
)

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether the server is running",
		Long: `Show whether the server is running, with its pid, address and version.
Exit status (LSB): 0 running, 3 not running, 4 running but not answering
on its admin socket.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			st := probe(cfg)
			switch {
			case st.status != nil:
				printStatus(out, st.status)
				return nil
			case st.running():
				fmt.Fprintf(out, "econe-server (pid %d) is running but its admin socket does not answer: %v\n", st.pid, st.socketErr)
				return statusUnknown
			case st.stalePID != 0:
				fmt.Fprintf(out, "econe-server is not running (stale pid file for pid %d)\n", st.stalePID)
			default:
				fmt.Fprintln(out, "econe-server is not running")
			}
			return statusNotRunning
		},
	}
}

// serverState is what probe finds out about a server for cfg.
type serverState struct {
	pid       int           // of a live server
	status    *admin.Status // its own answer, when the socket works
	socketErr error
	stalePID  int // a pid file naming a process that is gone
}

func (s serverState) running() bool { return s.pid != 0 }

// probe asks the admin socket first (it knows the pid even if the pid file
// was lost), then falls back on the pid file.
func probe(cfg *conf.Config) serverState {
	st, err := admin.NewClient(cfg.AdminSocketPath()).Status()
	if err == nil {
		return serverState{pid: st.PID, status: st}
	}
	pid, perr := readPID(pidFile(cfg))
	switch {
	case perr != nil:
		return serverState{}
	case alive(pid):
		return serverState{pid: pid, socketErr: err}
	default:
		return serverState{stalePID: pid}
	}
}

func pidFile(cfg *conf.Config) string { return filepath.Join(cfg.DataDir, app.PIDFile) }

// livePID is the pid of a running server according to the pid file.
func livePID(cfg *conf.Config) (int, bool) {
	pid, err := readPID(pidFile(cfg))
	return pid, err == nil && alive(pid)
}

// printStatus shows a running server's own answer, the readiness of its
// store and backend included.
func printStatus(out io.Writer, s *admin.Status) {
	fmt.Fprintf(out, "econe-server is running\n  pid:      %d\n  address:  %s\n  endpoint: %s\n  version:  %s\n  started:  %s\n",
		s.PID, s.Address, s.Endpoint, s.Version, s.Started.Format(time.RFC3339))
	ready := "reachable"
	if s.NotReady != "" {
		ready = "NOT READY: " + s.NotReady
	}
	fmt.Fprintf(out, "  backend:  %s (%s)\n", s.Backend, ready)
	if s.AdminListener != "" {
		fmt.Fprintf(out, "  admin:    http://%s (metrics, livez, readyz)\n", s.AdminListener)
	}
	printReplicas(out, s)
}
