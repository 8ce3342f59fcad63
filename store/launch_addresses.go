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

// ClaimLaunchAddress gives inst a free address of pool and returns it; ""
// when every one is taken. It tries pool[start] (one read, which a caller
// may prefetch), and when that is taken reads the addresses taken in one
// Scan and gives the first free one after start: a launch reads at most
// twice, where trying the pool address by address read up to all of it,
// one round trip each on PostgreSQL, once the pool was nearly full.
// Nothing remembers that the pool is full: another replica's stop frees
// an address unseen.
func ClaimLaunchAddress(tx Tx, pool []string, start int, inst *Instance) (string, error) {
	claim := func(ip string) (string, error) {
		return ip, PutJSON(tx, BucketLaunchAddresses, ip, &LaunchAddress{Owner: inst.Owner, InstanceID: inst.ID})
	}
	if len(pool) == 0 {
		return "", nil
	}
	if tx.Get(BucketLaunchAddresses, pool[start]) == nil {
		return claim(pool[start])
	}
	taken := map[string]bool{}
	err := tx.Scan(BucketLaunchAddresses, "", func(ip string, _ []byte) error {
		taken[ip] = true
		return nil
	})
	if err != nil {
		return "", err
	}
	for i := 1; i < len(pool); i++ {
		if ip := pool[(start+i)%len(pool)]; !taken[ip] {
			return claim(ip)
		}
	}
	return "", nil
}

// FreeLaunchAddress returns ip to the pool.
func FreeLaunchAddress(tx Tx, ip string) error {
	return tx.Delete(BucketLaunchAddresses, ip)
}
