package store_test

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/store/storetest"
)

// TestBoltConformance runs the store contract's suite on bbolt. Reopen
// copies the file, open or not, as a process started after a kill would
// find it.
func TestBoltConformance(t *testing.T) {
	var mu sync.Mutex
	paths := map[store.Store]string{}
	openAt := func(t *testing.T, path string) store.Store {
		st, err := store.OpenBolt(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		paths[st] = path
		mu.Unlock()
		return st
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Store { return openAt(t, filepath.Join(t.TempDir(), "econe.db")) },
		Reopen: func(t *testing.T, st store.Store) store.Store {
			mu.Lock()
			from := paths[st]
			mu.Unlock()
			to := filepath.Join(t.TempDir(), "econe.db")
			if err := copyFile(from, to); err != nil {
				t.Fatal(err)
			}
			return openAt(t, to)
		},
		Retries: true,
	})
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
