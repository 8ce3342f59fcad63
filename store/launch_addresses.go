package store

// Launch addresses are the public IPv4 addresses instances get at launch
// (and at each start), from the configured elastic_ips.launch_pool. The
// pool is configuration; the bucket holds only the addresses taken,
// keyed by address, so an address is free exactly when its key is absent
// and concurrent launches that try different addresses write different
// keys. An address is held from the transition that gives it to an
// instance until the one that takes it back, and beyond that while its
// disassociation (an intent keyed LaunchIntentKey) is still owed.

// LaunchAddress is who holds a launch address.
type LaunchAddress struct {
	Owner      string `json:"owner"`
	InstanceID string `json:"instance_id"`
}

// LaunchIntentKey is the key in address_intents of a launch address's
// intent (elastic IPs' are their allocation ids).
func LaunchIntentKey(ip string) string { return "launch/" + ip }

// GetLaunchAddress returns who holds ip; nil when it is free.
func GetLaunchAddress(tx Tx, ip string) (*LaunchAddress, error) {
	a := new(LaunchAddress)
	found, err := GetJSON(tx, BucketLaunchAddresses, ip, a)
	if err != nil || !found {
		return nil, err
	}
	return a, nil
}

// launchProbes is how many addresses from its start a claim tries one by
// one before it reads the taken ones whole.
const launchProbes = 4

// ClaimLaunchAddress gives inst a free address of pool, sorted bytewise,
// and returns it; "" when every one is taken. It creates the first free
// one of the launchProbes from start (store.Create: on PostgreSQL no
// predicate lock where concurrent launches claim theirs), and when those
// are taken reads the taken ones in one Scan, where trying address by
// address read up to all of the pool, one round trip each on PostgreSQL,
// once it was nearly full. The Scan, in key order, walks the sorted pool
// alongside: it gives the first free address after the probes (the first
// from the pool's start when none is) and stops there, without keeping
// the taken ones. Only a transaction that sees every address freed
// (fullPools: bbolt, written by one process) remembers that the pool is
// full; on PostgreSQL another replica's stop frees an address unseen.
func ClaimLaunchAddress(tx Tx, pool []string, start int, inst *Instance) (string, error) {
	memo, _ := tx.(fullPools)
	if memo != nil && memo.poolFull(pool) {
		return "", nil
	}
	holder, err := Marshal(&LaunchAddress{Owner: inst.Owner, InstanceID: inst.ID})
	if err != nil {
		return "", err
	}
	probes := min(launchProbes, len(pool))
	for i := range probes {
		ip := pool[(start+i)%len(pool)]
		created, err := Create(tx, BucketLaunchAddresses, ip, holder)
		if err != nil || created {
			return ip, err
		}
	}
	from := (start + probes) % len(pool)
	next, free := 0, -1 // next: the pool's first address not yet passed
	passFree := func(upTo string) bool {
		for ; next < len(pool) && (upTo == "" || pool[next] < upTo); next++ {
			if free < 0 || free < from && next >= from {
				free = next
			}
			if free >= from {
				return true
			}
		}
		if next < len(pool) && pool[next] == upTo {
			next++ // taken
		}
		return false
	}
	err = tx.Scan(BucketLaunchAddresses, "", func(ip string, _ []byte) error {
		if passFree(ip) || next == len(pool) {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	passFree("") // the pool's addresses after the last taken one are free
	if free < 0 {
		if memo != nil {
			memo.foundFull(pool)
		}
		return "", nil
	}
	return pool[free], tx.Put(BucketLaunchAddresses, pool[free], holder)
}

// fullPools is a transaction that can remember a launch pool found full
// until an address is freed: once the default pool is taken, every launch
// that inherits its subnet's mapping would otherwise read the whole pool
// inside the store's one committer.
type fullPools interface {
	// poolFull reports whether pool (the same slice, sorted as
	// ClaimLaunchAddress wants it) was found full by a committed
	// transaction, and no address has been freed since.
	poolFull(pool []string) bool
	// foundFull remembers pool full once this transaction commits.
	foundFull(pool []string)
}

// FreeLaunchAddress returns ip to the pool.
func FreeLaunchAddress(tx Tx, ip string) error {
	return tx.Delete(BucketLaunchAddresses, ip)
}
