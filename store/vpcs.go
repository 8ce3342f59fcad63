package store

// The network resources of a student: VPCs, their subnets, internet
// gateways and route tables, each keyed OWNER/ID like every owned resource.
// Every student has one default VPC, made on first use with derived ids
// (DefaultVPCID, DefaultSubnetID, ...), so two replicas making it at once
// write the same records and the serializable store keeps one.

// VPC is a student's virtual network.
type VPC struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	CIDR      string `json:"cidr"`
	IsDefault bool   `json:"is_default,omitzero"`
	// DNSSupport and DNSHostnames are the VPC attributes enableDnsSupport
	// and enableDnsHostnames.
	DNSSupport   bool `json:"dns_support"`
	DNSHostnames bool `json:"dns_hostnames"`
	// CIDRAssociationID names the VPC's primary CIDR block association.
	CIDRAssociationID string `json:"cidr_association_id"`
}

// Subnet is a range of a VPC's addresses in one availability zone.
type Subnet struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	VpcID        string `json:"vpc_id"`
	CIDR         string `json:"cidr"`
	Zone         string `json:"zone"`
	DefaultForAz bool   `json:"default_for_az,omitzero"`
	// MapPublicIP is MapPublicIpOnLaunch.
	MapPublicIP bool `json:"map_public_ip,omitzero"`
}

// InternetGateway is an internet gateway, attached to at most one VPC
// (VpcID "" when detached).
type InternetGateway struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	VpcID string `json:"vpc_id,omitempty"`
}

// RouteTable is a VPC's route table. Main is the VPC's main table: the
// one of every subnet with no association of its own; it is made with the
// VPC and goes with it.
type RouteTable struct {
	ID           string                  `json:"id"`
	Owner        string                  `json:"owner"`
	VpcID        string                  `json:"vpc_id"`
	Main         bool                    `json:"main,omitzero"`
	MainAssocID  string                  `json:"main_assoc_id,omitempty"`
	Routes       []Route                 `json:"routes"`
	Associations []RouteTableAssociation `json:"associations,omitempty"`
}

// Route is one route: a destination and its target (GatewayID "local" is
// the VPC's own range, every table's first route).
type Route struct {
	Destination string `json:"destination"`
	GatewayID   string `json:"gateway_id,omitempty"`
	InstanceID  string `json:"instance_id,omitempty"`
}

// RouteTableAssociation ties a subnet to a route table (rtbassoc-…).
type RouteTableAssociation struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnet_id"`
}

// DefaultVPCID is the id of owner's default VPC, the same on every replica.
func DefaultVPCID(owner string) string { return DerivedID("vpc", owner, "default") }

// DefaultSubnetID is the id of owner's default subnet in zone.
func DefaultSubnetID(owner, zone string) string { return DerivedID("subnet", owner, "default", zone) }

// DefaultInternetGatewayID is the id of the gateway of owner's default VPC.
func DefaultInternetGatewayID(owner string) string { return DerivedID("igw", owner, "default") }

// MainRouteTableID is the id of a VPC's main route table.
func MainRouteTableID(owner, vpcID string) string { return DerivedID("rtb", owner, vpcID, "main") }

// DefaultGroupID is the id of a VPC's security group "default".
func DefaultGroupID(owner, vpcID string) string { return DerivedID("sg", owner, vpcID, "default") }

// GetVPC loads one of the owner's VPCs; nil when absent.
func GetVPC(tx Tx, owner, id string) (*VPC, error) { return GetOwned[VPC](tx, BucketVPCs, owner, id) }

// PutVPC stores a VPC, counting it.
func PutVPC(tx Tx, v *VPC) error { return counted(tx, BucketVPCs, v.Owner, v.ID, v, countVPC) }

// DeleteVPC removes a VPC and its tags.
func DeleteVPC(tx Tx, owner, id string) error {
	return counted[VPC](tx, BucketVPCs, owner, id, nil, countVPC)
}

