package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// newDetached prepares exe as a daemon: its own session (no terminal, no
// SIGHUP from ours), stdin /dev/null, output to log, report pipe as fd 3.
func newDetached(exe string, args []string, log, report *os.File) *exec.Cmd {
	c := exec.Command(exe, args...)
	c.Stdout, c.Stderr = log, log
	c.ExtraFiles = []*os.File{report}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return c
}

// alive reports whether pid is a live process. A zombie counts as gone:
// the server has exited, and in containers nobody may reap it.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name, which may hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func readPID(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s does not hold a pid", path)
	}
	return pid, nil
}

// writePID writes our pid atomically, so a reader never sees half a file.
func writePID(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removePID removes the pid file if it is still ours.
func removePID(path string) {
	if pid, err := readPID(path); err == nil && pid == os.Getpid() {
		os.Remove(path)
	}
}

// logTail is the last lines the server wrote to its log from offset on.
func logTail(path string, offset int64) string {
	const maxLines = 15
	raw, err := os.ReadFile(path)
	if err != nil || offset > int64(len(raw)) {
		return "(log unreadable)"
	}
	lines := strings.Split(strings.TrimRight(string(raw[offset:]), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}
