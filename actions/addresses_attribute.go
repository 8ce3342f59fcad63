package actions

import (
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// DescribeAddressesAttribute: the one attribute EC2 has, domain-name, is an
// address's reverse DNS (PTR) record. Students cannot set one here
// (ModifyAddressAttribute is not offered), so each address is shown with
// its ids only, as EC2 shows an address without a record.

type describeAddressesAttributeResponse struct {
	Meta
	Addresses []addressAttributeXML `xml:"addressSet>item"`
	NextToken string                `xml:"nextToken,omitempty"`
}

type addressAttributeXML struct {
	PublicIP     string `xml:"publicIp"`
	AllocationID string `xml:"allocationId"`
}

func (s *Service) describeAddressesAttribute(r *Request) (any, error) {
	if _, err := oneOf(r.Params, "Attribute", "domain-name"); err != nil {
		return nil, err
	}
	allocs := r.Params.List("AllocationId")
	for _, id := range allocs {
		if !store.ValidID("eipalloc", id) {
			return nil, malformedAddressID(ec2err.InvalidAllocationIDMalformed, "eipalloc", id)
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &describeAddressesAttributeResponse{}
	err := s.Store.View(func(tx store.Tx) error {
		all, err := store.ListAddresses(tx, r.User.Name)
		if err != nil {
			return err
		}
		if err := requireListed(all, nil, allocs); err != nil {
			return err
		}
		var picked []*store.Address
		for _, a := range all {
			if a.Pending != store.AddressAllocating && (len(allocs) == 0 || contains(allocs, a.AllocationID)) {
				picked = append(picked, a)
			}
		}
		page, err := paginate(len(picked), func(i int) string { return picked[i].AllocationID }, r.Params, 1, 1000)
		if err != nil {
			return err
		}
		resp.NextToken, resp.Addresses = page.NextToken, nil
		for _, a := range picked[page.Start:page.End] {
			resp.Addresses = append(resp.Addresses, addressAttributeXML{PublicIP: a.PublicIP, AllocationID: a.AllocationID})
		}
		return nil
	})
	return resp, err
}
