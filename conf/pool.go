package conf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// maxPoolAddresses caps PoolAddresses so a typo like /8 cannot make the
// server allocate millions of addresses.
const maxPoolAddresses = 65536

type poolEntry struct {
	idx    int    // position in its list
	text   string // as written
	prefix netip.Prefix
}

// first and last return the range covered, as integers.
func (e poolEntry) first() uint32 { return ip4(e.prefix.Addr()) }
func (e poolEntry) last() uint32 {
	return e.first() | uint32(uint64(1)<<(32-e.prefix.Bits())-1)
}

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// hosts is how many addresses PoolAddresses takes from the entry.
func (e poolEntry) hosts() int {
	n := 1 << (32 - e.prefix.Bits())
	if e.prefix.Bits() >= 31 {
		return n // /31 (RFC 3021) and /32 have no network or broadcast address
	}
	return n - 2
}

func poolSize(entries []poolEntry) int {
	n := 0
	for _, e := range entries {
		n += e.hosts()
	}
	return n
}

// parsePool parses the entries of the pool at key (elastic_ips.pool or
// elastic_ips.launch_pool) and finds duplicates and overlaps. Problems are
// returned in entry order.
func parsePool(key string, pool []string) ([]poolEntry, []*FieldError) {
	type problem struct {
		idx int
		fe  *FieldError
	}
	var probs []problem
	add := func(i int, format string, args ...any) {
		probs = append(probs, problem{i, &FieldError{
			Path: fmt.Sprintf("%s[%d]", key, i),
			Msg:  fmt.Sprintf(format, args...),
		}})
	}
	var entries []poolEntry
	for i, s := range pool {
		t := strings.TrimSpace(s)
		var pfx netip.Prefix
		if strings.Contains(t, "/") {
			var err error
			if pfx, err = netip.ParsePrefix(t); err != nil {
				add(i, "invalid CIDR %q", s)
				continue
			}
			if !pfx.Addr().Is4() {
				add(i, "%q is not IPv4", s)
				continue
			}
			if pfx != pfx.Masked() {
				add(i, "%q has host bits set; did you mean %s?", s, pfx.Masked())
				continue
			}
		} else {
			a, err := netip.ParseAddr(t)
			if err != nil {
				add(i, "invalid IPv4 address or CIDR %q", s)
				continue
			}
			if !a.Is4() {
				add(i, "%q is not IPv4", s)
				continue
			}
			pfx = netip.PrefixFrom(a, 32)
		}
		entries = append(entries, poolEntry{idx: i, text: t, prefix: pfx})
	}

	// CIDRs either nest or are disjoint, so after sorting by start (larger
	// first on ties) an entry can only overlap the widest one before it.
	// This keeps a pool of thousands of single addresses cheap to check.
	sorted := append([]poolEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.first() != b.first() {
			return a.first() < b.first()
		}
		if a.prefix.Bits() != b.prefix.Bits() {
			return a.prefix.Bits() < b.prefix.Bits()
		}
		return a.idx < b.idx
	})
	for i, cover := 1, 0; i < len(sorted); i++ {
		e, c := sorted[i], sorted[cover]
		if e.first() > c.last() {
			cover = i
			continue
		}
		// Report at the later entry, naming the earlier one: both are shown.
		later, earlier := e, c
		if later.idx < earlier.idx {
			later, earlier = earlier, later
		}
		what := "overlaps"
		if e.prefix == c.prefix {
			what = "duplicates"
		}
		add(later.idx, "%s %s %s[%d] (%s)", later.text, what, key, earlier.idx, earlier.text)
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].idx < probs[j].idx })
	out := make([]*FieldError, len(probs))
	for i, p := range probs {
		out[i] = p.fe
	}
	return entries, out
}

// PoolAddresses expands ElasticIPs.Pool into addresses, in the order
// written. A CIDR gives its host addresses (all of them for /31 and /32,
// otherwise without the network and broadcast addresses). It fails on
// invalid, duplicate or overlapping entries and beyond 65536 addresses.
func (c *Config) PoolAddresses() ([]netip.Addr, error) {
	return poolAddresses("elastic_ips.pool", c.ElasticIPs.Pool)
}

// LaunchPoolAddresses expands ElasticIPs.LaunchPool as PoolAddresses
// expands Pool.
func (c *Config) LaunchPoolAddresses() ([]netip.Addr, error) {
	return poolAddresses("elastic_ips.launch_pool", c.ElasticIPs.LaunchPool)
}

func poolAddresses(key string, pool []string) ([]netip.Addr, error) {
	entries, errs := parsePool(key, pool)
	if len(errs) > 0 {
		return nil, joinProblems(errs)
	}
	n := poolSize(entries)
	if n > maxPoolAddresses {
		return nil, &FieldError{Path: key, Msg: fmt.Sprintf("expands to %d addresses, more than the %d allowed", n, maxPoolAddresses)}
	}
	addrs := make([]netip.Addr, 0, n)
	for _, e := range entries {
		a := e.prefix.Addr()
		if e.prefix.Bits() < 31 {
			a = a.Next() // skip the network address
		}
		for range e.hosts() {
			addrs = append(addrs, a)
			a = a.Next()
		}
	}
	return addrs, nil
}
