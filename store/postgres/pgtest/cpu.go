package pgtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// CPU is the CPU time (user and system) used so far by the cluster's
// processes alive now: the postmaster and its children (one backend per
// connection, the background workers). A backend that ended took its time
// along, so measure over a span in which connections are kept (a pool).
func (s *Server) CPU() time.Duration {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	root := s.cmd.Process.Pid
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid … utime(14) stime(15); comm may hold spaces.
		end := bytes.LastIndexByte(raw, ')')
		if end < 0 {
			continue
		}
		pid, _ := strconv.Atoi(string(bytes.TrimSpace(raw[:bytes.IndexByte(raw, '(')])))
		f := bytes.Fields(raw[end+1:])
		if len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(string(f[1])); pid != root && ppid != root {
			continue
		}
		utime, _ := strconv.ParseInt(string(f[11]), 10, 64)
		stime, _ := strconv.ParseInt(string(f[12]), 10, 64)
		ticks += utime + stime
	}
	return time.Duration(ticks) * clockTick
}
