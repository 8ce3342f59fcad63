package backendtest

import (
	"errors"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
)

// RunVolumes runs the volume part of the suite, for backends that offer
// the optional backend.Volumes ability (it fails for one that does not:
// call it only for backends that should).
func RunVolumes(t *testing.T, newB NewBackend) {
	tests := []struct {
		name string
		fn   func(e *env, vb func() backend.Volumes)
	}{
		{"volume lifecycle", testVolumeLifecycle},
		{"attach needs a usable machine", testAttachStates},
		{"deletes are idempotent", testVolumeDeletesIdempotent},
		{"snapshots", testSnapshots},
		{"volumes after restart", testVolumesRestart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, newB)
			tt.fn(e, func() backend.Volumes {
				vb, ok := e.b.(backend.Volumes)
				if !ok {
					t.Fatalf("%T does not implement backend.Volumes", e.b)
				}
				return vb
			})
		})
	}
}

const (
	suiteVolume   = "vol-0123456789abcdef0"
	suiteSnapshot = "snap-0123456789abcdef0"
)

func suiteSpec() backend.VolumeSpec {
	return backend.VolumeSpec{VolumeID: suiteVolume, Owner: "suite", Zone: "us-east-1a", SizeGiB: 8, Type: "gp3", Iops: 3000}
}

// wantDone checks an operation's answer: accepted, and done no earlier
// than now and no later than Settle from now.
func (e *env) wantDone(op string, done time.Time, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", op, err)
	}
	now := e.clock.Now()
	if done.Before(now) || done.After(now.Add(Settle)) {
		e.t.Fatalf("%s: done at %s, want within [%s, %s]", op, done, now, now.Add(Settle))
	}
}

func testVolumeLifecycle(e *env, vb func() backend.Volumes) {
	m := e.run("i-0123456789abcdef0")
	e.settle()
	v := vb()
	done, err := v.CreateVolume(e.ctx, suiteSpec())
	e.wantDone("CreateVolume", done, err)
	e.settle()
	done, err = v.AttachVolume(e.ctx, suiteVolume, m.ID, "/dev/sdf")
	e.wantDone("AttachVolume", done, err)
	e.settle()
	grown := suiteSpec()
	grown.SizeGiB = 16
	done, err = v.ModifyVolume(e.ctx, grown)
	e.wantDone("ModifyVolume", done, err)
	done, err = v.DetachVolume(e.ctx, suiteVolume, m.ID, false)
	e.wantDone("DetachVolume", done, err)
	e.settle()
	done, err = v.DeleteVolume(e.ctx, suiteVolume)
	e.wantDone("DeleteVolume", done, err)
}

func testAttachStates(e *env, vb func() backend.Volumes) {
	m := e.run("i-0123456789abcdef1")
	e.settle()
	v := vb()
	if _, err := v.CreateVolume(e.ctx, suiteSpec()); err != nil {
		e.t.Fatalf("CreateVolume: %v", err)
	}
	e.settle()
	if _, err := e.b.Terminate(e.ctx, m.ID); err != nil {
		e.t.Fatalf("Terminate: %v", err)
	}
	e.settle()
	cases := []struct {
		name, machine string
	}{
		{"terminated machine", m.ID},
		{"unknown machine", "no-such-machine"},
	}
	for _, c := range cases {
		_, err := v.AttachVolume(e.ctx, suiteVolume, c.machine, "/dev/sdf")
		if !errors.Is(err, backend.ErrIncorrectState) && !errors.Is(err, backend.ErrNotFound) {
			e.t.Errorf("%s: AttachVolume error = %v, want ErrIncorrectState or ErrNotFound", c.name, err)
		}
	}
	// Terminating detaches: detaching from the terminated machine works.
	done, err := v.DetachVolume(e.ctx, suiteVolume, m.ID, true)
	e.wantDone("DetachVolume after terminate", done, err)
}

func testVolumeDeletesIdempotent(e *env, vb func() backend.Volumes) {
	v := vb()
	for i := 0; i < 2; i++ {
		if _, err := v.DeleteVolume(e.ctx, suiteVolume); err != nil {
			e.t.Errorf("DeleteVolume of an unknown id (#%d): %v, want success", i+1, err)
		}
		if err := v.DeleteSnapshot(e.ctx, suiteSnapshot); err != nil {
			e.t.Errorf("DeleteSnapshot of an unknown id (#%d): %v, want success", i+1, err)
		}
	}
}

func testSnapshots(e *env, vb func() backend.Volumes) {
	v := vb()
	if _, err := v.CreateVolume(e.ctx, suiteSpec()); err != nil {
		e.t.Fatalf("CreateVolume: %v", err)
	}
	e.settle()
	done, err := v.CreateSnapshot(e.ctx, suiteSnapshot, suiteVolume)
	e.wantDone("CreateSnapshot", done, err)
	e.settle()
	fromSnap := suiteSpec()
	fromSnap.VolumeID, fromSnap.SnapshotID = "vol-0123456789abcdef1", suiteSnapshot
	done, err = v.CreateVolume(e.ctx, fromSnap)
	e.wantDone("CreateVolume from a snapshot", done, err)
	if err := v.DeleteSnapshot(e.ctx, suiteSnapshot); err != nil {
		e.t.Fatalf("DeleteSnapshot: %v", err)
	}
}

// testVolumesRestart attaches and detaches, after a restart, a volume and
// a machine created before it.
func testVolumesRestart(e *env, vb func() backend.Volumes) {
	m := e.run("i-0123456789abcdef2")
	e.settle()
	if _, err := vb().CreateVolume(e.ctx, suiteSpec()); err != nil {
		e.t.Fatalf("CreateVolume: %v", err)
	}
	e.reopen()
	e.settle()
	done, err := vb().AttachVolume(e.ctx, suiteVolume, m.ID, "/dev/sdf")
	e.wantDone("AttachVolume after restart", done, err)
	e.settle()
	done, err = vb().DetachVolume(e.ctx, suiteVolume, m.ID, false)
	e.wantDone("DetachVolume after restart", done, err)
}
