package actions

import (
	"net/netip"
	"strconv"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// What the network families (vpcs.go, subnets.go, network_gateways.go)
// share: one lookup by id and one describe for every kind of record.

// netKind is one kind of network record: its ids in requests, its
// accessors, and the error for an id the student does not have (another
// student's included).
type netKind[T any] struct {
	idParam   string // the describe's list: VpcId for VpcId.N
	prefix    string // of the ids: vpc
	malformed string // the *.Malformed code
	notFound  string // the *.NotFound code
	what      string // for messages: "vpc ID"
	get       func(store.Tx, string, string) (*T, error)
	list      func(store.Tx, string) ([]*T, error)
	id        func(*T) string
}

// byID is one of the owner's records by a checked id, or the EC2 error.
func (k netKind[T]) byID(tx store.Tx, owner, id string) (*T, error) {
	if err := checkIDs([]string{id}, k.prefix, k.malformed); err != nil {
		return nil, err
	}
	v, err := k.get(tx, owner, id)
	if err == nil && v == nil {
		err = ec2err.New(k.notFound, "The %s '%s' does not exist", k.what, id)
	}
	return v, err
}

// tagged is a record with its tags.
type tagged[T any] struct {
	rec  *T
	tags []store.Tag
}

// describeNet is every network describe: the ids asked for (each must be
// the student's), the filters over attrs (names checked first), DryRun,
// the default network made on first use, and a page of MaxResults 5..1000
// in id order, each as render shows it. prepare, when not nil, reads in
// the describe's transaction what attrs and render need besides the record.
func describeNet[T, X any](s *Service, r *Request, k netKind[T], attrs func(*T, []store.Tag) Attrs, prepare func(store.Tx) error, render func(*T, []store.Tag) X) ([]X, string, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, "", err
	}
	if err := checkFilterNames(filters, attrs(new(T), nil)); err != nil {
		return nil, "", err
	}
	ids := r.Params.List(k.idParam)
	if err := checkIDs(ids, k.prefix, k.malformed); err != nil {
		return nil, "", err
	}
	if err := r.DryRun(); err != nil {
		return nil, "", err
	}
	owner := r.User.Name
	if err := s.ensureDefaultNetwork(owner); err != nil {
		return nil, "", err
	}
	var shown []tagged[T]
	var next string
	err = s.Store.View(func(tx store.Tx) error {
		for _, id := range ids {
			if _, err := k.byID(tx, owner, id); err != nil {
				return err
			}
		}
		if prepare != nil {
			if err := prepare(tx); err != nil {
				return err
			}
		}
		all, err := k.list(tx, owner)
		if err != nil {
			return err
		}
		var picked []tagged[T]
		for _, v := range all {
			if len(ids) > 0 && !contains(ids, k.id(v)) {
				continue
			}
			tags, err := store.Tags(tx, owner, k.id(v))
			if err != nil {
				return err
			}
			if matchFilters(filters, attrs(v, tags)) {
				picked = append(picked, tagged[T]{v, tags})
			}
		}
		page, err := paginate(len(picked), func(i int) string { return k.id(picked[i].rec) }, r.Params, 5, 1000)
		if err != nil {
			return err
		}
		shown, next = picked[page.Start:page.End], page.NextToken
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	var out []X
	for _, p := range shown {
		out = append(out, render(p.rec, p.tags))
	}
	return out, next, nil
}

// deleteNet is every network delete, in one transaction: the record named
// by the kind's id parameter must be the student's, check refuses one
// still in use, then DryRun, then remove.
func deleteNet[T any](s *Service, r *Request, k netKind[T], check, remove func(tx store.Tx, v *T) error) (any, error) {
	id, err := requiredID(r.Params, k.idParam, k.prefix, k.malformed)
	if err != nil {
		return nil, err
	}
	err = s.Store.Update(func(tx store.Tx) error {
		v, err := k.byID(tx, r.User.Name, id)
		if err != nil {
			return err
		}
		if err := check(tx, v); err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		return remove(tx, v)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// netAttrs answers the filters every network kind has, one name per
// value list, then the tag filters. A name listed with no values is known
// but never matches (IPv6 and other things these networks lack).
func netAttrs(tags []store.Tag, fields map[string][]string) Attrs {
	return func(name string) ([]string, bool) {
		if v, ok := fields[name]; ok {
			return v, true
		}
		return tagAttrs(tags, name)
	}
}

func boolText(b bool) []string { return []string{strconv.FormatBool(b)} }

// requiredCIDR reads CidrBlock, an IPv4 block with a prefix length in
// [minBits, maxBits]: malformed is InvalidParameterValue, a size out of
// range the given code (InvalidVpc.Range, InvalidSubnet.Range), each in
// EC2's words, which tools compare. Host bits are dropped, as EC2 does.
func requiredCIDR(r *Request, minBits, maxBits int, rangeCode string) (netip.Prefix, error) {
	v, err := r.Params.Required("CidrBlock")
	if err != nil {
		return netip.Prefix{}, err
	}
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, ec2err.BadValue("cidrBlock", v, "This is not a valid CIDR block.")
	}
	if p.Bits() < minBits || p.Bits() > maxBits {
		return netip.Prefix{}, cidrInvalid(rangeCode, v)
	}
	return p.Masked(), nil
}

func cidrInvalid(code, cidr string) error {
	return ec2err.New(code, "The CIDR '%s' is invalid.", cidr)
}

// overlaps reports whether two CIDR blocks share an address.
func overlaps(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	return errA == nil && errB == nil && pa.Overlaps(pb)
}

// inside reports whether block lies within outer.
func inside(block, outer netip.Prefix) bool {
	return outer.Bits() <= block.Bits() && outer.Contains(block.Addr())
}
