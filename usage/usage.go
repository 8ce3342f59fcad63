// Package usage is the ledger of what each instance used: the intervals it
// ran, and the intervals it sat stopped where its type prices storage. The
// instance transition (actions/transition.go) opens and closes intervals in
// the same transaction as the state change; the reconciliation with the
// backend keeps each open interval's last-seen time, so an instance that
// vanishes is closed when it was last seen rather than left accruing.
//
// Money is integer micro-dollars and time whole seconds: a report adds up
// exactly, whatever the order.
//
// usage sits below actions: it knows the store, never actions, the server
// or a backend.
package usage

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/econe/econe-server/store"
)

// Kinds of interval.
const (
	Running = "running" // pending, running, stopping, shutting-down: the machine is the student's
	Stopped = "stopped" // stopped, for types that price stopped storage
)

// Interval is one stretch of an instance in one kind, with the rate it
// was billed at when it opened (a template changed later does not reprice
// the past).
type Interval struct {
	// Owner, InstanceID and Start are the record's key: left out of the
	// value (older records have them) and read from the key (FromKey).
	Owner        string `json:"owner,omitempty"`
	InstanceID   string `json:"instance_id,omitempty"`
	Kind         string `json:"kind"`
	InstanceType string `json:"instance_type"`
	VCPUs        int    `json:"vcpus"`
	// MicrosPerHour is the price per hour in micro-dollars; MinSeconds the
	// least billed for the interval (EC2 bills a minute per start).
	MicrosPerHour int64     `json:"micros_per_hour,omitzero"`
	MinSeconds    int64     `json:"min_seconds,omitzero"`
	Start         time.Time `json:"start,omitzero"`
	// End is zero while the interval is open.
	End time.Time `json:"end,omitzero"`
	// LastSeen is when the backend last reported the machine (open
	// intervals only): where a vanished instance's interval ends.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// Micros converts a price in dollars to micro-dollars.
func Micros(dollars float64) int64 {
	if dollars <= 0 {
		return 0
	}
	return int64(dollars*1e6 + 0.5)
}

// key is OWNER/START/INSTANCE with START in fixed-width Unix nanoseconds,
// so a user's intervals are in start order and a time range is a key range.
func key(owner string, start time.Time, instanceID string) string {
	return fmt.Sprintf("%s%020d/%s", store.OwnerPrefix(owner), start.UnixNano(), instanceID)
}

// FromKey fills in what put leaves out of the record at key.
func (iv *Interval) FromKey(k string) {
	owner, rest, _ := strings.Cut(k, "/")
	start, id, _ := strings.Cut(rest, "/")
	nanos, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return // not a ledger key: the record says it all
	}
	iv.Owner, iv.InstanceID, iv.Start = owner, id, time.Unix(0, nanos).UTC()
}

// put writes iv at its key, without what the key says.
func put(tx store.Tx, iv *Interval) error {
	rec := *iv
	rec.Owner, rec.InstanceID, rec.Start = "", "", time.Time{}
	return store.PutJSON(tx, store.BucketUsageIntervals, key(iv.Owner, iv.Start, iv.InstanceID), &rec)
}

// Open records iv (End zero) as the instance's open interval, seen at its
// start. An instance has at most one open interval: the caller closes the
// previous one first.
func Open(tx store.Tx, iv Interval) error {
	if tx.Get(store.BucketUsageOpen, store.OwnedKey(iv.Owner, iv.InstanceID)) != nil {
		return fmt.Errorf("usage: %s already has an open interval", iv.InstanceID)
	}
	return OpenNew(tx, iv)
}

// OpenNew is Open for an instance being launched, which has no interval
// yet: it reads nothing. On PostgreSQL the read of an absent key locks
// the index page where it would be, and concurrent launches writing their
// own open intervals there then conflict with it.
func OpenNew(tx store.Tx, iv Interval) error {
	iv.End, iv.LastSeen = time.Time{}, iv.Start
	if err := put(tx, &iv); err != nil {
		return err
	}
	return tx.Put(store.BucketUsageOpen, store.OwnedKey(iv.Owner, iv.InstanceID), []byte(key(iv.Owner, iv.Start, iv.InstanceID)))
}

// OpenInterval is the instance's open interval; nil when none.
func OpenInterval(tx store.Tx, owner, instanceID string) (*Interval, error) {
	k := tx.Get(store.BucketUsageOpen, store.OwnedKey(owner, instanceID))
	if k == nil {
		return nil, nil
	}
	iv := new(Interval)
	found, err := store.GetJSON(tx, store.BucketUsageIntervals, string(k), iv)
	if err == nil && !found {
		err = fmt.Errorf("usage: open interval %s of %s is missing", k, instanceID)
	}
	return iv, err
}

// Close ends the instance's open interval at at (never before it
// started) and adds its cost to the owner's closed total; nothing happens
// when none is open.
func Close(tx store.Tx, owner, instanceID string, at time.Time) error {
	iv, err := OpenInterval(tx, owner, instanceID)
	if err != nil || iv == nil {
		return err
	}
	if at.Before(iv.Start) {
		at = iv.Start
	}
	iv.End, iv.LastSeen = at, time.Time{}
	if err := put(tx, iv); err != nil {
		return err
	}
	if err := addClosed(tx, iv); err != nil {
		return err
	}
	return tx.Delete(store.BucketUsageOpen, store.OwnedKey(owner, instanceID))
}

// Seen records that the backend reported the instance's machine at at.
func Seen(tx store.Tx, owner, instanceID string, at time.Time) error {
	iv, err := OpenInterval(tx, owner, instanceID)
	if err != nil || iv == nil || !at.After(iv.LastSeen) {
		return err
	}
	iv.LastSeen = at
	return put(tx, iv)
}

// Total is usage over a window. Seconds are whole seconds inside the
// window; CostMicros is rounded down once, from the exact sum.
type Total struct {
	InstanceSeconds int64 // running
	VCPUSeconds     int64 // running, times the instance's vCPUs
	StoppedSeconds  int64 // stopped, where priced
	CostMicros      int64
}

// Totals is one user's usage over a window, in all and by instance type.
type Totals struct {
	Total
	ByType map[string]Total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
