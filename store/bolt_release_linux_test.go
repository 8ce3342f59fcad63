package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// mappedKB is how much of the file at path the process has mapped in
// (Rss of its mappings in /proc/self/smaps), in kB.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			in = len(fields) == 6 && fields[5] == path // a mapping's header line
		case in && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// ReleasePages unmaps what the reads mapped in (RSS counts the file's
// pages a reader touched) and loses nothing: the next read sees the same
// values.
func TestBoltReleasePages(t *testing.T) {
	s, path := openTemp(t)
	value := bytes.Repeat([]byte("x"), 1000)
	err := s.Update(func(tx Tx) error {
		for i := range 4000 {
			if err := tx.Put(BucketInstances, fmt.Sprintf("alice/i-%05d", i), value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readAll := func() int {
		n := 0
		if err := s.View(func(tx Tx) error {
			return tx.Scan(BucketInstances, "", func(_ string, v []byte) error {
				if !bytes.Equal(v, value) {
					return fmt.Errorf("got a value of %d bytes, want the %d written", len(v), len(value))
				}
				n++
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	readAll()
	if got := mappedKB(t, path); got < 3000 {
		t.Fatalf("mapped after reading 4 MB: got %d kB, want at least 3000", got)
	}
	if err := s.ReleasePages(); err != nil {
		t.Fatal(err)
	}
	if got := mappedKB(t, path); got > 64 {
		t.Errorf("mapped after ReleasePages: got %d kB, want at most 64", got)
	}
	if got := readAll(); got != 4000 {
		t.Errorf("values read after ReleasePages: got %d, want 4000", got)
	}
}
