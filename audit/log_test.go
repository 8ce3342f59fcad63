package audit

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/econe/econe-server/ec2err"
	"github.com/rs/zerolog"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openLog(t *testing.T, dir string, maxBytes int64, maxFiles int) *Log {
	t.Helper()
	l, err := Open(Options{Dir: dir, MaxFileBytes: maxBytes, MaxFiles: maxFiles, Clock: func() time.Time { return testNow }, Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func readAll(t *testing.T, dir string) []Entry {
	t.Helper()
	entries, bad, err := Read(dir)
	if err != nil || bad != 0 {
		t.Fatalf("Read: got %d bad lines, error %v; want none", bad, err)
	}
	return entries
}

// Concurrent writers share fsyncs; every entry arrives whole, once.
func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 0, 0)
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Write(&Entry{Phase: PhaseRequest, RequestID: fmt.Sprint(i), User: "alice", Action: "RunInstances"}); err != nil {
				t.Errorf("Write %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, e := range readAll(t, dir) {
		seen[e.RequestID] = true
	}
	if len(seen) != n {
		t.Errorf("got %d distinct entries, want %d", len(seen), n)
	}
}

// The current file is rotated by size, rotated files are read in order
// (and across a restart the numbering continues), and max_files prunes
// the oldest.
func TestRotation(t *testing.T) {
	line := func(i int) *Entry {
		return &Entry{Phase: PhaseRequest, RequestID: fmt.Sprintf("r%03d", i), User: "alice", Action: "CreateTags"}
	}
	probe, _ := (&Entry{Time: testNow, Phase: PhaseRequest, RequestID: "r000", User: "alice", Action: "CreateTags"}).marshal()
	size := int64(len(probe))
	tests := []struct {
		name      string
		maxFiles  int
		writes    int
		wantFiles []string
		wantFirst string
	}{
		{"keep all", 0, 7, []string{"audit-000001.log", "audit-000002.log", "audit-000003.log", "audit.log"}, "r000"},
		{"keep two", 2, 7, []string{"audit-000002.log", "audit-000003.log", "audit.log"}, "r002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 2*size, tt.maxFiles) // two entries a file
			for i := range 3 {
				if err := l.Write(line(i)); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			l = openLog(t, dir, 2*size, tt.maxFiles)
			for i := 3; i < tt.writes; i++ {
				if err := l.Write(line(i)); err != nil {
					t.Fatal(err)
				}
			}
			ents, _ := os.ReadDir(dir)
			var files []string
			for _, e := range ents {
				files = append(files, e.Name())
			}
			if !slices.Equal(files, tt.wantFiles) {
				t.Errorf("files: got %v, want %v", files, tt.wantFiles)
			}
			entries := readAll(t, dir)
			var ids []string
			for _, e := range entries {
				ids = append(ids, e.RequestID)
			}
			if !slices.IsSorted(ids) || ids[0] != tt.wantFirst || ids[len(ids)-1] != fmt.Sprintf("r%03d", tt.writes-1) {
				t.Errorf("entries: got %v, want r%03d in order from %s", ids, tt.writes-1, tt.wantFirst)
			}
		})
	}
}

// fullDisk points the current file at /dev/full, where every write fails
// with ENOSPC, even for root (tests run as root: permissions stop nothing).
func fullDisk(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "audit.log")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
}

// A request whose entry cannot be written is refused with InternalError
// saying auditing failed; the log recovers once the disk does.
func TestBeginFailsClosed(t *testing.T) {
	dir := t.TempDir()
	fullDisk(t, dir)
	l := openLog(t, dir, 0, 0)
	call, err := l.Begin("r1", "alice", "AKIA1", "127.0.0.1:5", "CreateKeyPair", url.Values{"KeyName": {"k"}})
	if call != nil || !ec2err.Is(err, ec2err.InternalError) || !strings.Contains(ec2err.As(err).Detail, syscall.ENOSPC.Error()) {
		t.Fatalf("Begin on a full disk: got %v, %v; want InternalError with ENOSPC in its detail", call, err)
	}
	if msg := ec2err.As(err).Message; !strings.Contains(msg, "auditing failed") {
		t.Errorf("message: got %q, want it to say auditing failed", msg)
	}
	if err := os.Remove(filepath.Join(dir, "audit.log")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Begin("r2", "alice", "AKIA1", "127.0.0.1:5", "CreateKeyPair", nil); err != nil {
		t.Fatalf("Begin once the disk has room: got %v, want success", err)
	}
	if got := readAll(t, dir); len(got) != 1 || got[0].RequestID != "r2" {
		t.Errorf("entries: got %+v, want only r2", got)
	}
}

// Start returns before the request entry is written; Wait then says, as
// often as it is asked, whether it was: on a full disk it refuses the
// request as Begin would, and once the disk has room the entry is in the
// log when Wait returns.
func TestStartThenWait(t *testing.T) {
	for _, tc := range []struct {
		name     string
		full     bool
		wantCode string // "" for none
	}{
		{"disk with room", false, ""},
		{"full disk", true, ec2err.InternalError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.full {
				fullDisk(t, dir)
			}
			l := openLog(t, dir, 0, 0)
			call, err := l.Start("r1", "alice", "AKIA1", "127.0.0.1:5", "RunInstances", url.Values{"ImageId": {"ami-1"}})
			if call == nil || err != nil {
				t.Fatalf("Start: got %v, %v; want a call and no error (the write is not waited for)", call, err)
			}
			for try := 1; try <= 2; try++ {
				err := call.Wait()
				got := ""
				if err != nil {
					got = ec2err.As(err).Code
				}
				if got != tc.wantCode || (err != nil && !strings.Contains(ec2err.As(err).Message, "auditing failed")) {
					t.Errorf("Wait %d: got %v, want code %q", try, err, tc.wantCode)
				}
			}
			if tc.full {
				return
			}
			if got := readAll(t, dir); len(got) != 1 || got[0].RequestID != "r1" || got[0].Phase != PhaseRequest {
				t.Errorf("entries after Wait: got %+v, want r1's request entry", got)
			}
		})
	}
	var none *Call
	if err := none.Wait(); err != nil {
		t.Errorf("Wait of a nil Call (nothing to record): got %v, want nil", err)
	}
}

// Read-only actions are not recorded; Begin says so with a nil Call.
func TestBeginSkipsReadOnly(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 0, 0)
	call, err := l.Begin("r1", "alice", "AKIA1", "", "DescribeInstances", nil)
	call.End(nil, nil)
	if call != nil || err != nil {
		t.Fatalf("Begin(DescribeInstances): got %v, %v; want nil, nil", call, err)
	}
	if got := readAll(t, dir); len(got) != 0 {
		t.Errorf("entries: got %+v, want none", got)
	}
}
