package usage

import (
	"fmt"
	"time"

	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
)

// closedTotal is an owner's running total of their closed intervals
// (bucket usage_closed), kept by Close in the transaction that closes
// each, so that Spent reads it and the owner's few open intervals instead
// of their whole history.
type closedTotal struct {
	// Cost is in micro-dollar-seconds per hour (micro-dollars × 3600),
	// unrounded, so that Spent rounds once, as Sum does.
	Cost int64 `json:"cost"`
	// Through is the latest end of a closed interval: the total is what
	// Sum counts for them at any time after it.
	Through time.Time `json:"through"`
}

// billed is the whole seconds iv ran (End set) and the extra seconds its
// minimum adds.
func (iv *Interval) billed() (full, extra int64) {
	full = int64(iv.End.Sub(iv.Start) / time.Second)
	return full, max(iv.MinSeconds-full, 0)
}

// cost is what iv (End set) costs in all, in micro-dollar-seconds per hour.
func (iv *Interval) cost() int64 {
	full, extra := iv.billed()
	return (full + extra) * iv.MicrosPerHour
}

func getClosed(tx store.Tx, owner string) (closedTotal, error) {
	var c closedTotal
	_, err := store.GetJSON(tx, store.BucketUsageClosed, owner, &c)
	return c, err
}

// addClosed adds the closed interval iv to its owner's total.
func addClosed(tx store.Tx, iv *Interval) error {
	c, err := getClosed(tx, iv.Owner)
	if err != nil {
		return err
	}
	c.Cost += iv.cost()
	if iv.End.After(c.Through) {
		c.Through = iv.End
	}
	return store.PutJSON(tx, store.BucketUsageClosed, iv.Owner, c)
}

// RecountClosed computes every owner's closed total from the ledger, in
// one pass: the schema migration to version 4 (store.Migrate) writes it
// for a data directory that has a ledger but no totals.
func RecountClosed(tx store.Tx) error {
	totals := map[string]closedTotal{}
	if err := store.ScanJSON(tx, store.BucketUsageIntervals, "", func(_ string, iv *Interval) error {
		if iv.End.IsZero() {
			return nil
		}
		c := totals[iv.Owner]
		c.Cost += iv.cost()
		if iv.End.After(c.Through) {
			c.Through = iv.End
		}
		totals[iv.Owner] = c
		return nil
	}); err != nil {
		return err
	}
	for owner, c := range totals {
		if err := store.PutJSON(tx, store.BucketUsageClosed, owner, c); err != nil {
			return err
		}
	}
	return nil
}

// Spent is what owner's usage has cost up to now, in a budget's units:
// the one place a budget's "spent" is computed (quota checks and the
// guardrails' budget stop both read it). It equals
// Sum(tx, owner, time.Time{}, now, now).CostMicros: the closed intervals'
// running total plus the open ones up to now, read through their index.
// Only when now is not after the latest close (a clock behind the
// ledger's) does the total include time Sum leaves out, and Spent sums
// the ledger instead.
func Spent(tx store.Tx, owner string, now time.Time) (quota.Money, error) {
	closed, err := getClosed(tx, owner)
	if err != nil {
		return 0, err
	}
	if !now.After(closed.Through) {
		t, err := Sum(tx, owner, time.Time{}, now, now)
		return quota.Money(t.CostMicros), err
	}
	acc := newAccumulator(owner, Window{Until: now})
	err = tx.Scan(store.BucketUsageOpen, store.OwnerPrefix(owner), func(_ string, k []byte) error {
		iv := new(Interval)
		found, err := store.GetJSON(tx, store.BucketUsageIntervals, string(k), iv)
		if err == nil && !found {
			err = fmt.Errorf("usage: open interval %s is missing", k)
		}
		if err != nil {
			return err
		}
		iv.End = now
		acc.add(iv)
		return nil
	})
	return quota.Money((closed.Cost + acc.cost()) / 3600), err
}
