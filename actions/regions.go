package actions

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/store"
)

var regionActions = map[string]Handler{
	"DescribeRegions":           (*Service).describeRegions,
	"DescribeAvailabilityZones": (*Service).describeAvailabilityZones,
	"DescribeAccountAttributes": (*Service).describeAccountAttributes,
}

// optInNotRequired is the opt-in status of every region and zone served here.
const optInNotRequired = "opt-in-not-required"

// Element order follows botocore's Region shape.
type regionItem struct {
	OptInStatus string `xml:"optInStatus"`
	RegionName  string `xml:"regionName"`
	Endpoint    string `xml:"regionEndpoint"`
}

type describeRegionsResponse struct {
	Meta
	Regions []regionItem `xml:"regionInfo>item"`
}

func (reg regionItem) attrs(name string) ([]string, bool) {
	switch name {
	case "region-name":
		return []string{reg.RegionName}, true
	case "endpoint":
		return []string{reg.Endpoint}, true
	case "opt-in-status":
		return []string{reg.OptInStatus}, true
	}
	return nil, false
}

// A private endpoint serves one region: the configured one.
func (s *Service) describeRegions(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, regionItem{}.attrs); err != nil {
		return nil, err
	}
	if _, err := r.Params.Bool("AllRegions", false); err != nil {
		return nil, err
	}
	region := regionItem{OptInStatus: optInNotRequired, RegionName: s.Config.Region, Endpoint: s.Config.PublicHost()}
	for _, n := range r.Params.List("RegionName") {
		if n != region.RegionName {
			return nil, ec2err.New(ec2err.InvalidParameterValue, "Invalid region: %s. This endpoint serves only %s.", n, region.RegionName)
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &describeRegionsResponse{}
	if matchFilters(filters, region.attrs) {
		resp.Regions = append(resp.Regions, region)
	}
	return resp, nil
}

// Element order follows botocore's AvailabilityZone shape.
type zoneItem struct {
	OptInStatus        string     `xml:"optInStatus"`
	Messages           messageSet `xml:"messageSet"`
	RegionName         string     `xml:"regionName"`
	ZoneName           string     `xml:"zoneName"`
	ZoneID             string     `xml:"zoneId"`
	GroupName          string     `xml:"groupName"`
	NetworkBorderGroup string     `xml:"networkBorderGroup"`
	ZoneType           string     `xml:"zoneType"`
	State              string     `xml:"zoneState"`
}

// messageSet is always present (empty): the zones here have no notices.
type messageSet struct {
	Items []zoneMessage `xml:"item"`
}

type zoneMessage struct {
	Message string `xml:"message"`
}

type describeZonesResponse struct {
	Meta
	Zones []zoneItem `xml:"availabilityZoneInfo>item"`
}

func (z zoneItem) attrs(name string) ([]string, bool) {
	switch name {
	case "zone-name":
		return []string{z.ZoneName}, true
	case "zone-id":
		return []string{z.ZoneID}, true
	case "state":
		return []string{z.State}, true
	case "region-name":
		return []string{z.RegionName}, true
	case "zone-type":
		return []string{z.ZoneType}, true
	case "group-name":
		return []string{z.GroupName}, true
	case "network-border-group":
		return []string{z.NetworkBorderGroup}, true
	case "opt-in-status":
		return []string{z.OptInStatus}, true
	case "message", "parent-zone-name", "parent-zone-id", "group-long-name":
		return nil, true // zones here have no messages, no parent zone and no long group name
	}
	return nil, false
}

// zones are the configured availability zones, in configuration order.
func (s *Service) zones() []zoneItem {
	region := s.Config.Region
	out := make([]zoneItem, 0, len(s.Config.AvailabilityZones))
	for i, z := range s.Config.AvailabilityZones {
		out = append(out, zoneItem{
			OptInStatus: optInNotRequired, RegionName: region, ZoneName: z,
			ZoneID: fmt.Sprintf("%s-az%d", zoneIDPrefix(region), i+1), GroupName: region,
			NetworkBorderGroup: region, ZoneType: "availability-zone", State: "available",
		})
	}
	return out
}

// directionCodes shorten the direction in a region's name for its zone ids.
var directionCodes = map[string]string{
	"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
	"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

// zoneIDPrefix is the region's short form in EC2's zone ids: use1 for
// us-east-1, apse3 for ap-southeast-3, usgw1 for us-gov-west-1. A region
// not named like AWS's keeps its whole name (REGION-az1).
func zoneIDPrefix(region string) string {
	parts := strings.Split(region, "-")
	n := len(parts)
	if n < 3 {
		return region
	}
	dir, ok := directionCodes[parts[n-2]]
	if _, err := strconv.Atoi(parts[n-1]); !ok || err != nil {
		return region
	}
	geo := strings.Join(parts[:n-2], "")
	geo = strings.Replace(geo, "gov", "g", 1)
	return geo + dir + parts[n-1]
}

// zoneID is the id of the configured zone name ("" for another name).
func (s *Service) zoneID(name string) string {
	for _, z := range s.zones() {
		if z.ZoneName == name {
			return z.ZoneID
		}
	}
	return ""
}

// validZone reports whether name is a configured availability zone.
func (s *Service) validZone(name string) bool {
	return contains(s.Config.AvailabilityZones, name)
}

func (s *Service) describeAvailabilityZones(r *Request) (any, error) {
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, zoneItem{}.attrs); err != nil {
		return nil, err
	}
	if _, err := r.Params.Bool("AllAvailabilityZones", false); err != nil {
		return nil, err
	}
	all := s.zones()
	names, ids := r.Params.List("ZoneName"), r.Params.List("ZoneId")
	if err := checkZonesExist(all, names, ids); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &describeZonesResponse{}
	for _, z := range all {
		if len(names) > 0 && !contains(names, z.ZoneName) {
			continue
		}
		if len(ids) > 0 && !contains(ids, z.ZoneID) {
			continue
		}
		if matchFilters(filters, z.attrs) {
			resp.Zones = append(resp.Zones, z)
		}
	}
	return resp, nil
}

// checkZonesExist rejects a ZoneName.N or ZoneId.N that names no zone, as
// EC2 does, listing the valid ones so the student can fix the typo.
func checkZonesExist(all []zoneItem, names, ids []string) error {
	var zoneNames, zoneIDs []string
	for _, z := range all {
		zoneNames = append(zoneNames, z.ZoneName)
		zoneIDs = append(zoneIDs, z.ZoneID)
	}
	for _, n := range names {
		if !contains(zoneNames, n) {
			return ec2err.New(ec2err.InvalidParameterValue, "The zone '%s' does not exist. Valid zones: %s.", n, strings.Join(zoneNames, ", "))
		}
	}
	for _, id := range ids {
		if !contains(zoneIDs, id) {
			return ec2err.New(ec2err.InvalidParameterValue, "The zone ID '%s' does not exist. Valid zone IDs: %s.", id, strings.Join(zoneIDs, ", "))
		}
	}
	return nil
}

type attributeValue struct {
	Value string `xml:"attributeValue"`
}

type accountAttribute struct {
	Name   string           `xml:"attributeName"`
	Values []attributeValue `xml:"attributeValueSet>item"`
}

type describeAccountAttributesResponse struct {
	Meta
	Attributes []accountAttribute `xml:"accountAttributeSet>item"`
}

// accountAttributes reports the platform as AWS does, and the caller's
// own limits of instances and addresses (filled per request).
var accountAttributes = []accountAttribute{
	{Name: "supported-platforms", Values: []attributeValue{{"VPC"}}},
	{Name: "default-vpc"}, // the caller's
	{Name: "max-instances"},
	{Name: "vpc-max-security-groups-per-interface", Values: []attributeValue{{"5"}}},
	{Name: "max-elastic-ips"},
	{Name: "vpc-max-elastic-ips"},
}

// noLimit is what a limit nobody set reads as: a number, since scripts
// parse these values as integers, and one no request reaches.
const noLimit = math.MaxInt32

func limitValue(limit *int) []attributeValue {
	n := noLimit
	if limit != nil {
		n = *limit
	}
	return []attributeValue{{strconv.Itoa(n)}}
}

func (s *Service) describeAccountAttributes(r *Request) (any, error) {
	names := r.Params.List("AttributeName")
	known := make([]string, len(accountAttributes))
	for i, a := range accountAttributes {
		known[i] = a.Name
	}
	for _, n := range names {
		if !contains(known, n) {
			return nil, ec2err.BadValue("AttributeName", n, "Valid names: "+strings.Join(known, ", ")+".")
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	lim, err := s.readLimits(r)
	if err != nil {
		return nil, err
	}
	resp := &describeAccountAttributesResponse{}
	for _, a := range accountAttributes {
		if len(names) > 0 && !contains(names, a.Name) {
			continue
		}
		switch a.Name {
		case "max-instances":
			a.Values = limitValue(lim.MaxInstances)
		case "max-elastic-ips", "vpc-max-elastic-ips":
			a.Values = limitValue(lim.MaxAddresses)
		case "default-vpc":
			if err := s.ensureDefaultNetwork(r.User.Name); err != nil {
				return nil, err
			}
			a.Values = []attributeValue{{store.DefaultVPCID(r.User.Name)}}
		}
		resp.Attributes = append(resp.Attributes, a)
	}
	return resp, nil
}
