package scriptrun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runs reports whether pid is a live process (a zombie has stopped).
func runs(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}

// waitGone waits, bounded by a generous deadline, until pid stops.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); runs(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs, want it killed", pid)
		}
	}
}

// killGroupAtEnd stops a test's leftover process group by its id.
func killGroupAtEnd(t *testing.T, pgid int) {
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
}

func TestScriptIsHeldUntilStartedReturns(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	path := writeScript(t, dir, "script.sh", "touch "+ran+"\n")
	cases := []struct {
		name    string
		refuse  error
		wantRan bool
	}{
		{"recorded", nil, true},
		{"recording fails", errors.New("store closed"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(ran)
			var got Process
			_, err := Run(context.Background(), Command{Path: path, Timeout: 10 * time.Second, Started: func(p Process) error {
				got = p
				// Held at the gate: the script has not run a line yet.
				if _, err := os.Stat(ran); err == nil {
					t.Errorf("got the script running before its process was recorded, want it held")
				}
				st, err := readStat(p.PGID)
				if err != nil || st.pgrp != p.PGID || st.start != p.StartTime {
					t.Errorf("got process %+v, /proc says %+v (%v); want the leader of its own group with that start time", p, st, err)
				}
				return c.refuse
			}})
			if (err == nil) != (c.refuse == nil) {
				t.Errorf("got %v, want an error exactly when recording fails", err)
			}
			if _, serr := os.Stat(ran); (serr == nil) != c.wantRan {
				t.Errorf("got script ran %v, want %v", serr == nil, c.wantRan)
			}
			if got.PGID == 0 || runs(got.PGID) {
				t.Errorf("got process %+v still running after the call, want it reaped", got)
			}
		})
	}
}

// startGroup starts `sh -c body` as the leader of a new process group and
// returns it with its start time; the group is killed when the test ends.
func startGroup(t *testing.T, body string) Process {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", body)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killGroupAtEnd(t, cmd.Process.Pid)
	go cmd.Wait() // reap it, as init would an orphan
	st, err := readStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return Process{PGID: cmd.Process.Pid, StartTime: st.start}
}

func TestStopGroup(t *testing.T) {
	cases := []struct {
		name     string
		record   func(p Process) Process // what the intent says of the real group
		wantKill bool
	}{
		{"the script's group", func(p Process) Process { return p }, true},
		{"pid reused by a later process", func(p Process) Process { p.StartTime--; return p }, false},
		{"group older than the script", func(p Process) Process { p.StartTime++; return p }, false},
		{"start time unknown", func(p Process) Process { p.StartTime = 0; return p }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			// A leader and a child that outlives it if only the leader dies.
			p := startGroup(t, "sleep 600 & echo $! > "+filepath.Join(dir, "child")+"; wait")
			child := readPID(t, filepath.Join(dir, "child"))
			if err := StopGroup(context.Background(), c.record(p)); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if c.wantKill {
				if runs(p.PGID) || runs(child) {
					t.Errorf("got leader running %v, child running %v after StopGroup, want the whole group gone", runs(p.PGID), runs(child))
				}
				return
			}
			if !runs(p.PGID) || !runs(child) {
				t.Errorf("got leader running %v, child running %v, want a group that is not the script's left alone", runs(p.PGID), runs(child))
			}
		})
	}
	if err := StopGroup(context.Background(), Process{PGID: 4194305, StartTime: 1}); err != nil {
		t.Errorf("got %v for a group that is gone, want nil", err)
	}
}

// readPID waits for a pid file a test's script writes.
func readPID(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		raw, err := os.ReadFile(path)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && perr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held a pid", path)
		}
	}
}

// The server side of TestScriptDiesWithServer: runs a script that would
// hang for ten minutes and prints its process group.
const serverHelperEnv = "ECONE_SCRIPTRUN_SERVER_HELPER"

func TestScriptServerHelper(t *testing.T) {
	path := os.Getenv(serverHelperEnv)
	if path == "" {
		t.Skip("helper process for TestScriptDiesWithServer")
	}
	Run(context.Background(), Command{Path: path, Timeout: time.Hour, Started: func(p Process) error {
		fmt.Println(p.PGID)
		return nil
	}})
}

func TestScriptDiesWithServer(t *testing.T) {
	path := writeScript(t, t.TempDir(), "script.sh", "exec sleep 600\n")
	server := exec.Command(os.Args[0], "-test.run=^TestScriptServerHelper$")
	server.Env = append(os.Environ(), serverHelperEnv+"="+path)
	out, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	pgid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("server helper said %q (%v), want the script's process group", line, err)
	}
	killGroupAtEnd(t, pgid)
	server.Process.Kill() // SIGKILL: the server gets no chance to clean up
	server.Wait()
	waitGone(t, pgid)
}