// ListVPCs returns the owner's VPCs in id order.
func ListVPCs(tx Tx, owner string) ([]*VPC, error) { return ListOwned[VPC](tx, BucketVPCs, owner) }

// GetSubnet loads one of the owner's subnets; nil when absent.
func GetSubnet(tx Tx, owner, id string) (*Subnet, error) {
	return GetOwned[Subnet](tx, BucketSubnets, owner, id)
}

// PutSubnet stores a subnet.
func PutSubnet(tx Tx, s *Subnet) error { return PutOwned(tx, BucketSubnets, s.Owner, s.ID, s) }

// DeleteSubnet removes a subnet and its tags.
func DeleteSubnet(tx Tx, owner, id string) error { return DeleteOwned(tx, BucketSubnets, owner, id) }

// ListSubnets returns the owner's subnets in id order.
func ListSubnets(tx Tx, owner string) ([]*Subnet, error) {
	return ListOwned[Subnet](tx, BucketSubnets, owner)
}

// GetInternetGateway loads one of the owner's gateways; nil when absent.
func GetInternetGateway(tx Tx, owner, id string) (*InternetGateway, error) {
	return GetOwned[InternetGateway](tx, BucketInternetGateways, owner, id)
}

// PutInternetGateway stores a gateway.
func PutInternetGateway(tx Tx, g *InternetGateway) error {
	return PutOwned(tx, BucketInternetGateways, g.Owner, g.ID, g)
}

// DeleteInternetGateway removes a gateway and its tags.
func DeleteInternetGateway(tx Tx, owner, id string) error {
	return DeleteOwned(tx, BucketInternetGateways, owner, id)
}

// ListInternetGateways returns the owner's gateways in id order.
func ListInternetGateways(tx Tx, owner string) ([]*InternetGateway, error) {
	return ListOwned[InternetGateway](tx, BucketInternetGateways, owner)
}

// GetRouteTable loads one of the owner's route tables; nil when absent.
func GetRouteTable(tx Tx, owner, id string) (*RouteTable, error) {
	return GetOwned[RouteTable](tx, BucketRouteTables, owner, id)
}

// PutRouteTable stores a route table.
func PutRouteTable(tx Tx, t *RouteTable) error {
	return PutOwned(tx, BucketRouteTables, t.Owner, t.ID, t)
}

// DeleteRouteTable removes a route table and its tags.
func DeleteRouteTable(tx Tx, owner, id string) error {
	return DeleteOwned(tx, BucketRouteTables, owner, id)
}

// ListRouteTables returns the owner's route tables in id order.
func ListRouteTables(tx Tx, owner string) ([]*RouteTable, error) {
	return ListOwned[RouteTable](tx, BucketRouteTables, owner)
}

// SubnetInUse reports whether any of the owner's instances that is not
// terminated, or any of their network interfaces, is in the subnet: such
// a subnet cannot be deleted. An instance recorded before there were
// subnets is in its zone's default.
func SubnetInUse(tx Tx, owner, subnetID string) (bool, error) {
	inUse := false
	if err := ScanJSON(tx, BucketNetworkInterfaces, OwnerPrefix(owner), func(_ string, ni *NetworkInterface) error {
		if ni.SubnetID == subnetID {
			inUse = true
			return ErrStop
		}
		return nil
	}); err != nil || inUse {
		return inUse, err
	}
	err := ScanJSON(tx, BucketInstances, OwnerPrefix(owner), func(_ string, inst *Instance) error {
		in := inst.SubnetID
		if in == "" {
			in = DefaultSubnetID(owner, inst.Zone)
		}
		if inst.State != "terminated" && in == subnetID {
			inUse = true
			return ErrStop
		}
		return nil
	})
	return inUse, err
}

func countVPC(v *VPC) Counters { return present(v, Counters{VPCs: 1}) }
