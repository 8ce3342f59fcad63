package scriptrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Process is a running script as an intent records it, so that a server
// restarted after a crash can stop what the crash orphaned: the script's
// process group (the script leads it, so its id is the script's pid) and
// the start time of that pid, which tells the script from a later process
// given the same number.
type Process struct {
	PGID      int
	StartTime uint64 // clock ticks after boot, /proc/PID/stat field 22; 0 when unknown
}

// Started is told about a script's process once it exists and before it
// runs any of its code; an error stops the script before it starts and
// fails the call. Callers record the process (e.g. in an intent) here.
type Started func(Process) error

// stopPoll is how often StopGroup looks whether the killed group is gone.
const stopPoll = 10 * time.Millisecond

// StopGroup kills what is left of a script's process group, started by an
// earlier run of the server, and returns once none of it runs (or ctx
// ends). It does nothing when the group is gone, or when the number now
// belongs to processes that are not the script's: the leader's start time
// differs, or a member started before the script did.
func StopGroup(ctx context.Context, p Process) error {
	if p.PGID <= 1 || p.StartTime == 0 {
		return nil // not a script's group, or it cannot be told from another
	}
	for {
		members, err := groupMembers(p.PGID)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return nil
		}
		for pid, start := range members {
			if start < p.StartTime || (pid == p.PGID && start != p.StartTime) {
				return nil // pid reuse: not the script's group
			}
		}
		if err := syscall.Kill(-p.PGID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing process group %d: %w", p.PGID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process group %d still runs: %w", p.PGID, ctx.Err())
		case <-time.After(stopPoll):
		}
	}
}

// groupMembers maps the live (not zombie) processes of group pgid to their
// start times.
func groupMembers(pgid int) (map[int]uint64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("cannot list processes: %w", err)
	}
	members := map[int]uint64{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid || st.state == 'Z' {
			continue // gone meanwhile, or not a member
		}
		members[pid] = st.start
	}
	return members, nil
}

// procStat is what is used here of /proc/PID/stat.
type procStat struct {
	state byte
	pgrp  int
	start uint64
}

func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	// The fields follow the parenthesised command name, which may hold
	// spaces and parentheses: count from the last ')'. fields[0] is field 3.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := bytes.Fields(raw[i+1:])
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	pgrp, err1 := strconv.Atoi(string(fields[2]))
	start, err2 := strconv.ParseUint(string(fields[19]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return procStat{state: fields[0][0], pgrp: pgrp, start: start}, nil
}
