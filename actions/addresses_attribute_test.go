package actions

import (
	"testing"

	"github.com/econe/econe-server/ec2err"
)

// TestDescribeAddressesAttribute: each of the student's addresses with its
// ids (no PTR record can be set here); another student's is not found.
func TestDescribeAddressesAttribute(t *testing.T) {
	s, _ := newAddressService(t, "203.0.113.10", "203.0.113.11")
	a := eipAllocate(t, s, "alice")
	b := eipAllocate(t, s, "bob")
	resp, err := eipCall(s, "alice", "DescribeAddressesAttribute", "AllocationId.1", a.AllocationID, "Attribute", "domain-name")
	if err != nil {
		t.Fatal(err)
	}
	got := resp.(*describeAddressesAttributeResponse).Addresses
	if want := (addressAttributeXML{PublicIP: a.PublicIP, AllocationID: a.AllocationID}); len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want [%+v]", got, want)
	}
	resp, err = eipCall(s, "bob", "DescribeAddressesAttribute")
	if got := resp.(*describeAddressesAttributeResponse).Addresses; err != nil || len(got) != 1 || got[0].AllocationID != b.AllocationID {
		t.Errorf("bob without ids: got %+v, %v, want his one address", got, err)
	}
	cases := []struct {
		name string
		kv   []string
		code string
	}{
		{"another student's address", []string{"AllocationId.1", b.AllocationID}, ec2err.InvalidAllocationIDNotFound},
		{"malformed id", []string{"AllocationId.1", "bogus"}, ec2err.InvalidAllocationIDMalformed},
		{"unknown attribute", []string{"Attribute", "colour"}, ec2err.InvalidParameterValue},
		{"dry run", []string{"DryRun", "true"}, ec2err.DryRunOperation},
	}
	for _, c := range cases {
		_, err := eipCall(s, "alice", "DescribeAddressesAttribute", c.kv...)
		if !ec2err.Is(err, c.code) {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
}
