// Package scriptrun runs the admin's scripts the one safe way: the argv
// passed untouched (no shell parses it), a clean environment, a process
// group of its own killed whole at the timeout, the kernel killing the
// script if the server dies (Linux), and its process reported before it
// runs a line, so a crash's leftovers can be found and stopped (StopGroup).
// The elastic IP scripts and the guardrail notifier script both use it.
package scriptrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Command is one run of a script.
type Command struct {
	Path    string   // the executable, looked up as exec.LookPath does
	Args    []string // after the script's name, never re-parsed
	Env     []string // NAME=value added to the clean environment (PATH, LC_ALL=C)
	Timeout time.Duration
	// Started, when set, is told the script's process before the script
	// runs; if it fails, the script never runs and Run fails.
	Started Started
}

// Result is what a run left behind.
type Result struct {
	Process  Process
	ExitCode int // -1 when killed or not started
	TimedOut bool
	Stdout   string // the first MaxOutput bytes
	Stderr   string // the first MaxOutput bytes
	Took     time.Duration
}

// gate is the script's first moments: /bin/sh waits on fd 3 until the
// server has recorded the process, then becomes the script ($0) with its
// arguments ("$@", never re-parsed). If the server dies or refuses first,
// fd 3 closes unwritten and the script never runs.
const gate = `read -r go <&3 || exit 125; exec 3<&-; exec "$0" "$@"`

// MaxOutput bounds what is kept of a script's stdout and stderr each.
const MaxOutput = 16 << 10

// killGrace is how long a killed script's leftover children may keep its
// output pipes open before Run stops waiting for them.
const killGrace = 2 * time.Second

// Run runs c and waits for it (bounded by c.Timeout). The error is nil
// only when the script exited with status 0.
func Run(ctx context.Context, c Command) (Result, error) {
	res := Result{ExitCode: -1}
	exe, err := exec.LookPath(c.Path)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", gate, exe}, c.Args...)...)
	cmd.Env = append(baseEnv(), c.Env...)
	cmd.Dir = "/"
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so a timeout kills what the script started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	tieToServer(cmd.SysProcAttr)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = killGrace

	// Linux sends the parent-death signal when the thread that started the
	// child ends, and a thread ends when a goroutine that locked it exits
	// still locked: held by this goroutine until the script is reaped, the
	// starting thread outlives the script.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	res.Process, err = startGated(cmd, c.Started)
	if err == nil {
		err = cmd.Wait()
	}
	res.Took = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.ExitCode = 0
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.TimedOut = true
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	}
	return res, err
}

// startGated starts cmd held at the gate, tells started, then opens the
// gate. When started fails, the gate closes unopened and the script is
// reaped without having run.
func startGated(cmd *exec.Cmd, started Started) (Process, error) {
	held, open, err := os.Pipe()
	if err != nil {
		return Process{}, err
	}
	defer open.Close()
	cmd.ExtraFiles = []*os.File{held}
	err = cmd.Start()
	held.Close() // the child has its own copy
	if err != nil {
		return Process{}, err
	}
	proc := Process{PGID: cmd.Process.Pid}
	if st, err := readStat(proc.PGID); err == nil {
		proc.StartTime = st.start
	}
	if started != nil {
		if err := started(proc); err != nil {
			open.Close()
			cmd.Wait()
			return Process{}, fmt.Errorf("recording the script's process: %w", err)
		}
	}
	if _, err := open.Write([]byte("\n")); err != nil {
		cmd.Wait()
		return Process{}, fmt.Errorf("starting the script: %w", err)
	}
	return proc, nil
}

// baseEnv is a clean environment: PATH and the C locale, nothing of the
// server's own (which may hold cloud credentials).
func baseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return []string{"PATH=" + path, "LC_ALL=C"}
}

// limitedBuffer keeps the first MaxOutput bytes written to it and discards
// the rest, so a chatty script cannot fill the server's memory.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := MaxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
