package actions

import (
	"net/netip"
	"slices"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

// Internet gateways and route tables: what a networking lab makes after
// its VPC and subnets. Routes are records; nothing is routed.

var networkGatewayActions = map[string]Handler{
	"CreateInternetGateway":        (*Service).createInternetGateway,
	"DescribeInternetGateways":     (*Service).describeInternetGateways,
	"DeleteInternetGateway":        (*Service).deleteInternetGateway,
	"AttachInternetGateway":        func(s *Service, r *Request) (any, error) { return s.attachInternetGateway(r, true) },
	"DetachInternetGateway":        func(s *Service, r *Request) (any, error) { return s.attachInternetGateway(r, false) },
	"CreateRouteTable":             (*Service).createRouteTable,
	"DescribeRouteTables":          (*Service).describeRouteTables,
	"DeleteRouteTable":             (*Service).deleteRouteTable,
	"CreateRoute":                  func(s *Service, r *Request) (any, error) { return s.setRoute(r, false) },
	"ReplaceRoute":                 func(s *Service, r *Request) (any, error) { return s.setRoute(r, true) },
	"DeleteRoute":                  (*Service).deleteRoute,
	"AssociateRouteTable":          (*Service).associateRouteTable,
	"DisassociateRouteTable":       (*Service).disassociateRouteTable,
	"ReplaceRouteTableAssociation": (*Service).replaceRouteTableAssociation,
}

var igwKind = netKind[store.InternetGateway]{
	idParam: "InternetGatewayId", prefix: "igw", malformed: ec2err.InvalidInternetGatewayIDMalformed,
	notFound: ec2err.InvalidInternetGatewayIDNotFound, what: "internet gateway ID",
	get: store.GetInternetGateway, list: store.ListInternetGateways, id: func(g *store.InternetGateway) string { return g.ID },
}

var routeTableKind = netKind[store.RouteTable]{
	idParam: "RouteTableId", prefix: "rtb", malformed: ec2err.InvalidRouteTableIDMalformed,
	notFound: ec2err.InvalidRouteTableIDNotFound, what: "route table ID",
	get: store.GetRouteTable, list: store.ListRouteTables, id: func(t *store.RouteTable) string { return t.ID },
}

// Element order follows botocore's InternetGateway shape.
type internetGatewayXML struct {
	Attachments []igwAttachmentXML `xml:"attachmentSet>item"`
	ID          string             `xml:"internetGatewayId"`
	OwnerID     string             `xml:"ownerId"`
	Tags        []tagXML           `xml:"tagSet>item"`
}

type igwAttachmentXML struct {
	State string `xml:"state"`
	VpcID string `xml:"vpcId"`
}

// EC2 calls an internet gateway's attachment "available" once made.
const igwAttached = "available"

func igwView(g *store.InternetGateway, tags []store.Tag, accountID string) internetGatewayXML {
	out := internetGatewayXML{ID: g.ID, OwnerID: accountID, Tags: tagsXML(tags)}
	if g.VpcID != "" {
		out.Attachments = []igwAttachmentXML{{State: igwAttached, VpcID: g.VpcID}}
	}
	return out
}

func igwAttrs(accountID string) func(*store.InternetGateway, []store.Tag) Attrs {
	return func(g *store.InternetGateway, tags []store.Tag) Attrs {
		var state, vpc []string
		if g.VpcID != "" {
			state, vpc = []string{igwAttached}, []string{g.VpcID}
		}
		return netAttrs(tags, map[string][]string{
			"internet-gateway-id": {g.ID}, "owner-id": {accountID}, "attachment.state": state, "attachment.vpc-id": vpc,
		})
	}
}

// CreateInternetGateway

type createInternetGatewayResponse struct {
	Meta
	InternetGateway internetGatewayXML `xml:"internetGateway"`
}

func (s *Service) createInternetGateway(r *Request) (any, error) {
	if err := s.networksAllowed(); err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "internet-gateway")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	g := &store.InternetGateway{ID: store.NewID("igw"), Owner: r.User.Name}
	err = s.Store.Update(func(tx store.Tx) error {
		if err := store.PutInternetGateway(tx, g); err != nil {
			return err
		}
		return putTags(tx, g.Owner, g.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &createInternetGatewayResponse{InternetGateway: igwView(g, tags, r.User.AccountID)}, nil
}

// DescribeInternetGateways

type describeInternetGatewaysResponse struct {
	Meta
	InternetGateways []internetGatewayXML `xml:"internetGatewaySet>item"`
	NextToken        string               `xml:"nextToken,omitempty"`
}

func (s *Service) describeInternetGateways(r *Request) (any, error) {
	gws, next, err := describeNet(s, r, igwKind, igwAttrs(r.User.AccountID), nil, func(g *store.InternetGateway, tags []store.Tag) internetGatewayXML {
		return igwView(g, tags, r.User.AccountID)
	})
	if err != nil {
		return nil, err
	}
	return &describeInternetGatewaysResponse{InternetGateways: gws, NextToken: next}, nil
}

// DeleteInternetGateway

func (s *Service) deleteInternetGateway(r *Request) (any, error) {
	return deleteNet(s, r, igwKind, func(_ store.Tx, g *store.InternetGateway) error {
		if g.VpcID != "" {
			return ec2err.New(ec2err.DependencyViolation, "The internetGateway '%s' has dependencies and cannot be deleted: detach it from %s first.", g.ID, g.VpcID)
		}
		return nil
	}, func(tx store.Tx, g *store.InternetGateway) error {
		return store.DeleteInternetGateway(tx, r.User.Name, g.ID)
	})
}

// AttachInternetGateway and DetachInternetGateway

func (s *Service) attachInternetGateway(r *Request, attach bool) (any, error) {
	id, err := requiredID(r.Params, "InternetGatewayId", "igw", ec2err.InvalidInternetGatewayIDMalformed)
	if err != nil {
		return nil, err
	}
	vpcID, err := requiredID(r.Params, "VpcId", "vpc", ec2err.InvalidVpcIDMalformed)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		if _, err := s.defaultVPC(tx, owner); err != nil {
			return err
		}
		g, err := igwKind.byID(tx, owner, id)
		if err != nil {
			return err
		}
		if attach {
			err = checkAttachable(tx, g, vpcID)
		} else if g.VpcID != vpcID { // a VPC that does not exist included, as EC2 answers
			err = ec2err.New(ec2err.GatewayNotAttached, "resource %s is not attached to network %s", id, vpcID)
		}
		if err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		g.VpcID = ""
		if attach {
			g.VpcID = vpcID
		}
		return store.PutInternetGateway(tx, g)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// checkAttachable refuses a gateway attached anywhere, and a VPC that has
// a gateway: each has at most one.
func checkAttachable(tx store.Tx, g *store.InternetGateway, vpcID string) error {
	if _, err := vpcKind.byID(tx, g.Owner, vpcID); err != nil {
		return err
	}
	if g.VpcID != "" {
		return ec2err.New(ec2err.ResourceAlreadyAssociated, "resource %s is already attached to network %s", g.ID, g.VpcID)
	}
	all, err := store.ListInternetGateways(tx, g.Owner)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.VpcID == vpcID {
			return ec2err.New(ec2err.ResourceAlreadyAssociated, "Network %s already has an internet gateway attached: %s", vpcID, o.ID)
		}
	}
	return nil
}

// Route tables

// Element order follows botocore's RouteTable, Route and
// RouteTableAssociation shapes.
type routeTableXML struct {
	Associations []rtbAssociationXML `xml:"associationSet>item"`
	Propagating  *itemSet[string]    `xml:"propagatingVgwSet"`
	ID           string              `xml:"routeTableId"`
	Routes       []routeXML          `xml:"routeSet>item"`
	Tags         []tagXML            `xml:"tagSet>item"`
	VpcID        string              `xml:"vpcId"`
	OwnerID      string              `xml:"ownerId"`
}

type routeXML struct {
	Destination string `xml:"destinationCidrBlock"`
	GatewayID   string `xml:"gatewayId,omitempty"`
	InstanceID  string `xml:"instanceId,omitempty"`
	InstanceOwn string `xml:"instanceOwnerId,omitempty"`
	Origin      string `xml:"origin"`
	State       string `xml:"state"`
}

type rtbAssociationXML struct {
	Main         bool             `xml:"main"`
	ID           string           `xml:"routeTableAssociationId"`
	RouteTableID string           `xml:"routeTableId"`
	SubnetID     string           `xml:"subnetId,omitempty"`
	State        associationState `xml:"associationState"`
}

type associationState struct {
	State string `xml:"state"`
}

const (
	routeActive     = "active"
	routeBlackhole  = "blackhole"
	originTable     = "CreateRouteTable"
	originRoute     = "CreateRoute"
	stateAssociated = "associated"
)

// routeView renders route tables: a route is a blackhole when its target
// is gone (a gateway deleted or detached from the table's VPC, an
// instance terminated).
type routeView struct {
	account   string
	gateways  map[string]string // igw id -> the VPC it is attached to
	instances map[string]bool   // instance id -> not terminated
}

func (v *routeView) read(tx store.Tx, owner string) error {
	igws, err := store.ListInternetGateways(tx, owner)
	if err != nil {
		return err
	}
	v.gateways = map[string]string{}
	for _, g := range igws {
		v.gateways[g.ID] = g.VpcID
	}
	v.instances = map[string]bool{}
	return store.ScanJSON(tx, store.BucketInstances, store.OwnerPrefix(owner), func(_ string, inst *store.Instance) error {
		v.instances[inst.ID] = inst.State != "terminated"
		return nil
	})
}

func (v *routeView) state(t *store.RouteTable, rt store.Route) string {
	switch {
	case rt.GatewayID == localGateway:
		return routeActive
	case rt.GatewayID != "" && v.gateways[rt.GatewayID] != t.VpcID, rt.InstanceID != "" && !v.instances[rt.InstanceID]:
		return routeBlackhole
	}
	return routeActive
}

func (v *routeView) render(t *store.RouteTable, tags []store.Tag) routeTableXML {
	out := routeTableXML{Propagating: &itemSet[string]{}, ID: t.ID, Tags: tagsXML(tags), VpcID: t.VpcID, OwnerID: v.account}
	for _, a := range associations(t) {
		out.Associations = append(out.Associations, rtbAssociationXML{
			Main: a.SubnetID == "", ID: a.ID, RouteTableID: t.ID, SubnetID: a.SubnetID, State: associationState{stateAssociated},
		})
	}
	for _, rt := range t.Routes {
		x := routeXML{Destination: rt.Destination, GatewayID: rt.GatewayID, InstanceID: rt.InstanceID, Origin: originRoute, State: v.state(t, rt)}
		if rt.GatewayID == localGateway {
			x.Origin = originTable
		}
		if rt.InstanceID != "" {
			x.InstanceOwn = v.account
		}
		out.Routes = append(out.Routes, x)
	}
	return out
}

// associations are a table's associations, the main one (no subnet) first.
func associations(t *store.RouteTable) []store.RouteTableAssociation {
	var out []store.RouteTableAssociation
	if t.Main {
		out = append(out, store.RouteTableAssociation{ID: t.MainAssocID})
	}
	return append(out, t.Associations...)
}

func (v *routeView) attrs(t *store.RouteTable, tags []store.Tag) Attrs {
	var assocIDs, subnets, mains, dests, gateways, instances, origins, states []string
	for _, a := range associations(t) {
		assocIDs = append(assocIDs, a.ID)
		mains = append(mains, boolText(a.SubnetID == "")...)
		if a.SubnetID != "" {
			subnets = append(subnets, a.SubnetID)
		}
	}
	for _, rt := range v.render(t, nil).Routes {
		dests, origins, states = append(dests, rt.Destination), append(origins, rt.Origin), append(states, rt.State)
		if rt.GatewayID != "" {
			gateways = append(gateways, rt.GatewayID)
		}
		if rt.InstanceID != "" {
			instances = append(instances, rt.InstanceID)
		}
	}
	var tableIDs []string
	if len(assocIDs) > 0 {
		tableIDs = []string{t.ID}
	}
	return netAttrs(tags, map[string][]string{
		"route-table-id": {t.ID}, "vpc-id": {t.VpcID}, "owner-id": {v.account},
		"association.route-table-association-id": assocIDs, "association.route-table-id": tableIDs,
		"association.subnet-id": subnets, "association.main": mains, "association.gateway-id": nil,
		"association.association-state": {stateAssociated},
		"route.destination-cidr-block":  dests, "route.gateway-id": gateways, "route.instance-id": instances,
		"route.origin": origins, "route.state": states,
		"route.destination-ipv6-cidr-block": nil, "route.destination-prefix-list-id": nil, "route.egress-only-internet-gateway-id": nil,
		"route.nat-gateway-id": nil, "route.transit-gateway-id": nil, "route.vpc-peering-connection-id": nil,
	})
}

// CreateRouteTable

type createRouteTableResponse struct {
	Meta
	RouteTable  routeTableXML `xml:"routeTable"`
	ClientToken string        `xml:"clientToken,omitempty"`
}

func (s *Service) createRouteTable(r *Request) (any, error) {
	if err := s.networksAllowed(); err != nil {
		return nil, err
	}
	vpcID, err := requiredID(r.Params, "VpcId", "vpc", ec2err.InvalidVpcIDMalformed)
	if err != nil {
		return nil, err
	}
	tags, err := tagSpecTags(r.Params, "route-table")
	if err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	owner := r.User.Name
	var t *store.RouteTable
	view := &routeView{account: r.User.AccountID}
	err = s.Store.Update(func(tx store.Tx) error {
		v, err := s.vpcForChange(tx, owner, vpcID)
		if err != nil {
			return err
		}
		t = &store.RouteTable{ID: store.NewID("rtb"), Owner: owner, VpcID: v.ID, Routes: []store.Route{{Destination: v.CIDR, GatewayID: localGateway}}}
		if err := store.PutRouteTable(tx, t); err != nil {
			return err
		}
		return putTags(tx, owner, t.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &createRouteTableResponse{RouteTable: view.render(t, tags), ClientToken: r.Params.String("ClientToken")}, nil
}

// DescribeRouteTables

type describeRouteTablesResponse struct {
	Meta
	RouteTables []routeTableXML `xml:"routeTableSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

func (s *Service) describeRouteTables(r *Request) (any, error) {
	view := &routeView{account: r.User.AccountID}
	tables, next, err := describeNet(s, r, routeTableKind, view.attrs, func(tx store.Tx) error { return view.read(tx, r.User.Name) }, view.render)
	if err != nil {
		return nil, err
	}
	return &describeRouteTablesResponse{RouteTables: tables, NextToken: next}, nil
}

// DeleteRouteTable

func (s *Service) deleteRouteTable(r *Request) (any, error) {
	return deleteNet(s, r, routeTableKind, func(_ store.Tx, t *store.RouteTable) error {
		if t.Main || len(t.Associations) > 0 {
			return ec2err.New(ec2err.DependencyViolation, "The routeTable '%s' has dependencies and cannot be deleted: it is its VPC's main table or associated with a subnet.", t.ID)
		}
		return nil
	}, func(tx store.Tx, t *store.RouteTable) error {
		return store.DeleteRouteTable(tx, r.User.Name, t.ID)
	})
}

// CreateRoute, ReplaceRoute and DeleteRoute

// unsupportedRouteTargets are CreateRoute's targets these networks lack.
var unsupportedRouteTargets = []string{
	"NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId", "LocalGatewayId",
	"CarrierGatewayId", "VpcEndpointId", "CoreNetworkArn", "OdbNetworkArn", "NetworkInterfaceId",
	"DestinationIpv6CidrBlock", "DestinationPrefixListId",
}

// setRoute is CreateRoute (replace false: the destination must be new)
// and ReplaceRoute (it must exist, and not be the local route).
func (s *Service) setRoute(r *Request, replace bool) (any, error) {
	id, err := requiredID(r.Params, "RouteTableId", "rtb", ec2err.InvalidRouteTableIDMalformed)
	if err != nil {
		return nil, err
	}
	for _, p := range unsupportedRouteTargets {
		if r.Params.Has(p) {
			return nil, ec2err.New(ec2err.UnsupportedOperation, "%s is not offered here: routes go to an internet gateway (GatewayId) or an instance (InstanceId), for IPv4 blocks.", p)
		}
	}
	dest, err := routeDestination(r)
	if err != nil {
		return nil, err
	}
	rt := store.Route{Destination: dest, GatewayID: r.Params.String("GatewayId"), InstanceID: r.Params.String("InstanceId")}
	if (rt.GatewayID == "") == (rt.InstanceID == "") {
		return nil, ec2err.New(ec2err.InvalidParameterCombination, "The request must contain exactly one of gatewayId or instanceId.")
	}
	var inst *store.Instance
	if rt.InstanceID != "" {
		if inst, err = s.currentInstance(r, rt.InstanceID); err != nil {
			return nil, err
		}
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		t, err := routeTableKind.byID(tx, owner, id)
		if err != nil {
			return err
		}
		if inst != nil {
			err = s.checkRouteInstance(tx, inst)
		} else {
			err = checkRouteGateway(tx, t, rt.GatewayID)
		}
		if err != nil {
			return err
		}
		i := slices.IndexFunc(t.Routes, func(o store.Route) bool { return o.Destination == dest })
		switch {
		case !replace && i >= 0:
			return ec2err.New(ec2err.RouteAlreadyExists, "The route identified by %s already exists in %s.", dest, id)
		case replace && i < 0:
			return ec2err.New(ec2err.InvalidParameterValue, "There is no route defined for '%s' in the route table %s. Use CreateRoute instead.", dest, id)
		case replace && t.Routes[i].GatewayID == localGateway:
			return ec2err.New(ec2err.InvalidParameterValue, "cannot replace local route %s in route table %s", dest, id)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		if replace {
			t.Routes[i] = rt
		} else {
			t.Routes = append(t.Routes, rt)
		}
		return store.PutRouteTable(tx, t)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// routeDestination is the DestinationCidrBlock of CreateRoute and
// DeleteRoute, masked.
func routeDestination(r *Request) (string, error) {
	v, err := r.Params.Required("DestinationCidrBlock")
	if err != nil {
		return "", err
	}
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return "", ec2err.BadValue("DestinationCidrBlock", v, "It must be an IPv4 CIDR block such as 0.0.0.0/0.")
	}
	return p.Masked().String(), nil
}

// checkRouteInstance accepts an instance (read with currentInstance) that
// is not terminated.
func (s *Service) checkRouteInstance(tx store.Tx, inst *store.Instance) error {
	cur, err := s.reread(tx, inst)
	if err == nil && cur.State == "terminated" {
		err = ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is terminated: a route cannot go to it.", cur.ID)
	}
	return err
}

// checkRouteGateway accepts the student's internet gateway attached to the
// table's VPC.
func checkRouteGateway(tx store.Tx, t *store.RouteTable, id string) error {
	if id == localGateway {
		return ec2err.BadValue("GatewayId", id, "The local route of a table is made with it.")
	}
	notFound := ec2err.New(ec2err.InvalidGatewayIDNotFound, "The gateway ID '%s' does not exist", id)
	if !store.ValidID("igw", id) {
		return notFound
	}
	g, err := store.GetInternetGateway(tx, t.Owner, id)
	switch {
	case err != nil:
		return err
	case g == nil:
		return notFound
	case g.VpcID != t.VpcID:
		return ec2err.New(ec2err.InvalidParameterValue, "route table %s and network gateway %s belong to different networks: attach the gateway to %s first.", t.ID, g.ID, t.VpcID)
	}
	return nil
}

func (s *Service) deleteRoute(r *Request) (any, error) {
	id, err := requiredID(r.Params, "RouteTableId", "rtb", ec2err.InvalidRouteTableIDMalformed)
	if err != nil {
		return nil, err
	}
	dest, err := routeDestination(r)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		t, err := routeTableKind.byID(tx, owner, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(t.Routes, func(o store.Route) bool { return o.Destination == dest })
		switch {
		case i < 0:
			return ec2err.New(ec2err.InvalidRouteNotFound, "no route with destination-cidr-block %s in route table %s", dest, id)
		case t.Routes[i].GatewayID == localGateway:
			return ec2err.New(ec2err.InvalidParameterValue, "cannot remove local route %s in route table %s", dest, id)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		t.Routes = slices.Delete(t.Routes, i, i+1)
		return store.PutRouteTable(tx, t)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// AssociateRouteTable and DisassociateRouteTable

type associateRouteTableResponse struct {
	Meta
	AssociationID string           `xml:"associationId"`
	State         associationState `xml:"associationState"`
}

func (s *Service) associateRouteTable(r *Request) (any, error) {
	id, err := requiredID(r.Params, "RouteTableId", "rtb", ec2err.InvalidRouteTableIDMalformed)
	if err != nil {
		return nil, err
	}
	if r.Params.Has("GatewayId") || r.Params.Has("PublicIpv4Pool") {
		return nil, ec2err.New(ec2err.UnsupportedOperation, "Only subnets are associated with route tables here (SubnetId).")
	}
	subnetID, err := requiredID(r.Params, "SubnetId", "subnet", ec2err.InvalidSubnetIDMalformed)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	assoc := store.RouteTableAssociation{ID: store.NewID("rtbassoc"), SubnetID: subnetID}
	err = s.Store.Update(func(tx store.Tx) error {
		t, err := routeTableKind.byID(tx, owner, id)
		if err != nil {
			return err
		}
		sn, err := s.subnetByID(tx, owner, subnetID)
		if err != nil {
			return err
		}
		if sn.VpcID != t.VpcID {
			return ec2err.New(ec2err.InvalidParameterValue, "route table %s and subnet %s belong to different networks", id, subnetID)
		}
		if cur, _, err := subnetAssociation(tx, owner, subnetID); err != nil || cur != nil {
			if err == nil {
				err = ec2err.New(ec2err.ResourceAlreadyAssociated, "the specified association for route table %s conflicts with an existing association: %s is associated with %s", id, subnetID, cur.ID)
			}
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		t.Associations = append(t.Associations, assoc)
		return store.PutRouteTable(tx, t)
	})
	if err != nil {
		return nil, err
	}
	return &associateRouteTableResponse{AssociationID: assoc.ID, State: associationState{stateAssociated}}, nil
}

// subnetAssociation is the table a subnet is explicitly associated with,
// and the association's index in it (nil: none, the main table applies).
func subnetAssociation(tx store.Tx, owner, subnetID string) (*store.RouteTable, int, error) {
	all, err := store.ListRouteTables(tx, owner)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range all {
		if i := slices.IndexFunc(t.Associations, func(a store.RouteTableAssociation) bool { return a.SubnetID == subnetID }); i >= 0 {
			return t, i, nil
		}
	}
	return nil, 0, nil
}

func (s *Service) disassociateRouteTable(r *Request) (any, error) {
	id, err := requiredID(r.Params, "AssociationId", "rtbassoc", ec2err.InvalidAssociationIDMalformed)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	err = s.Store.Update(func(tx store.Tx) error {
		all, err := store.ListRouteTables(tx, owner)
		if err != nil {
			return err
		}
		t, i := associated(all, id)
		switch {
		case t == nil:
			return ec2err.New(ec2err.InvalidAssociationIDNotFound, "The association ID '%s' does not exist", id)
		case i < 0:
			return ec2err.New(ec2err.InvalidParameterValue, "cannot disassociate the main route table association %s", id)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		t.Associations = slices.Delete(t.Associations, i, i+1)
		return store.PutRouteTable(tx, t)
	})
	if err != nil {
		return nil, err
	}
	return ok()
}

// dropSubnetAssociations removes a deleted subnet's association, as EC2
// does with the subnet.
func dropSubnetAssociations(tx store.Tx, owner, subnetID string) error {
	t, i, err := subnetAssociation(tx, owner, subnetID)
	if err != nil || t == nil {
		return err
	}
	t.Associations = slices.Delete(t.Associations, i, i+1)
	return store.PutRouteTable(tx, t)
}

// ReplaceRouteTableAssociation

type replaceRouteTableAssociationResponse struct {
	Meta
	NewAssociationID string           `xml:"newAssociationId"`
	State            associationState `xml:"associationState"`
}

// replaceRouteTableAssociation moves a subnet's association, or a VPC's
// main one, to another table of the VPC, under a new association id.
func (s *Service) replaceRouteTableAssociation(r *Request) (any, error) {
	id, err := requiredID(r.Params, "AssociationId", "rtbassoc", ec2err.InvalidAssociationIDMalformed)
	if err != nil {
		return nil, err
	}
	tableID, err := requiredID(r.Params, "RouteTableId", "rtb", ec2err.InvalidRouteTableIDMalformed)
	if err != nil {
		return nil, err
	}
	owner := r.User.Name
	newID := store.NewID("rtbassoc")
	err = s.Store.Update(func(tx store.Tx) error {
		to, err := routeTableKind.byID(tx, owner, tableID)
		if err != nil {
			return err
		}
		all, err := store.ListRouteTables(tx, owner)
		if err != nil {
			return err
		}
		from, i := associated(all, id)
		switch {
		case from == nil:
			return ec2err.New(ec2err.InvalidAssociationIDNotFound, "The association ID '%s' does not exist", id)
		case from.VpcID != to.VpcID:
			return ec2err.New(ec2err.InvalidParameterValue, "route table %s and association %s belong to different networks", tableID, id)
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		if i < 0 { // the main association
			from.Main, from.MainAssocID = false, ""
			to.Main, to.MainAssocID = true, newID
		} else {
			subnet := from.Associations[i].SubnetID
			from.Associations = slices.Delete(from.Associations, i, i+1)
			if from.ID == to.ID {
				to = from
			}
			to.Associations = append(to.Associations, store.RouteTableAssociation{ID: newID, SubnetID: subnet})
		}
		if err := store.PutRouteTable(tx, from); err != nil {
			return err
		}
		return store.PutRouteTable(tx, to)
	})
	if err != nil {
		return nil, err
	}
	return &replaceRouteTableAssociationResponse{NewAssociationID: newID, State: associationState{stateAssociated}}, nil
}

// associated finds association id among the tables: its table and its
// index in Associations (-1: the table's main association).
func associated(all []*store.RouteTable, id string) (*store.RouteTable, int) {
	for _, t := range all {
		if t.Main && t.MainAssocID == id {
			return t, -1
		}
		if i := slices.IndexFunc(t.Associations, func(a store.RouteTableAssociation) bool { return a.ID == id }); i >= 0 {
			return t, i
		}
	}
	return nil, 0
}
