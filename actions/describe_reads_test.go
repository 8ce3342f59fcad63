package actions

import (
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/conf"
	"github.com/econe/econe-server/quota"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
	"github.com/rs/zerolog"
)

// A describe reads the keys it knows together (Tx.GetMany: one round trip
// on PostgreSQL), not one Get per instance, machine or volume.
func TestDescribeReadsKeysTogether(t *testing.T) {
	const n = 12 // more than fewInstances
	cfg := conf.Default()
	cfg.Quota.MaxInstances, cfg.Quota.MaxVCPUs = quota.Int(n), quota.Int(4*n)
	clock := newManualClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	counted := &readSpy{Store: openTestStore(t)}
	e := &testEnv{
		svc: &Service{Config: cfg, Store: counted, Backend: backend.Discover(openTestSim(t, cfg, counted, clock)),
			Templates: templates.Default(), Clock: clock.Now, Log: zerolog.Nop()},
		users: testUsers(),
	}
	ids := launch(t, e, "alice", "MinCount", strconv.Itoa(n), "MaxCount", strconv.Itoa(n))
	e.mustCall(t, "alice", "CreateTags", "ResourceId.1", ids[3], "Tag.1.Key", "Name", "Tag.1.Value", "web")
	clock.Advance(time.Minute)
	e.mustCall(t, "alice", "DescribeInstances") // records the boots
	byID := func(ids []string) []string {
		var kv []string
		for i, id := range ids {
			kv = append(kv, "InstanceId."+strconv.Itoa(i+1), id)
		}
		return kv
	}
	cases := []struct {
		name  string
		kv    []string
		insts int
	}{
		{"all", nil, n},
		{"one by id", byID(ids[3:4]), 1},
		{"all by id", byID(ids), n},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := counted.gets.Load()
			resp := e.mustCall(t, "alice", "DescribeInstances", c.kv...).(*describeInstancesResponse)
			if got := counted.gets.Load() - before; got != 0 {
				t.Errorf("got %d single-key Gets, want 0 (GetMany)", got)
			}
			got, tagged := 0, 0
			for _, r := range resp.Reservations {
				for _, inst := range r.Instances {
					got++
					if inst.State.Name != "running" {
						t.Errorf("%s: got state %s, want running", inst.InstanceID, inst.State.Name)
					}
					if len(inst.Tags.list()) > 0 {
						tagged++
					}
				}
			}
			if got != c.insts || tagged != 1 {
				t.Errorf("got %d instances, %d tagged; want %d, 1", got, tagged, c.insts)
			}
		})
	}
}

// prefetchRecorder records, per Update, every Get and whether its key was
// prefetched, and every Create and whether it wrote its key.
type prefetchRecorder struct {
	store.Store
	mu      sync.Mutex
	gets    []recordedGet
	creates []recordedCreate
}

type recordedGet struct {
	store.Ref
	hinted bool
}

type recordedCreate struct {
	store.Ref
	created bool   // false: the key was there
	holder  string // then, its value
}

func (p *prefetchRecorder) Update(fn func(store.Tx) error) error {
	return p.Store.Update(func(tx store.Tx) error {
		return fn(&prefetchTx{Tx: tx, p: p, hinted: map[store.Ref]bool{}})
	})
}

type prefetchTx struct {
	store.Tx
	p      *prefetchRecorder
	hinted map[store.Ref]bool
}

func (t *prefetchTx) Prefetch(refs []store.Ref) {
	for _, r := range refs {
		t.hinted[r] = true
	}
}

func (t *prefetchTx) Create(b store.Bucket, key string, value []byte) (bool, error) {
	created, err := store.Create(t.Tx, b, key, value)
	c := recordedCreate{Ref: store.Ref{Bucket: b, Key: key}, created: created}
	if !created {
		c.holder = string(t.Tx.Get(b, key))
	}
	t.p.mu.Lock()
	t.p.creates = append(t.p.creates, c)
	t.p.mu.Unlock()
	return created, err
}

func (t *prefetchTx) Get(b store.Bucket, key string) []byte {
	r := store.Ref{Bucket: b, Key: key}
	t.p.mu.Lock()
	t.p.gets = append(t.p.gets, recordedGet{r, t.hinted[r]})
	t.p.mu.Unlock()
	return t.Tx.Get(b, key)
}

// A launch names the keys it will read that it knows beforehand (its
// ClientToken's, the quotas and counters, the default VPC, group and
// subnet) in one Prefetch: on PostgreSQL one round trip instead of one
// each. What it makes of new ids (volumes, the sim's machines, open usage
// intervals) it does not read at all, and the keys it claims (the
// ClientToken's instance, the sim's address, the launch pool's) it
// creates: on PostgreSQL the read of an absent key locks the index page
// where concurrent launches insert theirs, and both are aborted (40001).
func TestLaunchPrefetches(t *testing.T) {
	cfg := conf.Default()
	clock := newManualClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	rec := &prefetchRecorder{Store: openTestStore(t)}
	e := &testEnv{
		svc: &Service{Config: cfg, Store: rec, Backend: backend.Discover(openTestSim(t, cfg, rec, clock)),
			Templates: templates.Default(), Clock: clock.Now, Log: zerolog.Nop()},
		users: testUsers(),
	}
	launch(t, e, "carol", "ClientToken", "warm-up") // the default VPC
	rec.gets, rec.creates = nil, nil
	launch(t, e, "carol", "ClientToken", "t1", "MinCount", "2", "MaxCount", "2")
	claimed := func(r store.Ref) bool { // a key a launch claims
		return r.Bucket == store.BucketLaunchAddresses || r.Bucket == store.BucketBackends && strings.Contains(r.Key, "/ip/") ||
			r.Bucket == store.BucketInstances
	}
	// An address search starts at random, and may meet one that another
	// instance holds (the warm-up's, or the other's of the two): that
	// Create finds it taken, only then are it and its holder's machine
	// read (is the holder terminated?), and the search goes on.
	won, taken, holders := 0, map[store.Ref]bool{}, map[string]bool{}
	for _, c := range rec.creates {
		switch {
		case !claimed(c.Ref):
		case c.created:
			won++
		default:
			taken[c.Ref], holders[c.holder] = true, true
		}
	}
	for _, g := range rec.gets {
		switch {
		case g.Bucket == store.BucketVolumes, g.Bucket == store.BucketUsageOpen,
			g.Bucket == store.BucketBackends && strings.Contains(g.Key, "/machine/") && !holders[path.Base(g.Key)]:
			t.Errorf("got a Get of %s %q, want none: a launch makes it of a new id", g.Bucket, g.Key)
		case claimed(g.Ref) && !taken[g.Ref]:
			t.Errorf("got a Get of %s %q, want it created (store.Create)", g.Bucket, g.Key)
		case g.hinted:
		case g.Bucket == store.BucketQuotas, g.Bucket == store.BucketCounters, g.Bucket == store.BucketIdempotency,
			g.Bucket == store.BucketVPCs, g.Bucket == store.BucketSubnets,
			g.Bucket == store.BucketSecurityGroupNames, g.Bucket == store.BucketSecurityGroups:
			t.Errorf("got a Get of %s %q not prefetched, want it in the launch's Prefetch", g.Bucket, g.Key)
		}
	}
	if won != 5 {
		t.Errorf("got %d keys created (%v), want 5: the token's instance, a private and a launch address each", won, rec.creates)
	}
}
