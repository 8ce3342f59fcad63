package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Every write transaction reaches the observer with its batch size and
// outcome; a failing update is retried alone and observed as a batch of one.
func TestCommitObserverSeesEveryTransaction(t *testing.T) {
	s, _ := openTemp(t)
	var seen []string
	s.ObserveCommits(func(batch int, _ time.Duration, err error) {
		seen = append(seen, fmt.Sprintf("%d:%v", batch, err == nil))
	})
	if err := ProbeWrite(s, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	if err := s.Update(func(Tx) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("got %v, want the update's own error", err)
	}
	// The failing update fails its batch (of one) and then fails alone.
	if got, want := fmt.Sprint(seen), "[1:true 1:false 1:false]"; got != want {
		t.Errorf("got commits %s, want %s", got, want)
	}
}

func TestProbeWriteFailsOnClosedStore(t *testing.T) {
	s, _ := openTemp(t)
	if err := ProbeWrite(s, time.Now()); err != nil {
		t.Fatalf("got %v on an open store, want nil", err)
	}
	s.Close()
	if err := ProbeWrite(s, time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("got %v on a closed store, want ErrClosed", err)
	}
}
