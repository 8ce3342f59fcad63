package store

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// An update that queues while a batch waits for its conditions joins that
// batch's transaction instead of paying a commit of its own; one whose
// condition fails is left out, and the batch commits without it.
func TestLateUpdateJoinsTheWaitingBatch(t *testing.T) {
	refused := errors.New("audit failed")
	for _, tc := range []struct {
		name    string
		lateErr error  // the late update's condition
		want    string // the transactions' batch sizes and outcomes
	}{
		{"late plain update", nil, "[2:true]"},
		{"late update whose condition fails", refused, "[2:false 1:true]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			var commits []string
			s.ObserveCommits(func(batch int, _ time.Duration, err error) {
				commits = append(commits, fmt.Sprintf("%d:%v", batch, err == nil))
			})
			waiting, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			errs := make([]error, 2)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs[0] = s.UpdateAfter(func() error {
					once.Do(func() { close(waiting) })
					<-release
					return nil
				}, func(tx Tx) error { return tx.Put(BucketMeta, "first", []byte("1")) })
			}()
			<-waiting
			go func() {
				defer wg.Done()
				errs[1] = s.UpdateAfter(func() error { return tc.lateErr },
					func(tx Tx) error { return tx.Put(BucketMeta, "late", []byte("1")) })
			}()
			for queued := 0; queued == 0; runtime.Gosched() {
				s.commits.mu.Lock()
				queued = len(s.commits.pending)
				s.commits.mu.Unlock()
			}
			close(release)
			wg.Wait()
			if errs[0] != nil || errs[1] != tc.lateErr {
				t.Errorf("got errors %v, %v; want nil, %v", errs[0], errs[1], tc.lateErr)
			}
			if got := fmt.Sprint(commits); got != tc.want {
				t.Errorf("got commits %s, want %s", got, tc.want)
			}
			err := s.View(func(tx Tx) error {
				if got, want := tx.Get(BucketMeta, "late") != nil, tc.lateErr == nil; got != want {
					t.Errorf("got the late update committed %v, want %v", got, want)
				}
				if tx.Get(BucketMeta, "first") == nil {
					t.Errorf("got the first update not committed, want it committed")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
