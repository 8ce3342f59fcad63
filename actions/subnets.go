package actions

import (
	"math/bits"
	"net/netip"
	"slices"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// defaultSubnet returns the owner's default subnet in zone, making the
// default VPC and the subnet when missing (tx must then be writable). A
// zone the admin added after the VPC was made gets its subnet on first use.
func (s *Service) defaultSubnet(tx store.Tx, owner, zone string) (*store.Subnet, error) {
	i := slices.Index(s.Config.AvailabilityZones, zone)
	if i < 0 {
		return nil, ec2err.New(ec2err.InvalidParameterValue, "Invalid availability zone: [%s]. Zones here: %v", zone, s.Config.AvailabilityZones)
	}
	id := store.DefaultSubnetID(owner, zone)
	sn, err := store.GetSubnet(tx, owner, id)
	if err != nil || sn != nil {
		return sn, err
	}
	v, err := s.defaultVPC(tx, owner)
	if err != nil {
		return nil, err
	}
	if sn, err = store.GetSubnet(tx, owner, id); err != nil || sn != nil { // made with the VPC just now
		return sn, err
	}
	sn = &store.Subnet{
		ID: id, Owner: owner, VpcID: v.ID, Zone: zone, DefaultForAz: true, MapPublicIP: true,
		CIDR: zoneBlock(netip.MustParsePrefix(v.CIDR), i, len(s.Config.AvailabilityZones), s.zoneBlockBits()).String(),
	}
	return sn, store.PutSubnet(tx, sn)
}

// zoneBlock is zone i's block of a default VPC's range shared among n
// zones: a /most (a /20, as AWS's default subnets are), or an even share
// of a range too small for n of those. A range too small for a block per
// zone (a /30 among 8 zones) gives later zones the blocks of earlier ones
// again.
func zoneBlock(vpc netip.Prefix, i, n, most int) netip.Prefix {
	size := max(most, vpc.Bits()+bits.Len(uint(n-1)))
	if size > 32 {
		size = 32
	}
	blocks := 1 << (size - vpc.Bits())
	a := vpc.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i%blocks) << (32 - size)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), size)
}

// subnetByID is one of the owner's subnets by a checked id, or the EC2
// error.
func (s *Service) subnetByID(tx store.Tx, owner, id string) (*store.Subnet, error) {
	if err := checkIDs([]string{id}, "subnet", ec2err.InvalidSubnetIDMalformed); err != nil {
		return nil, err
	}
	sn, err := store.GetSubnet(tx, owner, id)
	if err == nil && sn == nil {
		err = ec2err.New(ec2err.InvalidSubnetIDNotFound, "The subnet ID '%s' does not exist", id)
	}
	return sn, err
}
